/*
 * test_poll_window.c - the I/O thread's polling decisions (vmm/poll_window.c):
 * how an adaptive window follows the waits for requests, that fixed and off
 * windows never move, and when a thread has a CPU of its own to poll on.
 */
#include "unit.h"
#include "poll_window.h"

#define US 1000ull

static void test_adaptive_starts_without_polling(void **state)
{
	struct poll_window w;

	(void)state;
	poll_window_init(&w, POLL_ADAPTIVE, 0);
	assert_int_equal(w.ns, 0);
	assert_int_equal(w.max_ns, POLL_WINDOW_MAX_NS);
}

static void test_idle_disk_is_never_polled(void **state)
{
	struct poll_window w;

	(void)state;
	poll_window_init(&w, POLL_ADAPTIVE, 0);
	/* Requests a millisecond apart: no window could catch them. */
	for (int i = 0; i < 100; i++)
		poll_window_after_block(&w, 1000 * US);
	assert_int_equal(w.ns, 0);
	assert_int_equal(w.grown, 0);
}

static void test_grows_to_catch_close_requests(void **state)
{
	struct poll_window w;

	(void)state;
	poll_window_init(&w, POLL_ADAPTIVE, 0);
	/* Each next request comes 10 us after the last was served: the window
	 * doubles from 4 us until it covers that, then stays. */
	poll_window_after_block(&w, 10 * US);
	assert_int_equal(w.ns, POLL_WINDOW_START_NS);
	poll_window_after_block(&w, 10 * US);
	assert_int_equal(w.ns, 8 * US);
	poll_window_after_block(&w, 10 * US);
	assert_int_equal(w.ns, 16 * US);
	/* Caught within the window from now on: the sweet spot, unchanged. */
	for (int i = 0; i < 10; i++)
		poll_window_after_block(&w, 10 * US);
	assert_int_equal(w.ns, 16 * US);
	assert_int_equal(w.grown, 3);
	assert_int_equal(w.shrunk, 0);
}

static void test_growth_stops_at_the_ceiling(void **state)
{
	struct poll_window w;

	(void)state;
	poll_window_init(&w, POLL_ADAPTIVE, 20 * US);
	for (int i = 0; i < 10; i++)
		poll_window_after_block(&w, 19 * US + (uint64_t)i);
	assert_int_equal(w.ns, 20 * US);
}

static void test_shrinks_when_requests_drift_apart(void **state)
{
	struct poll_window w;

	(void)state;
	poll_window_init(&w, POLL_ADAPTIVE, 0);
	for (int i = 0; i < 5; i++)
		poll_window_after_block(&w, 30 * US);
	assert_int_equal(w.ns, POLL_WINDOW_MAX_NS);
	/* Longer than the ceiling: halved each time, to 0 below the start. */
	poll_window_after_block(&w, 100 * US);
	assert_int_equal(w.ns, POLL_WINDOW_MAX_NS / 2);
	poll_window_after_block(&w, 100 * US);
	poll_window_after_block(&w, 100 * US);
	assert_int_equal(w.ns, POLL_WINDOW_MAX_NS / 8);
	poll_window_after_block(&w, 100 * US);
	assert_int_equal(w.ns, 0);
	assert_int_equal(w.shrunk, 4);
}

static void test_fixed_and_off_never_move(void **state)
{
	struct poll_window fixed, off;

	(void)state;
	poll_window_init(&fixed, POLL_FIXED, 50 * US);
	poll_window_init(&off, POLL_OFF, 0);
	assert_int_equal(fixed.ns, 50 * US);
	assert_int_equal(off.ns, 0);
	for (uint64_t b = 1 * US; b < 10000 * US; b *= 3) {
		poll_window_after_block(&fixed, b);
		poll_window_after_block(&off, b);
	}
	assert_int_equal(fixed.ns, 50 * US);
	assert_int_equal(off.ns, 0);
	assert_int_equal(fixed.grown + fixed.shrunk + off.grown + off.shrunk, 0);
}

static void test_own_cpu(void **state)
{
	struct cpuset two = cpuset_of("0-1"), one = cpuset_of("1"), none;
	const int pins_elsewhere[] = {0, 2}, pins_on_it[] = {0, 1};

	(void)state;
	cpuset_clear(&none);
	/* Two CPUs: one is free whenever a vCPU runs on the other. */
	assert_true(poll_has_own_cpu(&two, NULL, 0));
	assert_true(poll_has_own_cpu(&two, pins_on_it, 2));
	/* One CPU: its own only if every vCPU is pinned elsewhere. */
	assert_true(poll_has_own_cpu(&one, pins_elsewhere, 2));
	assert_false(poll_has_own_cpu(&one, pins_on_it, 2));
	/* One CPU, vCPUs not pinned (taskset -c 1 vmm ...): shared. */
	assert_false(poll_has_own_cpu(&one, NULL, 0));
	assert_false(poll_has_own_cpu(&none, NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adaptive_starts_without_polling),
		cmocka_unit_test(test_idle_disk_is_never_polled),
		cmocka_unit_test(test_grows_to_catch_close_requests),
		cmocka_unit_test(test_growth_stops_at_the_ceiling),
		cmocka_unit_test(test_shrinks_when_requests_drift_apart),
		cmocka_unit_test(test_fixed_and_off_never_move),
		cmocka_unit_test(test_own_cpu),
	};

	return cmocka_run_group_tests_name("poll_window", tests, NULL, NULL);
}
