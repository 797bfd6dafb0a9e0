/*
 * test_reaper.c - the process that releases the VM after vmm exits
 * (vmm/reaper.c).  A pipe's write end stands in for the VM's descriptor:
 * the pipe's read end sees end-of-file exactly when the last copy of the
 * write end is closed, which for a VM is when the kernel destroys it.
 *
 * The reaper also disassembles for crash dumps (reaper_disas): the
 * answers, the fall-back when it is dead, and that it decodes under its
 * second, narrower filter.
 */
#include "unit.h"

#include "options.h"
#include "reaper.h"
#include "sandbox.h"

#include <poll.h>
#include <signal.h>
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

/* nop; nop; ud2 at 0x1000, RIP at the ud2. */
static struct disas_request ud2_request(void)
{
	struct disas_request req = {.mode = IO_INSN_64, .len = 4, .addr = 0x1000, .rip = 0x1002,
				    .io_at = 0x1002, .code = {0x90, 0x90, 0x0f, 0x0b}};

	return req;
}

/* reaper_disas, skipping the test where Capstone is not installed. */
static void ask(struct reaper *r, const struct disas_request *req, char *text, size_t len)
{
	int ret = reaper_disas(r, req, text, len);

	if (ret == 1)
		skip();   /* no libcapstone.so.4 here (make deps installs it) */
	assert_int_equal(ret, 0);
}

static void test_reaper_disassembles_a_dump_and_a_trace_line(void **state)
{
	struct disas_request req = ud2_request();
	struct reaper r;
	char err[128], text[DISAS_TEXT_MAX];

	(void)state;
	assert_int_equal(reaper_start(&r, err, sizeof(err)), 0);
	ask(&r, &req, text, sizeof(text));
	assert_contains(text, "     1000: 90                       nop \n");
	assert_contains(text, "  => 1002: 0f 0b                    ud2 \n");
	/* The trace's form: the one instruction at addr. */
	req.one = 1;
	req.addr = req.rip = req.io_at = 0x1002;
	req.len = 2;
	memcpy(req.code, "\x0f\x0b", 2);
	ask(&r, &req, text, sizeof(text));
	assert_string_equal(text, "1002: ud2 ");
	/* A short buffer gets a cut, terminated text. */
	ask(&r, &req, text, 6);
	assert_string_equal(text, "1002:");
	reaper_stop(&r);
	expect_reaped(r.pid);
}

/* A reaper that died (a Capstone bug, its filter) must not hang or kill
 * the crash path: end-of-file or EPIPE, then no more requests and no VM. */
static void test_a_dead_reaper_is_gone_at_once(void **state)
{
	struct disas_request req = ud2_request();
	struct reaper r;
	char err[128], text[64];
	int status, vm[2];

	(void)state;
	assert_int_equal(pipe(vm), 0);
	assert_int_equal(reaper_start(&r, err, sizeof(err)), 0);
	assert_int_equal(kill(r.pid, SIGKILL), 0);
	assert_int_equal(waitpid(r.pid, &status, 0), r.pid);
	assert_int_equal(reaper_disas(&r, &req, text, sizeof(text)), -1);
	assert_true(r.gone);
	assert_int_equal(reaper_disas(&r, &req, text, sizeof(text)), -1);
	assert_int_equal(reaper_hand_over(&r, vm[1]), -1);   /* vmm releases it */
	assert_false(r.handed_over);
	reaper_stop(&r);
	close(vm[0]);
	close(vm[1]);
}

/* "Seccomp_filters:" of process pid. */
static int seccomp_filters(pid_t pid)
{
	char path[64], line[256];
	int n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "Seccomp_filters: %d", &n);
	fclose(f);
	return n;
}

/* With the sandbox on, the reaper waits under one filter, and decodes
 * under two: the disas filter is stacked before the first guest byte is
 * decoded.  Last: it turns the sandbox on for this process. */
static void test_the_reaper_decodes_under_its_narrowed_filter(void **state)
{
	struct disas_request req = ud2_request();
	struct vmm_config cfg = {.seccomp_violate = SANDBOX_NONE};
	struct reaper r;
	char err[256], text[DISAS_TEXT_MAX];

	(void)state;
	assert_int_equal(sandbox_prepare(&cfg, err, sizeof(err)), 0);
	assert_int_equal(reaper_start(&r, err, sizeof(err)), 0);
	/* Its filter is on once it waits in recvmsg (the guard: alarm). */
	while (seccomp_filters(r.pid) < 1)
		usleep(1000);
	assert_int_equal(seccomp_filters(r.pid), 1);
	ask(&r, &req, text, sizeof(text));
	assert_contains(text, "=> 1002: 0f 0b");
	assert_int_equal(seccomp_filters(r.pid), 2);
	ask(&r, &req, text, sizeof(text));   /* and again, under both */
	assert_contains(text, "=> 1002: 0f 0b");
	reaper_stop(&r);
	expect_reaped(r.pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reaper_holds_the_vm_until_the_socket_ends),
		cmocka_unit_test(test_reaper_without_a_vm_ends_with_the_socket),
		cmocka_unit_test(test_reaper_keeps_nothing_it_inherited),
		cmocka_unit_test(test_reaper_disassembles_a_dump_and_a_trace_line),
		cmocka_unit_test(test_a_dead_reaper_is_gone_at_once),
		cmocka_unit_test(test_the_reaper_decodes_under_its_narrowed_filter),   /* last */
	};

	alarm(HANG_GUARD_S);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
