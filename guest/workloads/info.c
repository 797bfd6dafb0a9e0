/*
 * info.c - the `info` test: what the guest sees.  Every online CPU runs a
 * ring-3 thread that reports its APIC ID, so "vCPUs online" counts CPUs
 * proven to work, not CPUs listed in a table.
 */
#include "boot.h"
#include "user.h"

struct cpu_report {
	uint32_t apic_id;
	unsigned cpu;
	bool ran;
};

static struct cpu_report reports[MAX_CPUS];

static uint64_t report_cpu(void *arg)
{
	struct cpu_report *r = arg;

	r->apic_id = cpu_apic_id();
	r->cpu = sys_cpu();
	r->ran = true;
	return 0;
}

/* Writes and reads back a word at the start, middle and end of every RAM
 * range ring 3 may use: proves each range, the one above 4 GiB included,
 * is mapped and backed.  Three touches per range, so vmm's RSS stays small. */
static bool touch_ram(uint64_t *touched)
{
	bool ok = true;

	*touched = 0;
	for (unsigned i = 0; i < sys->nram; i++) {
		uint64_t start, end;

		if (!ram_range_for_user(i, &start, &end))
			continue;
		uint64_t spots[3] = {start, start + (end - start) / 2, end - 8};
		for (unsigned k = 0; k < 3; k++) {
			volatile uint64_t *p = (volatile uint64_t *)(spots[k] & ~7ULL);
			uint64_t pattern = 0x5a5a000000000000ULL ^ (uint64_t)(uintptr_t)p;

			*p = pattern;
			if (*p != pattern) {
				printf("vmbench: RAM at 0x%llx does not hold what was written\n",
				       (unsigned long long)(uintptr_t)p);
				ok = false;
			}
			(*touched)++;
		}
	}
	return ok;
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
		"entry", "long mode", "INIT sent to APs", "APs started", "all CPUs online",
		"ring 3",
	};
	struct cpu_identity id;
	long tids[ARRAY_SIZE(reports)];
	unsigned ncpu = sys->ncpus < ARRAY_SIZE(reports) ? sys->ncpus : ARRAY_SIZE(reports);
	unsigned ran = 0;
	char buf[4096];
	struct json j;

	(void)command;
	/* This thread runs on CPU 0 and reports for it; one more thread per
	 * other CPU. */
	for (unsigned c = 1; c < ncpu; c++)
		tids[c] = thread_spawn(c, report_cpu, &reports[c], 16384);
	report_cpu(&reports[0]);
	for (unsigned c = 1; c < ncpu; c++)
		if (tids[c] > 0)
			thread_join(tids[c]);
	for (unsigned c = 0; c < ncpu; c++)
		ran += reports[c].ran && reports[c].cpu == c;
	uint64_t touched = 0;
	bool ram_ok = !opt_bool(args, "touch-ram") || touch_ram(&touched);

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
	if (touched)
		printf("    RAM check:           %llu words written and read back: %s\n",
		       (unsigned long long)touched, ram_ok ? "ok" : "FAILED");
	printf("\nBoot timeline (ms after the first instruction, guest TSC):\n");
	for (unsigned s = BOOT_LONG_MODE; s < BOOT_STAGES; s++)
		if (sys->boot_tsc[s])
			printf("    %-20s %8.3f\n", stage_names[s], boot_ms(s));
	printf("\n");

	json_init(&j, buf, sizeof(buf));
	result_begin(&j, args);
	json_u64(&j, "threads", ran);
	json_begin(&j, "boot_ms");
	json_double(&j, "long_mode", boot_ms(BOOT_LONG_MODE));
	json_double(&j, "aps_init", boot_ms(BOOT_APS_INIT));
	json_double(&j, "aps_started", boot_ms(BOOT_APS_STARTED));
	json_double(&j, "cpus_online", boot_ms(BOOT_APS_ONLINE));
	json_double(&j, "ring3", boot_ms(BOOT_RING3));
	json_end(&j);
	json_u64(&j, "ram_bytes", sys->ram_bytes);
	json_u64(&j, "mapped_bytes", sys->mapped_bytes);
	json_u64(&j, "cpus_listed", sys->ncpus);
	if (touched)
		json_bool(&j, "ram_ok", ram_ok);
	result_emit(&j);
	return ran == sys->ncpus && ram_ok ? STATUS_OK : STATUS_FAILED;
}

static const struct option_def info_options[] = {
	{"touch-ram", OPT_BOOL, "off",
	 "write and read back the start, middle and end of every RAM range", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(info, .name = "info", .summary = "what the guest sees: CPUs, RAM, TSC, hypervisor",
	   .options = info_options, .commands = "run", .run = info_run);
