/*
 * syscall.h - the system calls ring 3 makes with int $0x80: number in
 * RAX, arguments in RDI, RSI, RDX, RCX, result in RAX.
 */
#ifndef GUEST_SYSCALL_H
#define GUEST_SYSCALL_H

#include <stdint.h>

enum syscall_number {
	SYS_WRITE = 1,        /* (buf, len): to the console */
	SYS_EXIT = 2,         /* (status): end the run */
	SYS_SYSINFO = 3,      /* (struct user_output * or 0) -> const struct sysinfo * */
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
	/* (struct exit_bench *) -> 0, or -SYS_ERR_INVAL (bad request),
	 * -SYS_ERR_AGAIN (an interrupt it waited for never came),
	 * -SYS_ERR_BUSY (the timer: the scheduler is using it),
	 * -SYS_ERR_NOTSUP (ring 3 cannot do it: x2APIC mode): runs one
	 * operation `iterations` times in ring 0 between two rdtsc, or
	 * prepares ring 3 to run it itself, for workloads/vmexit.c (see
	 * kernel/exitbench.c). */
	SYS_EXIT_BENCH = 15,
	/* (level 0 or 3) -> 0: the caller's I/O privilege level (RFLAGS.IOPL
	 * of its saved frame); at 3, in/out (and cli/sti) work in ring 3 where
	 * the host honours it.  Not inherited by threads it spawns. */
	SYS_IOPL = 16,
	/* (struct nested_bench *) -> 0, or -SYS_ERR_INVAL (bad request),
	 * -SYS_ERR_NOTSUP (the CPU offers no SVM, or VM_CR.SVMDIS is set),
	 * -SYS_ERR_BUSY (another CPU is in it), -SYS_ERR_IO (L2 exited in a
	 * way the request did not expect: exit_code and the rest say how):
	 * the caller's ring 0 becomes a minimal SVM hypervisor (L1) and runs
	 * one operation in an L2 guest, for workloads/nested.c (see
	 * kernel/nested_svm.c). */
	SYS_NESTED_BENCH = 17,
};

/* Ring 3's output buffer, named to ring 0 by SYS_SYSINFO's argument.
 * Ring 3 writes it out itself (before each of its other system calls, at
 * exit, when it fills); ring 0 writes out its first `len` bytes (at most
 * `size`) only before it reports an exception that ends the run, so the
 * report comes after what ring 3 printed. */
struct user_output {
	uint64_t buf;            /* address of the bytes */
	uint32_t size;           /* the buffer's capacity */
	volatile uint32_t len;   /* bytes not yet written */
};

/* SYS_NESTED_BENCH's operations: what L2 does `iterations` times (each
 * one exit that L1 handles), and PRIMES, a workload with no exit at all
 * until it is done. */
enum nested_op {
	NESTED_OP_CPUID,         /* cpuid leaf 0; L1 answers from a copy */
	NESTED_OP_VMMCALL,       /* vmmcall, RAX = 0 */
	NESTED_OP_HLT,           /* hlt with interrupts off */
	NESTED_OP_PIO_WRITE,     /* outb to port NESTED_PORT */
	NESTED_OP_PRIMES,        /* count the primes up to `iterations` */
	NESTED_OPS
};

/* COM1's scratch register: where L1 writes too (an exit to the VMM, which
 * keeps the byte), and harmless should an L2 write ever get past L1. */
#define NESTED_PORT 0x3ff
/* The most L2 exits per op, and the highest prime limit, a request may
 * ask for: ring 0 runs them with interrupts off and no deadline, so the
 * caps keep a run to minutes even where every exit is emulated. */
#define NESTED_MAX_EXITS 1000000ull
#define NESTED_MAX_PRIMES 10000000ull

struct nested_bench {
	uint32_t op;             /* enum nested_op */
	uint32_t pad;
	uint64_t iterations;     /* ops, or for PRIMES the upper limit */
	/* Results. */
	uint64_t l2_ticks;       /* TSC ticks of L2's loop, timed by L2 */
	uint64_t l1_ticks;       /* the same op n times by L1 (CPUID, PIO_WRITE), else 0 */
	uint64_t exits;          /* L2 exits L1 handled for the op */
	uint64_t other_exits;    /* NMI/INTR/... exits L1 let pass */
	uint64_t total_ticks;    /* first VMRUN to L2's last exit, timed by L1 */
	uint64_t result;         /* PRIMES: the count L2 found */
	uint64_t svm_features;   /* CPUID 0x8000000A EDX as L1 saw it */
	/* -SYS_ERR_IO: L2's unexpected exit. */
	uint64_t exit_code, exit_info1, exit_info2, exit_rip;
};


/* SYS_EXIT_BENCH's operations.  Those that wait for an interrupt give up
 * after EXIT_BENCH_WAIT_S seconds (the call then fails with -SYS_ERR_AGAIN),
 * so a host that loses one ends the measurement, not the run. */
enum exit_bench_op {
	EXIT_BENCH_LOOP,         /* the engine's empty loop (empty_loop, x86.h) */
	EXIT_BENCH_HYPERCALL,    /* vmcall, or vmmcall if arg is 1; RAX = 0 */
	EXIT_BENCH_PIO_READ,     /* in from port arg, width bytes; data: the last value */
	EXIT_BENCH_PIO_WRITE,    /* out data to port arg, width bytes */
	EXIT_BENCH_SELF_IPI,     /* a fixed IPI to self, taken at sti; nop */
	EXIT_BENCH_IPI,          /* a ping to CPU arg, which pings back */
	EXIT_BENCH_EOI,          /* a write to the LAPIC's EOI register */
	EXIT_BENCH_TIMER,        /* the LAPIC timer fires at once (arg 1: TSC deadline) */
	EXIT_BENCH_HLT,          /* a self-IPI kept pending, then sti; hlt */
	/* Ring 3 makes the LAPIC accesses of op `arg` (SELF_IPI, IPI, EOI or
	 * TIMER) itself through the xAPIC page, and waits itself; only the
	 * interrupt handler runs in ring 0.  BEGIN answers with `lapic`, `hits`
	 * and (IPI, to CPU `data`) `dest_apic_id`, and for TIMER lends the
	 * caller's LAPIC timer, one-shot on VEC_EXIT_BENCH; END gives it
	 * back.  The caller must be bound to its CPU (`hits` is that CPU's). */
	EXIT_BENCH_RING3_BEGIN,
	EXIT_BENCH_RING3_END,
	EXIT_BENCH_OPS
};

#define EXIT_BENCH_WAIT_S 10

struct exit_bench {
	uint32_t op;             /* enum exit_bench_op */
	uint32_t width;          /* port operations: 1, 2 or 4 */
	uint64_t iterations;
	uint64_t arg;            /* the port, the CPU, the timer mode, the hypercall; RING3_*: the op */
	uint64_t data;           /* the value to write, or the value read; RING3_BEGIN of IPI: the CPU */
	/* Results. */
	uint64_t ticks;          /* TSC ticks of the whole loop */
	uint64_t late;           /* interrupts not taken at the first sti */
	uint64_t fault;          /* hypercall: the exception it raised + 1, 0 if none */
	/* EXIT_BENCH_RING3_BEGIN's answer. */
	uint64_t lapic;          /* address of the xAPIC's registers (apic.h), identity-mapped */
	uint64_t hits;           /* address of the caller's CPU's count of VEC_EXIT_BENCH
				    interrupts (uint64_t; only the handler writes it) */
	uint64_t dest_apic_id;   /* IPI: CPU data's APIC ID */
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
#define SYS_ERR_BUSY 16
#define SYS_ERR_NOTSUP 95
#define SYS_ERR_IO 5

#endif
