/*
 * entry.S - every way into ring 0 after boot: exceptions, interrupts and
 * the int $0x80 system call all build one struct trap_frame (kernel.h)
 * and call trap_dispatch(); trap_return pops whatever frame is on the
 * stack, so the scheduler switches threads by rewriting that frame.
 *
 * The IDT is built here by the assembler and linker, not at run time:
 * filling 42 gates cost about 1 ms of boot where guest ring 0 is emulated
 * (some 700 instructions at ~1.5 us each).  A gate splits its handler's
 * address into 16-bit halves, which no relocation can compute from a
 * symbol; so the stubs sit in one section aligned to 1024 bytes, never
 * across a 64 KiB boundary, and linker.ld gives that block's address as
 * trap_stubs_low16 and trap_stubs_high16: a gate is low16 + the stub's
 * offset in the block (the linker fails the build on overflow) and high16.
 */
#include "boot.h"

	.section .text.trap_stubs, "ax"
	.balign 1024
	.code64
trap_stubs:

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

	.text
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

/* Gate `vector` to trap_stub_<name>: present, ring-0 code segment, no
 * IST, `type` IDT_GATE_INTERRUPT or IDT_GATE_USER; handler below 4 GiB. */
.macro IDT_GATE vector, name, type
	.org idt + (\vector) * 16
	.word trap_stubs_low16 + (trap_stub_\name - trap_stubs)
	.word KERNEL_CS
	.byte 0, \type
	.word trap_stubs_high16
	.long 0, 0
.endm

	.section .data
	.balign 16
	.globl idt
/* 256 gates in vector order; vectors without a stub are not present.
 * cpu.c closes the system call's gate when the command line asks, and
 * exitbench.c points its two vectors at handlers of its own. */
idt:
	.set v, 0
	.rept 32
	IDT_GATE %v, %v, IDT_GATE_INTERRUPT
	.set v, v + 1
	.endr
	IDT_GATE (VEC_IRQ_BASE+0), irq0, IDT_GATE_INTERRUPT
	IDT_GATE (VEC_IRQ_BASE+1), irq1, IDT_GATE_INTERRUPT
	IDT_GATE (VEC_IRQ_BASE+2), irq2, IDT_GATE_INTERRUPT
	IDT_GATE (VEC_IRQ_BASE+3), irq3, IDT_GATE_INTERRUPT
	IDT_GATE VEC_SYSCALL, syscall, IDT_GATE_USER
	IDT_GATE VEC_EXIT_BENCH, exit_bench, IDT_GATE_INTERRUPT
	IDT_GATE VEC_EXIT_BENCH_PING, exit_bench_ping, IDT_GATE_INTERRUPT
	IDT_GATE VEC_TIMER, timer, IDT_GATE_INTERRUPT
	IDT_GATE VEC_WAKE, wake, IDT_GATE_INTERRUPT
	IDT_GATE VEC_SPURIOUS, spurious, IDT_GATE_INTERRUPT
	.org idt + 256 * 16
