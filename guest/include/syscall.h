/*
 * syscall.h - the system calls ring 3 makes with int $0x80: number in
 * RAX, arguments in RDI, RSI, RDX, RCX, result in RAX.
 */
#ifndef GUEST_SYSCALL_H
#define GUEST_SYSCALL_H

enum syscall_number {
	SYS_WRITE = 1,        /* (buf, len): to the console */
	SYS_EXIT = 2,         /* (status): end the run */
	SYS_SYSINFO = 3,      /* () -> const struct sysinfo * */
	SYS_SPAWN = 4,        /* (cpu or SCHED_ANY_CPU, entry, arg, stack_top) -> tid */
	SYS_JOIN = 5,         /* (tid) -> the thread's exit value */
	SYS_THREAD_EXIT = 6,  /* (value) */
	SYS_YIELD = 7,
	SYS_CRASH = 8,        /* (kind): fail on purpose, for vmm's tests */
	SYS_CPU = 9,          /* () -> index of the CPU running the caller */
	/* PCI configuration space by mechanism #1 (ports 0xCF8/0xCFC, which
	 * ring 3 cannot reach): addr = bus << 16 | device << 11 | function
	 * << 8 | offset, size 1, 2 or 4 and offset aligned to it.  A slow
	 * path: each access is a system call and two port exits. */
	SYS_PCI_READ = 10,    /* (addr, size) -> value, or -SYS_ERR_INVAL */
	SYS_PCI_WRITE = 11,   /* (addr, size, value) -> 0, or -SYS_ERR_INVAL */
	/* Device interrupts for ring-3 drivers (slot < SYSINFO_IRQ_SLOTS). */
	SYS_IRQ_MSI = 12,     /* (slot) -> MSI data << 32 | MSI address (32 bits), or -SYS_ERR_INVAL */
	SYS_IRQ_WAIT = 13,    /* (slot, seen) -> sysinfo.irq_count[slot], once it is not `seen` */
	/* (vector, resume_rip) -> 0: the caller's next exception with this
	 * vector in ring 3 does not end the run: the thread resumes at
	 * resume_rip with RAX = vector, RDX = error code, RCX = CR2 (#PF), and
	 * the expectation is gone.  A vector of 32 or more disarms it.  For
	 * selftest, which proves exceptions from ring 3 reach ring 0. */
	SYS_EXPECT_EXCEPTION = 14,
};

/* A thread any CPU may run: threads that outnumber the CPUs share them all. */
#define SCHED_ANY_CPU 0xffffffffu

/* SYS_CRASH kinds. */
enum crash_kind {
	CRASH_KERNEL_PAGE_FAULT = 1,  /* ring 0 touches unmapped memory */
	CRASH_TRIPLE_FAULT = 2,       /* no IDT, then a fault */
	CRASH_BAD_PORT = 3,           /* a port no device answers */
	CRASH_BAD_MMIO = 4,           /* an address in the hole nobody owns */
	CRASH_HANG = 5,               /* halt forever with interrupts off */
};

#define SYS_ERR_INVAL 22
#define SYS_ERR_AGAIN 11
#define SYS_ERR_SRCH 3

#endif
