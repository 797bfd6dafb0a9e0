/*
 * fuzz_options.c - vmm's command line: the input is split into argv words
 * at NUL and newline bytes and handed to options_parse().  Besides the
 * sanitizers (and LeakSanitizer, after options_free), checks that what it
 * accepts is a configuration vm.c can rely on, and that a refusal comes
 * with one line of text.
 */
#include "boot.h"
#include "memory.h"
#include "options.h"
#include "virtio_blk.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	return 0;
}

/* A CPU list option: distinct CPUs 0-4095, or none at all. */
static void check_cpus(const int *cpus, unsigned n)
{
	if (!cpus) {
		if (n)
			abort();
		return;
	}
	if (n < 1 || n > 4096)
		abort();
	for (unsigned i = 0; i < n; i++) {
		if (cpus[i] < 0 || cpus[i] > 4095)
			abort();
		for (unsigned j = 0; j < i; j++)
			if (cpus[i] == cpus[j])
				abort();
	}
}

static void check_config(const struct vmm_config *cfg, int argc, char **argv)
{
	bool found = false;

	for (int i = 1; i < argc; i++)
		found |= cfg->guest_path == argv[i];
	if (!found || !cfg->guest_cmdline)
		abort();
	size_t n = strlen(cfg->guest_path), len = strlen(cfg->guest_cmdline);
	if (len > GUEST_CMDLINE_MAX || strncmp(cfg->guest_cmdline, cfg->guest_path, n) ||
	    (cfg->guest_cmdline[n] != '\0' && cfg->guest_cmdline[n] != ' '))
		abort();
	/* Only the separators are white space (the guest path may have some). */
	if (strpbrk(cfg->guest_cmdline + n, "\t\n\r"))
		abort();
	if (cfg->vcpus < 1 || cfg->vcpus > 4096)
		abort();
	if (cfg->mem_bytes < 2 * MIB || cfg->mem_bytes % (4 * KIB))
		abort();
	if (!isfinite(cfg->timeout_s) || cfg->timeout_s < 0 || cfg->timeout_s > 1e6)
		abort();
	if (cfg->pin_cpus && cfg->pin_count < cfg->vcpus)
		abort();
	check_cpus(cfg->pin_cpus, cfg->pin_count);
	check_cpus(cfg->io_pin_cpus, cfg->io_pin_count);
	if (cfg->rt_priority < 0 || cfg->rt_priority > sched_get_priority_max(SCHED_FIFO))
		abort();
	const struct disk_config *disks;
	unsigned ndisks = blk_disk_configs(&disks);

	if (ndisks > VMM_MAX_DISKS)
		abort();
	for (unsigned i = 0; i < ndisks; i++)
		if (!disks[i].path || !disks[i].path[0] || strchr(disks[i].path, ','))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_WORDS + 2];
	int argc = 0;
	struct vmm_config cfg;
	char err[512] = "";
	size_t start = 0;

	argv[argc++] = strdup("vmm");
	for (size_t i = 0; i <= size && argc < MAX_WORDS + 1; i++) {
		if (i == size || data[i] == '\0' || data[i] == '\n') {
			char *w = malloc(i - start + 1);

			if (!w)
				abort();
			memcpy(w, data + start, i - start);
			w[i - start] = '\0';
			argv[argc++] = w;
			start = i + 1;
		}
	}
	argv[argc] = NULL;

	switch (options_parse(argc, argv, &cfg, err, sizeof(err), devnull)) {
	case OPTIONS_RUN:
		check_config(&cfg, argc, argv);
		break;
	case OPTIONS_ERROR:
		if (!err[0] || strchr(err, '\n'))
			abort();
		break;
	case OPTIONS_EXIT_OK:
	case OPTIONS_CHECK:
		break;
	default:
		abort();
	}
	options_free(&cfg);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
