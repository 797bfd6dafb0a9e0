/*
 * syscall.c - the system calls of ring 3 (numbers in syscall.h).
 */
#include "kernel.h"
#include "syscall.h"

#define WRITE_MAX (1 << 20)
#define RFLAGS_IOPL_SHIFT 12
#define RFLAGS_IOPL (3ULL << RFLAGS_IOPL_SHIFT)

/* Ring 3 shares the kernel's identity map, so a pointer is usable if it
 * lies in mapped memory; anything else would fault in ring 0. */
static bool user_range_ok(uint64_t p, uint64_t len)
{
	return len <= WRITE_MAX && p >= 4096 && p + len >= p && p + len <= sysinfo.mapped_bytes;
}

/* Ring 3's output buffer (SYS_SYSINFO's argument), or NULL. */
static const struct user_output *user_output;

void syscall_flush_user_output(void)
{
	const struct user_output *o = user_output;
	uint32_t len, size;

	if (!o)
		return;
	/* Ring 3 may have scribbled on it since (and may still, from another
	 * CPU): read each field once, check again what they name. */
	len = o->len;
	size = o->size;
	if (len > size)
		len = size;
	if (len && user_range_ok(o->buf, len))
		console_write((const char *)o->buf, len);
}

/* Failing on purpose, for the tests of vmm's error paths. */
static void crash(uint64_t kind)
{
	switch (kind) {
	case CRASH_KERNEL_PAGE_FAULT:
		/* 512 GiB: beyond the one page-directory-pointer table mapped. */
		(void)*(volatile uint64_t *)phys_ptr(512ULL << 30);
		break;
	case CRASH_TRIPLE_FAULT: {
		struct { uint16_t limit; uint64_t base; } __attribute__((packed)) empty = {0, 0};

		__asm__ volatile("lidt %0; ud2" : : "m"(empty));
		break;
	}
	case CRASH_BAD_PORT:
		(void)inb(0x99);
		break;
	case CRASH_BAD_MMIO:
		(void)*(volatile uint32_t *)phys_ptr(0xfeb00000UL);   /* in the hole, no device */
		break;
	case CRASH_HANG:
		for (;;)
			__asm__ volatile("cli; hlt");
	}
}

/* PCI configuration mechanism #1.  addr is CONFIG_ADDRESS's low 24 bits. */
static volatile int pci_lock;

static bool pci_config(uint64_t addr, uint64_t size, bool write, uint32_t *value)
{
	uint16_t port = (uint16_t)(0xcfc + (addr & 3));

	if (addr > 0xffffff || (size != 1 && size != 2 && size != 4) || (addr & (size - 1)))
		return false;
	spin_lock(&pci_lock);
	outl(0xcf8, 0x80000000u | (uint32_t)(addr & ~3ULL));
	if (write && size == 1)
		outb(port, (uint8_t)*value);
	else if (write && size == 2)
		outw(port, (uint16_t)*value);
	else if (write)
		outl(port, *value);
	else if (size == 1)
		*value = inb(port);
	else if (size == 2)
		*value = inw(port);
	else
		*value = inl(port);
	spin_unlock(&pci_lock);
	return true;
}

/* The MSI message for interrupt slot k: fixed delivery of VEC_IRQ_BASE + k
 * to the BSP (physical destination mode, so an APIC ID below 256). */
static uint64_t irq_msi(uint64_t slot)
{
	if (slot >= SYSINFO_IRQ_SLOTS || cpus[0].apic_id > 255)
		return (uint64_t)-SYS_ERR_INVAL;
	return (uint64_t)(VEC_IRQ_BASE + slot) << 32 | (0xfee00000u | cpus[0].apic_id << 12);
}

void syscall_dispatch(struct trap_frame *tf)
{
	uint64_t a0 = tf->rdi, a1 = tf->rsi, a2 = tf->rdx, a3 = tf->rcx;

	switch (tf->rax) {
	case SYS_WRITE:
		if (!user_range_ok(a0, a1)) {
			tf->rax = (uint64_t)-SYS_ERR_INVAL;
			return;
		}
		console_write((const char *)a0, a1);
		tf->rax = a1;
		return;
	case SYS_EXIT:
		platform_exit((int)a0);
	case SYS_SYSINFO:
		if (a0 && user_range_ok(a0, sizeof(struct user_output)))
			user_output = (const struct user_output *)a0;
		tf->rax = (uint64_t)&sysinfo;
		return;
	case SYS_SPAWN:
		tf->rax = (uint64_t)(int64_t)sched_spawn((unsigned)a0, a1, a2, a3);
		return;
	case SYS_JOIN:
		sched_join(tf, (int)a0);
		return;
	case SYS_THREAD_EXIT:
		sched_exit(tf, a0);
		return;
	case SYS_YIELD:
		sched_yield(tf);
		return;
	case SYS_CRASH:
		crash(a0);
		tf->rax = 0;    /* the access went through: no such fault here */
		return;
	case SYS_CPU:
		tf->rax = this_cpu()->index;
		return;
	case SYS_PCI_READ:
	case SYS_PCI_WRITE: {
		uint32_t v = (uint32_t)a2;

		if (!pci_config(a0, a1, tf->rax == SYS_PCI_WRITE, &v))
			tf->rax = (uint64_t)-SYS_ERR_INVAL;
		else
			tf->rax = tf->rax == SYS_PCI_WRITE ? 0 : v;
		return;
	}
	case SYS_IRQ_MSI:
		tf->rax = irq_msi(a0);
		return;
	case SYS_IRQ_WAIT:
		if (a0 >= SYSINFO_IRQ_SLOTS) {
			tf->rax = (uint64_t)-SYS_ERR_INVAL;
			return;
		}
		sched_irq_wait(tf, (unsigned)a0, a1);
		return;
	case SYS_EXPECT_EXCEPTION:
		sched_expect_exception(tf, a0, a1);
		return;
	case SYS_EXIT_BENCH:
		if (!user_range_ok(a0, sizeof(struct exit_bench))) {
			tf->rax = (uint64_t)-SYS_ERR_INVAL;
			return;
		}
		tf->rax = (uint64_t)exitbench_run((struct exit_bench *)a0);
		return;
	case SYS_NESTED_BENCH:
		if (!user_range_ok(a0, sizeof(struct nested_bench))) {
			tf->rax = (uint64_t)-SYS_ERR_INVAL;
			return;
		}
		tf->rax = (uint64_t)nested_svm_run((struct nested_bench *)a0);
		return;
	case SYS_IOPL:
		/* The frame's RFLAGS is the thread's own: iretq loads it, the
		 * scheduler saves it with the thread. */
		if (a0 != 0 && a0 != 3) {
			tf->rax = (uint64_t)-SYS_ERR_INVAL;
			return;
		}
		tf->rflags = (tf->rflags & ~RFLAGS_IOPL) | a0 << RFLAGS_IOPL_SHIFT;
		tf->rax = 0;
		return;
	default:
		tf->rax = (uint64_t)-SYS_ERR_INVAL;
	}
}
