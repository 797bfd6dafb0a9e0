/* cpulist.c - parse and write "0-3,6" CPU lists, sets of CPUs (see cpulist.h). */
#include "cpulist.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool read_cpu(const char **p, long *out)
{
	char *end;

	if (!isdigit((unsigned char)**p))
		return false;
	errno = 0;
	*out = strtol(*p, &end, 10);
	if (errno || *out > CPULIST_MAX_CPU)
		return false;
	*p = end;
	return true;
}

int cpulist_parse(const char *s, int *cpus, int max, char *errbuf, size_t errlen)
{
	const char *p = s;
	int n = 0;

	if (!*p) {
		snprintf(errbuf, errlen, "empty CPU list");
		return -1;
	}
	for (;;) {
		long lo, hi;

		if (!read_cpu(&p, &lo)) {
			snprintf(errbuf, errlen,
				 "bad CPU list '%s': expected a CPU number (0-%d) at '%s'",
				 s, CPULIST_MAX_CPU, p);
			return -1;
		}
		hi = lo;
		if (*p == '-') {
			p++;
			if (!read_cpu(&p, &hi) || hi < lo) {
				snprintf(errbuf, errlen,
					 "bad CPU list '%s': bad range ending at '%s'", s, p);
				return -1;
			}
		}
		for (long c = lo; c <= hi; c++) {
			for (int i = 0; i < n; i++) {
				if (cpus[i] == c) {
					snprintf(errbuf, errlen,
						 "bad CPU list '%s': CPU %ld listed twice", s, c);
					return -1;
				}
			}
			if (n == max) {
				snprintf(errbuf, errlen,
					 "CPU list '%s' names more than %d CPUs", s, max);
				return -1;
			}
			cpus[n++] = (int)c;
		}
		if (*p == '\0')
			return n;
		if (*p != ',') {
			snprintf(errbuf, errlen,
				 "bad CPU list '%s': unexpected '%c'", s, *p);
			return -1;
		}
		p++;
	}
}

void cpuset_clear(struct cpuset *s)
{
	memset(s, 0, sizeof(*s));
}

void cpuset_add(struct cpuset *s, int cpu)
{
	if (cpu >= 0 && cpu <= CPULIST_MAX_CPU)
		s->bits[cpu / CPUSET_LONG_BITS] |= 1UL << (cpu % CPUSET_LONG_BITS);
}

bool cpuset_has(const struct cpuset *s, int cpu)
{
	return cpu >= 0 && cpu <= CPULIST_MAX_CPU &&
	       (s->bits[cpu / CPUSET_LONG_BITS] >> (cpu % CPUSET_LONG_BITS) & 1);
}

int cpuset_count(const struct cpuset *s)
{
	int n = 0;

	for (size_t i = 0; i < sizeof(s->bits) / sizeof(s->bits[0]); i++)
		n += __builtin_popcountl(s->bits[i]);
	return n;
}

int cpuset_first(const struct cpuset *s)
{
	for (int cpu = 0; cpu <= CPULIST_MAX_CPU; cpu++)
		if (cpuset_has(s, cpu))
			return cpu;
	return -1;
}

size_t cpulist_format(const struct cpuset *s, char *buf, size_t len)
{
	size_t used = 0;
	bool cut = false;   /* an item did not fit: write no more */

	if (len)
		buf[0] = '\0';
	for (int cpu = 0; cpu <= CPULIST_MAX_CPU; cpu++) {
		char item[16];
		int last = cpu, n;

		if (!cpuset_has(s, cpu))
			continue;
		while (last < CPULIST_MAX_CPU && cpuset_has(s, last + 1))
			last++;
		/* Two CPUs in a row are written "2-3", as the kernel does. */
		n = last > cpu ? snprintf(item, sizeof(item), "%s%d-%d", used ? "," : "", cpu, last)
			       : snprintf(item, sizeof(item), "%s%d", used ? "," : "", cpu);
		if (!cut && used + (size_t)n < len)
			memcpy(buf + used, item, (size_t)n + 1);   /* whole items only */
		else
			cut = true;
		used += (size_t)n;
		cpu = last;
	}
	return used;
}
