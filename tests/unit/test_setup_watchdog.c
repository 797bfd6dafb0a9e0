/*
 * test_setup_watchdog.c - --timeout during set-up (vmm/setup_watchdog.c):
 * a set-up that blocks forever ends at the deadline with one line and
 * status 124; one that finishes stops the watch and the process goes on.
 */
#include "unit.h"

#include "error.h"
#include "setup_watchdog.h"
#include "stats.h"

#include <sys/wait.h>

/* Only a guard against a watchdog that never fires (SIGALRM then fails
 * the program); the test itself waits for the child's exit. */
#define HANG_GUARD_S 60

static void test_blocked_setup_ends_at_the_deadline(void **state)
{
	struct setup_watchdog w;
	char out[512] = "";
	int pipefd[2], status;
	ssize_t n, got = 0;
	pid_t child;

	(void)state;
	assert_int_equal(pipe(pipefd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		if (setup_watchdog_start(&w, now_ns() + 100000000ull, 0.1))
			_exit(1);
		for (;;)
			pause();        /* a set-up step that never returns */
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(pipefd[0]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), VMM_STATUS_TIMEOUT);
	assert_string_equal(out, "vmm: timeout: vmm still setting up after 0.1 s (blocked opening "
			    "a file?); stopping\n");
}

static void test_finished_setup_stops_the_watch(void **state)
{
	struct setup_watchdog w, never = {0};

	(void)state;
	assert_int_equal(setup_watchdog_start(&w, now_ns() + 3600 * 1000000000ull, 3600), 0);
	setup_watchdog_stop(&w);            /* returns at once, thread joined */
	assert_false(w.started);
	setup_watchdog_stop(&never);        /* no --timeout: nothing to stop */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocked_setup_ends_at_the_deadline),
		cmocka_unit_test(test_finished_setup_stops_the_watch),
	};

	alarm(HANG_GUARD_S);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
