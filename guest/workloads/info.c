/*
 * info.c - the `info` test: what the guest sees.  Every online CPU runs a
 * ring-3 thread that reports its APIC ID, so "vCPUs online" counts CPUs
 * proven to work, not CPUs listed in a table: as many distinct APIC IDs
 * (CPUID, which names the CPU that runs it) as threads.
 *
 * It is the boot benchmark's test, and on a host that emulates ring 0 each
 * system call costs 100 us or more, so it makes few: it reads sysinfo
 * once, spawns one thread per AP, waits for their reports natively, and
 * its output leaves in one write at exit (stdio.c).  docs/guest.md says
 * how many it makes.
 */
#include "boot.h"
#include "user.h"

struct cpu_report {
	uint32_t apic_id;
	volatile bool ran;
};

/* How long the main thread waits natively for an AP's report before it
 * blocks in a join (which lets a host that time-slices vCPUs, as QEMU TCG
 * does, run the AP).  Only a shortcut: the join waits as long as it takes. */
#define REPORT_SPIN_NS 5000000ULL

static struct cpu_report reports[MAX_CPUS];

static uint64_t report_cpu(void *arg)
{
	struct cpu_report *r = arg;

	r->apic_id = cpu_apic_id();
	__atomic_store_n(&r->ran, true, __ATOMIC_RELEASE);
	return 0;
}

/* The reports of CPUs 1..ncpu-1: spin on them, then join any thread that
 * has not reported yet. */
static void wait_for_reports(unsigned ncpu, const long *tids)
{
	uint64_t deadline = rdtsc() + ns_to_tsc(REPORT_SPIN_NS);

	for (unsigned c = 1; c < ncpu; c++) {
		while (tids[c] > 0 && !__atomic_load_n(&reports[c].ran, __ATOMIC_ACQUIRE) &&
		       rdtsc() < deadline)
			__builtin_ia32_pause();
		if (tids[c] > 0 && !__atomic_load_n(&reports[c].ran, __ATOMIC_ACQUIRE))
			thread_join(tids[c]);
	}
}

/* CPUs that ran a thread, counted once per APIC ID. */
static unsigned count_cpus_that_ran(unsigned ncpu)
{
	unsigned ran = 0;

	for (unsigned c = 0; c < ncpu; c++) {
		bool repeat = false;

		for (unsigned k = 0; k < c && !repeat; k++)
			repeat = reports[k].ran && reports[k].apic_id == reports[c].apic_id;
		ran += reports[c].ran && !repeat;
	}
	return ran;
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
	unsigned ran;
	char buf[4096];
	struct json j;

	(void)command;
	/* This thread runs on CPU 0 and reports for it; one more thread per
	 * other CPU. */
	for (unsigned c = 1; c < ncpu; c++)
		tids[c] = thread_spawn(c, report_cpu, &reports[c], 16384);
	report_cpu(&reports[0]);
	/* What needs no report, while the APs wake up (their first one, on a
	 * host that emulates ring 0, takes milliseconds). */
	cpu_identify(&id);
	uint64_t touched = 0;
	bool ram_ok = !opt_bool(args, "touch-ram") || touch_ram(&touched);

	wait_for_reports(ncpu, tids);
	ran = count_cpus_that_ran(ncpu);
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
