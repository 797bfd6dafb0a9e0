/*
 * entry.S - every way into ring 0 after boot: exceptions, interrupts and
 * the int $0x80 system call all build one struct trap_frame (kernel.h)
 * and call trap_dispatch(); trap_return pops whatever frame is on the
 * stack, so the scheduler switches threads by rewriting that frame.
 */
#include "boot.h"

	.text
	.code64

/* Exceptions that push an error code themselves. */
#define HAS_ERROR_CODE(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || \
			   (v) == 13 || (v) == 14 || (v) == 17 || (v) == 21 || \
			   (v) == 29 || (v) == 30)

	.altmacro
.macro TRAP_STUB name, vector
	.align 16
trap_stub_\name:
	.if !HAS_ERROR_CODE(\vector)
	push $0
	.endif
	push $\vector
	jmp trap_common
.endm

.macro TRAP_STUB_ADDRESS name
	.quad trap_stub_\name
.endm

	.set v, 0
	.rept 32
	TRAP_STUB %v, %v
	.set v, v + 1
	.endr
	TRAP_STUB syscall, VEC_SYSCALL
	TRAP_STUB timer, VEC_TIMER
	TRAP_STUB wake, VEC_WAKE
	TRAP_STUB spurious, VEC_SPURIOUS
	/* Device interrupts (SYSINFO_IRQ_SLOTS of them, sysinfo.h). */
	TRAP_STUB irq0, (VEC_IRQ_BASE+0)
	TRAP_STUB irq1, (VEC_IRQ_BASE+1)
	TRAP_STUB irq2, (VEC_IRQ_BASE+2)
	TRAP_STUB irq3, (VEC_IRQ_BASE+3)
	TRAP_STUB exit_bench, VEC_EXIT_BENCH
	TRAP_STUB exit_bench_ping, VEC_EXIT_BENCH_PING

trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call trap_dispatch
	.globl trap_return
trap_return:
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp                   /* vector and error code */
	iretq

/* trap_resume(frame): continue at `frame`, e.g. a thread's first entry to
 * ring 3, built by the scheduler on this CPU's kernel stack. */
	.globl trap_resume
trap_resume:
	mov %rdi, %rsp
	jmp trap_return

	.section .rodata
	.align 8
	.globl trap_stub_table
/* Stub addresses in vector order: 0..31, then the four vectors above, then
 * the device interrupts, then the two of SYS_EXIT_BENCH (TRAP_STUB_* in
 * kernel.h name the indexes). */
trap_stub_table:
	.set v, 0
	.rept 32
	TRAP_STUB_ADDRESS %v
	.set v, v + 1
	.endr
	TRAP_STUB_ADDRESS syscall
	TRAP_STUB_ADDRESS timer
	TRAP_STUB_ADDRESS wake
	TRAP_STUB_ADDRESS spurious
	TRAP_STUB_ADDRESS irq0
	TRAP_STUB_ADDRESS irq1
	TRAP_STUB_ADDRESS irq2
	TRAP_STUB_ADDRESS irq3
	TRAP_STUB_ADDRESS exit_bench
	TRAP_STUB_ADDRESS exit_bench_ping
