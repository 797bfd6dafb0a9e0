/*
 * kernel.h - the guest's ring-0 side.
 *
 * Ring 0 does the minimum (see ../../README.md, "the guest"): boot, page
 * tables, interrupts, starting the APs, a small scheduler and the system
 * calls ring 3 needs.  It is built with -mgeneral-regs-only: no SSE, no
 * x87, nothing an instruction emulator might not know.  The boot path:
 *
 *   header.S _start -> kernel_main (main.c): bootinfo, cpu, acpi,
 *   smp (APs: trampoline.S -> ap_main), tsc, paging -> sched_start -> ring 3
 */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include "apic.h"
#include "boot.h"
#include "libc.h"
#include "sysinfo.h"
#include "x86.h"

/* ---- the frame every trap builds (entry.S) ------------------------------- */

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;   /* pushed by the CPU */
};

void trap_dispatch(struct trap_frame *tf);
__attribute__((noreturn)) void trap_resume(struct trap_frame *tf);

/* ---- per-CPU state -------------------------------------------------------- */

struct tss {
	uint32_t reserved0;
	uint64_t rsp0, rsp1, rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
} __attribute__((packed));

struct thread;

struct run_queue {
	struct thread *head, *tail;
	unsigned length;
};

struct cpu {
	struct cpu *self;              /* %gs:0, see this_cpu() */
	unsigned index;
	uint32_t apic_id;
	uint64_t kstack_top;
	struct tss tss;
	/* scheduler state, guarded by lock */
	volatile int lock;
	struct thread *current;
	struct run_queue pinned;       /* runnable threads bound to this CPU */
	bool idle;                     /* halted, waiting for a wake IPI */
	bool timer_armed;
	bool timer_lent;               /* to SYS_EXIT_BENCH: the scheduler keeps off it */
	uint64_t online_tsc;           /* when it reached its idle loop */
};

extern struct cpu cpus[MAX_CPUS];
extern unsigned ncpus;             /* CPUs in the MADT */
extern volatile unsigned cpus_online;
extern uint16_t apic_to_cpu[MAX_APIC_ID];
extern uint64_t ap_stack_top[MAX_CPUS];
extern bool smp_x2apic_ids;

/* The CPU running this code (GS base points at its struct cpu). */
static inline struct cpu *this_cpu(void)
{
	struct cpu *c;

	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

/* A pointer to a fixed physical address (identity-mapped).  The empty asm
 * hides the constant from the compiler, which otherwise reasons that no
 * object lives at a small address like 0x40e. */
static inline void *phys_ptr(uintptr_t addr)
{
	void *p = (void *)addr;

	__asm__("" : "+r"(p));
	return p;
}

/* ---- instructions ---------------------------------------------------------- */

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
/* read_cr0(), read_cr2(), read_cr3(), read_cr4(). */
#define DEFINE_READ_CR(n)                                           \
	static inline uint64_t read_cr##n(void)                     \
	{                                                           \
		uint64_t v;                                         \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));   \
		return v;                                           \
	}
DEFINE_READ_CR(0)
DEFINE_READ_CR(2)
DEFINE_READ_CR(3)
DEFINE_READ_CR(4)
#undef DEFINE_READ_CR
static inline void reload_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(v) : : "memory");
}
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* A spinlock: lock xchg and pause only, both handled by every emulator. */
static inline void spin_lock(volatile int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (*l)
			cpu_relax();
}
static inline void spin_unlock(volatile int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- modules ---------------------------------------------------------------- */

/* console.c: COM1, polled; kprintf is for boot and failure messages only
 * (formatting in ring 0 is slow where ring 0 is emulated). */
void console_init(bool virtual_uart, bool com1_only);
void console_write(const char *s, size_t len);
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* platform.c: leave the machine: isa-debug-exit, else halt. */
__attribute__((noreturn)) void platform_exit(int status);

/* bootinfo.c: what the loader told us, copied before anything else runs. */
void bootinfo_parse(uint32_t magic, uint32_t info_addr);
extern struct sysinfo sysinfo;     /* facts handed to ring 3 */
extern bool boot_loader_is_vmm;    /* the loader named itself vmbench vmm */

/* cpu.c */
void cpu_init(struct cpu *c);      /* TSS, IDT, GS base; on each CPU */
void idt_init(void);               /* once, on the BSP: the system call's gate */
void idt_set_interrupt(unsigned vector, void (*handler)(void));
uint32_t cpuid_apic_id(void);      /* this CPU's APIC ID, from CPUID */
bool cpu_has_hypervisor(void);
bool cpu_has_x2apic(void);

/* The ring-0 stack of each CPU keeps its top FRAME_RESERVE bytes for the
 * trap frame of the thread it runs; kernel C code runs below. */
#define FRAME_RESERVE 256

/* tsc.c */
void tsc_init(void);               /* fills sysinfo.tsc_hz and its source, once */
void tsc_delay_us(uint64_t us);

/* acpi.c: the CPUs from the MADT; false if there is no usable MADT.
 * tables_from_vmm: the loader is vmm, whose tables need no checksums. */
bool acpi_find_cpus(bool tables_from_vmm);

/* pic.c: remap and mask the 8259s (before interrupts are ever enabled). */
void pic_disable(void);

/* lapic.c */
void lapic_init(bool x2apic);      /* this CPU */
uint32_t lapic_id(void);
void lapic_eoi(void);
void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low);
void lapic_timer_oneshot(uint64_t ns);
void lapic_timer_stop(void);
/* For SYS_EXIT_BENCH (exitbench.c): one-write self-IPIs, and the timer
 * the scheduler lends (sched_lend_timer). */
void lapic_send_self_ipi(unsigned vector);
void lapic_timer_bench_begin(unsigned vector, bool tsc_deadline);
void lapic_timer_bench_fire(bool tsc_deadline);
void lapic_timer_bench_end(bool tsc_deadline);

/* smp.c */
void smp_start_aps(void);          /* send INIT-SIPI-SIPI to every AP */
void smp_wait_aps(void);           /* until all are online (or give up) */
__attribute__((noreturn)) void ap_main(unsigned index);

/* paging.c: map RAM above 4 GiB (0..4 GiB is mapped by header.S). */
void paging_map_high_ram(void);
/* Boot-time page allocator (kernel stacks, page directories); the pages
 * come uninitialised. */
void *boot_alloc_pages(size_t npages);

/* sched.c */
__attribute__((noreturn)) void sched_start_cpu(void);  /* this CPU */
/* cpu: the CPU the thread is bound to, or SCHED_ANY_CPU. */
int sched_spawn(unsigned cpu, uint64_t entry, uint64_t arg, uint64_t stack_top);
void sched_yield(struct trap_frame *tf);
void sched_join(struct trap_frame *tf, int tid);
void sched_exit(struct trap_frame *tf, uint64_t value);
void sched_timer_tick(struct trap_frame *tf);
void sched_wake_ipi(void);
int sched_current_tid(void);       /* 0 when the CPU is idle */
bool sched_current_bound(void);    /* the running thread is bound to this CPU */
/* This CPU's LAPIC timer for SYS_EXIT_BENCH: false while the scheduler is
 * slicing with it; once lent, the scheduler leaves it alone (a thread that
 * wants a slice waits) until it is given back. */
bool sched_lend_timer(void);
void sched_return_timer(void);
/* SYS_EXPECT_EXCEPTION (syscall.h), and the check trap.c makes before an
 * exception from ring 3 ends the run: true if the thread expected it (the
 * frame then resumes where the thread asked). */
void sched_expect_exception(struct trap_frame *tf, uint64_t vector, uint64_t resume);
bool sched_catch_exception(struct trap_frame *tf);
/* Device interrupts for ring-3 drivers: slot k is vector VEC_IRQ_BASE + k.
 * sched_irq (the handler) counts it in sysinfo.irq_count[k] and wakes every
 * thread blocked in sched_irq_wait on that slot; sched_irq_wait blocks the
 * caller until the count differs from `seen`, and returns the count in RAX. */
void sched_irq(unsigned slot);
void sched_irq_wait(struct trap_frame *tf, unsigned slot, uint64_t seen);

/* syscall.c.  syscall_flush_user_output writes out what ring 3 left in
 * the output buffer it named with SYS_SYSINFO (nothing if it named none):
 * called before an exception report that ends the run. */
void syscall_dispatch(struct trap_frame *tf);
void syscall_flush_user_output(void);

/* exitbench.c: SYS_EXIT_BENCH (syscall.h; the request is checked to lie in
 * user memory), its two interrupt vectors (their generic path: x2APIC
 * mode's), and the fault a ring-0
 * hypercall may raise where no hypervisor answers it (true: the frame now
 * resumes after the instruction). */
struct exit_bench;
void exitbench_init(void);         /* once the APIC mode is known, before ring 3 */
long exitbench_run(struct exit_bench *rq);
void exitbench_interrupt(uint64_t vector);
bool exitbench_catch_fault(struct trap_frame *tf);

/* nested_svm.c: SYS_NESTED_BENCH (syscall.h; the request is checked to
 * lie in user memory): ring 0 as an SVM hypervisor running one op in L2. */
struct nested_bench;
long nested_svm_run(struct nested_bench *rq);

#endif
