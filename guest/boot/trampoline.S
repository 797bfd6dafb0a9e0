/*
 * trampoline.S - where an application processor starts.
 *
 * A SIPI with vector 0x08 starts an AP in real mode at 0x0800:0000.  The
 * code from ap_trampoline_start to ap_trampoline_end is copied there by
 * smp.c; it is position-independent (data through DS = CS, jumps to
 * absolute kernel addresses), switches to 32-bit protected mode and joins
 * the BSP's path into long mode (enter_long_mode in header.S), which
 * continues at ap_start64 below, in the kernel image.
 */
#include "boot.h"

	.section .rodata
	.code16
	.globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl (trampoline_gdt_descriptor - ap_trampoline_start)
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	ljmpl $KERNEL_CS32, $(TRAMPOLINE_ADDR + trampoline32 - ap_trampoline_start)

	.code32
trampoline32:
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $ap_far_pointer, %ebp
	mov $enter_long_mode, %eax
	jmp *%eax

	.align 8
trampoline_gdt_descriptor:
	.word 6 * 8 + MAX_CPUS * 16 - 1
	.long gdt
ap_trampoline_end:

	.section .text
	.code64
/* Which CPU am I?  The APIC ID (CPUID leaf 0xB when x2APIC IDs are in
 * use, else leaf 1) indexes apic_to_cpu[], which smp.c filled from the
 * MADT; the CPU index picks the stack smp.c allocated. */
	.globl ap_start64
ap_start64:
	LOAD_KERNEL_DATA_SEGMENTS
	cmpb $0, smp_x2apic_ids
	jne 1f
	mov $1, %eax
	cpuid
	shr $24, %ebx
	jmp 2f
1:	mov $0xb, %eax
	xor %ecx, %ecx
	cpuid
	mov %edx, %ebx
2:	cmp $MAX_APIC_ID, %ebx
	jae 3f
	movzwl apic_to_cpu(, %rbx, 2), %edi
	mov ap_stack_top(, %rdi, 8), %rsp
	test %rsp, %rsp
	jz 3f
	call ap_main
3:	cli                             /* an AP we did not expect */
	hlt
	jmp 3b
