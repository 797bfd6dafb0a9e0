/*
 * header.S - the guest's first instructions.
 *
 * A Multiboot 1 loader (vmm, QEMU -kernel, GRUB) jumps to _start in flat
 * 32-bit protected mode with EAX = 0x2BADB002 and EBX = the information
 * structure.  From there to 64-bit C takes a dozen instructions, because
 * the page tables and GDT are built by the assembler, not at run time:
 * on a host that emulates guest ring 0 every instruction here counts.
 *
 * Identity map: 0..4 GiB in 2 MiB pages (the 3..4 GiB MMIO hole uncached),
 * except the first 2 MiB, mapped in 4 KiB pages so that page 0 is
 * kernel-only and a ring-3 NULL dereference faults.  RAM above 4 GiB is
 * mapped by paging.c.  Everything else is user-accessible: ring 3 here is
 * for speed and for sysbench's user-space semantics, not for protection.
 */
#include "boot.h"

	.section .multiboot, "a"
	.align 4
multiboot_header:
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_HEADER_FLAGS
	.long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS)

	.section .boot.text, "ax"
	.code32
	.globl _start
_start:
	cli
	mov %eax, %esi                  /* multiboot magic */
	mov %ebx, %edi                  /* multiboot information */
	rdtsc                           /* boot timeline: first instruction */
	mov %eax, boot_tsc_entry
	mov %edx, boot_tsc_entry + 4
	lgdt gdt_descriptor
	/* Shared with the APs' trampoline: enter long mode, then jump
	 * through the far pointer at %ebp (no stack needed: an AP has none
	 * yet). */
	mov $bsp_far_pointer, %ebp
	.globl enter_long_mode
enter_long_mode:
	mov %cr4, %eax
	or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	and $~CR0_EM, %eax
	or $(CR0_PG | CR0_PE | CR0_MP | CR0_NE | CR0_WP), %eax
	mov %eax, %cr0
	ljmp *(%ebp)

	.code64
bsp_start64:
	LOAD_KERNEL_DATA_SEGMENTS
	mov $(bsp_boot_stack_top - 256), %esp   /* FRAME_RESERVE, kernel.h */
	/* kernel_main(magic, info): both are 32-bit values. */
	mov %esi, %eax
	mov %edi, %esi
	mov %eax, %edi
	call kernel_main
1:	hlt
	jmp 1b

/* ---- data built by the assembler ------------------------------------- */

	.section .data.pagetables, "aw"
	.align 4096
	.globl pml4, pdpt
pml4:
	.quad pdpt + (PTE_P | PTE_W | PTE_U)
	.fill 511, 8, 0
pdpt:
	.quad pd + (PTE_P | PTE_W | PTE_U)
	.quad pd + 4096 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 8192 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 12288 + (PTE_P | PTE_W | PTE_U)
	.fill 508, 8, 0
pd:
	.quad pt_low + (PTE_P | PTE_W | PTE_U)
	.set page, 1
	.rept 2047
	.if page >= 1536
	.quad (page << 21) + (PTE_P | PTE_W | PTE_U | PTE_PS | PTE_PCD | PTE_PWT)
	.else
	.quad (page << 21) + (PTE_P | PTE_W | PTE_U | PTE_PS)
	.endif
	.set page, page + 1
	.endr
pt_low:
	.quad 0 + (PTE_P | PTE_W)       /* page 0: kernel only */
	.set page, 1
	.rept 511
	.quad (page << 12) + (PTE_P | PTE_W | PTE_U)
	.set page, page + 1
	.endr

	.section .data, "aw"
	.align 16
	.globl gdt, gdt_descriptor
gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff        /* 0x10 kernel data */
	.quad 0x00cff2000000ffff        /* 0x18 user data */
	.quad 0x00affa000000ffff        /* 0x20 user code, 64-bit */
	.quad 0x00cf9a000000ffff        /* 0x28 kernel code, 32-bit */
	.fill MAX_CPUS * 2, 8, 0        /* 0x30 TSS of each CPU (cpu.c) */
gdt_end:
	.align 8
	.word 0
gdt_descriptor:
	.word gdt_end - gdt - 1
	.quad gdt

/* Far pointers (offset, selector) into 64-bit code, for enter_long_mode. */
	.align 8
	.globl bsp_far_pointer, ap_far_pointer
bsp_far_pointer:
	.long bsp_start64
	.word KERNEL_CS
	.align 8
ap_far_pointer:
	.long ap_start64
	.word KERNEL_CS

	.globl boot_tsc_entry
	.align 8
boot_tsc_entry:
	.quad 0

	.section .bss
	.align 16
bsp_boot_stack:
	.skip KSTACK_SIZE
bsp_boot_stack_top:
	.globl bsp_boot_stack_top
