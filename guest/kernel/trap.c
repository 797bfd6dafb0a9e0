/*
 * trap.c - where every exception, interrupt and system call lands.
 * An exception is always fatal: the guest prints what happened and where,
 * then exits with status 4, so a test sees a clear line, not a hang --
 * except the one exception that is a system call in disguise (below).
 */
#include "kernel.h"
#include "syscall.h"

#define GUEST_STATUS_CRASH 4
#define VEC_UD 6
#define VEC_GP 13
/* #GP's error code when `int n` meets a gate whose DPL is below CPL:
 * bit 1 set (the index is into the IDT) and the vector in bits 3..15, as
 * the SDM and APM define it.  QEMU's TCG (do_interrupt64) scales the
 * vector by the 16-byte size of a long-mode gate instead; both name gate n
 * and no other, so both are taken. */
#define GP_ERROR_IDT_GATE(n) ((uint64_t)(n) << 3 | 2)
#define GP_ERROR_IDT_GATE_TCG(n) ((uint64_t)(n) << 4 | 2)

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved", "#MF x87 floating point", "#AC alignment check",
	"#MC machine check", "#XM SIMD floating point", "#VE virtualization",
	"#CP control protection",
};

static void report_exception(const struct trap_frame *tf)
{
	const char *name = exception_names[tf->vector] ? exception_names[tf->vector]
						       : "reserved";

	kprintf("vmbench: exception %s (vector %llu) error 0x%llx at rip 0x%llx in ring %llu, "
		"cpu %u, thread %d\n", name, (unsigned long long)tf->vector,
		(unsigned long long)tf->error, (unsigned long long)tf->rip,
		(unsigned long long)(tf->cs & 3), this_cpu()->index, sched_current_tid());
	if (tf->vector == 14)
		kprintf("vmbench:   cr2 0x%llx (the address that faulted)\n",
			(unsigned long long)read_cr2());
	kprintf("vmbench:   rsp 0x%llx rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx\n"
		"vmbench:   rsi 0x%llx rdi 0x%llx rbp 0x%llx\n",
		(unsigned long long)tf->rsp, (unsigned long long)tf->rax,
		(unsigned long long)tf->rbx, (unsigned long long)tf->rcx,
		(unsigned long long)tf->rdx, (unsigned long long)tf->rsi,
		(unsigned long long)tf->rdi, (unsigned long long)tf->rbp);
}

/*
 * The system call's fallback path.  Ring 3 always asks with `int $0x80`
 * (bytes cd 80).  Where the CPU delivers it through the DPL-3 gate, it
 * arrives as VEC_SYSCALL.  Where it does not, the CPU raises an exception
 * at the instruction instead:
 *
 *   #UD, error 0        a PVM-style KVM, which does not deliver `int n`
 *                       from guest ring 3 (docs/platform.md)
 *   #GP, error 0x402    the gate is closed (--syscall-gate=closed): DPL 0
 *                       is below CPL 3, and the error code names the gate
 *                       (0x802 under QEMU TCG, see GP_ERROR_IDT_GATE_TCG)
 *
 * Only that exact case is a system call: the exception came from ring 3,
 * with that error code, and the two bytes at RIP are cd 80.  Ring 3
 * shares the kernel's identity map, so RIP is readable here when it lies
 * in mapped memory.  Anything else stays a fatal exception.
 *
 * On the PVM-style KVM this is every system call's path, and ring 0 runs
 * there at about 1 us per instruction: trap_dispatch tests it first, and
 * the two bytes are one load.
 */
static bool is_syscall_fault(const struct trap_frame *tf, enum syscall_path *path)
{
	uint16_t insn;

	if ((tf->cs & 3) != 3)
		return false;
	if (tf->vector == VEC_UD && tf->error == 0)
		*path = SYSCALL_VIA_UD;
	else if (tf->vector == VEC_GP && (tf->error == GP_ERROR_IDT_GATE(VEC_SYSCALL) ||
					  tf->error == GP_ERROR_IDT_GATE_TCG(VEC_SYSCALL)))
		*path = SYSCALL_VIA_GP;
	else
		return false;
	if (tf->rip < 4096 || tf->rip > sysinfo.mapped_bytes - 2)
		return false;
	__builtin_memcpy(&insn, (const void *)tf->rip, sizeof(insn));
	return insn == (0xcd | VEC_SYSCALL << 8);     /* cd 80, little-endian */
}

static void syscall_enter(struct trap_frame *tf, enum syscall_path path)
{
	__atomic_add_fetch(&sysinfo.syscalls[path], 1, __ATOMIC_RELAXED);
	syscall_dispatch(tf);
}

void trap_dispatch(struct trap_frame *tf)
{
	enum syscall_path path;

	/* Before the interrupts' cases, which are all vectors 32 and up. */
	if (tf->vector < 32 && is_syscall_fault(tf, &path)) {
		tf->rip += 2;        /* the fault left RIP at the int $0x80 */
		syscall_enter(tf, path);
		return;
	}
	switch (tf->vector) {
	case VEC_SYSCALL:
		syscall_enter(tf, SYSCALL_VIA_GATE);
		break;
	case VEC_TIMER:
		lapic_eoi();
		sched_timer_tick(tf);
		break;
	case VEC_WAKE:
		lapic_eoi();
		__atomic_add_fetch(&sysinfo.wake_ipis, 1, __ATOMIC_RELAXED);
		sched_wake_ipi();
		break;
	case VEC_SPURIOUS:
		break;     /* no EOI for a spurious interrupt */
	case VEC_EXIT_BENCH:
	case VEC_EXIT_BENCH_PING:
		exitbench_interrupt(tf->vector);
		break;
	default:
		if (tf->vector >= VEC_IRQ_BASE && tf->vector < VEC_IRQ_BASE + SYSINFO_IRQ_SLOTS) {
			lapic_eoi();
			sched_irq((unsigned)(tf->vector - VEC_IRQ_BASE));
			break;
		}
		if (tf->vector < 32 && (exitbench_catch_fault(tf) || sched_catch_exception(tf)))
			break;
		if (tf->vector < 32) {
			syscall_flush_user_output();    /* what ring 3 printed first */
			report_exception(tf);
			platform_exit(GUEST_STATUS_CRASH);
		}
		kprintf("vmbench: unexpected interrupt vector %llu\n",
			(unsigned long long)tf->vector);
		lapic_eoi();
	}
}
