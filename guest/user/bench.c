/*
 * bench.c - sysbench 1.0.20's event loop, timers, histogram and report,
 * in the guest's ring 3.
 *
 * As in sysbench (src/sysbench.c): worker threads initialise, meet at a
 * barrier whose last arrival starts the clock and prints "Threads
 * started!", then each runs events until --time has passed (checked before
 * every event), --events have been taken (one shared counter), or the test
 * says it is done.  Each event is timed on its own; latencies go to a
 * per-thread timer (count, sum, min, max) and to a logarithmic histogram of
 * 1024 buckets from 0.001 ms to 100 000 ms, the percentile's source.  As in
 * sysbench, "total time" is read when the report is made, after the
 * workers are joined, and the rates divide by a second reading taken just
 * after the percentile is computed (sb_timer_value, then
 * sb_timer_current): alike for long runs, a little lower in short ones.
 *
 * The differences are the clock and its cost: sysbench reads
 * clock_gettime() three times per event, the guest reads the TSC, and
 * histogram buckets are found by comparing TSC ticks with precomputed
 * boundaries instead of taking a logarithm per event.  The bucket an event
 * lands in is the same.  The guest also keeps what sysbench does not: the
 * exact standard deviation of the latencies, for the result line only (the
 * text keeps sysbench's layout, which has none).
 */
#include "user.h"

#define HIST_BUCKETS 1024
#define HIST_MIN_MS 1e-3
#define HIST_MAX_MS 1e5
#define THREAD_STACK (64 * 1024)   /* sysbench's --thread-stack-size default */

static struct {
	double deduct, mult;              /* as sysbench's range_deduct, range_mult */
	double lower_ticks[HIST_BUCKETS]; /* bucket k holds ticks >= lower_ticks[k] */
} hist;

/* sysbench: i = floor((log(ms) - deduct) * mult + 0.5), clamped to the
 * array; so bucket k starts where that expression reaches k. */
static void hist_init(void)
{
	hist.deduct = log(HIST_MIN_MS);
	hist.mult = (HIST_BUCKETS - 1) / (log(HIST_MAX_MS) - hist.deduct);
	hist.lower_ticks[0] = 0;
	for (unsigned k = 1; k < HIST_BUCKETS; k++)
		hist.lower_ticks[k] = exp((k - 0.5) / hist.mult + hist.deduct) *
				      (double)sys->tsc_hz / 1e3;
}

static unsigned hist_bucket(uint64_t ticks)
{
	double t = (double)ticks;
	unsigned lo = 0, hi = HIST_BUCKETS - 1;

	while (lo < hi) {
		unsigned mid = (lo + hi + 1) / 2;

		if (t >= hist.lower_ticks[mid])
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static double hist_value_ms(unsigned bucket)
{
	return exp(bucket / hist.mult + hist.deduct);
}

/* ---- per-thread random numbers: xoroshiro128+, as sysbench ------------------ */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t bench_rand_u64(struct bench_thread *t)
{
	uint64_t s0 = t->rng[0], s1 = t->rng[1], result = s0 + s1;

	s1 ^= s0;
	t->rng[0] = rotl(s0, 55) ^ s1 ^ (s1 << 14);
	t->rng[1] = rotl(s1, 36);
	return result;
}

void bench_rand_seed(struct bench_thread *t, uint64_t seed)
{
	t->rng[0] = splitmix64(&seed);
	t->rng[1] = splitmix64(&seed);
}

double bench_rand_double(struct bench_thread *t)
{
	union { uint64_t i; double d; } u = {.i = 0x3ffULL << 52 | bench_rand_u64(t) >> 12};

	return u.d - 1.0;
}

/* ---- options and the header ----------------------------------------------- */

int bench_begin(struct bench *b, const struct test_args *args)
{
	memset(b, 0, sizeof(*b));
	b->threads = (unsigned)opt_u64(args, "threads");
	b->percentile = (unsigned)opt_u64(args, "percentile");
	b->histogram = opt_bool(args, "histogram");
	b->max_events = opt_u64(args, "events");
	b->max_ticks = ns_to_tsc(opt_u64(args, "time") * 1000000000ULL);
	b->seed = opt_u64(args, "rand-seed");
	if (b->threads == 0 || b->threads > BENCH_MAX_THREADS) {
		printf("FATAL: Invalid value for --threads: %u (1 to %u)\n", b->threads,
		       BENCH_MAX_THREADS);
		return STATUS_USAGE;
	}
	if (b->percentile > 100) {
		printf("FATAL: Invalid value for --percentile: %u\n", b->percentile);
		return STATUS_USAGE;
	}
	if (b->percentile == 0 && b->histogram) {
		printf("FATAL: --histogram cannot be used with --percentile=0\n");
		return STATUS_USAGE;
	}
	printf("vmbench guest %s (sysbench 1.0.20 compatible)\n\n", GUEST_VERSION);
	printf("Running the test with following options:\n");
	printf("Number of threads: %u\n", b->threads);
	/* sysbench's general --validate; here only tests that check their
	 * data (fileio) have the option. */
	for (unsigned i = 0; i < args->nopts; i++)
		if (!strcmp(args->opts[i].def->name, "validate") && args->opts[i].u)
			printf("Validation checks: on.\n\n");
	if (b->seed)
		printf("Initializing random number generator from seed (%llu).\n\n",
		       (unsigned long long)b->seed);
	else
		printf("Initializing random number generator from current time\n");
	printf("\n\n");
	return STATUS_OK;
}

/* ---- running ------------------------------------------------------------- */

static bool more_events(struct bench *b)
{
	if (__atomic_load_n(&b->failed, __ATOMIC_RELAXED))
		return false;     /* an event failed: every thread stops, as in sysbench */
	if (b->max_ticks && rdtsc() - b->t_start >= b->max_ticks)
		return false;
	if (b->max_events && __atomic_fetch_add(&b->events_taken, 1, __ATOMIC_RELAXED) >=
				     b->max_events)
		return false;
	return true;
}

static void start_barrier(struct bench *b)
{
	if (__atomic_add_fetch(&b->arrived, 1, __ATOMIC_ACQ_REL) == b->threads) {
		b->t_start = rdtsc();
		printf("Threads started!\n\n");
		stdout_flush();     /* the run makes no system call until it ends */
		__atomic_store_n(&b->go, 1, __ATOMIC_RELEASE);
		return;
	}
	while (!__atomic_load_n(&b->go, __ATOMIC_ACQUIRE)) {
		/* Threads that share a CPU let the others reach the barrier. */
		if (b->threads > sys->cpus_online)
			sys_yield();
		else
			__builtin_ia32_pause();
	}
}

static uint64_t worker(void *arg)
{
	struct bench_thread *t = arg;
	struct bench *b = t->bench;
	const struct bench_ops *ops = b->ops;
	bool ok = !ops->thread_init || ops->thread_init(t);

	if (!ok)
		__atomic_store_n(&b->failed, 1, __ATOMIC_RELAXED);
	start_barrier(b);
	if (!ok || b->failed)
		return 1;
	while (more_events(b)) {
		if (ops->next_event && !ops->next_event(t))
			break;
		uint64_t start = rdtsc();
		ops->execute_event(t);
		uint64_t ticks = rdtsc() - start;

		if (!t->events)
			t->shift = ticks;
		int64_t d = (int64_t)(ticks - t->shift);
		t->shifted_sum += d;
		t->shifted_squares += (unsigned __int128)((__int128)d * d);
		t->events++;
		t->sum += ticks;
		if (ticks < t->min)
			t->min = ticks;
		if (ticks > t->max)
			t->max = ticks;
		if (b->percentile)
			t->hist[hist_bucket(ticks)]++;
	}
	if (__atomic_load_n(&b->failed, __ATOMIC_RELAXED))
		return 1;
	if (ops->thread_done)
		ops->thread_done(t);
	return 0;
}

int bench_execute(struct bench *b, const struct bench_ops *ops)
{
	long tids[BENCH_MAX_THREADS];
	uint64_t seed = b->seed ? b->seed : rdtsc();

	b->ops = ops;
	hist_init();
	b->thread = heap_alloc(b->threads * sizeof(*b->thread), 64);
	if (!b->thread)
		die(STATUS_FAILED, "out of memory for %u threads", b->threads);
	for (unsigned i = 0; i < b->threads; i++) {
		struct bench_thread *t = &b->thread[i];

		memset(t, 0, sizeof(*t));
		t->id = i;
		t->bench = b;
		t->min = UINT64_MAX;
		t->rng[0] = splitmix64(&seed);
		t->rng[1] = splitmix64(&seed);
		t->hist = heap_alloc(HIST_BUCKETS * sizeof(uint64_t), 64);
		if (!t->hist)
			die(STATUS_FAILED, "out of memory for %u threads", b->threads);
		memset(t->hist, 0, HIST_BUCKETS * sizeof(uint64_t));
	}
	printf("Initializing worker threads...\n\n");
	b->timer_interrupts = sys->timer_interrupts;
	b->context_switches = sys->context_switches;
	/* One thread per vCPU while they are no more than the vCPUs, as
	 * sysbench's threads spread over an idle host: this thread (on vCPU 0)
	 * is worker 0, so no vCPU ever has two threads and none takes a timer
	 * interrupt.  More than that, and all of them share all vCPUs
	 * round-robin, as Linux would balance them. */
	bool bind = b->threads <= sys->cpus_online;
	for (unsigned i = bind; i < b->threads; i++) {
		tids[i] = thread_spawn(bind ? i : SCHED_ANY_CPU, worker, &b->thread[i],
				       THREAD_STACK);
		if (tids[i] < 0)
			die(STATUS_FAILED, "cannot start thread %u (error %ld)", i, -tids[i]);
	}
	if (bind)
		worker(&b->thread[0]);
	for (unsigned i = bind; i < b->threads; i++)
		thread_join(tids[i]);
	b->timer_interrupts = sys->timer_interrupts - b->timer_interrupts;
	b->context_switches = sys->context_switches - b->context_switches;
	return b->failed ? STATUS_FAILED : STATUS_OK;
}

/* ---- results -------------------------------------------------------------- */

/* (No conversion from 128 bits to double without libgcc, which the guest
 * does not link.) */
static double u128_to_double(unsigned __int128 x)
{
	return (double)(uint64_t)(x >> 64) * 18446744073709551616.0 + (double)(uint64_t)x;
}

/* The population standard deviation of every thread's event latencies
 * together, in ticks.  Each thread's mean and sum of squared deviations
 * (M2) come from its shifted sums, whose integers hold every event
 * exactly; the threads are then merged pairwise (Chan, Golub and LeVeque:
 * M2 = M2a + M2b + delta^2 na nb / n), which never subtracts two large
 * numbers. */
static double latency_stddev_ticks(const struct bench *b)
{
	double n = 0, mean = 0, m2 = 0;

	for (unsigned i = 0; i < b->threads; i++) {
		const struct bench_thread *t = &b->thread[i];

		if (!t->events)
			continue;
		double nt = (double)t->events, sum = (double)t->shifted_sum;
		double mean_t = (double)t->shift + sum / nt;
		double m2_t = u128_to_double(t->shifted_squares) - sum * sum / nt;
		double delta = mean_t - mean;

		if (m2_t < 0)
			m2_t = 0;     /* rounding of a spread of (nearly) nothing */
		mean += delta * nt / (n + nt);
		m2 += m2_t + delta * delta * n * nt / (n + nt);
		n += nt;
	}
	return n ? sqrt(m2 / n) : 0;
}

void bench_summarise(const struct bench *b, struct bench_summary *s)
{
	uint64_t min = UINT64_MAX, max = 0, sum = 0, events = 0;
	double ms_per_tick = 1e3 / (double)sys->tsc_hz;

	memset(s, 0, sizeof(*s));
	s->total_time_s = tsc_to_seconds(rdtsc() - b->t_start);
	for (unsigned i = 0; i < b->threads; i++) {
		const struct bench_thread *t = &b->thread[i];

		events += t->events;
		sum += t->sum;
		if (t->events && t->min < min)
			min = t->min;
		if (t->max > max)
			max = t->max;
	}
	s->threads = b->threads;
	s->events = events;
	s->timer_interrupts = b->timer_interrupts;
	s->context_switches = b->context_switches;
	s->lat_min_ms = events ? min * ms_per_tick : 0;
	s->lat_max_ms = max * ms_per_tick;
	s->lat_avg_ms = events ? sum * ms_per_tick / events : 0;
	s->lat_sum_ms = sum * ms_per_tick;
	s->lat_stddev_ms = latency_stddev_ticks(b) * ms_per_tick;
	s->percentile = b->percentile;
	if (b->percentile) {
		uint64_t total = 0, seen = 0, goal;
		unsigned k;

		for (k = 0; k < HIST_BUCKETS; k++)
			for (unsigned i = 0; i < b->threads; i++)
				total += b->thread[i].hist[k];
		goal = (uint64_t)(total * (double)b->percentile / 100 + 0.5);
		for (k = 0; k < HIST_BUCKETS; k++) {
			for (unsigned i = 0; i < b->threads; i++)
				seen += b->thread[i].hist[k];
			if (seen >= goal)
				break;
		}
		s->lat_pct_ms = hist_value_ms(k < HIST_BUCKETS ? k : HIST_BUCKETS - 1);
	}
	s->interval_s = tsc_to_seconds(rdtsc() - b->t_start);
	/* sysbench's fairness: spread of events and of busy time per thread. */
	s->events_avg = (double)events / b->threads;
	s->time_avg_s = s->lat_sum_ms / 1e3 / b->threads;
	for (unsigned i = 0; i < b->threads; i++) {
		double de = s->events_avg - (double)b->thread[i].events;
		double dt = s->time_avg_s - tsc_to_seconds(b->thread[i].sum);

		s->events_stddev += de * de;
		s->time_stddev_s += dt * dt;
	}
	s->events_stddev = sqrt(s->events_stddev / b->threads);
	s->time_stddev_s = sqrt(s->time_stddev_s / b->threads);
}

void bench_print_histogram(const struct bench *b)
{
	uint64_t maxcnt = 0, count[HIST_BUCKETS];

	for (unsigned k = 0; k < HIST_BUCKETS; k++) {
		count[k] = 0;
		for (unsigned i = 0; i < b->threads; i++)
			count[k] += b->thread[i].hist[k];
		if (count[k] > maxcnt)
			maxcnt = count[k];
	}
	printf("Latency histogram (values are in milliseconds)\n");
	if (maxcnt) {
		printf("       value  ------------- distribution ------------- count\n");
		for (unsigned k = 0; k < HIST_BUCKETS; k++) {
			if (!count[k])
				continue;
			int width = (int)(count[k] * 40.0 / maxcnt + 0.5);

			printf("%12.3f |%-40.*s %llu\n", hist_value_ms(k), width,
			       "****************************************",
			       (unsigned long long)count[k]);
		}
	}
	printf(" \n");
}

void bench_print_report(const struct bench_summary *s)
{
	printf("\nGeneral statistics:\n");
	printf("    total time:                          %.4fs\n", s->total_time_s);
	printf("    total number of events:              %llu\n\n",
	       (unsigned long long)s->events);
	printf("Latency (ms):\n");
	printf("         min: %39.2f\n", s->lat_min_ms);
	printf("         avg: %39.2f\n", s->lat_avg_ms);
	printf("         max: %39.2f\n", s->lat_max_ms);
	if (s->percentile)
		printf("        %3uth percentile: %27.2f\n", s->percentile, s->lat_pct_ms);
	else
		printf("         percentile stats:               disabled\n");
	printf("         sum: %39.2f\n\n", s->lat_sum_ms);
	printf("Threads fairness:\n");
	printf("    events (avg/stddev):           %.4f/%3.2f\n", s->events_avg, s->events_stddev);
	printf("    execution time (avg/stddev):   %.4f/%3.2f\n\n", s->time_avg_s,
	       s->time_stddev_s);
}

void bench_result_fields(struct json *j, const struct bench_summary *s)
{
	json_u64(j, "threads", s->threads);
	json_double(j, "total_time_s", s->total_time_s);
	json_u64(j, "events", s->events);
	json_double(j, "events_per_s", bench_per_second(s, (double)s->events));
	json_begin(j, "latency_ms");
	json_double(j, "min", s->lat_min_ms);
	json_double(j, "avg", s->lat_avg_ms);
	json_double(j, "max", s->lat_max_ms);
	json_double(j, "stddev", s->lat_stddev_ms);
	if (s->percentile) {
		json_u64(j, "percentile", s->percentile);
		json_double(j, "pct_value", s->lat_pct_ms);
	}
	json_double(j, "sum", s->lat_sum_ms);
	json_end(j);
	json_begin(j, "sched");
	json_u64(j, "timer_interrupts", s->timer_interrupts);
	json_u64(j, "context_switches", s->context_switches);
	json_end(j);
	json_begin(j, "fairness");
	json_double(j, "events_avg", s->events_avg);
	json_double(j, "events_stddev", s->events_stddev);
	json_double(j, "time_avg_s", s->time_avg_s);
	json_double(j, "time_stddev_s", s->time_stddev_s);
	json_end(j);
}

double bench_per_second(const struct bench_summary *s, double amount)
{
	return s->interval_s > 0 ? amount / s->interval_s : 0;
}
