/*
 * boot.h - constants shared by the guest's assembly and C: segment
 * selectors, control register bits, interrupt vectors, fixed addresses.
 */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

/* GDT layout (boot/gdt.S).  User data precedes user code, the order
 * SYSRET would need, so the layout stays usable if syscall/sysret is
 * adopted later. */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS (0x18 | 3)
#define USER_CS (0x20 | 3)
#define KERNEL_CS32 0x28
#define TSS_SEL_BASE 0x30          /* CPU n's TSS at TSS_SEL_BASE + 16*n */

#define MAX_CPUS 1024
#define MAX_APIC_ID 4096
#define KSTACK_SIZE 16384          /* per-CPU ring-0 stack */

#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_NE (1 << 5)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)

/* Page table entry bits. */
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_U 0x4
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_PS 0x80

/* Where the AP start-up code is copied: SIPI vector 0x08. */
#define TRAMPOLINE_ADDR 0x8000

/* Interrupt vectors.  VEC_IRQ_BASE + k (k < SYSINFO_IRQ_SLOTS) are the
 * device interrupts ring-3 drivers ask for (SYS_IRQ_MSI).  The two
 * VEC_EXIT_BENCH vectors belong to SYS_EXIT_BENCH (kernel/exitbench.c):
 * the interrupts it measures, and the ping another CPU answers. */
#define VEC_IRQ_BASE 0x40
#define VEC_SYSCALL 0x80
#define VEC_EXIT_BENCH 0xe0
#define VEC_EXIT_BENCH_PING 0xe1
#define VEC_TIMER 0xef
#define VEC_WAKE 0xf0
#define VEC_SPURIOUS 0xff

/* IDT gate types (entry.S builds the IDT): a present 64-bit interrupt
 * gate, DPL 0, and the same callable from ring 3 with `int`. */
#define IDT_GATE_INTERRUPT 0x8e
#define IDT_GATE_USER 0xee

#ifdef __ASSEMBLER__
/* 64-bit code's first act after the far jump into long mode (BSP and APs). */
.macro LOAD_KERNEL_DATA_SEGMENTS
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
.endm
#endif

#define MULTIBOOT_HEADER_MAGIC 0x1badb002
#define MULTIBOOT_BOOT_MAGIC 0x2badb002
/* Flags: page-align modules, give memory information. */
#define MULTIBOOT_HEADER_FLAGS 0x3

#endif
