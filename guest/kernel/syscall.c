/*
 * syscall.c - the system calls of ring 3 (numbers in syscall.h).
 */
#include "kernel.h"
#include "syscall.h"

#define WRITE_MAX (1 << 20)

/* Ring 3 shares the kernel's identity map, so a pointer is usable if it
 * lies in mapped memory; anything else would fault in ring 0. */
static bool user_range_ok(uint64_t p, uint64_t len)
{
	return len <= WRITE_MAX && p >= 4096 && p + len >= p && p + len <= sysinfo.mapped_bytes;
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
	default:
		tf->rax = (uint64_t)-SYS_ERR_INVAL;
	}
}
