/*
 * syscall.c - int $0x80 wrappers (numbers and arguments: syscall.h).
 *
 * Always `int $0x80`, whatever the host: the kernel takes it through the
 * gate where the CPU delivers it and, where the host raises #UD or #GP at
 * the instruction instead, recognizes these two bytes (kernel/trap.c).
 *
 * Every call that may print, wait or end the run first writes out what
 * printf has buffered (stdio.c), so the output comes before whatever the
 * call prints, waits for or ends with.  The others (stdio's own write,
 * SYS_CPU, a thread's own end) leave the buffer to the thread that fills
 * it: on the PVM-style KVM a write is a system call of 100 us or more.
 */
#include "user.h"

static inline long raw_syscall4(long n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(n), "D"(a0), "S"(a1), "d"(a2), "c"(a3)
			 : "memory");
	return ret;
}

static inline long syscall4(long n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	stdout_flush();
	return raw_syscall4(n, a0, a1, a2, a3);
}

long sys_write_unbuffered(const void *buf, size_t len)
{
	return raw_syscall4(SYS_WRITE, (uintptr_t)buf, len, 0, 0);
}

long sys_write(const void *buf, size_t len)
{
	return syscall4(SYS_WRITE, (uintptr_t)buf, len, 0, 0);
}

void sys_exit(int status)
{
	syscall4(SYS_EXIT, (uint64_t)status, 0, 0, 0);
	for (;;)
		;
}

const struct sysinfo *sys_sysinfo(const struct user_output *output)
{
	return (const struct sysinfo *)syscall4(SYS_SYSINFO, (uintptr_t)output, 0, 0, 0);
}

long sys_spawn(unsigned cpu, void (*entry)(void *), void *arg, void *stack_top)
{
	return syscall4(SYS_SPAWN, cpu, (uintptr_t)entry, (uintptr_t)arg, (uintptr_t)stack_top);
}

long sys_join(long tid)
{
	return syscall4(SYS_JOIN, (uint64_t)tid, 0, 0, 0);
}

void sys_thread_exit(uint64_t value)
{
	raw_syscall4(SYS_THREAD_EXIT, value, 0, 0, 0);
	for (;;)
		;
}

long sys_crash(int kind)
{
	return syscall4(SYS_CRASH, (uint64_t)kind, 0, 0, 0);
}

unsigned sys_cpu(void)
{
	return (unsigned)raw_syscall4(SYS_CPU, 0, 0, 0, 0);
}

void sys_yield(void)
{
	syscall4(SYS_YIELD, 0, 0, 0, 0);
}

long sys_pci_read(uint32_t addr, unsigned size)
{
	return syscall4(SYS_PCI_READ, addr, size, 0, 0);
}

long sys_pci_write(uint32_t addr, unsigned size, uint32_t value)
{
	return syscall4(SYS_PCI_WRITE, addr, size, value, 0);
}

long sys_irq_msi(unsigned slot)
{
	return syscall4(SYS_IRQ_MSI, slot, 0, 0, 0);
}

uint64_t sys_irq_wait(unsigned slot, uint64_t seen)
{
	return (uint64_t)syscall4(SYS_IRQ_WAIT, slot, seen, 0, 0);
}

void sys_expect_exception(unsigned vector, uint64_t resume_rip)
{
	syscall4(SYS_EXPECT_EXCEPTION, vector, resume_rip, 0, 0);
}

long sys_exit_bench(struct exit_bench *rq)
{
	return syscall4(SYS_EXIT_BENCH, (uintptr_t)rq, 0, 0, 0);
}

long sys_nested_bench(struct nested_bench *rq)
{
	return syscall4(SYS_NESTED_BENCH, (uintptr_t)rq, 0, 0, 0);
}

long sys_iopl(unsigned level)
{
	return syscall4(SYS_IOPL, level, 0, 0, 0);
}
