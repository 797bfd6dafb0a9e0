/*
 * cpu.c - per-CPU set-up: the TSS (the ring-0 stack for traps from ring
 * 3), the shared IDT, and GS pointing at the CPU's struct cpu.
 */
#include "kernel.h"

#define MSR_GS_BASE 0xc0000101

/* One 16-byte gate of the IDT, which entry.S builds. */
struct idt_gate {
	uint16_t offset_low, selector;
	uint8_t ist, type;
	uint16_t offset_mid;
	uint32_t offset_high, reserved;
} __attribute__((packed));

struct descriptor_pointer {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

struct cpu cpus[MAX_CPUS];
extern uint64_t gdt[];
extern struct idt_gate idt[256];

bool cpu_has_hypervisor(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	return r[2] & (1u << 31);
}

bool cpu_has_x2apic(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	return r[2] & (1u << 21);
}

uint32_t cpuid_apic_id(void)
{
	uint32_t r[4];

	cpuid(0, 0, r);
	if (r[0] >= 0xb) {
		cpuid(0xb, 0, r);
		if (r[1])          /* leaf 0xB is implemented */
			return r[3];
	}
	cpuid(1, 0, r);
	return r[1] >> 24;
}

/* A handler of its own for an interrupt vector (exitbench.c's). */
void idt_set_interrupt(unsigned vector, void (*handler)(void))
{
	uint64_t address = (uint64_t)handler;

	idt[vector] = (struct idt_gate){
		.offset_low = (uint16_t)address,
		.selector = KERNEL_CS,
		.type = IDT_GATE_INTERRUPT,
		.offset_mid = (uint16_t)(address >> 16),
		.offset_high = (uint32_t)(address >> 32),
	};
}

/* A closed gate (DPL 0) makes every int $0x80 from ring 3 raise #GP,
 * which trap.c turns into the system call: the path hosts that do not
 * deliver the gate take, forced here so every machine can test it. */
void idt_init(void)
{
	if (sysinfo.syscall_gate_closed)
		idt[VEC_SYSCALL].type = IDT_GATE_INTERRUPT;
}

void cpu_init(struct cpu *c)
{
	uint64_t base = (uint64_t)&c->tss;
	uint64_t limit = sizeof(c->tss) - 1;
	unsigned slot = (TSS_SEL_BASE >> 3) + 2 * c->index;
	struct descriptor_pointer idtr = {sizeof(idt) - 1, (uint64_t)idt};

	c->self = c;
	c->tss.rsp0 = c->kstack_top;
	c->tss.iomap_base = sizeof(c->tss);   /* no I/O bitmap: ring 3 has no ports */
	/* 64-bit available TSS descriptor (type 9), two GDT slots. */
	gdt[slot] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		    (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[slot + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(TSS_SEL_BASE + 16 * c->index));
	__asm__ volatile("lidt %0" : : "m"(idtr));
	wrmsr(MSR_GS_BASE, (uint64_t)c);
}
