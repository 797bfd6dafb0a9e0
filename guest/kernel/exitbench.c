/*
 * exitbench.c - SYS_EXIT_BENCH, the ring-0 half of workloads/vmexit.c.
 *
 * Some exits only ring 0 can make: the LAPIC's (IPIs, EOI, the timer),
 * HLT, hypercalls where ring 3's do not exit, port I/O where the host
 * ignores IOPL in ring 3.  The call runs one operation n times between
 * two rdtsc and hands back the ticks, so the system call's own price (a
 * hundred microseconds where ring 0 is emulated) stays out of the figure.
 * What stays in is the loop around the operation: EXIT_BENCH_LOOP measures
 * it alone, so a reader can subtract it.
 *
 * Interrupts: ring 0 runs with IF clear; an operation that takes an
 * interrupt opens the window for one instruction (`sti; nop`, `sti; hlt`,
 * or `sti; nop` again while it waits), and the handler of VEC_EXIT_BENCH EOIs
 * and counts it for this CPU.  A wait gives up after EXIT_BENCH_WAIT_S
 * seconds (-SYS_ERR_AGAIN): a lost interrupt ends the measurement, never
 * the run.  The ping of EXIT_BENCH_IPI is answered by the other CPU's
 * VEC_EXIT_BENCH_PING handler, in whatever that CPU was doing: the caller
 * chooses whether it is running a thread or halted.  One caller at a time
 * (ping_reply_apic is global).
 *
 * Ring 3 does better where it can (EXIT_BENCH_RING3_BEGIN): in xAPIC mode
 * the LAPIC page is in its identity map, so it writes the ICR, the EOI
 * register and the timer's count itself and waits for the count of this
 * CPU's handler with IF set, natively.  Where ring 0 is emulated, an
 * interrupt awaited in ring 0 arrives only when the emulator lets go
 * (milliseconds late); awaited in ring 3 it arrives as on hardware, and
 * only the handler below runs in ring 0.  The handler EOIs every interrupt
 * it counts, so ring 3 never has one in service: its own EOI writes (the
 * `eoi` op) find nothing to end, as kvm-unit-tests' do.
 *
 * Hypercalls: the caller never asks where one would hang (a PVM-style KVM
 * never returns from a ring-0 vmcall; workloads/vmexit.c decides); where no
 * hypervisor answers, the instruction raises #UD, which
 * exitbench_catch_fault turns into `fault` instead of a crash.
 */
#include "kernel.h"
#include "syscall.h"

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define HYPERCALL_INSN_LEN 3          /* vmcall 0f 01 c1, vmmcall 0f 01 d9 */

struct bench_cpu {
	volatile uint64_t hits;       /* VEC_EXIT_BENCH interrupts taken */
	volatile uint64_t fault;      /* a hypercall's exception + 1, 0 if none */
};
#define BENCH_CPU_SHIFT 4             /* xapic_hit_entry indexes bench_cpus by shifting */
_Static_assert(sizeof(struct bench_cpu) == 1 << BENCH_CPU_SHIFT, "see xapic_hit_entry");

static struct bench_cpu bench_cpus[MAX_CPUS];
static volatile uint32_t ping_reply_apic;   /* where VEC_EXIT_BENCH_PING answers */

/* The hypercalls: RAX = 0, which KVM answers with -KVM_ENOSYS (no such
 * call) from ring 0 and -KVM_EPERM from ring 3, after the exit that is
 * measured.  Functions of their own, so that the faulting instruction has
 * a known address. */
void exitbench_vmcall(void);
void exitbench_vmmcall(void);
extern const char exitbench_vmcall_insn[], exitbench_vmmcall_insn[];

/* One body for both: the instruction is the macro's argument. */
__asm__(".macro exitbench_hypercall name, insn\n"
	".globl exitbench_\\name, exitbench_\\name\\()_insn\n"
	"exitbench_\\name:\n"
	"	push %rbx\n"
	"	xor %eax, %eax\n"
	"	xor %ebx, %ebx\n"
	"	xor %ecx, %ecx\n"
	"	xor %edx, %edx\n"
	"	xor %esi, %esi\n"
	"exitbench_\\name\\()_insn:\n"
	"	\\insn\n"
	"	pop %rbx\n"
	"	ret\n"
	".endm\n"
	".text\n"
	"exitbench_hypercall vmcall, vmcall\n"
	"exitbench_hypercall vmmcall, vmmcall\n"
	".purgem exitbench_hypercall\n");

bool exitbench_catch_fault(struct trap_frame *tf)
{
	if ((tf->cs & 3) != 0 || (tf->rip != (uint64_t)exitbench_vmcall_insn &&
				  tf->rip != (uint64_t)exitbench_vmmcall_insn))
		return false;
	bench_cpus[this_cpu()->index].fault = tf->vector + 1;
	tf->rip += HYPERCALL_INSN_LEN;
	return true;
}

/* The generic path (entry.S, trap_dispatch): x2APIC mode's. */
void exitbench_interrupt(uint64_t vector)
{
	lapic_eoi();
	if (vector == VEC_EXIT_BENCH_PING)
		lapic_send_ipi(ping_reply_apic, ICR_FIXED | VEC_EXIT_BENCH);
	else
		bench_cpus[this_cpu()->index].hits++;
}

/*
 * xAPIC mode's handlers: the same work in a dozen instructions, not the
 * eighty of the generic path (all registers saved, trap_dispatch), because
 * where ring 0 is emulated each costs about a microsecond and the handler
 * is all of an interrupt op that ring 0 runs.  They touch RAX and RDX only,
 * and the LAPIC by its page (x2APIC's wrmsr would need RCX too).  The
 * pong needs no wait for ICR's delivery status: the next ping, the next
 * send, comes only after the pong arrived.
 */
__attribute__((naked)) static void xapic_hit_entry(void)
{
	__asm__ volatile("push %%rax\n\t"
			 "mov %%gs:0, %%rax\n\t"                  /* struct cpu */
			 "mov %c[index](%%rax), %%eax\n\t"
			 "shl %[shift], %%rax\n\t"
			 "incq %c[hits](%%rax)\n\t"
			 "mov %[eoi], %%eax\n\t"
			 "movl $0, (%%rax)\n\t"
			 "pop %%rax\n\t"
			 "iretq"
			 : : [index] "i"(offsetof(struct cpu, index)), [shift] "i"(BENCH_CPU_SHIFT),
			   [hits] "i"(&bench_cpus[0].hits), [eoi] "i"(LAPIC_BASE + LAPIC_EOI));
}

__attribute__((naked)) static void xapic_ping_entry(void)
{
	__asm__ volatile("push %%rax\n\t"
			 "push %%rdx\n\t"
			 "mov %[eoi], %%eax\n\t"
			 "movl $0, (%%rax)\n\t"
			 "mov %c[reply], %%edx\n\t"
			 "shl %[dest_shift], %%edx\n\t"
			 "mov %[icr_high], %%eax\n\t"
			 "mov %%edx, (%%rax)\n\t"
			 "mov %[icr_low], %%eax\n\t"
			 "movl %[pong], (%%rax)\n\t"
			 "pop %%rdx\n\t"
			 "pop %%rax\n\t"
			 "iretq"
			 : : [eoi] "i"(LAPIC_BASE + LAPIC_EOI), [reply] "i"(&ping_reply_apic),
			   [dest_shift] "i"(ICR_HIGH_DEST_SHIFT),
			   [icr_high] "i"(LAPIC_BASE + LAPIC_ICR_HIGH),
			   [icr_low] "i"(LAPIC_BASE + LAPIC_ICR_LOW),
			   [pong] "i"(ICR_FIXED | VEC_EXIT_BENCH));
}

void exitbench_init(void)
{
	if (sysinfo.x2apic)
		return;
	idt_set_interrupt(VEC_EXIT_BENCH, xapic_hit_entry);
	idt_set_interrupt(VEC_EXIT_BENCH_PING, xapic_ping_entry);
}

/* Interrupts on one instruction at a time until `count` reaches target;
 * false if it did not within EXIT_BENCH_WAIT_S seconds.  The pause stays
 * outside the window: QEMU's TCG leaves the loop at a pause, and one in
 * sti's shadow closes the window before an interrupt can come in. */
static bool wait_hit(volatile uint64_t *count, uint64_t target)
{
	uint64_t deadline = rdtsc() + sysinfo.tsc_hz * EXIT_BENCH_WAIT_S;

	while (*count < target) {
		if (rdtsc() > deadline)
			return false;
		__asm__ volatile("sti; nop; cli" ::: "memory");
		cpu_relax();
	}
	return true;
}

/* EXIT_BENCH_RING3_BEGIN: what ring 3 needs to make op rq->arg's LAPIC
 * accesses itself, and the LAPIC set up for it. */
static long ring3_begin(struct exit_bench *rq, struct cpu *c, struct bench_cpu *me)
{
	/* In x2APIC mode the registers are MSRs, which ring 3 cannot reach. */
	if (sysinfo.x2apic)
		return -SYS_ERR_NOTSUP;
	/* `hits` is this CPU's: a thread that may move would read another's. */
	if (!sched_current_bound())
		return -SYS_ERR_INVAL;
	switch (rq->arg) {
	case EXIT_BENCH_SELF_IPI:
	case EXIT_BENCH_EOI:
		break;
	case EXIT_BENCH_IPI:
		if (rq->data >= ncpus || rq->data == c->index || !cpus[rq->data].online_tsc)
			return -SYS_ERR_INVAL;
		ping_reply_apic = c->apic_id;
		rq->dest_apic_id = cpus[rq->data].apic_id;
		break;
	case EXIT_BENCH_TIMER:
		if (!sched_lend_timer())
			return -SYS_ERR_BUSY;
		lapic_timer_bench_begin(VEC_EXIT_BENCH, false);
		break;
	default:
		return -SYS_ERR_INVAL;
	}
	rq->lapic = LAPIC_BASE;
	rq->hits = (uint64_t)&me->hits;
	return 0;
}

static long ring3_end(struct exit_bench *rq)
{
	if (rq->arg == EXIT_BENCH_TIMER && this_cpu()->timer_lent) {
		lapic_timer_bench_end(false);
		sched_return_timer();
	}
	return 0;
}

static bool has_tsc_deadline(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	return r[2] & CPUID_1_ECX_TSC_DEADLINE;
}

static long port_loop(struct exit_bench *rq)
{
	uint16_t port = (uint16_t)rq->arg;
	uint32_t v = (uint32_t)rq->data;
	uint64_t n = rq->iterations;
	bool write = rq->op == EXIT_BENCH_PIO_WRITE;

	if (rq->arg > 0xffff)
		return -SYS_ERR_INVAL;
	/* One loop per width and direction: nothing else between the exits. */
	switch (rq->width * 2 + write) {
	case 2: for (uint64_t i = 0; i < n; i++) v = inb(port); break;
	case 3: for (uint64_t i = 0; i < n; i++) outb(port, (uint8_t)v); break;
	case 4: for (uint64_t i = 0; i < n; i++) v = inw(port); break;
	case 5: for (uint64_t i = 0; i < n; i++) outw(port, (uint16_t)v); break;
	case 8: for (uint64_t i = 0; i < n; i++) v = inl(port); break;
	case 9: for (uint64_t i = 0; i < n; i++) outl(port, v); break;
	default: return -SYS_ERR_INVAL;
	}
	rq->data = v;
	return 0;
}

/* The operations that take an interrupt of VEC_EXIT_BENCH each time.
 * Inlined with `op` a constant at each call, so each loop holds only its
 * own operation. */
static inline __attribute__((always_inline)) long
interrupt_loop(struct exit_bench *rq, struct bench_cpu *me, enum exit_bench_op op)
{
	uint64_t n = rq->iterations, target;
	bool deadline = rq->arg == 1;

	for (uint64_t i = 0; i < n; i++) {
		target = me->hits + 1;
		if (op == EXIT_BENCH_SELF_IPI) {
			lapic_send_self_ipi(VEC_EXIT_BENCH);
			__asm__ volatile("sti; nop; cli" ::: "memory");
		} else if (op == EXIT_BENCH_HLT) {
			/* Pending before the sti: the hlt exits and wakes at once. */
			lapic_send_self_ipi(VEC_EXIT_BENCH);
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		} else if (op == EXIT_BENCH_TIMER) {
			lapic_timer_bench_fire(deadline);
			__asm__ volatile("sti; nop; cli" ::: "memory");
		} else {
			lapic_send_ipi(cpus[rq->arg].apic_id, ICR_FIXED | VEC_EXIT_BENCH_PING);
		}
		if (me->hits < target) {
			rq->late += op != EXIT_BENCH_IPI;
			if (!wait_hit(&me->hits, target))
				return -SYS_ERR_AGAIN;
		}
	}
	return 0;
}

long exitbench_run(struct exit_bench *rq)
{
	struct cpu *c = this_cpu();
	struct bench_cpu *me = &bench_cpus[c->index];
	uint64_t n = rq->iterations, t0;
	bool deadline = rq->arg == 1;
	long err = 0;

	rq->late = rq->fault = rq->ticks = 0;
	switch (rq->op) {
	case EXIT_BENCH_RING3_BEGIN:
		return ring3_begin(rq, c, me);
	case EXIT_BENCH_RING3_END:
		return ring3_end(rq);
	case EXIT_BENCH_IPI:
		if (rq->arg >= ncpus || rq->arg == c->index || !cpus[rq->arg].online_tsc)
			return -SYS_ERR_INVAL;
		ping_reply_apic = c->apic_id;
		break;
	case EXIT_BENCH_TIMER:
		if (rq->arg > 1 || (deadline && !has_tsc_deadline()))
			return -SYS_ERR_INVAL;
		/* The scheduler's timer slices are running on this CPU. */
		if (!sched_lend_timer())
			return -SYS_ERR_BUSY;
		lapic_timer_bench_begin(VEC_EXIT_BENCH, deadline);
		break;
	case EXIT_BENCH_HYPERCALL:
		if (rq->arg > 1)
			return -SYS_ERR_INVAL;
		me->fault = 0;
		break;
	default:
		if (rq->op >= EXIT_BENCH_OPS)
			return -SYS_ERR_INVAL;
	}

	t0 = rdtsc();
	switch (rq->op) {
	case EXIT_BENCH_LOOP:
		empty_loop(n);
		break;
	case EXIT_BENCH_HYPERCALL:
		for (uint64_t i = 0; i < n && !me->fault; i++) {
			if (rq->arg)
				exitbench_vmmcall();
			else
				exitbench_vmcall();
		}
		rq->fault = me->fault;
		break;
	case EXIT_BENCH_PIO_READ:
	case EXIT_BENCH_PIO_WRITE:
		err = port_loop(rq);
		break;
	case EXIT_BENCH_EOI:
		for (uint64_t i = 0; i < n; i++)
			lapic_eoi();
		break;
	case EXIT_BENCH_SELF_IPI:
	case EXIT_BENCH_IPI:
	case EXIT_BENCH_TIMER:
	case EXIT_BENCH_HLT:
		err = interrupt_loop(rq, me, (enum exit_bench_op)rq->op);
		break;
	}
	rq->ticks = rdtsc() - t0;
	if (rq->op == EXIT_BENCH_TIMER) {
		lapic_timer_bench_end(deadline);
		sched_return_timer();
	}
	return err;
}
