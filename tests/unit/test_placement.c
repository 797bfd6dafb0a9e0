/*
 * test_placement.c - vmm/placement.c: --pin and --io-pin checked against
 * the host's CPUs (a pure function, given any host), threads started with
 * their CPUs and policy already set and what the kernel reports back,
 * --mlock, and the report members.
 *
 * The checks run anywhere; the tests that start threads use the CPUs this
 * process may use, and the SCHED_FIFO one is skipped where the host
 * refuses real-time priorities (not root, no CAP_SYS_NICE).
 */
#include "unit.h"

#include "options.h"
#include "placement.h"
#include "vmm.h"

#include <errno.h>
#include <sched.h>

/* placement_check_cpus on a made-up host: online CPUs and allowed CPUs as
 * lists; 0 or -1 with the message in err. */
static int check(const char *option, const int *cpus, unsigned n, const char *online,
		 const char *allowed, char *err, size_t errlen)
{
	struct cpuset on = cpuset_of(online), ok = cpuset_of(allowed);

	strcpy(err, "(untouched)");
	return placement_check_cpus(option, cpus, n, &on, &ok, err, errlen);
}

#define CPUS(...) (const int[]){__VA_ARGS__}, \
	(unsigned)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

static void test_cpus_that_exist_and_are_allowed_pass(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(check("--pin", CPUS(0, 1), "0-1", "0-1", err, sizeof(err)), 0);
	assert_string_equal(err, "(untouched)");
	assert_int_equal(check("--pin", CPUS(1, 0), "0-1", "0-1", err, sizeof(err)), 0);
	assert_int_equal(check("--io-pin", CPUS(5), "0-7", "4-7", err, sizeof(err)), 0);
	assert_int_equal(check("--pin", CPUS(4095), "0-4095", "4095", err, sizeof(err)), 0);
	/* No CPUs asked for: nothing to refuse. */
	assert_int_equal(placement_check_cpus("--io-pin", NULL, 0, NULL, NULL, err,
					      sizeof(err)), 0);
}

static void test_cpu_that_does_not_exist_is_named(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(check("--pin", CPUS(0, 99), "0-1", "0-1", err, sizeof(err)), -1);
	assert_string_equal(err, "--pin: host CPU 99 does not exist (this host has CPUs 0-1)");
	assert_int_equal(check("--io-pin", CPUS(7, 99), "0-1", "0-1", err, sizeof(err)), -1);
	assert_string_equal(err, "--io-pin: host CPU 7 does not exist (this host has CPUs 0-1)");
	/* A hole in the online CPUs (one taken offline) is no CPU to run on. */
	assert_int_equal(check("--pin", CPUS(2), "0-1,3", "0-1,3", err, sizeof(err)), -1);
	assert_string_equal(err, "--pin: host CPU 2 does not exist (this host has CPUs 0-1,3)");
}

static void test_cpu_outside_the_process_affinity_is_named(void **state)
{
	char err[256];

	(void)state;
	/* taskset -c 0 vmm --pin 1 ... */
	assert_int_equal(check("--pin", CPUS(1), "0-1", "0", err, sizeof(err)), -1);
	assert_string_equal(err, "--pin: host CPU 1 is not allowed for this process (allowed: 0)");
	assert_int_equal(check("--io-pin", CPUS(2, 3, 6), "0-7", "2-5", err, sizeof(err)), -1);
	assert_string_equal(err, "--io-pin: host CPU 6 is not allowed for this process "
			    "(allowed: 2-5)");
	/* Existence is told before allowed-ness: the bigger mistake first. */
	assert_int_equal(check("--pin", CPUS(9), "0-3", "0", err, sizeof(err)), -1);
	assert_contains(err, "host CPU 9 does not exist");
}

static void test_long_cpu_lists_are_cut_in_messages(void **state)
{
	char err[512];

	(void)state;
	/* Every other CPU of 4096 online: the list is cut, the line stays one. */
	static char online[CPULIST_TEXT_MAX];
	struct cpuset s;

	cpuset_clear(&s);
	for (int c = 0; c <= CPULIST_MAX_CPU; c += 2)
		cpuset_add(&s, c);
	cpulist_format(&s, online, sizeof(online));
	assert_int_equal(check("--pin", CPUS(1), online, online, err, sizeof(err)), -1);
	assert_contains(err, "--pin: host CPU 1 does not exist (this host has CPUs 0,2,4,");
	assert_contains(err, "...)");
	assert_null(strchr(err, '\n'));
	assert_true(strlen(err) < 200);
}

static void test_host_cpus_read_from_this_host(void **state)
{
	struct cpuset online, allowed, kernel;
	char err[256];

	(void)state;
	assert_int_equal(placement_host_cpus(&online, &allowed, err, sizeof(err)), 0);
	assert_true(cpuset_count(&allowed) >= 1);
	for (int c = 0; c <= CPULIST_MAX_CPU; c++)
		if (cpuset_has(&allowed, c))
			assert_true(cpuset_has(&online, c));
	cpuset_clear(&kernel);
	assert_int_equal(sched_getaffinity(0, sizeof(kernel.bits), (cpu_set_t *)kernel.bits), 0);
	assert_memory_equal(&kernel, &allowed, sizeof(kernel));
}

/* ---- threads ----------------------------------------------------------------------- */

struct probe {
	struct thread_state st;
	char name[16];
};

static void *read_own_state(void *arg)
{
	struct probe *p = arg;

	thread_state_read(&p->st);
	pthread_getname_np(pthread_self(), p->name, sizeof(p->name));
	return NULL;
}

static int first_allowed_cpu(void)
{
	struct cpuset online, allowed;
	char err[256];

	assert_int_equal(placement_host_cpus(&online, &allowed, err, sizeof(err)), 0);
	return cpuset_first(&allowed);
}

static void test_thread_starts_on_its_cpu(void **state)
{
	int cpu = first_allowed_cpu();
	struct cpuset one;
	struct probe p;
	pthread_t t;

	(void)state;
	cpuset_clear(&one);
	cpuset_add(&one, cpu);
	memset(&p, 0, sizeof(p));
	assert_int_equal(thread_start_placed(&t, &one, 0, read_own_state, &p), 0);
	pthread_join(t, NULL);
	assert_true(p.st.known);
	assert_memory_equal(&p.st.affinity, &one, sizeof(one));
	assert_int_equal(thread_state_host_cpu(&p.st), cpu);
	assert_int_equal(p.st.policy, SCHED_OTHER);
	assert_int_equal(p.st.rt_priority, 0);
	assert_true(p.st.tid > 0 && p.st.tid != (int)gettid());
}

static void test_unplaced_thread_inherits_the_process(void **state)
{
	struct cpuset online, allowed;
	struct probe p;
	pthread_t t;
	char err[256];

	(void)state;
	assert_int_equal(placement_host_cpus(&online, &allowed, err, sizeof(err)), 0);
	memset(&p, 0, sizeof(p));
	assert_int_equal(thread_start_placed(&t, NULL, 0, read_own_state, &p), 0);
	pthread_join(t, NULL);
	assert_memory_equal(&p.st.affinity, &allowed, sizeof(allowed));
	assert_int_equal(thread_state_host_cpu(&p.st),
			 cpuset_count(&allowed) == 1 ? cpuset_first(&allowed) : -1);
}

static void test_thread_on_no_usable_cpu_never_runs(void **state)
{
	struct cpuset online, allowed, none;
	struct probe p;
	pthread_t t;
	char err[256];
	int cpu = -1;

	(void)state;
	assert_int_equal(placement_host_cpus(&online, &allowed, err, sizeof(err)), 0);
	for (int c = CPULIST_MAX_CPU; c >= 0 && cpu < 0; c--)
		if (!cpuset_has(&online, c))
			cpu = c;
	if (cpu < 0)
		skip();   /* a host with 4096 CPUs online */
	cpuset_clear(&none);
	cpuset_add(&none, cpu);
	memset(&p, 0, sizeof(p));
	assert_int_equal(thread_start_placed(&t, &none, 0, read_own_state, &p), EINVAL);
	assert_false(p.st.known);
}

static void test_rt_thread_is_fifo_from_its_start(void **state)
{
	struct probe p;
	pthread_t t;
	int err;

	(void)state;
	memset(&p, 0, sizeof(p));
	err = thread_start_placed(&t, NULL, 1, read_own_state, &p);
	if (err == EPERM)
		skip();   /* this host refuses real-time priorities to this process */
	assert_int_equal(err, 0);
	pthread_join(t, NULL);
	assert_int_equal(p.st.policy, SCHED_FIFO);
	assert_int_equal(p.st.rt_priority, 1);
}

static void test_io_thread_is_placed_named_and_listed(void **state)
{
	static int io_cpu[1];
	struct vmm_config cfg;
	struct io_thread io;
	struct probe p;
	struct vm vm;
	char err[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&vm, 0, sizeof(vm));
	memset(&io, 0, sizeof(io));
	memset(&p, 0, sizeof(p));
	io_cpu[0] = first_allowed_cpu();
	cfg.io_pin_cpus = io_cpu;
	cfg.io_pin_count = 1;
	vm.cfg = &cfg;
	assert_int_equal(io_thread_start(&vm, &io, "test io", read_own_state, &p, err,
					 sizeof(err)), 0);
	io_thread_join(&io);
	assert_false(io.started);
	io_thread_join(&io);   /* twice is harmless (stop, then teardown) */
	assert_int_equal(vm.nio_threads, 1);
	assert_ptr_equal(vm.io_threads[0], &io);
	assert_string_equal(io.name, "test io");
	assert_string_equal(p.name, "test io");   /* named before it runs its work */
	assert_true(io.state.known);
	assert_int_equal(thread_state_host_cpu(&io.state), io_cpu[0]);
	assert_int_equal(thread_state_host_cpu(&p.st), io_cpu[0]);
}

/* ---- memory and reports ------------------------------------------------------------- */

static void test_mlock_locks_guest_ram(void **state)
{
	struct guest_memory mem;
	char err[256];
	uint64_t before = placement_locked_kib();

	(void)state;
	/* 1 MiB: below the default RLIMIT_MEMLOCK (8 MiB), so this runs
	 * unprivileged too.  Through AddressSanitizer as well, which turns
	 * mlock(3) into a no-op. */
	memory_layout(1 * MIB, &mem);
	assert_int_equal(memory_map(&mem, false, err, sizeof(err)), 0);
	if (placement_lock_memory(&mem, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(placement_locked_kib() >= before + 1024);
	memory_unmap(&mem);
	assert_true(placement_locked_kib() <= before);
}

static void test_mlock_failure_is_one_line(void **state)
{
	struct guest_memory mem;
	char err[256];
	void *hole = mmap(NULL, 2 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(hole != MAP_FAILED);
	munmap(hole, 2 * MIB);
	memory_layout(2 * MIB, &mem);
	mem.base = hole;   /* nothing mapped there any more: ENOMEM */
	assert_int_equal(placement_lock_memory(&mem, err, sizeof(err)), -1);
	assert_contains(err, "--mlock: cannot lock 2 MiB of guest RAM: ");
	assert_null(strchr(err, '\n'));
}

static void assert_members_parse(const struct thread_state *st, const char *want)
{
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);

	assert_non_null(f);
	fputc('{', f);
	thread_state_json(f, st);
	fputc('}', f);
	fclose(f);
	if (!json_is_object(doc, len))
		fail_msg("not one JSON object: %s", doc);
	assert_contains(doc, want);
	free(doc);
}

static void test_json_members(void **state)
{
	struct thread_state st;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.known = true;
	st.tid = 4242;
	st.affinity = cpuset_of("1");
	st.policy = SCHED_FIFO;
	st.rt_priority = 10;
	assert_members_parse(&st, "{\"host_cpu\":1,\"affinity\":\"1\",\"policy\":\"SCHED_FIFO\","
			     "\"rt_priority\":10,\"tid\":4242}");
	st.affinity = cpuset_of("0-3,8");
	st.policy = SCHED_OTHER;
	st.rt_priority = 0;
	assert_members_parse(&st, "{\"host_cpu\":-1,\"affinity\":\"0-3,8\","
			     "\"policy\":\"SCHED_OTHER\",\"rt_priority\":0,\"tid\":4242}");
	/* A thread that never ran (vCPU start failed): nothing made up. */
	memset(&st, 0, sizeof(st));
	assert_members_parse(&st, "{\"host_cpu\":-1,\"affinity\":null,\"policy\":null,"
			     "\"rt_priority\":null,\"tid\":null}");
}

static void test_stats_rows(void **state)
{
	struct thread_state st;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	memset(&st, 0, sizeof(st));
	st.known = true;
	st.tid = 77;
	st.affinity = cpuset_of("1");
	st.policy = SCHED_FIFO;
	st.rt_priority = 10;
	thread_state_header(f);
	thread_state_row(f, "vcpu 0", &st);
	memset(&st, 0, sizeof(st));
	thread_state_row(f, "vcpu 1", &st);
	fclose(f);
	assert_contains(out, "vmm: host threads");
	assert_contains(out, "affinity");
	assert_contains(out, "  vcpu 0                 77        1 1            SCHED_FIFO     10\n");
	assert_contains(out, "  vcpu 1           (never ran)\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpus_that_exist_and_are_allowed_pass),
		cmocka_unit_test(test_cpu_that_does_not_exist_is_named),
		cmocka_unit_test(test_cpu_outside_the_process_affinity_is_named),
		cmocka_unit_test(test_long_cpu_lists_are_cut_in_messages),
		cmocka_unit_test(test_host_cpus_read_from_this_host),
		cmocka_unit_test(test_thread_starts_on_its_cpu),
		cmocka_unit_test(test_unplaced_thread_inherits_the_process),
		cmocka_unit_test(test_thread_on_no_usable_cpu_never_runs),
		cmocka_unit_test(test_rt_thread_is_fifo_from_its_start),
		cmocka_unit_test(test_io_thread_is_placed_named_and_listed),
		cmocka_unit_test(test_mlock_locks_guest_ram),
		cmocka_unit_test(test_mlock_failure_is_one_line),
		cmocka_unit_test(test_json_members),
		cmocka_unit_test(test_stats_rows),
	};

	return cmocka_run_group_tests_name("placement", tests, NULL, NULL);
}
