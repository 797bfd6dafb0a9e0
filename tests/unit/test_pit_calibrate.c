/*
 * test_pit_calibrate.c - the guest's TSC calibration against the PIT
 * (guest/kernel/pit_calibrate.c), driven by a simulated PIT and TSC on a
 * simulated clock.  Each poll of the counter costs some nanoseconds; a
 * test can make chosen polls arrive late, as when QEMU's vCPU thread is
 * descheduled on a busy host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pit_calibrate.h"

#define TSC_HZ 2096025000ULL
#define NS_PER_S 1000000000ULL
#define MAX_GAPS 8

struct sim {
	uint64_t now_ns;          /* simulated time */
	uint64_t programmed_ns;   /* when channel 0 was last programmed */
	uint64_t poll_ns;         /* cost of one count read */
	unsigned long polls;      /* count reads so far */
	bool pit_missing;         /* the counter never moves */
	unsigned long gap_every;  /* a late poll every so many polls ... */
	uint64_t gap_every_ns;    /* ... this late */
	struct { unsigned long at_poll; uint64_t ns; } gaps[MAX_GAPS];
};

static void sim_start(void *ctx)
{
	struct sim *s = ctx;

	s->programmed_ns = s->now_ns;
}

/* Mode 2 with a count of 0xffff: 0xffff, 0xfffe ... 1, then 0xffff again. */
static int sim_count(void *ctx)
{
	struct sim *s = ctx;
	uint64_t ticks;

	s->now_ns += s->poll_ns;
	for (unsigned i = 0; i < MAX_GAPS; i++)
		if (s->gaps[i].ns && s->gaps[i].at_poll == s->polls)
			s->now_ns += s->gaps[i].ns;
	if (s->gap_every && s->polls % s->gap_every == s->gap_every - 1)
		s->now_ns += s->gap_every_ns;
	s->polls++;
	if (s->pit_missing)
		return 0xffff;
	ticks = (s->now_ns - s->programmed_ns) * PIT_HZ / NS_PER_S;
	return (int)(0xffff - ticks % 0xffff);
}

static uint64_t sim_tsc(void *ctx)
{
	struct sim *s = ctx;

	return s->now_ns * TSC_HZ / NS_PER_S;
}

static bool agreed;

static uint64_t calibrate(struct sim *s)
{
	struct pit_clocks c = {sim_start, sim_count, sim_tsc, s};

	return pit_calibrate(&c, &agreed);
}

static void assert_close(uint64_t hz)
{
	/* The PIT's tick (838 ns) over 20 ms bounds the error near 0.005%. */
	assert_true(hz > TSC_HZ - TSC_HZ / 10000 && hz < TSC_HZ + TSC_HZ / 10000);
}

static void test_steady_polling(void **state)
{
	struct sim s = {.now_ns = 123456789, .poll_ns = 1500};

	(void)state;
	assert_close(calibrate(&s));
	assert_true(agreed);
}

/* Regression: the first poll came after the counter had run down most of
 * its period (the vCPU was descheduled right after programming it), so
 * the 20 ms could only be measured across a wrap, which the old code
 * took for a failure: "cannot tell the TSC frequency ... no PIT". */
static void test_late_first_poll_counts_across_the_wrap(void **state)
{
	struct sim s = {.poll_ns = 2000};

	(void)state;
	s.gaps[0].at_poll = 0;
	s.gaps[0].ns = 40000000;       /* 40 ms: the count is near 17000 */
	assert_close(calibrate(&s));
}

/* A poll more than one period (55 ms) late hides a whole wrap from the
 * counter: the wrap must be recovered, not the measurement read high. */
static void test_a_lost_wrap_is_not_the_answer(void **state)
{
	struct sim s = {.poll_ns = 2000};

	(void)state;
	s.gaps[0].at_poll = 2000;      /* inside the first measurement */
	s.gaps[0].ns = 60000000;
	assert_close(calibrate(&s));
}

/* Measurements that each hid one wrap would agree with each other on a
 * wrong answer: each must recover its own. */
static void test_lost_wraps_that_agree_are_not_the_answer(void **state)
{
	struct sim s = {.poll_ns = 2000};

	(void)state;
	s.gaps[0].at_poll = 3000;
	s.gaps[0].ns = 60000000;
	s.gaps[1].at_poll = 14000;
	s.gaps[1].ns = 60000000;
	assert_close(calibrate(&s));
}

/* Two 60 ms stalls in every measurement: every one hides two wraps. */
static void test_many_hidden_wraps_are_recovered(void **state)
{
	struct sim s = {.poll_ns = 2000, .gap_every = 3000, .gap_every_ns = 60000000};

	(void)state;
	assert_close(calibrate(&s));
}

static void test_no_pit(void **state)
{
	struct sim s = {.poll_ns = 1000, .pit_missing = true};

	(void)state;
	assert_int_equal(calibrate(&s), 0);
}

static void test_measurements_that_never_agree(void **state)
{
	/* A stall of more than 120 ms every 100 polls: most of every
	 * measurement is stall, and none may be trusted. */
	struct sim s = {.poll_ns = 2000, .gap_every = 100, .gap_every_ns = 120000000};

	(void)state;
	assert_int_equal(calibrate(&s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_polling),
		cmocka_unit_test(test_late_first_poll_counts_across_the_wrap),
		cmocka_unit_test(test_a_lost_wrap_is_not_the_answer),
		cmocka_unit_test(test_lost_wraps_that_agree_are_not_the_answer),
		cmocka_unit_test(test_many_hidden_wraps_are_recovered),
		cmocka_unit_test(test_no_pit),
		cmocka_unit_test(test_measurements_that_never_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
