/*
 * time.c - the TSC as the guest's clock.  Whole seconds and the remainder
 * are converted separately, so hours of ticks at GHz rates neither
 * overflow nor lose precision (and no 128-bit division is needed).
 */
#include "user.h"

#define NS_PER_S 1000000000ULL

static uint64_t tsc_hz;

void time_init(uint64_t hz)
{
	tsc_hz = hz;
}

uint64_t tsc_to_ns(uint64_t ticks)
{
	return ticks / tsc_hz * NS_PER_S + ticks % tsc_hz * NS_PER_S / tsc_hz;
}

uint64_t ns_to_tsc(uint64_t ns)
{
	return ns / NS_PER_S * tsc_hz + ns % NS_PER_S * tsc_hz / NS_PER_S;
}

double tsc_to_seconds(uint64_t ticks)
{
	return (double)ticks / (double)tsc_hz;
}
