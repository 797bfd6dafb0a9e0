/*
 * cpu.c - sysbench's cpu test (src/tests/cpu/sb_cpu.c in 1.0.20).
 *
 * One event is the whole prime search up to --cpu-max-prime: every
 * candidate from 3, trial division by 64-bit integers up to its
 * double-precision square root, with sysbench's loop bounds and types
 * (the limit is an unsigned int there, so the candidate converts to double
 * without a sign test).  sqrt is __builtin_sqrt compiled with errno
 * semantics, which gcc turns into the same inline sqrtsd with a guarded
 * library call that Debian's sysbench binary has.
 *
 * The event is sysbench's loop instruction for instruction
 * (tests/tools/test_loop_fidelity.py compares them), so, as in sysbench,
 * it throws the count of primes away: the compiler keeps the search only
 * because sqrt may set errno.  The count is taken once, before the clock
 * starts, by a separate copy of the search, and reported.
 */
#include "user.h"
#include "primes.h"

struct cpu_ctx {
	unsigned int max_prime;
};

/* The primes one event finds (3 <= c < max_prime: sysbench never tries 2),
 * counted once before the clock, with the guest's shared trial division
 * (primes.h).  Not cpu_event itself: the event must stay sysbench's loop
 * instruction for instruction (tests/tools/test_loop_fidelity.py), and a
 * count in it would change that. */
static unsigned long long primes_per_event(unsigned int max_prime)
{
	return max_prime > 2 ? count_primes_upto(max_prime - 1) - 1 : 0;
}

static void cpu_event(struct bench_thread *bt)
{
	/* A local copy, as sysbench's static limit is: sqrt's call cannot
	 * change it, so it is read once, not once per candidate. */
	const unsigned int max_prime = ((const struct cpu_ctx *)bt->bench->ops->ctx)->max_prime;
	unsigned long long c, l;
	double t;

	for (c = 3; c < max_prime; c++) {
		t = __builtin_sqrt((double)c);
		for (l = 2; l <= t; l++)
			if (c % l == 0)
				break;
	}
}

static int cpu_run(const struct test_args *args, const char *command)
{
	static struct bench b;
	unsigned long long max_prime = opt_u64(args, "cpu-max-prime");
	struct cpu_ctx ctx = {.max_prime = (unsigned int)max_prime};
	struct bench_ops ops = {.execute_event = cpu_event, .ctx = &ctx};
	struct bench_summary s;
	char buf[4096];
	struct json j;
	int status;

	(void)command;
	if (max_prime == 0 || max_prime > 0x7fffffff) {
		printf("FATAL: Invalid value of cpu-max-prime: %llu.\n", max_prime);
		return STATUS_USAGE;
	}
	/* The count, before the clock starts. */
	unsigned long long primes = primes_per_event(ctx.max_prime);
	if ((status = bench_begin(&b, args)))
		return status;
	printf("Prime numbers limit: %u\n\n", ctx.max_prime);
	if ((status = bench_execute(&b, &ops)))
		return status;
	bench_summarise(&b, &s);
	if (b.histogram)
		bench_print_histogram(&b);
	printf("CPU speed:\n    events per second: %8.2f\n", bench_per_second(&s, s.events));
	bench_print_report(&s);

	json_init(&j, buf, sizeof(buf));
	result_begin(&j, args);
	bench_result_fields(&j, &s);
	json_begin(&j, "cpu");
	json_u64(&j, "primes_per_event", primes);
	json_end(&j);
	result_emit(&j);
	return STATUS_OK;
}

static const struct option_def cpu_options[] = {
	{"cpu-max-prime", OPT_INT, "10000", "upper limit for primes generator", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(cpu, .name = "cpu", .summary = "sysbench's CPU test: prime numbers by trial division",
	   .options = cpu_options, .commands = "run", .run = cpu_run);
