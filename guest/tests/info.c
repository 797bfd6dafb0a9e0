/*
 * info.c - the `info` test: what the guest sees.  Every online CPU runs a
 * ring-3 thread that reports its APIC ID, so "vCPUs online" counts CPUs
 * proven to work, not CPUs listed in a table.
 */
#include "user.h"

struct cpu_report {
	uint32_t apic_id;
	unsigned cpu;
	bool ran;
};

static struct cpu_report reports[1024];

static uint64_t report_cpu(void *arg)
{
	struct cpu_report *r = arg;

	r->apic_id = cpu_apic_id();
	r->cpu = sys_cpu();
	r->ran = true;
	return 0;
}

static double boot_ms(enum boot_stage s)
{
	if (!sys->boot_tsc[s] || sys->boot_tsc[s] < sys->boot_tsc[BOOT_ENTRY])
		return 0;
	return tsc_to_seconds(sys->boot_tsc[s] - sys->boot_tsc[BOOT_ENTRY]) * 1e3;
}

static int info_run(const struct test_args *args, const char *command)
{
	static const char *const stage_names[BOOT_STAGES] = {
		"entry", "long mode", "APs started", "all CPUs online", "ring 3",
	};
	struct cpu_identity id;
	long tids[ARRAY_SIZE(reports)];
	unsigned ncpu = sys->ncpus < ARRAY_SIZE(reports) ? sys->ncpus : ARRAY_SIZE(reports);
	unsigned ran = 0;
	char buf[4096];
	struct json j;

	(void)command;
	for (unsigned c = 0; c < ncpu; c++)
		tids[c] = thread_spawn(c, report_cpu, &reports[c], 16384);
	for (unsigned c = 0; c < ncpu; c++)
		if (tids[c] > 0)
			thread_join(tids[c]);
	for (unsigned c = 0; c < ncpu; c++)
		ran += reports[c].ran && reports[c].cpu == c;

	cpu_identify(&id);
	printf("vmbench guest %s: what the guest sees\n\n", GUEST_VERSION);
	printf("System:\n");
	printf("    vCPUs online:        %u of %u (every one ran a ring-3 thread)\n", ran,
	       sys->ncpus);
	printf("    APIC IDs:           ");
	for (unsigned c = 0; c < ncpu; c++)
		if (reports[c].ran)
			printf(" %u", reports[c].apic_id);
	printf("\n");
	printf("    RAM:                 %llu MiB usable in %u ranges, %llu MiB mapped\n",
	       (unsigned long long)((sys->ram_bytes + (1 << 20) - 1) >> 20), sys->nram,
	       (unsigned long long)(sys->mapped_bytes >> 20));
	printf("    TSC frequency:       %.3f MHz (from %s)\n", sys->tsc_hz / 1e6, sys->tsc_source);
	printf("    CPU:                 %s, %s (family %u, model %u, stepping %u)\n", id.vendor,
	       id.brand[0] ? id.brand : "no brand string", id.family, id.model, id.stepping);
	printf("    Hypervisor:          %s\n", id.hypervisor[0] ? id.hypervisor : "none");
	printf("    Boot loader:         %s\n", sys->loader[0] ? sys->loader : "unknown");
	printf("    Interrupt controller: %s; CPUs from %s\n", sys->x2apic ? "x2APIC" : "xAPIC",
	       sys->acpi ? "the ACPI MADT" : "nowhere (no MADT: BSP only)");
	printf("\nBoot timeline (ms after the first instruction, guest TSC):\n");
	for (unsigned s = BOOT_LONG_MODE; s < BOOT_STAGES; s++)
		printf("    %-20s %8.3f\n", stage_names[s], boot_ms(s));
	printf("\n");

	json_init(&j, buf, sizeof(buf));
	result_begin(&j, args);
	json_u64(&j, "threads", ran);
	json_begin(&j, "boot_ms");
	json_double(&j, "long_mode", boot_ms(BOOT_LONG_MODE));
	json_double(&j, "aps_started", boot_ms(BOOT_APS_STARTED));
	json_double(&j, "cpus_online", boot_ms(BOOT_APS_ONLINE));
	json_double(&j, "ring3", boot_ms(BOOT_RING3));
	json_end(&j);
	json_u64(&j, "ram_bytes", sys->ram_bytes);
	json_u64(&j, "mapped_bytes", sys->mapped_bytes);
	json_u64(&j, "cpus_listed", sys->ncpus);
	result_emit(&j);
	return ran == sys->ncpus ? STATUS_OK : STATUS_FAILED;
}

static const struct option_def info_options[] = {
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(info, .name = "info", .summary = "what the guest sees: CPUs, RAM, TSC, hypervisor",
	   .options = info_options, .commands = "run", .run = info_run);
