/*
 * main.c - the BSP's boot path, from long mode to ring 3.
 *
 * Each step is short on purpose (see kernel.h).  The APs are started as
 * soon as the CPU list and the APIC mode exist, so their boot overlaps the
 * BSP's remaining work: where a hypervisor runs the guest, an AP's vCPU
 * may take a busy host's scheduler a millisecond or more to wake, and the
 * AP is then the last to be ready.  So whatever the APs do not need comes
 * after the SIPIs (the TSC rate too, unless smp.c's pauses need it).
 */
#include "kernel.h"

extern uint64_t boot_tsc_entry;
extern char bsp_boot_stack_top[];
extern void user_main(void *arg);

#define MAIN_STACK_PAGES 64          /* 256 KiB for ring 3's main thread */

void kernel_main(uint32_t magic, uint32_t info);

void kernel_main(uint32_t magic, uint32_t info)
{
	struct cpu *bsp = &cpus[0];
	uint8_t *main_stack;

	sysinfo.boot_tsc[BOOT_ENTRY] = boot_tsc_entry;
	sysinfo.boot_tsc[BOOT_LONG_MODE] = rdtsc();
	bootinfo_parse(magic, info);
	console_init(boot_loader_is_vmm, sysinfo.console_com1);

	bsp->kstack_top = (uint64_t)bsp_boot_stack_top;
	idt_init();
	cpu_init(bsp);
	sysinfo.acpi = acpi_find_cpus(boot_loader_is_vmm);
	sysinfo.ncpus = ncpus;
	/* x2APIC only where an APIC ID needs it, or --apic=x2apic asks. */
	sysinfo.x2apic = smp_x2apic_ids || (sysinfo.x2apic_asked && cpu_has_x2apic());
	lapic_init(sysinfo.x2apic);
	bsp->online_tsc = rdtsc();
	smp_start_aps();

	tsc_init();
	pic_disable();          /* the BSP takes no interrupt before ring 3 */
	exitbench_init();
	paging_map_high_ram();
	main_stack = boot_alloc_pages(MAIN_STACK_PAGES);
	if (sched_spawn(0, (uint64_t)user_main, 0,
			(uint64_t)main_stack + MAIN_STACK_PAGES * 4096) < 0)
		panic("cannot start the main thread");
	smp_wait_aps();
	sysinfo.boot_tsc[BOOT_RING3] = rdtsc();
	sched_start_cpu();
}
