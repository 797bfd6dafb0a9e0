/*
 * options.h - vmm's command line (options.c): the core options in struct
 * vmm_config; each device parses its own (struct vmm_device in vmm.h).
 */
#ifndef VMM_OPTIONS_H
#define VMM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vmm_config {
	const char *guest_path;
	char *guest_cmdline;       /* guest arguments joined by spaces (owned) */
	uint64_t mem_bytes;
	unsigned vcpus;
	int *pin_cpus;             /* host CPU of vCPU i, or NULL (owned) */
	unsigned pin_count;
	int *io_pin_cpus;          /* --io-pin: the I/O threads' host CPUs, or NULL (owned) */
	unsigned io_pin_count;
	int rt_priority;           /* --rt: vCPU threads SCHED_FIFO at this; 0 = off */
	bool mlock;                /* --mlock: guest RAM locked before the guest starts */
	bool stats;
	bool trace;
	bool timestamps;           /* prefix guest output lines with host time */
	bool hugepages;
	bool sync_teardown;   /* release the VM in-process, not by the reaper */
	bool nested;               /* --nested: offer the guest VMX or SVM */
	const char *json_path;
	double timeout_s;          /* 0 = none */
	bool no_seccomp;           /* --no-seccomp: no filters (debugging) */
	const char *user;          /* --user USER[:GROUP], or NULL */
	int seccomp_violate;       /* test only: enum sandbox_kind that makes a
	                            * forbidden call, or SANDBOX_NONE (-1) */
};

/* --rt without a value: above every SCHED_OTHER thread, below the
 * kernel's threaded interrupt handlers (SCHED_FIFO 50), so the host's
 * devices keep being served while a vCPU spins. */
#define DEFAULT_RT_PRIORITY 10

enum options_result { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_ERROR, OPTIONS_CHECK };

/* Parses argv into *cfg, and each device's options into that device.  On
 * OPTIONS_ERROR, errbuf holds one line that says what is wrong;
 * OPTIONS_EXIT_OK means --help or --version was printed to `out`.  Never
 * exits the process, so it can be unit-tested. */
enum options_result options_parse(int argc, char **argv, struct vmm_config *cfg,
				  char *errbuf, size_t errlen, FILE *out);
/* Frees *cfg and what the devices kept from the command line. */
void options_free(struct vmm_config *cfg);

/* "64M", "2G", "512K", "1T" -> bytes; a bare number is in units of
 * `bare_unit` (vmm --mem takes MiB, as QEMU -m does).  Returns false on
 * garbage, overflow or trailing junk. */
bool parse_size(const char *s, uint64_t bare_unit, uint64_t *bytes);

#endif /* VMM_OPTIONS_H */
