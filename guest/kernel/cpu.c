/*
 * cpu.c - per-CPU set-up: the TSS (the ring-0 stack for traps from ring
 * 3), the shared IDT, and GS pointing at the CPU's struct cpu.
 */
#include "kernel.h"

#define MSR_GS_BASE 0xc0000101
#define GATE_INTERRUPT 0x8e       /* present, DPL 0, 64-bit interrupt gate */
#define GATE_USER 0xee            /* the same, callable from ring 3 */

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
static struct idt_gate idt[256];

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

static void set_gate(unsigned vector, uint64_t handler, uint8_t type)
{
	idt[vector] = (struct idt_gate){
		.offset_low = (uint16_t)handler,
		.selector = KERNEL_CS,
		.type = type,
		.offset_mid = (uint16_t)(handler >> 16),
		.offset_high = (uint32_t)(handler >> 32),
	};
}

/* A handler of its own for an interrupt vector (exitbench.c's). */
void idt_set_interrupt(unsigned vector, void (*handler)(void))
{
	set_gate(vector, (uint64_t)handler, GATE_INTERRUPT);
}

void idt_init(void)
{
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, trap_stub_table[v], GATE_INTERRUPT);
	/* A closed gate (DPL 0) makes every int $0x80 from ring 3 raise #GP,
	 * which trap.c turns into the system call: the path hosts that do not
	 * deliver the gate take, forced here so every machine can test it. */
	set_gate(VEC_SYSCALL, trap_stub_table[TRAP_STUB_SYSCALL],
		 sysinfo.syscall_gate_closed ? GATE_INTERRUPT : GATE_USER);
	set_gate(VEC_TIMER, trap_stub_table[TRAP_STUB_TIMER], GATE_INTERRUPT);
	set_gate(VEC_WAKE, trap_stub_table[TRAP_STUB_WAKE], GATE_INTERRUPT);
	set_gate(VEC_SPURIOUS, trap_stub_table[TRAP_STUB_SPURIOUS], GATE_INTERRUPT);
	for (unsigned k = 0; k < SYSINFO_IRQ_SLOTS; k++)
		set_gate(VEC_IRQ_BASE + k, trap_stub_table[TRAP_STUB_IRQ0 + k], GATE_INTERRUPT);
	set_gate(VEC_EXIT_BENCH, trap_stub_table[TRAP_STUB_EXIT_BENCH], GATE_INTERRUPT);
	set_gate(VEC_EXIT_BENCH_PING, trap_stub_table[TRAP_STUB_EXIT_BENCH_PING], GATE_INTERRUPT);
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
