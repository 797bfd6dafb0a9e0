/*
 * trap.c - where every exception, interrupt and system call lands.
 * An exception is always fatal: the guest prints what happened and where,
 * then exits with status 4, so a test sees a clear line, not a hang.
 */
#include "kernel.h"
#include "syscall.h"

#define GUEST_STATUS_CRASH 4

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

void trap_dispatch(struct trap_frame *tf)
{
	switch (tf->vector) {
	case VEC_SYSCALL:
		syscall_dispatch(tf);
		break;
	case VEC_TIMER:
		lapic_eoi();
		sched_timer_tick(tf);
		break;
	case VEC_WAKE:
		lapic_eoi();
		sched_wake_ipi();
		break;
	case VEC_SPURIOUS:
		break;     /* no EOI for a spurious interrupt */
	default:
		if (tf->vector >= VEC_IRQ_BASE && tf->vector < VEC_IRQ_BASE + SYSINFO_IRQ_SLOTS) {
			lapic_eoi();
			sched_irq((unsigned)(tf->vector - VEC_IRQ_BASE));
			break;
		}
		if (tf->vector < 32) {
			report_exception(tf);
			platform_exit(GUEST_STATUS_CRASH);
		}
		kprintf("vmbench: unexpected interrupt vector %llu\n",
			(unsigned long long)tf->vector);
		lapic_eoi();
	}
}
