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
#include <unistd.h>

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

#endif /* FUZZ_H */
