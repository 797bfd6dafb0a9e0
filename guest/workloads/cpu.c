/*
 * cpu.c - sysbench's cpu test (src/tests/cpu/sb_cpu.c in 1.0.20).
 *
 * One event is the whole prime search up to --cpu-max-prime: every
 * candidate from 3, trial division by 64-bit integers up to its
 * double-precision square root, with sysbench's loop bounds and types.
 * sqrt is __builtin_sqrt compiled with errno semantics, which gcc turns
 * into the same inline sqrtsd with a guarded library call that Debian's
 * sysbench binary has.
 *
 * sysbench throws the count of primes away (the compiler keeps the loop
 * only because sqrt may set errno); the guest keeps it, so every event can
 * be checked to have done the whole search.
 */
#include "user.h"

struct cpu_ctx {
	unsigned long long max_prime;
	unsigned long long expected;     /* primes counted by the first event */
	unsigned long long bad_events;
};

static unsigned long long count_primes(unsigned long long max_prime)
{
	unsigned long long c, l, n = 0;
	double t;

	for (c = 3; c < max_prime; c++) {
		t = __builtin_sqrt((double)c);
		for (l = 2; l <= t; l++)
			if (c % l == 0)
				break;
		if (l > t)
			n++;
	}
	return n;
}

static void cpu_event(struct bench_thread *t)
{
	struct cpu_ctx *ctx = t->bench->ops->ctx;
	unsigned long long n = count_primes(ctx->max_prime);

	if (n != ctx->expected)
		__atomic_add_fetch(&ctx->bad_events, 1, __ATOMIC_RELAXED);
}

static int cpu_run(const struct test_args *args, const char *command)
{
	static struct bench b;
	struct cpu_ctx ctx = {.max_prime = opt_u64(args, "cpu-max-prime")};
	struct bench_ops ops = {.execute_event = cpu_event, .ctx = &ctx};
	struct bench_summary s;
	char buf[4096];
	struct json j;
	int status;

	(void)command;
	if (ctx.max_prime == 0 || ctx.max_prime > 0x7fffffff) {
		printf("FATAL: Invalid value of cpu-max-prime: %llu.\n", ctx.max_prime);
		return STATUS_USAGE;
	}
	/* The reference count, before the clock starts. */
	ctx.expected = count_primes(ctx.max_prime);
	if ((status = bench_begin(&b, args)))
		return status;
	printf("Prime numbers limit: %llu\n\n", ctx.max_prime);
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
	json_u64(&j, "primes_per_event", ctx.expected);
	json_u64(&j, "events_with_other_counts", ctx.bad_events);
	json_end(&j);
	result_emit(&j);
	if (ctx.bad_events) {
		printf("vmbench: %llu events found another number of primes than %llu\n",
		       ctx.bad_events, ctx.expected);
		return STATUS_FAILED;
	}
	return STATUS_OK;
}

static const struct option_def cpu_options[] = {
	{"cpu-max-prime", OPT_INT, "10000", "upper limit for primes generator", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(cpu, .name = "cpu", .summary = "sysbench's CPU test: prime numbers by trial division",
	   .options = cpu_options, .commands = "run", .run = cpu_run);
