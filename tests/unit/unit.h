/*
 * unit.h - what every unit test shares: cmocka, an assertion on messages,
 * guest memory without a host RAM check, CPU sets from lists, and stdout
 * capture.
 *
 * Each test_*.c is one cmocka program linked with the real vmm sources
 * (everything but vmm/main.c) and built with ASan and UBSan; see unit.mk.
 */
#ifndef UNIT_H
#define UNIT_H

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpulist.h"
#include "memory.h"

/* The error messages are the interface users see: tests assert on the
 * phrase that says what went wrong. */
#define assert_contains(haystack, needle)                                      \
	do {                                                                   \
		const char *h_ = (haystack), *n_ = (needle);                   \
		if (!h_ || !strstr(h_, n_))                                    \
			fail_msg("expected \"%s\" in \"%s\"", n_,              \
				 h_ ? h_ : "(null)");                          \
	} while (0)

#define assert_not_contains(haystack, needle)                                  \
	do {                                                                   \
		const char *h_ = (haystack), *n_ = (needle);                   \
		if (h_ && strstr(h_, n_))                                      \
			fail_msg("did not expect \"%s\" in \"%s\"", n_, h_);   \
	} while (0)

/* Guest RAM of `size` bytes laid out as vmm lays it out, backed by an
 * untouched MAP_NORESERVE mapping: lets a test use a >3 GiB layout without
 * memory_map()'s check against this host's RAM.  Returns 0 or -1. */
static inline int guest_map_noreserve(uint64_t size, struct guest_memory *mem)
{
	uint8_t *base;
	uint64_t offset = 0;

	memory_layout(size, mem);
	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -1;
	mem->base = base;
	for (unsigned i = 0; i < mem->nregions; i++) {
		mem->regions[i].hva = base + offset;
		offset += mem->regions[i].size;
	}
	return 0;
}

/* The set of host CPUs a CPU list names ("0-1,3"); a bad list fails the
 * test. */
static inline struct cpuset cpuset_of(const char *list)
{
	static int cpus[CPULIST_MAX_CPU + 1];
	struct cpuset s;
	char err[256];
	int n = cpulist_parse(list, cpus, CPULIST_MAX_CPU + 1, err, sizeof(err));

	if (n < 0)
		fail_msg("'%s': %s", list, err);
	cpuset_clear(&s);
	for (int i = 0; i < n; i++)
		cpuset_add(&s, cpus[i]);
	return s;
}

/* Captures what is written to file descriptor 1 (the serial device writes
 * there with write(2), not through stdio) into a temporary file. */
struct capture {
	int saved_fd;
	FILE *file;
};

static inline void capture_start(struct capture *c)
{
	fflush(stdout);
	c->file = tmpfile();
	assert_non_null(c->file);
	c->saved_fd = dup(STDOUT_FILENO);
	assert_true(c->saved_fd >= 0);
	assert_true(dup2(fileno(c->file), STDOUT_FILENO) >= 0);
}

/* Restores stdout and returns what was captured (malloc'd, NUL-ended);
 * *len gets its length. */
static inline char *capture_end(struct capture *c, size_t *len)
{
	long n;
	char *buf;

	fflush(stdout);
	assert_true(dup2(c->saved_fd, STDOUT_FILENO) >= 0);
	close(c->saved_fd);
	n = ftell(c->file);
	assert_true(n >= 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	rewind(c->file);
	assert_int_equal(fread(buf, 1, (size_t)n, c->file), (size_t)n);
	buf[n] = '\0';
	fclose(c->file);
	*len = (size_t)n;
	return buf;
}

#endif
