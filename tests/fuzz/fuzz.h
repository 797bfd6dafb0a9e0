/*
 * fuzz.h - what the guest-facing fuzz targets share: a check that says
 * which invariant broke before aborting, and the access widths.
 *
 * The runner (tests/fuzz/run) starts every target with -close_fd_mask=3:
 * the guest's console and vmm's one-line messages would otherwise be
 * written thousands of times a second.  libFuzzer keeps its own copy of
 * stderr for its reports and the sanitizers'; fuzz_keep_stderr(), called
 * from LLVMFuzzerInitialize (which runs before libFuzzer closes fd 2),
 * keeps one for FUZZ_CHECK's message.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memory.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_stderr = 2;

static inline void fuzz_keep_stderr(void)
{
	int fd = dup(2);

	if (fd >= 0)
		fuzz_stderr = fd;
}

#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			dprintf(fuzz_stderr, "%s:%d: invariant broken: ",      \
				__FILE__, __LINE__);                           \
			dprintf(fuzz_stderr, __VA_ARGS__);                     \
			dprintf(fuzz_stderr, "\n");                            \
			abort();                                               \
		}                                                              \
	} while (0)

/* Guest RAM of `size` bytes (one region at 0) between inaccessible pages,
 * so that an access outside it faults, besides what ASan sees; kept for
 * the process's life. */
static inline void fuzz_guest_ram(uint64_t size, struct guest_memory *mem)
{
	const size_t page = 4096;
	uint8_t *area = mmap(NULL, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);

	if (area == MAP_FAILED || mprotect(area + page, size, PROT_READ | PROT_WRITE))
		abort();
	memory_layout(size, mem);
	mem->base = mem->regions[0].hva = area + page;
}

/* A disk of `bytes` zeros in memory (a memfd, kept for the process's
 * life), named by a path vmm can open ("/proc/self/fd/N" in path[64]);
 * returns its descriptor. */
static inline int fuzz_memory_disk(uint64_t bytes, char path[64])
{
	int fd = memfd_create("fuzz-disk", 0);

	if (fd < 0 || ftruncate(fd, (off_t)bytes))
		abort();
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

#endif /* FUZZ_H */
