/*
 * jitter.c - how often, and for how long, each vCPU stops running the
 * guest: the noise any workload on it would feel.
 *
 * One ring-3 thread bound to each vCPU (all of them, or the first
 * --threads) reads the TSC in a tight loop until its own TSC deadline,
 * --time seconds after a common start.  Two consecutive reads at least
 * --jitter-threshold nanoseconds apart are a gap: time in which the vCPU
 * did not run the thread, because the host took its CPU (an interrupt and
 * the VM exit it causes, another task, the hypervisor's own work) or an
 * emulator did something else.  Per vCPU: the reads and the loop's
 * period (the resolution), the gaps, a log2 histogram of their lengths,
 * the largest, and the time lost in them.
 *
 * The guest adds no gaps of its own.  With one thread per vCPU its
 * scheduler never arms the LAPIC timer (kernel/sched.c: the timer runs
 * only on a CPU with a thread waiting); between the start and the last
 * deadline no thread prints or makes a system call, and nothing sends an
 * IPI (threads exit, and the first thread joins them, only after everyone
 * has passed their deadline).  The interrupts the guest took in that
 * window are counted and reported, which shows it: all zero.
 *
 * rdtsc runs natively in ring 3 on every kind of KVM (and is emulated,
 * like everything, under TCG).  Only a gap leaves the loop, for
 * record_gap, so the loop's own state stays in registers.
 */
#include "user.h"

/* 5 us: well above anything the loop itself meets (a cache or TLB miss,
 * an SMT sibling's burst: under 1 us), so every gap counted is time the
 * vCPU was away; and low enough to catch what a host does to it (a timer
 * tick or an IPI and its VM exit take a few us on hardware KVM and 5-20 us
 * on PVM-style KVM; being preempted by another task, milliseconds).
 * Shorter interruptions show with a lower threshold (1000 ns). */
#define DEFAULT_THRESHOLD_NS "5000"
#define MAX_THRESHOLD_NS 1000000000ULL
#define MAX_TIME_S 1000000ULL
/* Bucket k holds gaps of [threshold << k, threshold << (k + 1)) ns; a gap
 * is below 2^64 ns, so 64 buckets hold any gap and none is clamped. */
#define BUCKETS 64
#define THREAD_STACK (16 * 1024)
#define TEXT_COLUMNS 8          /* per-vCPU histogram columns in the text */
#define NS_PER_S 1000000000ULL

struct guest_irqs {
	uint64_t timer, wake, device;
};

/* Where the threads wait for each other: the last to arrive reads the
 * clock and the guest's interrupt counters, then lets everyone go. */
struct meeting {
	unsigned arrived;
	int go;
	uint64_t tsc;
	struct guest_irqs irqs;
};

struct jitter;

struct jitter_cpu {
	struct jitter *run;
	unsigned cpu;
	uint64_t threshold_ns;       /* a copy: gaps touch only this thread's lines */
	uint64_t first, last;        /* TSC of the first and the last read */
	uint64_t reads;
	uint64_t min_step;           /* ticks between two reads, the shortest */
	uint64_t gaps, lost, largest;   /* ticks */
	uint64_t backwards;          /* steps where the TSC went back (a broken TSC) */
	uint64_t hist[BUCKETS];
} __attribute__((aligned(64)));

struct jitter {
	unsigned threads;
	uint64_t threshold_ns, threshold_ticks, duration_ticks;
	struct meeting start, end;
	struct jitter_cpu *cpu;
};

static void read_irqs(struct guest_irqs *irqs)
{
	irqs->timer = sys->timer_interrupts;
	irqs->wake = sys->wake_ipis;
	irqs->device = 0;
	for (unsigned k = 0; k < SYSINFO_IRQ_SLOTS; k++)
		irqs->device += sys->irq_count[k];
}

static uint64_t meet(const struct jitter *r, struct meeting *m)
{
	if (__atomic_add_fetch(&m->arrived, 1, __ATOMIC_ACQ_REL) == r->threads) {
		read_irqs(&m->irqs);
		m->tsc = rdtsc();
		__atomic_store_n(&m->go, 1, __ATOMIC_RELEASE);
	} else {
		/* One thread per vCPU: spinning delays no one. */
		while (!__atomic_load_n(&m->go, __ATOMIC_ACQUIRE))
			__builtin_ia32_pause();
	}
	return m->tsc;
}

static unsigned bucket_of(uint64_t gap_ns, uint64_t threshold_ns)
{
	uint64_t q = gap_ns / threshold_ns;   /* >= 1: see threshold_ticks */

	return q ? 63 - (unsigned)__builtin_clzll(q) : 0;
}

/* The bucket's bounds in ns (saturated: only a gap of centuries reaches it). */
static uint64_t bucket_from(uint64_t threshold_ns, unsigned k)
{
	return k < 64 && threshold_ns <= UINT64_MAX >> k ? threshold_ns << k : UINT64_MAX;
}

static __attribute__((noinline, cold)) void record_gap(struct jitter_cpu *c, uint64_t ticks)
{
	if ((int64_t)ticks < 0) {
		c->backwards++;
		return;
	}
	c->gaps++;
	c->lost += ticks;
	if (ticks > c->largest)
		c->largest = ticks;
	c->hist[bucket_of(tsc_to_ns(ticks), c->threshold_ns)]++;
}

/* The measurement: nothing in here exits to the host or to ring 0. */
static void measure(struct jitter_cpu *c, uint64_t deadline, uint64_t threshold)
{
	uint64_t prev = rdtsc(), first = prev, reads = 1, min = UINT64_MAX;

	do {
		uint64_t now = rdtsc(), step = now - prev;

		reads++;
		if (step < min)
			min = step;
		if (__builtin_expect(step >= threshold, 0))
			record_gap(c, step);
		prev = now;
	} while (prev < deadline);
	c->first = first;
	c->last = prev;
	c->reads = reads;
	c->min_step = min;
}

static uint64_t jitter_thread(void *arg)
{
	struct jitter_cpu *c = arg;
	struct jitter *r = c->run;
	uint64_t start = meet(r, &r->start);

	measure(c, start + r->duration_ticks, r->threshold_ticks);
	meet(r, &r->end);
	return 0;
}

/* ---- the report ------------------------------------------------------------ */

/* One vCPU's figures, or all of them added up (cpu < 0). */
struct figures {
	uint64_t reads, gaps, lost_ns, largest_ns, run_ns, backwards;
	double min_step_ns, mean_step_ns, gaps_per_s, lost_share;
	uint64_t hist[BUCKETS];
	int top;                     /* highest bucket with a gap; -1: none */
};

static void figures_of(const struct jitter_cpu *c, struct figures *f)
{
	uint64_t run = c->last - c->first, steps = c->reads - 1;

	memset(f, 0, sizeof(*f));
	f->reads = c->reads;
	f->gaps = c->gaps;
	f->lost_ns = tsc_to_ns(c->lost);
	f->largest_ns = tsc_to_ns(c->largest);
	f->run_ns = tsc_to_ns(run);
	f->backwards = c->backwards;
	f->min_step_ns = (double)c->min_step * 1e9 / (double)sys->tsc_hz;
	/* The loop's usual period: the steps that were no gap. */
	f->mean_step_ns = steps > c->gaps + c->backwards
		? tsc_to_seconds(run - c->lost) * 1e9 / (double)(steps - c->gaps - c->backwards)
		: __builtin_nan("");
	f->gaps_per_s = run ? (double)c->gaps / tsc_to_seconds(run) : 0;
	f->lost_share = run ? (double)c->lost / (double)run : 0;
	f->top = -1;
	for (int k = 0; k < BUCKETS; k++) {
		f->hist[k] = c->hist[k];
		if (c->hist[k])
			f->top = k;
	}
}

/* All vCPUs: sums, and rates per vCPU-second (so they compare across
 * machines of different sizes). */
static void figures_total(const struct figures *each, unsigned n, struct figures *t)
{
	double useful_s = 0, useful_steps = 0;

	memset(t, 0, sizeof(*t));
	t->top = -1;
	t->min_step_ns = __builtin_inf();
	for (unsigned i = 0; i < n; i++) {
		const struct figures *f = &each[i];

		t->reads += f->reads;
		t->gaps += f->gaps;
		t->lost_ns += f->lost_ns;
		t->run_ns += f->run_ns;
		t->backwards += f->backwards;
		if (f->largest_ns > t->largest_ns)
			t->largest_ns = f->largest_ns;
		if (f->min_step_ns < t->min_step_ns)
			t->min_step_ns = f->min_step_ns;
		if (f->mean_step_ns == f->mean_step_ns) {
			double steps = (double)(f->reads - 1 - f->gaps - f->backwards);

			useful_steps += steps;
			useful_s += f->mean_step_ns * steps / 1e9;
		}
		for (int k = 0; k < BUCKETS; k++)
			t->hist[k] += f->hist[k];
		if (f->top > t->top)
			t->top = f->top;
	}
	t->mean_step_ns = useful_steps ? useful_s * 1e9 / useful_steps : __builtin_nan("");
	t->gaps_per_s = t->run_ns ? (double)t->gaps * 1e9 / (double)t->run_ns : 0;
	t->lost_share = t->run_ns ? (double)t->lost_ns / (double)t->run_ns : 0;
}

static void print_row(const char *name, const struct figures *f)
{
	char mean[24];

	if (f->mean_step_ns == f->mean_step_ns)
		snprintf(mean, sizeof(mean), "%.1f", f->mean_step_ns);
	else
		snprintf(mean, sizeof(mean), "-");
	printf("%5s %14llu %9.1f %8s %10llu %10.2f %12.3f %13.3f %9.5f\n", name,
	       (unsigned long long)f->reads, f->min_step_ns, mean, (unsigned long long)f->gaps,
	       f->gaps_per_s, f->largest_ns / 1e3, f->lost_ns / 1e3, f->lost_share * 100);
}

static void print_text(const struct jitter *r, const struct figures *each,
		       const struct figures *total, const struct guest_irqs *irqs, double duration_s)
{
	bool columns = r->threads <= TEXT_COLUMNS;

	printf("Ran %.6f s: from the common start to the last read past the deadline\n\n",
	       duration_s);
	printf("Gaps (TSC reads at least %llu ns apart), per vCPU:\n",
	       (unsigned long long)r->threshold_ns);
	printf(" vCPU          reads  step ns: min     mean       gaps     gaps/s   largest us"
	       "       lost us    lost %%\n");
	for (unsigned i = 0; i < r->threads; i++) {
		char name[12];

		snprintf(name, sizeof(name), "%u", i);
		print_row(name, &each[i]);
	}
	print_row("all", total);
	printf("(gaps/s and lost %% of all: per vCPU, over all vCPUs' time)\n\n");
	if (total->top < 0) {
		printf("Gap lengths: no gaps\n\n");
	} else {
		printf("%-25s %10s", "Gap lengths (us)", "all");
		for (unsigned i = 0; columns && i < r->threads; i++) {
			char name[16];

			snprintf(name, sizeof(name), "vCPU %u", i);
			printf(" %10s", name);
		}
		printf("%s\n", columns ? "" : "   (per vCPU: in the VMBENCH-RESULT line)");
		for (int k = 0; k <= total->top; k++) {
			char line[64 + 11 * TEXT_COLUMNS];
			int n = snprintf(line, sizeof(line), "%11.3f - %11.3f %10llu",
					 bucket_from(r->threshold_ns, (unsigned)k) / 1e3,
					 bucket_from(r->threshold_ns, (unsigned)k + 1) / 1e3,
					 (unsigned long long)total->hist[k]);

			for (unsigned i = 0; columns && i < r->threads; i++)
				n += snprintf(line + n, sizeof(line) - (size_t)n, " %10llu",
					      (unsigned long long)each[i].hist[k]);
			printf("%s\n", line);
		}
		printf("\n");
	}
	if (total->backwards)
		printf("vmbench: the TSC went back %llu times (not counted as gaps)\n\n",
		       (unsigned long long)total->backwards);
	printf("Guest interrupts while measuring: %llu timer, %llu wake IPI, %llu device\n\n",
	       (unsigned long long)irqs->timer, (unsigned long long)irqs->wake,
	       (unsigned long long)irqs->device);
}

static void json_figures(struct json *j, const struct jitter *r, const struct figures *f)
{
	json_u64(j, "reads", f->reads);
	json_double(j, "min_period_ns", f->min_step_ns);
	json_double(j, "mean_period_ns", f->mean_step_ns);
	json_u64(j, "run_ns", f->run_ns);
	json_u64(j, "gaps", f->gaps);
	json_double(j, "gaps_per_s", f->gaps_per_s);
	json_u64(j, "largest_ns", f->largest_ns);
	json_u64(j, "lost_ns", f->lost_ns);
	json_double(j, "lost_share", f->lost_share);
	json_u64(j, "tsc_backwards", f->backwards);
	json_array_begin(j, "histogram");
	for (int k = 0; k <= f->top; k++) {
		json_begin(j, NULL);
		json_u64(j, "from_ns", bucket_from(r->threshold_ns, (unsigned)k));
		json_u64(j, "to_ns", bucket_from(r->threshold_ns, (unsigned)k + 1));
		json_u64(j, "count", f->hist[k]);
		json_end(j);
	}
	json_array_end(j);
}

static void emit_result(const struct test_args *args, const struct jitter *r,
			const struct figures *each, const struct figures *total,
			const struct guest_irqs *irqs, double duration_s)
{
	/* Room for every vCPU's histogram up to the longest one's top. */
	size_t size = 4096 + (r->threads + 1) * (512 + (size_t)(total->top + 1) * 80);
	char *buf = heap_alloc(size, 8);
	struct json j;

	if (!buf)
		die(STATUS_FAILED, "out of memory for a result of %zu bytes", size);
	json_init(&j, buf, size);
	result_begin(&j, args);
	json_u64(&j, "threads", r->threads);
	json_begin(&j, "jitter");
	json_u64(&j, "threshold_ns", r->threshold_ns);
	json_double(&j, "duration_s", duration_s);
	json_u64(&j, "tsc_khz", sys->tsc_hz / 1000);
	json_begin(&j, "guest_interrupts");
	json_u64(&j, "timer", irqs->timer);
	json_u64(&j, "wake_ipi", irqs->wake);
	json_u64(&j, "device", irqs->device);
	json_end(&j);
	json_array_begin(&j, "cpus");
	for (unsigned i = 0; i < r->threads; i++) {
		json_begin(&j, NULL);
		json_u64(&j, "cpu", i);
		json_figures(&j, r, &each[i]);
		json_end(&j);
	}
	json_array_end(&j);
	json_begin(&j, "total");
	json_figures(&j, r, total);
	json_end(&j);
	json_end(&j);
	result_emit(&j);
}

/* ---- the test --------------------------------------------------------------- */

static int jitter_run(const struct test_args *args, const char *command)
{
	static struct jitter r;
	const struct option_value *threads = opt_get(args, "threads");
	uint64_t time_s = opt_u64(args, "time");
	long tids[BENCH_MAX_THREADS];
	struct guest_irqs irqs;

	(void)command;
	memset(&r, 0, sizeof(r));
	r.threshold_ns = opt_u64(args, "jitter-threshold");
	if (r.threshold_ns == 0 || r.threshold_ns > MAX_THRESHOLD_NS) {
		printf("FATAL: Invalid value for --jitter-threshold: %s (nanoseconds, 1 to %llu)\n",
		       opt_str(args, "jitter-threshold"), MAX_THRESHOLD_NS);
		return STATUS_USAGE;
	}
	if (time_s == 0 || time_s > MAX_TIME_S) {
		printf("FATAL: Invalid value for --time: %llu (jitter runs 1 to %llu seconds)\n",
		       (unsigned long long)time_s, MAX_TIME_S);
		return STATUS_USAGE;
	}
	if (threads->given && (threads->u == 0 || threads->u > sys->cpus_online)) {
		printf("FATAL: Invalid value for --threads: %s (jitter binds one thread to each "
		       "vCPU: 1 to %u)\n", threads->text, sys->cpus_online);
		return STATUS_USAGE;
	}
	r.threads = threads->given ? (unsigned)threads->u : sys->cpus_online;
	/* The fewest ticks that last threshold_ns: a gap of threshold_ticks or
	 * more is at least threshold_ns long, in ns as tsc_to_ns rounds too. */
	r.threshold_ticks = ns_to_tsc(r.threshold_ns);
	if (tsc_to_ns(r.threshold_ticks) < r.threshold_ns)
		r.threshold_ticks++;
	if (!r.threshold_ticks)
		r.threshold_ticks = 1;
	r.duration_ticks = ns_to_tsc(time_s * NS_PER_S);

	/* Written now, so the pages are there before the clock starts. */
	r.cpu = heap_alloc(r.threads * sizeof(*r.cpu), 64);
	if (!r.cpu)
		die(STATUS_FAILED, "out of memory for %u threads", r.threads);
	memset(r.cpu, 0, r.threads * sizeof(*r.cpu));
	for (unsigned i = 0; i < r.threads; i++) {
		r.cpu[i].run = &r;
		r.cpu[i].cpu = i;
		r.cpu[i].threshold_ns = r.threshold_ns;
	}

	printf("vmbench guest %s: jitter, the gaps in each vCPU's run\n\n", GUEST_VERSION);
	if (r.threads == 1)
		printf("Number of threads: 1, bound to vCPU 0\n");
	else
		printf("Number of threads: %u, one bound to each of vCPUs 0-%u\n", r.threads,
		       r.threads - 1);
	printf("Time: %llu s, each thread to its own TSC deadline\n",
	       (unsigned long long)time_s);
	printf("Gap threshold: %llu ns (%llu TSC ticks at %llu kHz, from %s)\n\n",
	       (unsigned long long)r.threshold_ns, (unsigned long long)r.threshold_ticks,
	       (unsigned long long)(sys->tsc_hz / 1000), sys->tsc_source);

	/* This thread is vCPU 0's (main.c's thread is bound there); nothing is
	 * printed from here until every thread has passed its deadline. */
	for (unsigned i = 1; i < r.threads; i++) {
		tids[i] = thread_spawn(i, jitter_thread, &r.cpu[i], THREAD_STACK);
		if (tids[i] < 0)
			die(STATUS_FAILED, "cannot start thread %u (error %ld)", i, -tids[i]);
	}
	jitter_thread(&r.cpu[0]);
	for (unsigned i = 1; i < r.threads; i++)
		thread_join(tids[i]);

	irqs.timer = r.end.irqs.timer - r.start.irqs.timer;
	irqs.wake = r.end.irqs.wake - r.start.irqs.wake;
	irqs.device = r.end.irqs.device - r.start.irqs.device;

	struct figures *each = heap_alloc((r.threads + 1) * sizeof(*each), 8);
	if (!each)
		die(STATUS_FAILED, "out of memory for %u threads", r.threads);
	struct figures *total = &each[r.threads];
	for (unsigned i = 0; i < r.threads; i++)
		figures_of(&r.cpu[i], &each[i]);
	figures_total(each, r.threads, total);
	/* To the last read of the thread that finished last: --time plus its
	 * last step (the closing meeting, outside the measurement, is not in). */
	uint64_t last = r.start.tsc;
	for (unsigned i = 0; i < r.threads; i++)
		if (r.cpu[i].last > last)
			last = r.cpu[i].last;
	double duration_s = tsc_to_seconds(last - r.start.tsc);

	print_text(&r, each, total, &irqs, duration_s);
	emit_result(args, &r, each, total, &irqs, duration_s);
	return STATUS_OK;
}

static const struct option_def jitter_options[] = {
	{"jitter-threshold", OPT_INT, DEFAULT_THRESHOLD_NS,
	 "gap threshold in nanoseconds: two TSC reads at least this far apart are a gap", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(jitter, .name = "jitter",
	   .summary = "gaps in each vCPU's run: a TSC loop per vCPU, gaps >= a threshold",
	   .options = jitter_options, .commands = "run", .run = jitter_run);
