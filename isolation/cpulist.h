/*
 * cpulist.h - Linux CPU list syntax ("0-3,6,8-10"), shared by vmm --pin and
 * the isolation tools, so both read a list the way the kernel's
 * isolcpus= and /sys/devices/system/cpu/online do.
 */
#ifndef CPULIST_H
#define CPULIST_H

#include <stdbool.h>
#include <stddef.h>

#define CPULIST_MAX_CPU 4095

/* Parses `s` into cpus[] in the order written (duplicates refused), up to
 * `max` entries.  Returns the number of CPUs, or -1 with one line in errbuf. */
int cpulist_parse(const char *s, int *cpus, int max, char *errbuf, size_t errlen);

/* A set of host CPUs 0..CPULIST_MAX_CPU.  glibc's cpu_set_t holds only
 * 1024; this has the kernel's bitmap layout (bit n of word n / bits-per-
 * long), so `bits` and sizeof(bits) go straight to sched_getaffinity and
 * pthread_attr_setaffinity_np as their cpu_set_t and size. */
#define CPUSET_LONG_BITS (8 * (int)sizeof(unsigned long))
struct cpuset {
	unsigned long bits[(CPULIST_MAX_CPU + 1) / CPUSET_LONG_BITS];
};

void cpuset_clear(struct cpuset *s);
/* Out-of-range CPUs are ignored by cpuset_add and never members. */
void cpuset_add(struct cpuset *s, int cpu);
bool cpuset_has(const struct cpuset *s, int cpu);
int cpuset_count(const struct cpuset *s);
/* The lowest CPU in the set, or -1 when it is empty. */
int cpuset_first(const struct cpuset *s);

/* The longest list cpulist_format can write, NUL included: at most 5
 * characters per CPU ("4095," or "-4095"). */
#define CPULIST_TEXT_MAX (5 * (CPULIST_MAX_CPU + 1) + 1)

/* Writes `s` as the kernel writes a CPU list ("0-3,6"; "" when empty) into
 * buf, truncated to len like snprintf; returns the length of the whole
 * list. */
size_t cpulist_format(const struct cpuset *s, char *buf, size_t len);

#endif
