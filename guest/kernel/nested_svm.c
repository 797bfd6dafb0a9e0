/*
 * nested_svm.c - SYS_NESTED_BENCH: ring 0 becomes a minimal SVM hypervisor
 * (L1) and runs one operation in an L2 guest, the ring-0 half of
 * workloads/nested.c.  The method is kvm-unit-tests' x86/svm.c:
 *
 *   - EFER.SVME on, VM_HSAVE_PA at a page of our own (both undone after);
 *   - one VMCB whose L2 shares everything with L1: the same page tables
 *     (nested paging off: the simplest that works on every SVM, and what
 *     kvm-unit-tests' tests do where NPT does not matter), GDT, IDT,
 *     segments, CR0/CR3/CR4/EFER; VMSAVE once fills the VMCB's FS, GS,
 *     TR, LDTR and syscall MSRs from L1's, and no VMLOAD/VMSAVE is done
 *     around each VMRUN (VMRUN does not touch that state; L2 never
 *     changes it);
 *   - intercepts: VMRUN (required), VMMCALL, CPUID, HLT, all port I/O
 *     (the I/O bitmap all ones), SHUTDOWN, NMI, INTR, every exception;
 *   - L2 runs in ring 0 with interrupts off, on a stack of its own, from
 *     nested_l2_entry: it calls the operation's C function with the
 *     shared job in RDI, then says it is done with VMMCALL and RAX =
 *     L2_DONE.  It times its own loop with rdtsc (not intercepted; the
 *     TSC offset is 0, so L1 and L2 read one clock): each iteration is a
 *     full L2 exit round trip, VMRUN -> the intercepted instruction ->
 *     #VMEXIT -> L1's handler -> VMRUN, as L2 sees it;
 *   - L1 answers CPUID from a copy of leaf 0 taken at set-up (no CPUID of
 *     its own, which would add an L1 exit to the figure), skips HLT and
 *     VMMCALL, drops the port write, and moves RIP past the instruction
 *     (next_rip with NRIPS, else the instruction's length; IOIO gives it
 *     in EXITINFO2).
 *
 * VMRUN loads only RAX, RSP, RIP and the state above; the other general
 * registers are shared.  nested_svm_vmrun swaps them: L2's from struct
 * svm_gprs before VMRUN, back into it after #VMEXIT, L1's callee-saved
 * ones on the stack (#VMEXIT restores L1's RSP and RAX from VM_HSAVE).
 * GIF: CLGI before VMRUN and STGI after, as kvm-unit-tests; ring 0 runs
 * with IF clear, so nothing is taken between them.
 *
 * One caller at a time (the VMCB and the pages are static).
 */
#include "kernel.h"
#include "primes.h"
#include "syscall.h"

#include <asm/svm.h>

#define EFER_SVME (1ull << 12)
#define MSR_VM_CR 0xc0010114u
#define VM_CR_SVMDIS (1ull << 4)
#define MSR_VM_HSAVE_PA 0xc0010117u
#define MSR_PAT 0x277u

#define CPUID_80000001_ECX_SVM (1u << 2)
#define SVM_FEATURE_NRIPS (1u << 3)    /* CPUID 0x8000000A EDX */

/* Bits of the VMCB's 64-bit intercept vector (kvm-unit-tests' order). */
#define INTERCEPT_INTR 0
#define INTERCEPT_NMI 1
#define INTERCEPT_CPUID 18
#define INTERCEPT_HLT 24
#define INTERCEPT_IOIO_PROT 27
#define INTERCEPT_SHUTDOWN 31
#define INTERCEPT_VMRUN 32
#define INTERCEPT_VMMCALL 33

/* Segment attributes in the VMCB's 12-bit form. */
#define SEG_S (1u << 4)
#define SEG_P (1u << 7)
#define SEG_L (1u << 9)
#define SEG_DB (1u << 10)
#define SEG_G (1u << 11)
#define CODE_SEG_ATTR (0xbu | SEG_S | SEG_P | SEG_L | SEG_G)    /* execute/read, accessed */
#define DATA_SEG_ATTR (0x3u | SEG_S | SEG_P | SEG_DB | SEG_G)   /* read/write, accessed */

#define L2_DONE 0x4c32444fu             /* "OD2L": L2's last VMMCALL */
#define L2_STACK_SIZE 16384
#define IOPM_SIZE (3 * 4096)
#define MSRPM_SIZE (2 * 4096)

struct vmcb_seg {
	uint16_t selector, attrib;
	uint32_t limit;
	uint64_t base;
} __attribute__((packed));

/* AMD APM vol. 2, appendix B; the same layout as kvm-unit-tests' svm.h. */
struct vmcb {
	/* Control area, 0x000. */
	uint16_t intercept_cr_read, intercept_cr_write, intercept_dr_read, intercept_dr_write;
	uint32_t intercept_exceptions;
	uint64_t intercept;
	uint8_t reserved_1[40];
	uint16_t pause_filter_thresh, pause_filter_count;
	uint64_t iopm_base_pa, msrpm_base_pa, tsc_offset;
	uint32_t asid;
	uint8_t tlb_ctl, reserved_2[3];
	uint32_t int_ctl, int_vector, int_state;
	uint8_t reserved_3[4];
	uint64_t exit_code, exit_info_1, exit_info_2;
	uint32_t exit_int_info, exit_int_info_err;
	uint64_t nested_ctl;
	uint8_t reserved_4[16];
	uint32_t event_inj, event_inj_err;
	uint64_t nested_cr3, virt_ext;
	uint32_t clean, reserved_5;
	uint64_t next_rip;
	uint8_t insn_len, insn_bytes[15];
	uint8_t reserved_6[800];
	/* State save area, 0x400. */
	struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr;
	uint8_t reserved_7[43];
	uint8_t cpl;
	uint8_t reserved_8[4];
	uint64_t efer;
	uint8_t reserved_9[112];
	uint64_t cr4, cr3, cr0, dr7, dr6, rflags, rip;
	uint8_t reserved_10[88];
	uint64_t rsp;
	uint8_t reserved_11[24];
	uint64_t rax, star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip, cr2;
	uint8_t reserved_12[32];
	uint64_t g_pat, dbgctl;
} __attribute__((packed));

_Static_assert(offsetof(struct vmcb, intercept) == 0x00c, "VMCB layout");
_Static_assert(offsetof(struct vmcb, iopm_base_pa) == 0x040, "VMCB layout");
_Static_assert(offsetof(struct vmcb, asid) == 0x058, "VMCB layout");
_Static_assert(offsetof(struct vmcb, exit_code) == 0x070, "VMCB layout");
_Static_assert(offsetof(struct vmcb, nested_ctl) == 0x090, "VMCB layout");
_Static_assert(offsetof(struct vmcb, clean) == 0x0c0, "VMCB layout");
_Static_assert(offsetof(struct vmcb, next_rip) == 0x0c8, "VMCB layout");
_Static_assert(offsetof(struct vmcb, es) == 0x400, "VMCB layout");
_Static_assert(offsetof(struct vmcb, cpl) == 0x4cb, "VMCB layout");
_Static_assert(offsetof(struct vmcb, efer) == 0x4d0, "VMCB layout");
_Static_assert(offsetof(struct vmcb, cr4) == 0x548, "VMCB layout");
_Static_assert(offsetof(struct vmcb, rflags) == 0x570, "VMCB layout");
_Static_assert(offsetof(struct vmcb, rsp) == 0x5d8, "VMCB layout");
_Static_assert(offsetof(struct vmcb, rax) == 0x5f8, "VMCB layout");
_Static_assert(offsetof(struct vmcb, cr2) == 0x640, "VMCB layout");
_Static_assert(offsetof(struct vmcb, g_pat) == 0x668, "VMCB layout");
_Static_assert(sizeof(struct vmcb) <= 4096, "VMCB layout");

/* L2's general registers but RAX/RSP (in the VMCB); offsets used below. */
struct svm_gprs {
	uint64_t rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};

/* What L2 works on: in L1's memory, which L2 shares. */
struct l2_job {
	uint32_t op;
	uint64_t iterations;
	uint64_t ticks;
	uint64_t result;
};

static struct vmcb vmcb __attribute__((aligned(4096)));
static uint8_t hsave[4096] __attribute__((aligned(4096)));
static uint8_t iopm[IOPM_SIZE] __attribute__((aligned(4096)));
/* Never written (bss, zero): MSR_PROT is off, so the CPU never reads it. */
static uint8_t msrpm[MSRPM_SIZE] __attribute__((aligned(4096)));
static uint8_t l2_stack[L2_STACK_SIZE] __attribute__((aligned(16)));
static struct l2_job job;
static volatile int busy;

void nested_svm_vmrun(uint64_t vmcb_pa, struct svm_gprs *g);
void nested_l2_entry(void);

__asm__(".text\n"
	".globl nested_svm_vmrun\n"
	"nested_svm_vmrun:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	push %rsi\n"                  /* the svm_gprs, at 0(%rsp) */
	"	mov %rdi, %rax\n"
	"	mov 0x00(%rsi), %rbx\n"
	"	mov 0x08(%rsi), %rcx\n"
	"	mov 0x10(%rsi), %rdx\n"
	"	mov 0x20(%rsi), %rdi\n"
	"	mov 0x28(%rsi), %rbp\n"
	"	mov 0x30(%rsi), %r8\n"
	"	mov 0x38(%rsi), %r9\n"
	"	mov 0x40(%rsi), %r10\n"
	"	mov 0x48(%rsi), %r11\n"
	"	mov 0x50(%rsi), %r12\n"
	"	mov 0x58(%rsi), %r13\n"
	"	mov 0x60(%rsi), %r14\n"
	"	mov 0x68(%rsi), %r15\n"
	"	mov 0x18(%rsi), %rsi\n"
	"	clgi\n"
	"	vmrun %rax\n"
	"	stgi\n"
	"	push %rsi\n"                  /* L2's RSI; the svm_gprs now at 8(%rsp) */
	"	mov 8(%rsp), %rsi\n"
	"	mov %rbx, 0x00(%rsi)\n"
	"	mov %rcx, 0x08(%rsi)\n"
	"	mov %rdx, 0x10(%rsi)\n"
	"	mov %rdi, 0x20(%rsi)\n"
	"	mov %rbp, 0x28(%rsi)\n"
	"	mov %r8, 0x30(%rsi)\n"
	"	mov %r9, 0x38(%rsi)\n"
	"	mov %r10, 0x40(%rsi)\n"
	"	mov %r11, 0x48(%rsi)\n"
	"	mov %r12, 0x50(%rsi)\n"
	"	mov %r13, 0x58(%rsi)\n"
	"	mov %r14, 0x60(%rsi)\n"
	"	mov %r15, 0x68(%rsi)\n"
	"	pop %rax\n"
	"	mov %rax, 0x18(%rsi)\n"
	"	add $8, %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	/* L2 starts here: RBX = the function, RDI = the job. */
	".globl nested_l2_entry\n"
	"nested_l2_entry:\n"
	"	call *%rbx\n"
	"	mov $" "0x4c32444f" ", %eax\n"
	"	vmmcall\n"
	"	ud2\n");
_Static_assert(L2_DONE == 0x4c32444f, "nested_l2_entry's constant");
_Static_assert(offsetof(struct svm_gprs, rsi) == 0x18 && offsetof(struct svm_gprs, r15) == 0x68,
	       "nested_svm_vmrun's offsets");

/* ---- L2's side: plain ring-0 C on L2's stack -------------------------------------------- */

static void l2_ops(struct l2_job *j)
{
	uint64_t n = j->iterations, t0 = rdtsc();
	uint32_t r[4];

	switch (j->op) {
	case NESTED_OP_CPUID:
		for (uint64_t i = 0; i < n; i++)
			cpuid(0, 0, r);
		break;
	case NESTED_OP_VMMCALL:
		for (uint64_t i = 0; i < n; i++) {
			uint64_t rax = 0;

			__asm__ volatile("vmmcall" : "+a"(rax) : : "memory");
		}
		break;
	case NESTED_OP_HLT:
		for (uint64_t i = 0; i < n; i++)
			__asm__ volatile("hlt" ::: "memory");
		break;
	case NESTED_OP_PIO_WRITE:
		for (uint64_t i = 0; i < n; i++)
			outb(NESTED_PORT, (uint8_t)i);
		break;
	}
	j->ticks = rdtsc() - t0;
}

/* The primes up to `iterations`: no exit until done. */
static void l2_primes(struct l2_job *j)
{
	uint64_t t0 = rdtsc();

	j->result = count_primes_upto(j->iterations);
	j->ticks = rdtsc() - t0;
}

/* ---- L1's side ------------------------------------------------------------------------- */

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static void set_seg(struct vmcb_seg *s, uint16_t selector, uint16_t attrib)
{
	s->selector = selector;
	s->attrib = attrib;
	s->limit = 0xffffffffu;
	s->base = 0;
}

static void vmcb_build(void)
{
	struct desc_ptr gdt, idt;
	uint16_t cs, ds, es, ss;

	memset(&vmcb, 0, sizeof(vmcb));
	__asm__ volatile("vmsave %%rax" : : "a"((uint64_t)(uintptr_t)&vmcb) : "memory");
	__asm__ volatile("mov %%cs, %0; mov %%ds, %1; mov %%es, %2; mov %%ss, %3"
			 : "=r"(cs), "=r"(ds), "=r"(es), "=r"(ss));
	__asm__ volatile("sgdt %0; sidt %1" : "=m"(gdt), "=m"(idt));
	set_seg(&vmcb.cs, cs, CODE_SEG_ATTR);
	set_seg(&vmcb.ds, ds, DATA_SEG_ATTR);
	set_seg(&vmcb.es, es, DATA_SEG_ATTR);
	set_seg(&vmcb.ss, ss, DATA_SEG_ATTR);
	vmcb.gdtr.base = gdt.base;
	vmcb.gdtr.limit = gdt.limit;
	vmcb.idtr.base = idt.base;
	vmcb.idtr.limit = idt.limit;
	vmcb.cpl = 0;
	vmcb.efer = rdmsr(MSR_EFER);
	vmcb.cr0 = read_cr0();
	vmcb.cr3 = read_cr3();
	vmcb.cr4 = read_cr4();
	vmcb.cr2 = read_cr2();
	vmcb.dr6 = 0xffff0ff0u;               /* their values at reset */
	vmcb.dr7 = 0x400u;
	vmcb.g_pat = rdmsr(MSR_PAT);
	vmcb.rflags = 0x2;                    /* IF clear: L2 takes no interrupt */

	vmcb.asid = 1;
	vmcb.intercept = 1ull << INTERCEPT_INTR | 1ull << INTERCEPT_NMI |
			 1ull << INTERCEPT_CPUID | 1ull << INTERCEPT_HLT |
			 1ull << INTERCEPT_IOIO_PROT | 1ull << INTERCEPT_SHUTDOWN |
			 1ull << INTERCEPT_VMRUN | 1ull << INTERCEPT_VMMCALL;
	vmcb.intercept_exceptions = 0xffffffffu;
	vmcb.iopm_base_pa = (uint64_t)(uintptr_t)iopm;
	vmcb.msrpm_base_pa = (uint64_t)(uintptr_t)msrpm;
}

/* L2 runs fn on the job until its final VMMCALL; every exit between is
 * handled here.  0, or -SYS_ERR_IO with the exit in rq. */
static long run_l2(void (*fn)(struct l2_job *), struct nested_bench *rq, bool nrips,
		   const uint32_t leaf0[4])
{
	struct svm_gprs g;
	uint64_t t0, limit = job.iterations + 64;

	memset(&g, 0, sizeof(g));
	g.rbx = (uint64_t)(uintptr_t)fn;
	g.rdi = (uint64_t)(uintptr_t)&job;
	vmcb.rip = (uint64_t)(uintptr_t)nested_l2_entry;
	vmcb.rsp = (uint64_t)(uintptr_t)(l2_stack + L2_STACK_SIZE);
	vmcb.rax = 0;
	t0 = rdtsc();
	for (;;) {
		uint64_t len = 0;

		nested_svm_vmrun((uint64_t)(uintptr_t)&vmcb, &g);
		switch (vmcb.exit_code) {
		case SVM_EXIT_CPUID:
			vmcb.rax = leaf0[0];
			g.rbx = leaf0[1];
			g.rcx = leaf0[2];
			g.rdx = leaf0[3];
			len = 2;
			break;
		case SVM_EXIT_VMMCALL:
			if ((uint32_t)vmcb.rax == L2_DONE) {
				rq->total_ticks = rdtsc() - t0;
				return 0;
			}
			vmcb.rax = 0;
			len = 3;
			break;
		case SVM_EXIT_HLT:
			len = 1;
			break;
		case SVM_EXIT_IOIO:
			/* The write is dropped; EXITINFO2 is the next RIP. */
			vmcb.rip = vmcb.exit_info_2;
			break;
		case SVM_EXIT_INTR:
		case SVM_EXIT_NMI:
			/* Should not come: L2 runs with IF clear, and an NMI is
			 * taken by L1 at the STGI.  L2 resumes where it was; a
			 * flood of them ends the op rather than looping. */
			if (++rq->other_exits <= limit)
				continue;
			rq->exit_code = vmcb.exit_code;
			rq->exit_rip = vmcb.rip;
			return -SYS_ERR_IO;
		default:
			rq->exit_code = vmcb.exit_code;
			rq->exit_info1 = vmcb.exit_info_1;
			rq->exit_info2 = vmcb.exit_info_2;
			rq->exit_rip = vmcb.rip;
			return -SYS_ERR_IO;
		}
		if (len)
			vmcb.rip = nrips ? vmcb.next_rip : vmcb.rip + len;
		/* L2 makes exactly `iterations` such exits: more is a bug. */
		if (++rq->exits > limit) {
			rq->exit_code = vmcb.exit_code;
			rq->exit_rip = vmcb.rip;
			return -SYS_ERR_IO;
		}
	}
}

/* The same operation at L1, n times: each an exit to L0. */
static uint64_t l1_ops(uint32_t op, uint64_t n)
{
	uint64_t t0 = rdtsc();
	uint32_t r[4];

	if (op == NESTED_OP_CPUID)
		for (uint64_t i = 0; i < n; i++)
			cpuid(0, 0, r);
	else
		for (uint64_t i = 0; i < n; i++)
			outb(NESTED_PORT, (uint8_t)i);
	return rdtsc() - t0;
}

long nested_svm_run(struct nested_bench *rq)
{
	/* Read once: ring 3's other threads can write the request while ring
	 * 0 runs it with interrupts off, so only these copies are trusted. */
	uint32_t op = rq->op;
	uint64_t n = rq->iterations;
	uint32_t r[4], leaf0[4];
	uint64_t efer;
	bool nrips;
	long err;

	if (op >= NESTED_OPS || n == 0 ||
	    n > (op == NESTED_OP_PRIMES ? NESTED_MAX_PRIMES : NESTED_MAX_EXITS))
		return -SYS_ERR_INVAL;
	cpuid(0x80000000, 0, r);
	if (r[0] < 0x8000000a)
		return -SYS_ERR_NOTSUP;
	cpuid(0x80000001, 0, r);
	if (!(r[2] & CPUID_80000001_ECX_SVM))
		return -SYS_ERR_NOTSUP;
	cpuid(0x8000000a, 0, r);
	rq->svm_features = r[3];
	nrips = r[3] & SVM_FEATURE_NRIPS;
	/* SVMDIS: firmware turned SVM off; EFER.SVME would #GP. */
	if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS)
		return -SYS_ERR_NOTSUP;
	if (__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
		return -SYS_ERR_BUSY;

	rq->l2_ticks = rq->l1_ticks = rq->exits = rq->other_exits = rq->total_ticks = 0;
	rq->result = rq->exit_code = rq->exit_info1 = rq->exit_info2 = rq->exit_rip = 0;
	cpuid(0, 0, leaf0);
	efer = rdmsr(MSR_EFER);
	wrmsr(MSR_EFER, efer | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, (uint64_t)(uintptr_t)hsave);
	memset(iopm, 0xff, sizeof(iopm));     /* every port: L1's */
	vmcb_build();

	job = (struct l2_job){.op = op, .iterations = n};
	err = run_l2(op == NESTED_OP_PRIMES ? l2_primes : l2_ops, rq, nrips, leaf0);
	if (!err) {
		rq->l2_ticks = job.ticks;
		rq->result = job.result;
		if (op == NESTED_OP_CPUID || op == NESTED_OP_PIO_WRITE)
			rq->l1_ticks = l1_ops(op, n);
	}
	wrmsr(MSR_EFER, efer);
	__atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
	return err;
}
