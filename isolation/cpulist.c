/* cpulist.c - parse "0-3,6" CPU lists (see cpulist.h). */
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
