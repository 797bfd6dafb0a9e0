/*
 * test_reaper.c - the process that releases the VM after vmm exits
 * (vmm/reaper.c).  A pipe's write end stands in for the VM's descriptor:
 * the pipe's read end sees end-of-file exactly when the last copy of the
 * write end is closed, which for a VM is when the kernel destroys it.
 */
#include "unit.h"

#include "reaper.h"

#include <poll.h>
#include <sys/wait.h>

/* Only a guard against a reaper that never lets go (SIGALRM then fails
 * the program); the tests wait for events, not for time. */
#define HANG_GUARD_S 60

static void expect_eof(int fd)
{
	char c;

	assert_int_equal(read(fd, &c, 1), 0);
}

static void expect_reaped(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The reaper's copy must be the last: vmm closes its own first, and the
 * reaper holds on until vmm's end of the socket closes.  A reaper that
 * exited as soon as the descriptor came would race vmm's close, and vmm
 * would often destroy the VM itself.  (If the machine is too slow for the
 * reaper to act within the poll below, the test passes without proving
 * anything; it cannot fail wrongly.) */
static void test_reaper_holds_the_vm_until_the_socket_ends(void **state)
{
	struct reaper r;
	char err[128];
	int vm[2];

	(void)state;
	assert_int_equal(pipe(vm), 0);
	assert_int_equal(reaper_start(&r, err, sizeof(err)), 0);
	assert_int_equal(reaper_hand_over(&r, vm[1]), 0);
	assert_true(r.handed_over);
	close(vm[1]);                  /* vmm's copy */
	struct pollfd p = {.fd = vm[0], .events = POLLIN};
	assert_int_equal(poll(&p, 1, 300), 0);   /* the reaper still holds it */
	reaper_stop(&r);               /* vmm exits */
	expect_eof(vm[0]);             /* the reaper's copy, the last, closed */
	close(vm[0]);
	expect_reaped(r.pid);
}

static void test_reaper_without_a_vm_ends_with_the_socket(void **state)
{
	struct reaper r;
	char err[128];

	(void)state;
	assert_int_equal(reaper_start(&r, err, sizeof(err)), 0);
	reaper_stop(&r);               /* a failed build: nothing handed over */
	assert_false(r.handed_over);
	assert_int_equal(reaper_hand_over(&r, 0), -1);
	expect_reaped(r.pid);
}

/* What vmm had open when it forked the reaper (a disk, say: its lock)
 * must not live on in the reaper. */
static void test_reaper_keeps_nothing_it_inherited(void **state)
{
	struct reaper r;
	char err[128];
	int held[2];

	(void)state;
	assert_int_equal(pipe(held), 0);
	assert_int_equal(reaper_start(&r, err, sizeof(err)), 0);
	close(held[1]);
	expect_eof(held[0]);           /* no copy of the write end in the reaper */
	close(held[0]);
	reaper_stop(&r);
	expect_reaped(r.pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reaper_holds_the_vm_until_the_socket_ends),
		cmocka_unit_test(test_reaper_without_a_vm_ends_with_the_socket),
		cmocka_unit_test(test_reaper_keeps_nothing_it_inherited),
	};

	alarm(HANG_GUARD_S);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
