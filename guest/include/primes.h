/*
 * primes.h - the primes up to n by trial division (the cpu test's method),
 * for workloads/nested.c: L2 counts them in ring 0 (kernel/nested_svm.c),
 * L1 in ring 3, and the two counts must agree.  Integer only: fit for
 * ring 0's -mgeneral-regs-only.
 */
#ifndef GUEST_PRIMES_H
#define GUEST_PRIMES_H

#include <stdint.h>

static inline uint64_t count_primes_upto(uint64_t n)
{
	uint64_t count = n >= 2;

	for (uint64_t c = 3; c <= n; c++) {
		uint64_t t;

		for (t = 2; t * t <= c; t++)
			if (c % t == 0)
				break;
		if (t * t > c)
			count++;
	}
	return count;
}

#endif
