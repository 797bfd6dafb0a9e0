/*
 * crash.c - selftest's failing kinds: each fails on purpose, so the test
 * suites of vmm and QEMU can check that every failure gives a clear
 * message, a distinct status and no hang (selftest.c lists them).
 */
#include "selftest.h"

static const struct {
	const char *name;
	int kind;
} kernel_kinds[] = {
	{"kernel-page-fault", CRASH_KERNEL_PAGE_FAULT},
	{"triple-fault", CRASH_TRIPLE_FAULT},
	{"bad-port", CRASH_BAD_PORT},
	{"bad-mmio", CRASH_BAD_MMIO},
	{"hang", CRASH_HANG},
};

int selftest_crash(const struct test_args *args, const char *kind)
{
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
	for (unsigned i = 0; i < ARRAY_SIZE(kernel_kinds); i++) {
		if (!strcmp(kind, kernel_kinds[i].name)) {
			sys_crash(kernel_kinds[i].kind);
			/* Still here: this platform let the access through. */
			printf("vmbench: %s did not stop the guest here\n", kind);
			return STATUS_FAILED;
		}
	}
	return STATUS_USAGE;
}
