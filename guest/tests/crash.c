/*
 * crash.c - a hidden test that fails on purpose, so the tests of vmm and
 * QEMU can check each failure gives a clear message, a distinct status
 * and no hang.  `crash --kind=K`:
 *
 *   user-page-fault    ring 3 reads address 0 (page 0 is kernel-only)
 *   kernel-page-fault  ring 0 reads unmapped memory
 *   triple-fault       ring 0 faults with no IDT
 *   bad-port           ring 0 reads a port no device answers
 *   bad-mmio           ring 0 reads the MMIO hole where nothing lives
 *   hang               ring 0 halts with interrupts off, forever
 *   status             exit with --status=N
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

static int crash_run(const struct test_args *args, const char *command)
{
	const char *kind = opt_str(args, "kind");

	(void)command;
	printf("vmbench: crashing on purpose: %s\n", kind);
	if (!strcmp(kind, "status"))
		return (int)opt_u64(args, "status");
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

static const struct option_def crash_options[] = {
	{"kind", OPT_STRING, "user-page-fault", "how to fail",
	 "user-page-fault,kernel-page-fault,triple-fault,bad-port,bad-mmio,hang,status"},
	{"status", OPT_INT, "0", "exit status for --kind=status", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(crash, .name = "crash", .summary = "fail on purpose (for tests)",
	   .options = crash_options, .commands = "run", .hidden = true, .run = crash_run);
