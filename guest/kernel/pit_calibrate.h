/*
 * pit_calibrate.h - measuring the TSC against the PIT, as pure logic over
 * two clocks, so that the host's unit tests can drive it with a simulated
 * PIT (tests/unit/test_pit_calibrate.c).  tsc.c supplies the real ones.
 */
#ifndef GUEST_PIT_CALIBRATE_H
#define GUEST_PIT_CALIBRATE_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_HZ 1193182ULL
#define PIT_CALIBRATION_MS 20
#define PIT_ATTEMPTS 16

struct pit_clocks {
	void (*start)(void *ctx);   /* program channel 0: mode 2, count 0xffff */
	int (*count)(void *ctx);    /* latch and read channel 0's count */
	uint64_t (*tsc)(void *ctx);
	void *ctx;
};

/* One measurement of TSC ticks per second into *hz, counting PIT ticks
 * across the counter's wraps, and across whole periods lost while a poll
 * came late (recovered from the TSC, at the rate the prompt polls show);
 * *hz is 0 when the measurement was too disturbed to trust.  False if the
 * PIT does not tick. */
bool pit_measure(const struct pit_clocks *c, uint64_t *hz);

/* Measures until two results agree within 0.1% and returns their mean
 * (*agreed true); if none agree, the median of three or more (*agreed
 * false); 0 when the PIT does not tick or nothing could be measured. */
uint64_t pit_calibrate(const struct pit_clocks *c, bool *agreed);

#endif
