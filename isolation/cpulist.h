/*
 * cpulist.h - Linux CPU list syntax ("0-3,6,8-10"), shared by vmm --pin and
 * the isolation tools, so both read a list the way the kernel's
 * isolcpus= and /sys/devices/system/cpu/online do.
 */
#ifndef CPULIST_H
#define CPULIST_H

#include <stddef.h>

#define CPULIST_MAX_CPU 4095

/* Parses `s` into cpus[] in the order written (duplicates refused), up to
 * `max` entries.  Returns the number of CPUs, or -1 with one line in errbuf. */
int cpulist_parse(const char *s, int *cpus, int max, char *errbuf, size_t errlen);

#endif
