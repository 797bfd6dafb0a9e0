/*
 * x86.h - the two unprivileged instructions both rings use, and the one
 * loop both time.
 */
#ifndef GUEST_X86_H
#define GUEST_X86_H

#include <stdint.h>

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* A loop that does nothing n times.  SYS_EXIT_BENCH times it in ring 0
 * (its EXIT_BENCH_LOOP, the scaffolding of every ring-0 measurement) and
 * workloads/vmexit.c in ring 3: where guest ring 0 is emulated, it is
 * thousands of times slower there, whatever the machine's speed. */
static inline void empty_loop(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("" ::: "memory");
}

#endif
