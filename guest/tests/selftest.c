/*
 * selftest.c - a hidden test for the test suites of vmm and QEMU: it
 * fails on purpose, so they can check each failure gives a clear message,
 * a distinct status and no hang, and it exercises paths a benchmark would
 * only hit by chance.  `selftest --kind=K`:
 *
 *   user-page-fault    ring 3 reads address 0 (page 0 is kernel-only)
 *   kernel-page-fault  ring 0 reads unmapped memory
 *   triple-fault       ring 0 faults with no IDT
 *   bad-port           ring 0 reads a port no device answers
 *   bad-mmio           ring 0 reads the MMIO hole where nothing lives
 *   hang               ring 0 halts with interrupts off, forever
 *   status             exit with --status=N
 *   spin               busy in ring 3 (interrupts on) for --ms=N, then
 *                      exit 0: a stray legacy interrupt would land here
 */
#include "user.h"

static const struct {
	const char *name;
	int kind;
} kinds[] = {
	{"kernel-page-fault", CRASH_KERNEL_PAGE_FAULT},
	{"triple-fault", CRASH_TRIPLE_FAULT},
	{"bad-port", CRASH_BAD_PORT},
	{"bad-mmio", CRASH_BAD_MMIO},
	{"hang", CRASH_HANG},
};

static int selftest_run(const struct test_args *args, const char *command)
{
	const char *kind = opt_str(args, "kind");

	(void)command;
	if (!strcmp(kind, "status"))
		return (int)opt_u64(args, "status");
	if (!strcmp(kind, "spin")) {
		uint64_t end = rdtsc() + ns_to_tsc(opt_u64(args, "ms") * 1000000);

		while (rdtsc() < end)
			;
		printf("vmbench: spun for %llu ms\n", (unsigned long long)opt_u64(args, "ms"));
		return STATUS_OK;
	}
	printf("vmbench: failing on purpose: %s\n", kind);
	if (!strcmp(kind, "user-page-fault")) {
		volatile uint8_t *null = NULL;

		__asm__("" : "+r"(null));   /* keep the compiler from reasoning about it */
		return *null;
	}
	for (unsigned i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (!strcmp(kind, kinds[i].name)) {
			sys_crash(kinds[i].kind);
			/* Still here: this platform let the access through. */
			printf("vmbench: %s did not stop the guest here\n", kind);
			return STATUS_FAILED;
		}
	}
	return STATUS_USAGE;
}

static const struct option_def selftest_options[] = {
	{"kind", OPT_STRING, "user-page-fault", "what to do",
	 "user-page-fault,kernel-page-fault,triple-fault,bad-port,bad-mmio,hang,status,spin"},
	{"status", OPT_INT, "0", "exit status for --kind=status", NULL},
	{"ms", OPT_INT, "200", "milliseconds for --kind=spin", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(selftest, .name = "selftest", .summary = "fail on purpose, for test suites",
	   .options = selftest_options, .commands = "run", .hidden = true, .run = selftest_run);
