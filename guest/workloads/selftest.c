/*
 * selftest.c - does this host give the guest every CPU transition it
 * relies on?  `selftest` checks each one and prints PASS, FAIL or SKIP
 * with what it saw, as kvm-unit-tests do, then a VMBENCH-RESULT line;
 * status 1 if any check failed.  So a new kind of host shows at once what
 * breaks, instead of a benchmark dying half-way (docs/guest.md, "CPU
 * transitions").
 *
 *   system call       ring 3 -> ring 0 -> ring 3 by int $0x80, by which
 *                     path (gate, #UD or #GP fallback) and at what cost
 *   exceptions        #DE, #UD, #GP and #PF raised in ring 3 reach ring 0
 *                     through the IDT with their error code (and CR2),
 *                     and iretq resumes ring 3
 *   timer interrupt   two threads bound to CPU 0: only the LAPIC timer
 *                     can switch between them
 *   AP start-up       every CPU of the MADT came online and runs ring 3
 *   IPIs              a thread spawned on an idle AP wakes it by IPI
 *   device interrupt  a virtio-blk read completes by MSI-X (needs a disk)
 *
 * A check waits for its event; its deadline only turns a hang into a
 * FAIL, so it is generous: hosts that emulate ring 0 are slow.
 *
 * The other --kind values fail on purpose, for the test suites (crash.c).
 */
#include "selftest.h"
#include "boot.h"
#include "virtio_blk.h"

#define DEADLINE_S 60            /* guards hangs only (see above) */
#define SYSCALL_SAMPLE_NS 20000000ULL   /* time the null system call this long */
#define THREAD_STACK 8192

enum verdict { PASS, FAIL, SKIP };

struct selftest {
	unsigned count[3];
	struct json *j;
};

static void verdict(struct selftest *st, const char *key, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void verdict(struct selftest *st, const char *key, enum verdict v, const char *fmt, ...)
{
	static const char *const names[] = {"PASS", "FAIL", "SKIP"};
	static const char *const keys[] = {"pass", "fail", "skip"};
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("%s: %s\n", names[v], line);
	st->count[v]++;
	json_str(st->j, key, keys[v]);
}

static uint64_t deadline(void)
{
	return rdtsc() + ns_to_tsc(DEADLINE_S * 1000000000ULL);
}

/* ---- system call ---------------------------------------------------------- */

static const char *const path_names[SYSCALL_PATHS] = {
	[SYSCALL_VIA_GATE] = "int $0x80 through its gate",
	[SYSCALL_VIA_UD] = "#UD fallback (the host does not deliver int $0x80 from ring 3)",
	[SYSCALL_VIA_GP] = "#GP fallback (gate closed)",
};
static const char *const path_keys[SYSCALL_PATHS] = {"gate", "ud", "gp"};

struct syscall_figures {
	const char *path;
	uint64_t calls;
	double ns_per_call;
};

static void check_syscall(struct selftest *st, struct syscall_figures *fig)
{
	uint64_t before[SYSCALL_PATHS], calls = 0, total = 0, t0, t1;
	bool right_cpu = true;
	int path = -1;

	for (unsigned p = 0; p < SYSCALL_PATHS; p++)
		before[p] = sys->syscalls[p];
	t0 = rdtsc();
	t1 = t0;
	/* The null call: SYS_CPU, answered from a register in ring 0. */
	while (calls < 16 || (t1 - t0 < ns_to_tsc(SYSCALL_SAMPLE_NS) && calls < 1000000)) {
		right_cpu &= sys_cpu() == 0;
		calls++;
		t1 = rdtsc();
	}
	for (unsigned p = 0; p < SYSCALL_PATHS; p++) {
		uint64_t d = sys->syscalls[p] - before[p];

		total += d;
		if (d == calls)
			path = (int)p;
	}
	double ns = (double)tsc_to_ns(t1 - t0) / (double)calls;

	*fig = (struct syscall_figures){path >= 0 ? path_keys[path] : "mixed", calls, ns};
	if (!right_cpu || total != calls || path < 0)
		verdict(st, "syscall", FAIL,
			"system call: %llu calls counted %llu times, %s, %s",
			(unsigned long long)calls, (unsigned long long)total,
			path >= 0 ? path_keys[path] : "by mixed paths",
			right_cpu ? "right answers" : "wrong answers");
	else if (sys->syscall_gate_closed && path == SYSCALL_VIA_GATE)
		verdict(st, "syscall", FAIL,
			"system call: --syscall-gate=closed, but calls still came through the gate");
	else
		verdict(st, "syscall", PASS, "system call: %s, %.0f ns per call (%llu calls)",
			path_names[path], ns, (unsigned long long)calls);
}

/* ---- exceptions from ring 3 ------------------------------------------------ */

static bool exception_ok(const char *name, unsigned vector, const struct caught *c,
			 bool (*error_ok)(const struct caught *), char *why, size_t len)
{
	if (c->vector == (uint64_t)-1) {
		sys_expect_exception(32, 0);     /* disarm: nothing was raised */
		snprintf(why, len, "%s was not raised", name);
		return false;
	}
	if (c->vector != vector || !error_ok(c)) {
		snprintf(why, len, "%s arrived as vector %llu, error 0x%llx, cr2 0x%llx", name,
			 (unsigned long long)c->vector, (unsigned long long)c->error,
			 (unsigned long long)c->cr2);
		return false;
	}
	return true;
}

static bool error_zero(const struct caught *c)
{
	return c->error == 0;
}

/* A read of page 0, present but kernel-only: the user bit set, the write
 * bit clear, CR2 the address. */
static bool error_user_read_of_0(const struct caught *c)
{
	return (c->error & 4) && !(c->error & 2) && c->cr2 == 0;
}

static void check_exceptions(struct selftest *st)
{
	struct caught de, ud, gp, pf;
	char why[128] = "";
	bool ok;

	TRY_INSN(&de, 0, "xor %%r8d, %%r8d\n\tdiv %%r8d");
	TRY_INSN(&ud, 6, "ud2");
	TRY_INSN(&gp, 13, "hlt");                 /* privileged in ring 3 */
	TRY_INSN(&pf, 14, "mov 0, %%r8");
	ok = exception_ok("#DE", 0, &de, error_zero, why, sizeof(why)) &&
	     exception_ok("#UD", 6, &ud, error_zero, why, sizeof(why)) &&
	     exception_ok("#GP", 13, &gp, error_zero, why, sizeof(why)) &&
	     exception_ok("#PF", 14, &pf, error_user_read_of_0, why, sizeof(why));
	if (ok)
		verdict(st, "exceptions", PASS,
			"exceptions from ring 3: #DE, #UD, #GP(0) and #PF (error 0x%llx, cr2 0) "
			"reached ring 0 and returned", (unsigned long long)pf.error);
	else
		verdict(st, "exceptions", FAIL, "exceptions from ring 3: %s", why);
}

/* ---- timer interrupt --------------------------------------------------------- */

struct sharer {
	volatile uint64_t spins;
	volatile bool saw_other;
	struct sharer *other;
	uint64_t deadline;
};

/* Spins until the other thread bound to this CPU has run meanwhile, which
 * only a preemption by the timer can make happen. */
static uint64_t share_cpu(void *arg)
{
	struct sharer *s = arg;
	uint64_t seen = s->other->spins;

	while (rdtsc() < s->deadline) {
		s->spins++;
		if (s->other->spins != seen) {
			s->saw_other = true;
			break;
		}
	}
	return 0;
}

static void check_timer(struct selftest *st)
{
	static struct sharer a, b;
	uint64_t ticks = sys->timer_interrupts;
	long ta, tb;

	a = (struct sharer){.other = &b, .deadline = deadline()};
	b = (struct sharer){.other = &a, .deadline = a.deadline};
	ta = thread_spawn(0, share_cpu, &a, THREAD_STACK);
	tb = thread_spawn(0, share_cpu, &b, THREAD_STACK);
	if (ta < 0 || tb < 0) {
		verdict(st, "timer", FAIL, "timer interrupt: cannot start two threads");
		return;
	}
	thread_join(ta);
	thread_join(tb);
	ticks = sys->timer_interrupts - ticks;
	if (a.saw_other && b.saw_other && ticks > 0)
		verdict(st, "timer", PASS,
			"timer interrupt: two threads on CPU 0 took turns (%llu LAPIC timer "
			"interrupts)", (unsigned long long)ticks);
	else
		verdict(st, "timer", FAIL,
			"timer interrupt: two threads on CPU 0 %s in %d s (%llu timer interrupts)",
			a.saw_other || b.saw_other ? "took only one turn" : "never took turns",
			DEADLINE_S, (unsigned long long)ticks);
}

/* ---- AP start-up and IPIs ------------------------------------------------------ */

static volatile uint32_t ap_ran[MAX_CPUS];

static uint64_t mark_cpu(void *arg)
{
	unsigned want = (unsigned)(uintptr_t)arg;

	ap_ran[want] = sys_cpu() == want ? 1 : 2;
	return 0;
}

static void check_aps(struct selftest *st)
{
	static long tids[MAX_CPUS];
	unsigned n = sys->cpus_online < MAX_CPUS ? sys->cpus_online : MAX_CPUS;
	unsigned ran = 0, wrong = 0;
	uint64_t ipis = sys->wake_ipis, end = deadline();

	if (sys->cpus_online != sys->ncpus) {
		verdict(st, "ap_startup", FAIL, "AP start-up: %u of %u CPUs came online",
			sys->cpus_online, sys->ncpus);
	}
	if (n < 2) {
		if (sys->cpus_online == sys->ncpus)
			verdict(st, "ap_startup", SKIP, "AP start-up: one vCPU");
		verdict(st, "ipi", SKIP, "IPIs: one vCPU");
		return;
	}
	/* The APs are idle (halted): each spawn wakes its CPU by IPI. */
	for (unsigned c = 1; c < n; c++)
		tids[c] = thread_spawn(c, mark_cpu, (void *)(uintptr_t)c, THREAD_STACK);
	do {
		ran = wrong = 0;
		for (unsigned c = 1; c < n; c++) {
			ran += ap_ran[c] != 0;
			wrong += ap_ran[c] == 2;
		}
	} while (ran < n - 1 && rdtsc() < end);
	if (ran == n - 1)
		for (unsigned c = 1; c < n; c++)
			if (tids[c] > 0)
				thread_join(tids[c]);
	ipis = sys->wake_ipis - ipis;
	if (sys->cpus_online == sys->ncpus) {
		if (ran == n - 1 && !wrong)
			verdict(st, "ap_startup", PASS,
				"AP start-up: %u CPUs online, each AP ran a ring-3 thread", n);
		else
			verdict(st, "ap_startup", FAIL,
				"AP start-up: %u of %u APs ran their thread (%u on the wrong CPU)",
				ran, n - 1, wrong);
	}
	if (ipis >= n - 1 && ran == n - 1)
		verdict(st, "ipi", PASS, "IPIs: %llu wake IPIs for %u threads spawned on idle APs",
			(unsigned long long)ipis, n - 1);
	else
		verdict(st, "ipi", FAIL, "IPIs: %llu wake IPIs for %u threads spawned on idle APs",
			(unsigned long long)ipis, n - 1);
}

/* ---- device interrupt ------------------------------------------------------------ */

static struct vblk disk;
static struct vblk_req disk_req;
static volatile int disk_status = -1;

static uint64_t read_first_sector(void *buf)
{
	disk_status = vblk_rw(&disk, &disk_req, VBLK_T_IN, 0, buf, VBLK_SECTOR);
	return 0;
}

static void check_device_irq(struct selftest *st)
{
	char why[128] = "";
	void *buf;
	uint64_t irqs, end = deadline();
	long tid;

	if (vblk_open(&disk, VBLK_IRQ, why, sizeof(why)) != 0) {
		if (why[0])
			verdict(st, "device_irq", FAIL, "device interrupt: %s", why);
		else
			verdict(st, "device_irq", SKIP,
				"device interrupt: no virtio-blk disk (vmm --disk FILE)");
		return;
	}
	buf = heap_alloc(4096, 4096);
	irqs = sys->irq_count[disk.irq_slot];
	/* A shared thread: with one vCPU it runs only when this thread, bound
	 * to CPU 0, yields to it (sched.c, give_way). */
	tid = buf ? thread_spawn(SCHED_ANY_CPU, read_first_sector, buf, THREAD_STACK) : -1;
	if (tid < 0) {
		verdict(st, "device_irq", FAIL, "device interrupt: cannot start the reader");
		return;
	}
	/* The reader sleeps in SYS_IRQ_WAIT until the MSI-X interrupt. */
	while (disk_status < 0 && rdtsc() < end)
		sys_yield();
	if (disk_status < 0) {
		verdict(st, "device_irq", FAIL,
			"device interrupt: a virtio-blk read on %s did not complete in %d s",
			disk.name, DEADLINE_S);
		return;
	}
	thread_join(tid);
	/* The device may post the completion before its interrupt arrives (a
	 * loaded host runs its I/O thread late): the reader then finds it
	 * without sleeping, and the interrupt is still on its way. */
	while (sys->irq_count[disk.irq_slot] == irqs && rdtsc() < end)
		sys_yield();
	irqs = sys->irq_count[disk.irq_slot] - irqs;
	if (disk_status == VBLK_S_OK && irqs > 0)
		verdict(st, "device_irq", PASS,
			"device interrupt: a virtio-blk read on %s completed by MSI-X (%llu interrupts)",
			disk.name, (unsigned long long)irqs);
	else
		verdict(st, "device_irq", FAIL,
			"device interrupt: a virtio-blk read on %s: %s, %llu interrupts", disk.name,
			vblk_status_name(disk_status), (unsigned long long)irqs);
}

/* ---- the test --------------------------------------------------------------------- */

static int check_transitions(const struct test_args *args)
{
	struct selftest st = {{0}, NULL};
	struct syscall_figures fig;
	char buf[2048];
	struct json j;

	json_init(&j, buf, sizeof(buf));
	result_begin(&j, args);
	st.j = &j;
	printf("vmbench: the CPU transitions this guest relies on\n");
	json_begin(&j, "checks");
	check_syscall(&st, &fig);
	check_exceptions(&st);
	check_timer(&st);
	check_aps(&st);
	check_device_irq(&st);
	json_end(&j);
	printf("SUMMARY: %u passed, %u failed, %u skipped\n", st.count[PASS], st.count[FAIL],
	       st.count[SKIP]);
	json_begin(&j, "syscall");
	json_str(&j, "path", fig.path);
	json_u64(&j, "calls", fig.calls);
	json_double(&j, "ns_per_call", fig.ns_per_call);
	json_end(&j);
	json_u64(&j, "passed", st.count[PASS]);
	json_u64(&j, "failed", st.count[FAIL]);
	json_u64(&j, "skipped", st.count[SKIP]);
	result_emit(&j);
	return st.count[FAIL] ? STATUS_FAILED : STATUS_OK;
}

static int selftest_run(const struct test_args *args, const char *command)
{
	const char *kind = opt_str(args, "kind");

	(void)command;
	if (!strcmp(kind, "transitions"))
		return check_transitions(args);
	return selftest_crash(args, kind);
}

static const struct option_def selftest_options[] = {
	{"kind", OPT_STRING, "transitions",
	 "transitions: check each CPU transition the guest relies on; the others fail on "
	 "purpose, for test suites",
	 "transitions,user-page-fault,kernel-page-fault,triple-fault,bad-port,bad-mmio,hang,"
	 "status,spin,print"},
	{"status", OPT_INT, "0", "exit status for --kind=status", NULL},
	{"ms", OPT_INT, "200", "milliseconds for --kind=spin", NULL},
	{"bytes", OPT_INT, "65536", "bytes of a known pattern for --kind=print", NULL},
	{"print-with", OPT_STRING, "write",
	 "--kind=print: write: each chunk a system call; stdout: through stdout's buffer",
	 "write,stdout"},
	{"bytes-first", OPT_INT, "0",
	 "bytes of the pattern put in stdout's buffer before a failing kind fails", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(selftest, .name = "selftest",
	   .summary = "check the CPU transitions the guest relies on (system call, exceptions, "
		      "interrupts, IPIs, AP start-up)",
	   .options = selftest_options, .commands = "run", .run = selftest_run);
