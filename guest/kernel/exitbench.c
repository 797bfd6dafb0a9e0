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

static struct bench_cpu bench_cpus[MAX_CPUS];
static volatile uint32_t ping_reply_apic;   /* where VEC_EXIT_BENCH_PING answers */

/* The hypercalls: RAX = 0, which KVM answers with -KVM_ENOSYS (no such
 * call) from ring 0 and -KVM_EPERM from ring 3, after the exit that is
 * measured.  Functions of their own, so that the faulting instruction has
 * a known address. */
void exitbench_vmcall(void);
void exitbench_vmmcall(void);
extern const char exitbench_vmcall_insn[], exitbench_vmmcall_insn[];

__asm__(".text\n"
	".globl exitbench_vmcall, exitbench_vmmcall\n"
	".globl exitbench_vmcall_insn, exitbench_vmmcall_insn\n"
	"exitbench_vmcall:\n"
	"	push %rbx\n"
	"	xor %eax, %eax\n"
	"	xor %ebx, %ebx\n"
	"	xor %ecx, %ecx\n"
	"	xor %edx, %edx\n"
	"	xor %esi, %esi\n"
	"exitbench_vmcall_insn:\n"
	"	vmcall\n"
	"	pop %rbx\n"
	"	ret\n"
	"exitbench_vmmcall:\n"
	"	push %rbx\n"
	"	xor %eax, %eax\n"
	"	xor %ebx, %ebx\n"
	"	xor %ecx, %ecx\n"
	"	xor %edx, %edx\n"
	"	xor %esi, %esi\n"
	"exitbench_vmmcall_insn:\n"
	"	vmmcall\n"
	"	pop %rbx\n"
	"	ret\n");

bool exitbench_catch_fault(struct trap_frame *tf)
{
	if ((tf->cs & 3) != 0 || (tf->rip != (uint64_t)exitbench_vmcall_insn &&
				  tf->rip != (uint64_t)exitbench_vmmcall_insn))
		return false;
	bench_cpus[this_cpu()->index].fault = tf->vector + 1;
	tf->rip += HYPERCALL_INSN_LEN;
	return true;
}

void exitbench_interrupt(uint64_t vector)
{
	lapic_eoi();
	if (vector == VEC_EXIT_BENCH_PING)
		lapic_send_ipi(ping_reply_apic, ICR_FIXED | VEC_EXIT_BENCH);
	else
		bench_cpus[this_cpu()->index].hits++;
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
	case EXIT_BENCH_IPI:
		if (rq->arg >= ncpus || rq->arg == c->index || !cpus[rq->arg].online_tsc)
			return -SYS_ERR_INVAL;
		ping_reply_apic = c->apic_id;
		break;
	case EXIT_BENCH_TIMER:
		if (rq->arg > 1 || (deadline && !has_tsc_deadline()))
			return -SYS_ERR_INVAL;
		/* The scheduler's timer slices are running on this CPU. */
		if (c->timer_armed)
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
		err = interrupt_loop(rq, me, EXIT_BENCH_SELF_IPI);
		break;
	case EXIT_BENCH_IPI:
		err = interrupt_loop(rq, me, EXIT_BENCH_IPI);
		break;
	case EXIT_BENCH_TIMER:
		err = interrupt_loop(rq, me, EXIT_BENCH_TIMER);
		break;
	case EXIT_BENCH_HLT:
		err = interrupt_loop(rq, me, EXIT_BENCH_HLT);
		break;
	}
	rq->ticks = rdtsc() - t0;
	if (rq->op == EXIT_BENCH_TIMER)
		lapic_timer_bench_end(deadline);
	return err;
}
