/*
 * smp.c - starting the application processors.
 *
 * INIT to every AP, then SIPI with vector 0x08 (the trampoline at 0x8000).
 * Bare metal wants the MP specification's pauses (10 ms after INIT, a
 * second SIPI 200 us later); a hypervisor needs none, and where guest
 * ring 0 is emulated each pause would cost real time, so they are skipped
 * when CPUID says we run on one.
 */
#include "kernel.h"

extern const char ap_trampoline_start[], ap_trampoline_end[];

uint64_t ap_stack_top[MAX_CPUS];
volatile unsigned cpus_online = 1;

void smp_start_aps(void)
{
	bool bare_metal = !cpu_has_hypervisor();
	uint8_t *stacks;

	if (ncpus == 1)
		return;
	if (bare_metal)
		tsc_init();         /* the pauses below count TSC ticks */
	memcpy(phys_ptr(TRAMPOLINE_ADDR), ap_trampoline_start,
	       (size_t)(ap_trampoline_end - ap_trampoline_start));
	stacks = boot_alloc_pages((size_t)(ncpus - 1) * (KSTACK_SIZE / 4096));
	for (unsigned i = 1; i < ncpus; i++) {
		cpus[i].kstack_top = (uint64_t)stacks + (uint64_t)i * KSTACK_SIZE;
		ap_stack_top[i] = cpus[i].kstack_top - FRAME_RESERVE;
	}
	sysinfo.boot_tsc[BOOT_APS_INIT] = rdtsc();
	for (unsigned i = 1; i < ncpus; i++)
		lapic_send_ipi(cpus[i].apic_id, ICR_INIT);
	if (bare_metal)
		tsc_delay_us(10000);
	for (unsigned i = 1; i < ncpus; i++)
		lapic_send_ipi(cpus[i].apic_id, ICR_STARTUP | (TRAMPOLINE_ADDR >> 12));
	if (bare_metal) {
		tsc_delay_us(200);
		for (unsigned i = 1; i < ncpus; i++)
			lapic_send_ipi(cpus[i].apic_id, ICR_STARTUP | (TRAMPOLINE_ADDR >> 12));
	}
	sysinfo.boot_tsc[BOOT_APS_STARTED] = rdtsc();
}

void smp_wait_aps(void)
{
	/* Generous: where ring 0 is emulated and vCPUs outnumber host CPUs,
	 * APs boot one after another. */
	uint64_t deadline = rdtsc() + sysinfo.tsc_hz * (2 + ncpus / 16);

	while (cpus_online < ncpus && rdtsc() < deadline)
		cpu_relax();
	if (cpus_online < ncpus) {
		kprintf("vmbench: only %u of %u CPUs started:", cpus_online, ncpus);
		for (unsigned i = 1; i < ncpus; i++)
			if (!cpus[i].online_tsc)
				kprintf(" cpu%u (APIC ID %u)", i, cpus[i].apic_id);
		kprintf("\n");
	}
	sysinfo.cpus_online = cpus_online;
	sysinfo.boot_tsc[BOOT_APS_ONLINE] = rdtsc();
}

void ap_main(unsigned index)
{
	struct cpu *c = &cpus[index];

	cpu_init(c);
	lapic_init(sysinfo.x2apic);
	c->online_tsc = rdtsc();
	__atomic_add_fetch(&cpus_online, 1, __ATOMIC_RELEASE);
	sched_start_cpu();
}
