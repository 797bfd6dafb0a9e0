/*
 * memory.c - sysbench's memory test (src/tests/memory/sb_memory.c in 1.0.20).
 *
 * The buffer is one block (one per thread with --memory-scope=local),
 * page-aligned and zeroed before the clock starts.  An event reads, writes
 * or only walks that block once, in 8-byte words, sequentially or at
 * offsets from the thread's xoroshiro128+ stream; each thread runs
 * total/block/threads events (--events is ignored, as in sysbench) unless
 * --time ends the run first.
 *
 * The event loops are written so that gcc emits the instructions Debian's
 * /usr/bin/sysbench runs (tests/tools/test_loop_fidelity.py compares them):
 * loads and stores are one-instruction asm statements with a memory
 * clobber, as ConcurrencyKit's ck_pr_load_64/ck_pr_store_64 are on x86-64,
 * so none is optimised away and none is moved across another; ring 3 is
 * built with -funroll-loops, as sysbench's configure builds it, so the
 * sequential loops run 8 words per branch as sysbench's do.  (A volatile
 * access in a loop of one word per branch reads L2 at about half the rate
 * on this class of CPU: docs/results.md, "Memory fidelity".)
 *
 * One difference from a Linux process: the guest maps all RAM with 2 MiB
 * (and 1 GiB) pages, so a large block costs fewer TLB misses here than in
 * sysbench on 4 KiB pages.
 */
#include "user.h"

enum mem_oper { OPER_NONE, OPER_READ, OPER_WRITE };

struct memory_ctx {
	uint64_t block_size, total_size, ops_per_thread;
	bool local, random;
	enum mem_oper oper;
	uint64_t *global_buffer;
};

struct memory_thread {
	uint64_t *buf;
	uint64_t ops_left;
};

static uint64_t words(const struct memory_ctx *ctx)
{
	return ctx->block_size / sizeof(uint64_t);
}

/* ck_pr_load_64 and ck_pr_store_64: a plain mov the compiler can neither
 * drop, merge nor reorder with other memory accesses. */
static inline uint64_t load_word(const uint64_t *p)
{
	uint64_t v;

	__asm__ volatile("movq %1, %0" : "=r"(v) : "m"(*p) : "memory");
	return v;
}

static inline void store_word(uint64_t *p, uint64_t v)
{
	__asm__ volatile("movq %1, %0" : "=m"(*p) : "r"(v) : "memory");
}

static void seq_none(struct bench_thread *t)
{
	const struct memory_ctx *ctx = t->bench->ops->ctx;
	struct memory_thread *m = t->local;

	for (uint64_t *p = m->buf, *end = p + words(ctx); p < end; p++)
		__asm__ volatile("" ::: "memory");   /* ck_pr_barrier() */
}

static void seq_read(struct bench_thread *t)
{
	const struct memory_ctx *ctx = t->bench->ops->ctx;
	struct memory_thread *m = t->local;

	for (uint64_t *p = m->buf, *end = p + words(ctx); p < end; p++)
		(void)load_word(p);
}

static void seq_write(struct bench_thread *t)
{
	const struct memory_ctx *ctx = t->bench->ops->ctx;
	struct memory_thread *m = t->local;

	for (uint64_t *p = m->buf, *end = p + words(ctx); p < end; p++)
		store_word(p, (uint64_t)(end - p));
}

static void rnd_none(struct bench_thread *t)
{
	const struct memory_ctx *ctx = t->bench->ops->ctx;

	/* As in sysbench, the offset is computed and dropped: only the
	 * random number generation is left for the compiler to keep. */
	for (uint64_t i = 0; i < ctx->block_size; i += sizeof(uint64_t)) {
		uint64_t offset = (uint64_t)(bench_rand_double(t) * words(ctx));

		(void)offset;
	}
}

static void rnd_read(struct bench_thread *t)
{
	const struct memory_ctx *ctx = t->bench->ops->ctx;
	uint64_t *buf = ((struct memory_thread *)t->local)->buf;

	for (uint64_t i = 0; i < ctx->block_size; i += sizeof(uint64_t))
		(void)load_word(buf + (uint64_t)(bench_rand_double(t) * words(ctx)));
}

static void rnd_write(struct bench_thread *t)
{
	const struct memory_ctx *ctx = t->bench->ops->ctx;
	uint64_t *buf = ((struct memory_thread *)t->local)->buf;

	for (uint64_t i = 0; i < ctx->block_size; i += sizeof(uint64_t))
		store_word(buf + (uint64_t)(bench_rand_double(t) * words(ctx)), i);
}

static uint64_t *alloc_block(uint64_t size)
{
	uint64_t *p = heap_alloc(size, 4096);

	if (p)
		memset(p, 0, size);
	return p;
}

static bool memory_thread_init(struct bench_thread *t)
{
	struct memory_ctx *ctx = t->bench->ops->ctx;
	struct memory_thread *m = heap_alloc(sizeof(*m), 64);

	if (!m)
		return false;
	m->buf = ctx->local ? alloc_block(ctx->block_size) : ctx->global_buffer;
	if (!m->buf) {
		printf("FATAL: Failed to allocate buffer for thread #%u!\n", t->id);
		return false;
	}
	m->ops_left = ctx->ops_per_thread;
	t->local = m;
	return true;
}

static bool memory_next_event(struct bench_thread *t)
{
	const struct memory_ctx *ctx = t->bench->ops->ctx;
	struct memory_thread *m = t->local;

	return ctx->total_size == 0 || m->ops_left-- > 0;
}

static bool parse_choice(const char *value, const char *const *names, unsigned n,
			 unsigned *out)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(value, names[i]))
			return *out = i, true;
	return false;
}

static int memory_run(const struct test_args *args, const char *command)
{
	static const char *const opers[] = {"none", "read", "write"};
	static const char *const scopes[] = {"global", "local"};
	static const char *const modes[] = {"seq", "rnd"};
	static void (*const events[2][3])(struct bench_thread *) = {
		{seq_none, seq_read, seq_write}, {rnd_none, rnd_read, rnd_write}};
	static struct bench b;
	static struct memory_ctx ctx;
	unsigned oper = 0, scope = 0, mode = 0;
	struct bench_summary s;
	char buf[4096];
	struct json j;
	int status;

	(void)command;
	memset(&ctx, 0, sizeof(ctx));
	ctx.block_size = opt_u64(args, "memory-block-size");
	ctx.total_size = opt_u64(args, "memory-total-size");
	if (ctx.block_size < sizeof(uint64_t) || (ctx.block_size & (ctx.block_size - 1))) {
		printf("FATAL: Invalid value for memory-block-size: %s\n",
		       opt_str(args, "memory-block-size"));
		return STATUS_USAGE;
	}
	/* The option table admits only these words (cmdline.c checks). */
	parse_choice(opt_str(args, "memory-oper"), opers, 3, &oper);
	parse_choice(opt_str(args, "memory-scope"), scopes, 2, &scope);
	parse_choice(opt_str(args, "memory-access-mode"), modes, 2, &mode);
	ctx.oper = (enum mem_oper)oper;
	ctx.local = scope == 1;
	ctx.random = mode == 1;

	/* Refuse a block that cannot fit before anything runs or prints. */
	uint64_t need = ctx.block_size * (ctx.local ? opt_u64(args, "threads") : 1);
	if (need > heap_free_bytes()) {
		printf("FATAL: a %s block%s needs %llu MiB; the guest has %llu MiB free "
		       "(give it more with vmm --mem)\n", opt_str(args, "memory-block-size"),
		       ctx.local ? " per thread" : "", (unsigned long long)(need >> 20),
		       (unsigned long long)(heap_free_bytes() >> 20));
		return STATUS_USAGE;
	}
	if ((status = bench_begin(&b, args)))
		return status;
	if (!ctx.local && !(ctx.global_buffer = alloc_block(ctx.block_size))) {
		printf("FATAL: Failed to allocate buffer!\n");
		return STATUS_USAGE;
	}
	if (ctx.total_size)
		ctx.ops_per_thread = ctx.total_size / ctx.block_size / b.threads;

	printf("Running memory speed test with the following options:\n");
	printf("  block size: %lluKiB\n", (unsigned long long)(ctx.block_size / 1024));
	printf("  total size: %lluMiB\n", (unsigned long long)(ctx.total_size / 1024 / 1024));
	printf("  operation: %s\n", opers[oper]);
	printf("  scope: %s\n\n", scopes[scope]);

	struct bench_ops ops = {
		.thread_init = memory_thread_init,
		.next_event = memory_next_event,
		.execute_event = events[mode][oper],
		.ctx = &ctx,
	};
	/* sysbench counts blocks, not --events, for this test. */
	b.max_events = 0;
	if ((status = bench_execute(&b, &ops)))
		return status;
	bench_summarise(&b, &s);
	if (b.histogram)
		bench_print_histogram(&b);

	double mib = s.events * (double)ctx.block_size / (1024.0 * 1024.0);
	printf("Total operations: %llu (%8.2f per second)\n\n", (unsigned long long)s.events,
	       bench_per_second(&s, s.events));
	if (ctx.oper != OPER_NONE)
		printf("%4.2f MiB transferred (%4.2f MiB/sec)\n\n", mib,
		       bench_per_second(&s, mib));
	bench_print_report(&s);

	json_init(&j, buf, sizeof(buf));
	result_begin(&j, args);
	bench_result_fields(&j, &s);
	json_begin(&j, "metrics");
	json_double(&j, "mib_per_s", ctx.oper != OPER_NONE ? bench_per_second(&s, mib) : 0);
	json_double(&j, "mib_transferred", ctx.oper != OPER_NONE ? mib : 0);
	json_end(&j);
	result_emit(&j);
	return STATUS_OK;
}

static const struct option_def memory_options[] = {
	{"memory-block-size", OPT_SIZE, "1K", "size of memory block for test", NULL},
	{"memory-total-size", OPT_SIZE, "100G", "total size of data to transfer", NULL},
	{"memory-scope", OPT_STRING, "global", "memory access scope {global,local}",
	 "global,local"},
	{"memory-oper", OPT_STRING, "write", "type of memory operations {read, write, none}",
	 "read,write,none"},
	{"memory-access-mode", OPT_STRING, "seq", "memory access mode {seq,rnd}", "seq,rnd"},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(memory, .name = "memory", .summary = "sysbench's memory test: read or write a block",
	   .options = memory_options, .commands = "run", .run = memory_run);
