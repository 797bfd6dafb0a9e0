/*
 * crash.c - selftest's failing kinds: each fails on purpose, so the test
 * suites of vmm and QEMU can check that every failure gives a clear
 * message, a distinct status and no hang (selftest.c lists them).
 * Also the kinds that only help them: status, spin, print.
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

/* --kind=print: `bytes` bytes of a pattern the test suites rebuild (lines of
 * 64: a 6-digit line number, a space, 56 letters rotated by the line
 * number, a newline), in chunks of sizes around the console's limits (KVM's
 * coalesced ring holds 170 writes, a burst is a page) written directly
 * (--print-with=write), or around stdout's buffer (16 KiB, stdio.c)
 * appended to it (stdout).  NULL when it does not fit in free memory. */
static char *make_pattern(uint64_t bytes)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char *buf;
	uint64_t at = 0;

	/* bytes + 1 must not wrap, and the buffer must fit in the heap. */
	if (bytes >= heap_free_bytes() || !(buf = heap_alloc(bytes + 1, 64))) {
		printf("FATAL: --bytes=%llu: more than the guest's free memory\n",
		       (unsigned long long)bytes);
		return NULL;
	}
	for (uint64_t line = 0; at < bytes; line++) {
		char text[65];
		int n = snprintf(text, sizeof(text), "%06llu ", (unsigned long long)(line % 1000000));

		for (unsigned i = 0; i < 56; i++)
			text[n + i] = letters[(line + i) % 52];
		text[n + 56] = '\n';
		for (int i = 0; i < n + 57 && at < bytes; i++)
			buf[at++] = text[i];
	}
	return buf;
}

static int print_pattern(uint64_t bytes, bool via_stdout)
{
	static const size_t write_chunks[] = {1, 7, 64, 169, 170, 171, 500, 4096};
	static const size_t stdout_chunks[] = {1, 7, 4096, 16383, 16384, 16385, 40000};
	const size_t *chunks = via_stdout ? stdout_chunks : write_chunks;
	unsigned nchunks = via_stdout ? ARRAY_SIZE(stdout_chunks) : ARRAY_SIZE(write_chunks);
	char *buf = make_pattern(bytes);
	uint64_t at = 0;

	if (!buf)
		return STATUS_USAGE;
	for (unsigned c = 0; at < bytes; c++) {
		size_t n = chunks[c % nchunks];

		if (n > bytes - at)
			n = (size_t)(bytes - at);
		if (via_stdout)
			stdout_write(buf + at, n);
		else
			sys_write(buf + at, n);
		at += n;
	}
	return STATUS_OK;
}

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
	if (!strcmp(kind, "print"))
		return print_pattern(opt_u64(args, "bytes"),
				     !strcmp(opt_str(args, "print-with"), "stdout"));
	/* What a failure must not lose: output still in stdout's buffer. */
	if (opt_u64(args, "bytes-first") && print_pattern(opt_u64(args, "bytes-first"), true))
		return STATUS_USAGE;
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
