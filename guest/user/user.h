/*
 * user.h - the ring-3 runtime every test is written against: console
 * output, threads, memory, time, the command line and result reporting.
 *
 * Ring 3 runs natively on every host (where guest ring 0 is emulated, it
 * is the only place a measurement means anything), and it may use SSE.
 */
#ifndef GUEST_USER_H
#define GUEST_USER_H

#include "libc.h"
#include "syscall.h"
#include "sysinfo.h"
#include "x86.h"

#define GUEST_VERSION "0.1.0"

/* Exit statuses of the guest (the isa-debug-exit value). */
enum guest_status {
	STATUS_OK = 0,
	STATUS_FAILED = 1,        /* a test ran and found something wrong */
	STATUS_USAGE = 2,         /* unknown test or option, bad value */
	STATUS_UNAVAILABLE = 3,   /* needs hardware that is not there */
	STATUS_CRASH = 4,         /* an exception (kernel/trap.c) */
};

/* ---- system calls (syscall.c) ---------------------------------------------- */

/* Every call but sys_write_unbuffered, sys_cpu and sys_thread_exit writes
 * out stdout's buffer first (stdio.c); sys_write too, so bytes written
 * directly follow what printf buffered. */
long sys_write(const void *buf, size_t len);
/* SYS_WRITE without that: stdio's own write of its buffer. */
long sys_write_unbuffered(const void *buf, size_t len);
__attribute__((noreturn)) void sys_exit(int status);
/* Also names stdout's buffer to ring 0, which writes it out before it
 * reports an exception that ends the run. */
const struct sysinfo *sys_sysinfo(const struct user_output *output);
long sys_spawn(unsigned cpu, void (*entry)(void *), void *arg, void *stack_top);
long sys_join(long tid);
__attribute__((noreturn)) void sys_thread_exit(uint64_t value);
long sys_crash(int kind);
unsigned sys_cpu(void);
void sys_yield(void);
/* PCI configuration space (syscall.h: addr = bus << 16 | dev << 11 | fn << 8 | offset). */
long sys_pci_read(uint32_t addr, unsigned size);
long sys_pci_write(uint32_t addr, unsigned size, uint32_t value);
/* Device interrupt slot k: the MSI message that raises it, and a wait that
 * returns once sys->irq_count[k] is no longer `seen`. */
long sys_irq_msi(unsigned slot);
uint64_t sys_irq_wait(unsigned slot, uint64_t seen);
/* The next exception `vector` (< 32; else: none) resumes at resume_rip. */
void sys_expect_exception(unsigned vector, uint64_t resume_rip);
/* Runs one operation in ring 0 (struct exit_bench, syscall.h). */
long sys_exit_bench(struct exit_bench *rq);
/* The caller's I/O privilege level: 3 lets it use in/out where the host
 * honours it (probe with TRY_INSN), 0 takes that back. */
long sys_iopl(unsigned level);
/* Runs one operation in an L2 guest, ring 0 its SVM hypervisor
 * (struct nested_bench, syscall.h). */
long sys_nested_bench(struct nested_bench *rq);

/* What TRY_INSN saw: the vector raised (-1: none), its error code, CR2. */
struct caught {
	uint64_t vector, error, cr2;
};

/* Runs the instruction(s) `insn` once with SYS_EXPECT_EXCEPTION armed for
 * `vec`, resuming after them if that exception is raised.  If none was,
 * the expectation is still armed: disarm it (sys_expect_exception(32, 0)).
 * `insn` may use R8, which is clobbered, and the asm inputs passed after
 * it (`[port] "r"(x)`); RAX, RCX, RDX, RSI and RDI are the macro's. */
#define TRY_INSN(c, vec, insn, ...)                                                   \
	__asm__ volatile("lea 1f(%%rip), %%rsi\n\t"                                  \
			 "mov %[nr], %%eax\n\t"                                      \
			 "int $0x80\n\t" insn "\n\t"                                 \
			 "mov $-1, %%rax\n\t"                                        \
			 "xor %%edx, %%edx\n\t"                                      \
			 "xor %%ecx, %%ecx\n"                                         \
			 "1:"                                                         \
			 : "=&a"((c)->vector), "=&d"((c)->error), "=&c"((c)->cr2)     \
			 : [nr] "i"(SYS_EXPECT_EXCEPTION), "D"((uint64_t)(vec)), ##__VA_ARGS__ \
			 : "rsi", "r8", "memory", "cc")

/* ---- output (stdio.c) ------------------------------------------------------- */

/* stdout is fully buffered: printf appends to one buffer (whole, so
 * lines from several threads never mix), which goes to the console in one
 * system call when the next text does not fit, before any other system
 * call of ring 3 (exit included), on stdout_flush(), and from ring 0
 * before an exception report (docs/guest.md, "Output").  A test that
 * then runs natively for long without a system call calls stdout_flush()
 * so its lines show before it. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int puts(const char *s);
void stdout_write(const void *buf, size_t len);
void stdout_flush(void);
/* The buffer's descriptor, for SYS_SYSINFO. */
extern struct user_output stdout_output;
/* Prints "vmbench: <message>" and exits with `status`. */
__attribute__((noreturn)) void die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- memory (malloc.c) ------------------------------------------------------ */

void heap_init(void);
/* The part of RAM range i (sys->ram[i]) above the kernel's own memory and
 * inside the page tables; false if less than a page is left. */
bool ram_range_for_user(unsigned i, uint64_t *start, uint64_t *end);
/* Aligned allocation from free RAM; NULL when it does not fit.  Memory is
 * never returned: a test allocates its buffers once. */
void *heap_alloc(size_t size, size_t align);
uint64_t heap_free_bytes(void);

/* ---- threads (thread.c) ----------------------------------------------------- */

typedef uint64_t (*thread_fn)(void *arg);
/* Runs fn(arg) on `cpu` (or on any, SCHED_ANY_CPU); returns a thread id,
 * or a negative error. */
long thread_spawn(unsigned cpu, thread_fn fn, void *arg, size_t stack_size);
uint64_t thread_join(long tid);

/* ---- time (time.c) ---------------------------------------------------------- */

void time_init(uint64_t tsc_hz);
uint64_t tsc_to_ns(uint64_t ticks);
uint64_t ns_to_tsc(uint64_t ns);
double tsc_to_seconds(uint64_t ticks);

/* ---- CPU identification (cpuinfo.c) ----------------------------------------- */

struct cpu_identity {
	char vendor[13];
	char brand[49];
	char hypervisor[13];      /* empty on bare metal */
	uint32_t family, model, stepping;
};
void cpu_identify(struct cpu_identity *id);
uint32_t cpu_apic_id(void);

/* ---- maths (math.c) ----------------------------------------------------------- */

double sqrt(double x);
double fabs(double x);
double log(double x);
double exp(double x);

/* ---- the command line (cmdline.c) ------------------------------------------- */

/* sysbench's grammar: TEST [--name=value ...] [command ...] */
#define MAX_ARGS 64

enum opt_type { OPT_INT, OPT_SIZE, OPT_BOOL, OPT_STRING, OPT_DOUBLE };

struct option_def {
	const char *name;
	enum opt_type type;
	const char *default_value;
	const char *help;
	const char *choices;      /* OPT_STRING: "a,b,c", or NULL for any */
};

struct option_value {
	const struct option_def *def;
	const char *text;         /* as given, or the default */
	bool given;
	uint64_t u;               /* OPT_INT, OPT_SIZE, OPT_BOOL */
	double d;                 /* OPT_DOUBLE */
};

struct test_args {
	const char *test;
	unsigned nopts;
	struct option_value opts[MAX_ARGS];
	unsigned ncommands;
	const char *commands[MAX_ARGS];
};

/* Splits the multiboot command line, dropping a first word that is the
 * kernel's path.  Returns false, with a message printed, on a malformed line. */
bool cmdline_split(const char *line, char *storage, size_t storage_len,
		   const char **words, unsigned *nwords);
/* Checks options against `defs` (general options are added by the
 * caller); prints one line and returns false on an unknown option or a
 * bad value. */
bool cmdline_parse(unsigned nwords, const char **words, const struct option_def *const *defs,
		   struct test_args *args);
const struct option_value *opt_get(const struct test_args *args, const char *name);
uint64_t opt_u64(const struct test_args *args, const char *name);
bool opt_bool(const struct test_args *args, const char *name);
const char *opt_str(const struct test_args *args, const char *name);
double opt_double(const struct test_args *args, const char *name);

/* ---- results (report.c) ---------------------------------------------------- */

/* Builds the single-line JSON object after "VMBENCH-RESULT ". */
struct json {
	char *buf;
	size_t size, len;
	bool need_comma[16];
	int depth;
};
void json_init(struct json *j, char *buf, size_t size);
void json_begin(struct json *j, const char *key);    /* object; key NULL at top or in an array */
void json_end(struct json *j);
void json_array_begin(struct json *j, const char *key);   /* elements: key NULL */
void json_array_end(struct json *j);
void json_str(struct json *j, const char *key, const char *value);
void json_u64(struct json *j, const char *key, uint64_t value);
void json_double(struct json *j, const char *key, double value);
void json_bool(struct json *j, const char *key, bool value);
/* The start every result shares: schema, test, platform, options, and
 * the environment block. */
void result_begin(struct json *j, const struct test_args *args);
/* Prints "VMBENCH-RESULT <json>". */
void result_emit(struct json *j);
/* "vmm", "qemu-guest" or "bare-metal", from the boot loader's name. */
const char *platform_name(void);

/* ---- sysbench's event loop (bench.c) --------------------------------------- */

#define BENCH_MAX_THREADS 1024

struct bench;

struct bench_thread {
	unsigned id;
	struct bench *bench;
	uint64_t events, sum, min, max;   /* event latencies, in TSC ticks */
	/* Their spread, exactly: the sum and the sum of squares of each
	 * latency's difference from the thread's first (integers, so nothing
	 * is rounded per event; shifted, so no large square cancels another
	 * when the variance is formed; see bench_summarise). */
	uint64_t shift;
	int64_t shifted_sum;
	unsigned __int128 shifted_squares;
	uint64_t *hist;                   /* latency histogram buckets */
	uint64_t rng[2];                  /* xoroshiro128+ state */
	void *local;                      /* the test's own per-thread state */
	uint64_t work;                    /* the test's own counter */
} __attribute__((aligned(64)));

/* What a test supplies; thread_init, next_event and thread_done may be
 * NULL.  An event that fails sets bench->failed (after printing why): every
 * thread then stops before its next event, and bench_execute fails. */
struct bench_ops {
	bool (*thread_init)(struct bench_thread *t);   /* false: failed (it says why) */
	bool (*next_event)(struct bench_thread *t);    /* false: this thread is done */
	void (*execute_event)(struct bench_thread *t);
	/* After the thread's last event, still inside the run's time (sysbench's
	 * thread_done: fileio's fsync at the end); not called after a failure. */
	void (*thread_done)(struct bench_thread *t);
	void *ctx;
};

struct bench {
	unsigned threads, percentile;
	bool histogram;
	uint64_t max_events, max_ticks, seed;
	const struct bench_ops *ops;
	struct bench_thread *thread;
	uint64_t t_start;
	uint64_t events_taken;
	unsigned arrived;
	int go, failed;
	uint64_t timer_interrupts, context_switches;   /* during the run */
};

struct bench_summary {
	unsigned threads, percentile;
	uint64_t events;
	double total_time_s;              /* start to report, as sysbench prints it */
	double interval_s;                /* the rates' denominator (see bench.c) */
	double lat_min_ms, lat_avg_ms, lat_max_ms, lat_pct_ms, lat_sum_ms;
	double lat_stddev_ms;             /* population standard deviation; JSON only */
	double events_avg, events_stddev, time_avg_s, time_stddev_s;
	uint64_t timer_interrupts, context_switches;
};

/* Reads the general options and prints sysbench's header; returns a status. */
int bench_begin(struct bench *b, const struct test_args *args);
/* Starts the workers, runs the events, joins them; returns a status. */
int bench_execute(struct bench *b, const struct bench_ops *ops);
/* Call once the workers are joined: it reads the clock, as sysbench does. */
void bench_summarise(const struct bench *b, struct bench_summary *s);
/* amount per second of the run, as sysbench divides. */
double bench_per_second(const struct bench_summary *s, double amount);
void bench_print_histogram(const struct bench *b);
/* "General statistics", "Latency (ms)" and "Threads fairness". */
void bench_print_report(const struct bench_summary *s);
/* threads, total_time_s, events, events_per_s, latency_ms (with stddev, which
 * the text report lacks as sysbench's does), sched, fairness. */
void bench_result_fields(struct json *j, const struct bench_summary *s);
uint64_t bench_rand_u64(struct bench_thread *t);
/* Seeds t's generator as bench_execute seeds the workers' (for random
 * numbers outside a run, e.g. fileio's prepare). */
void bench_rand_seed(struct bench_thread *t, uint64_t seed);
double bench_rand_double(struct bench_thread *t);   /* in [0, 1) */

/* ---- tests (guest/workloads) -------------------------------------------------- */

struct guest_test {
	const char *name;
	const char *summary;
	const struct option_def *options;   /* NULL-name terminated */
	const char *commands;               /* "run", or "prepare run cleanup" */
	bool hidden;                        /* not listed in help */
	/* Runs one command (run, prepare, cleanup ...); returns a status. */
	int (*run)(const struct test_args *args, const char *command);
};

#define GUEST_TEST(ident, ...)                                               \
	static const struct guest_test ident##_test = {__VA_ARGS__};          \
	static const struct guest_test *const ident##_test_ptr               \
		__attribute__((used, section("guest_tests"), aligned(8))) = &ident##_test

/* Facts every test may read (set by main.c before the test runs). */
extern const struct sysinfo *sys;

#endif
