/*
 * vmexit.c - what an exit to the hypervisor costs, operation by
 * operation, by the method of kvm-unit-tests' x86/vmexit.c: run the
 * operation n times between two rdtsc, doubling n from 64 until one pass
 * takes --min-ticks TSC ticks, and report ticks (cycles) and nanoseconds
 * per op.
 *
 *   ring 3 (natively everywhere): cpuid; a hypercall where ring 3's exits;
 *     reads and writes of pci-testdev's BARs (ports under IOPL 3, where
 *     the host honours it); in xAPIC mode the LAPIC (self-IPI, IPI to
 *     another vCPU and back, EOI, the one-shot timer) through its page in
 *     the identity map, ring 3 also waiting for the interrupt: only the
 *     handler runs in ring 0
 *   ring 0 (SYS_EXIT_BENCH, kernel/exitbench.c): hlt, the LAPIC in x2APIC
 *     mode (MSRs), and the rest where ring 3 cannot; each figure includes
 *     the engine's loop, which ring0_loop measures alone (where ring 0 is
 *     emulated it is most of the figure)
 *
 * Why ring 3 waits: where ring 0 is emulated (a PVM-style KVM), an
 * interrupt that ring 0 awaits with `sti; nop` arrives only when the
 * emulator lets go, 16-38 ms late, and one awaited in `hlt` 0.2 ms late;
 * ring 3 runs natively with IF set, and takes it as hardware would.
 *
 * Never a hang: a hypercall is never made where it would not return (a
 * PVM-style KVM), an operation that raises #UD is skipped, and every
 * interrupt waited for has a deadline (EXIT_BENCH_WAIT_S).  What the host
 * is comes from vmm's CPUID leaf 0x40000100 when it is there, else from
 * the hypervisor signature and the ratio of one empty loop's time in ring
 * 0 and ring 3 (a ratio above RING0_EMULATED_RATIO: ring 0 is emulated),
 * which does not depend on the machine's speed.
 *
 * pci-testdev (drivers/pci_testdev.h) also says who handled each write:
 * after n writes the device model counted n (user space) or 0 (an
 * in-kernel ioeventfd).
 */
#include "user.h"
#include "apic.h"
#include "boot.h"
#include "pci_testdev.h"

#define DEFAULT_MIN_TICKS "1073741824"   /* 2^30, as kvm-unit-tests */
#define FIRST_ITERATIONS 64             /* as kvm-unit-tests: one slow op is not a pass */
#define MAX_ITERATIONS (1ULL << 32)
/* 64x kvm-unit-tests' 2^30: a pass of half a minute at 2 GHz.  More would
 * keep an op with a slow exit (tens of us on PVM) running for hours. */
#define MAX_MIN_TICKS (1ULL << 36)
#define RATIO_LOOPS 4096
#define RING0_EMULATED_RATIO 100.0   /* PVM: ~6000; TCG ~1.2; hardware ~1 */
#define RATIO_ROUNDS 9
#define SPINNER_STACK 8192
#define SPINNER_START_S 60
#define HLT_PROBE_IPIS 16
#define VMM_RING0_EMULATED 1u
#define VMM_VMCALL_HANGS 2u
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define VEC_UD 6
#define VEC_PF 14
#define NO_WAIT (-1)
#define X2APIC_RING0 "x2APIC mode: the LAPIC is MSRs, ring 0 only"
#define NO_DEVICE "no pci-testdev (QEMU: -device pci-testdev)"

enum op_id {
	OP_RING0_LOOP, OP_CPUID, OP_HYPERCALL,
	OP_PIO_READ, OP_PIO_WRITE, OP_PIO_WRITE_IOEVENTFD,
	OP_MMIO_READ, OP_MMIO_WRITE, OP_MMIO_WRITE_IOEVENTFD,
	OP_SELF_IPI, OP_IPI, OP_IPI_HALTED, OP_EOI, OP_TIMER, OP_HLT,
	OPS
};

/* The harness keys on these names. */
static const char *const op_names[OPS] = {
	"ring0_loop", "cpuid", "hypercall",
	"pio_read", "pio_write", "pio_write_ioeventfd",
	"mmio_read", "mmio_write", "mmio_write_ioeventfd",
	"self_ipi", "ipi", "ipi_halted", "eoi", "timer", "hlt",
};

/* vmm's kinds of KVM, by the number in leaf 0x40000101's EAX. */
static const char *const vmm_kinds[] = {"unknown", "hardware", "pvm", "nested-tcg", "nested"};

struct op_result {
	bool wanted, measured;
	int ring;                     /* the ring that made the access */
	int wait;                     /* the ring that waited for the interrupt, or NO_WAIT */
	uint64_t iterations, ticks, late;
	const char *handled;          /* pci-testdev writes: "user", "kernel", "mixed" */
	const char *mode;             /* timer: "tsc-deadline" or "one-shot" */
	char note[112];
	char skipped[112];            /* why it was not measured */
};

struct host {
	const char *kind, *source;
	char signature[13];
	bool ring0_emulated, vmcall_hangs;
	double ring0_ratio;           /* the empty loop: ring 0's time / ring 3's */
};

/* Ring 3's hold on the LAPIC (EXIT_BENCH_RING3_BEGIN's answer). */
struct lapic3 {
	enum exit_bench_op op;
	uintptr_t regs;               /* the xAPIC page */
	volatile const uint64_t *hits;  /* this CPU's VEC_EXIT_BENCH interrupts so far */
	uint32_t dest;                /* ipi: the APIC ID pinged */
};

struct vmexit {
	uint64_t min_ticks;
	struct host host;
	bool lapic3_ok;               /* ring 3 reaches the xAPIC page (probe_lapic3) */
	char lapic3_why[96];          /* else why not */
	struct lapic3 lapic3;
	bool amd;                     /* vmmcall, not vmcall */
	struct testdev dev;
	bool have_dev;
	char dev_why[112];
	/* What the current pass does. */
	struct exit_bench rq;         /* ring 0 */
	enum testdev_space space;     /* pci-testdev */
	enum testdev_test test;
	bool write;
	unsigned offset;
	uint8_t data;
	struct op_result op[OPS];
};

typedef long (*pass_fn)(struct vmexit *vx, struct op_result *r, uint64_t n, uint64_t *ticks);

static void skip(struct op_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(struct op_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void skip(struct op_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->skipped, sizeof(r->skipped), fmt, ap);
	va_end(ap);
}

/* Appends to the op's note, "; " between parts. */
static void add_note(struct op_result *r, const char *fmt, ...)
{
	size_t len = strlen(r->note);
	va_list ap;

	if (len && len + 2 < sizeof(r->note)) {
		memcpy(r->note + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->note + len, sizeof(r->note) - len, fmt, ap);
	va_end(ap);
}

/* kvm-unit-tests' loop: n = 64, 128 ... until one pass takes min_ticks. */
static long measure(struct vmexit *vx, struct op_result *r, pass_fn pass)
{
	uint64_t n = FIRST_ITERATIONS, ticks;
	long err;

	for (;;) {
		if ((err = pass(vx, r, n, &ticks)) < 0)
			return err;
		if (ticks >= vx->min_ticks || n >= MAX_ITERATIONS)
			break;
		n *= 2;
	}
	r->iterations = n;
	r->ticks = ticks;
	r->measured = true;
	return 0;
}

static const char *ring0_error(long err)
{
	_Static_assert(EXIT_BENCH_WAIT_S == 10, "the message below says 10 s");
	if (err == -SYS_ERR_AGAIN)
		return "an interrupt it waited for did not come within 10 s";
	if (err == -SYS_ERR_BUSY)
		return "the scheduler is using the LAPIC timer on this vCPU";
	return "the kernel refused the request";
}

static long pass_ring0(struct vmexit *vx, struct op_result *r, uint64_t n, uint64_t *ticks)
{
	struct exit_bench rq = vx->rq;
	long err;

	rq.iterations = n;
	if ((err = sys_exit_bench(&rq)) < 0)
		return err;
	*ticks = rq.ticks;
	r->late = rq.late;
	return 0;
}

/* Measures vx->rq in ring 0, or says why not. */
static void measure_ring0(struct vmexit *vx, struct op_result *r)
{
	long err;

	r->ring = 0;
	if ((err = measure(vx, r, pass_ring0)) < 0)
		skip(r, "%s", ring0_error(err));
}

/* ---- what the host is ------------------------------------------------------- */

/* The empty loop's best time in ring 0 over its best time in ring 3, the
 * two measured in turn RATIO_ROUNDS times: the minimum drops a round that
 * was preempted or paid for translation (TCG), so only a ring 0 that is
 * slow every time (emulated: thousands of times slower) passes
 * RING0_EMULATED_RATIO. */
static double ring0_ratio(void)
{
	struct exit_bench rq = {.op = EXIT_BENCH_LOOP, .iterations = RATIO_LOOPS};
	uint64_t best3 = ~0ULL, best0 = ~0ULL, t;

	for (unsigned i = 0; i < RATIO_ROUNDS; i++) {
		t = rdtsc();
		empty_loop(RATIO_LOOPS);
		t = rdtsc() - t;
		best3 = t < best3 ? t : best3;
		if (sys_exit_bench(&rq) == 0 && rq.ticks < best0)
			best0 = rq.ticks;
	}
	return (double)best0 / (double)(best3 ? best3 : 1);
}

static void detect_host(struct vmexit *vx)
{
	struct host *h = &vx->host;
	struct cpu_identity id;
	uint32_t r[4];
	bool measured_emulated;

	cpu_identify(&id);
	strlcpy(h->signature, id.hypervisor, sizeof(h->signature));
	vx->amd = !strcmp(id.vendor, "AuthenticAMD") || !strcmp(id.vendor, "HygonGenuine");
	h->ring0_ratio = ring0_ratio();
	measured_emulated = h->ring0_ratio > RING0_EMULATED_RATIO;
	if (id.hypervisor[0] && vmm_cpuid_leaf(r)) {
		h->source = "vmm-cpuid";
		h->kind = r[0] < ARRAY_SIZE(vmm_kinds) ? vmm_kinds[r[0]] : "unknown";
		h->ring0_emulated = r[1] & VMM_RING0_EMULATED;
		h->vmcall_hangs = r[1] & VMM_VMCALL_HANGS;
	} else {
		/* A PVM-style KVM also shows in how system calls arrive: it
		 * raises #UD for int $0x80 from ring 3 (docs/guest.md). */
		bool ud = sys->syscalls[SYSCALL_VIA_UD] > 0;

		h->source = "measured";
		h->ring0_emulated = measured_emulated;
		if (!id.hypervisor[0])
			h->kind = "bare-metal";
		else if (!strcmp(id.hypervisor, "TCGTCGTCGTCG"))
			h->kind = "tcg";
		else if (!strcmp(id.hypervisor, "KVMKVMKVM"))
			h->kind = measured_emulated || ud ? "pvm" : "kvm";
		else
			h->kind = "unknown";
		h->vmcall_hangs = !strcmp(h->kind, "pvm");
	}
	/* Whatever the leaf says, a ring 0 this slow is emulated: no vmcall. */
	h->vmcall_hangs |= h->ring0_emulated || measured_emulated;
}

/* ---- ring 3: cpuid and hypercalls ---------------------------------------------- */

static long pass_cpuid(struct vmexit *vx, struct op_result *r, uint64_t n, uint64_t *ticks)
{
	uint32_t regs[4];
	uint64_t t0 = rdtsc();

	(void)vx;
	(void)r;
	for (uint64_t i = 0; i < n; i++)
		cpuid(0, 0, regs);
	*ticks = rdtsc() - t0;
	return 0;
}

/* RAX = 0; KVM answers a ring-3 hypercall with -KVM_EPERM, after the exit. */
static long pass_hypercall3(struct vmexit *vx, struct op_result *r, uint64_t n, uint64_t *ticks)
{
	uint64_t t0 = rdtsc(), a;

	(void)r;
	if (vx->amd) {
		for (uint64_t i = 0; i < n; i++) {
			a = 0;
			__asm__ volatile("vmmcall" : "+a"(a) : : "rbx", "rcx", "rdx", "rsi", "memory");
		}
	} else {
		for (uint64_t i = 0; i < n; i++) {
			a = 0;
			__asm__ volatile("vmcall" : "+a"(a) : : "rbx", "rcx", "rdx", "rsi", "memory");
		}
	}
	*ticks = rdtsc() - t0;
	return 0;
}

static void run_hypercall(struct vmexit *vx, struct op_result *r)
{
	const char *insn = vx->amd ? "vmmcall" : "vmcall";
	const struct host *h = &vx->host;
	bool kvm = !strcmp(h->source, "vmm-cpuid") || !strcmp(h->signature, "KVMKVMKVM");
	struct caught c;

	if (h->vmcall_hangs) {
		skip(r, "PVM-style host: a ring-0 %s never returns (ring 3 untested)", insn);
		return;
	}
	if (vx->amd)
		TRY_INSN(&c, VEC_UD, "vmmcall");
	else
		TRY_INSN(&c, VEC_UD, "vmcall");
	if (c.vector == (uint64_t)-1) {
		sys_expect_exception(32, 0);     /* it exited and came back: disarm */
		r->ring = 3;
		measure(vx, r, pass_hypercall3);
		return;
	}
	/* #UD in ring 3.  Only a KVM is known to answer ring 0's safely. */
	if (!kvm) {
		skip(r, "%s raised #UD in ring 3: no hypervisor answers it (%s)", insn,
		     h->signature[0] ? h->signature : "bare metal");
		return;
	}
	vx->rq = (struct exit_bench){.op = EXIT_BENCH_HYPERCALL, .arg = vx->amd, .iterations = 1};
	if (sys_exit_bench(&vx->rq) < 0 || vx->rq.fault) {
		skip(r, "%s raised #UD in ring 3 and an exception in ring 0", insn);
		return;
	}
	measure_ring0(vx, r);
}

/* ---- pci-testdev ------------------------------------------------------------------ */

/* One pass: the test started again (count 0), then n reads or writes. */
static long pass_testdev(struct vmexit *vx, struct op_result *r, uint64_t n, uint64_t *ticks)
{
	const struct testdev *d = &vx->dev;
	const uint8_t v = vx->data;
	uint64_t t0;

	testdev_write(d, vx->space, 0, (uint8_t)vx->test);
	if (r->ring == 0) {
		vx->rq = (struct exit_bench){
			.op = vx->write ? EXIT_BENCH_PIO_WRITE : EXIT_BENCH_PIO_READ, .width = 1,
			.arg = d->port + vx->offset, .data = v,
		};
		return pass_ring0(vx, r, n, ticks);
	}
	volatile uint8_t *p = d->mmio + vx->offset;
	uint16_t port = (uint16_t)(d->port + vx->offset);

	t0 = rdtsc();
	if (vx->space == TESTDEV_MMIO && vx->write)
		for (uint64_t i = 0; i < n; i++)
			*p = v;
	else if (vx->space == TESTDEV_MMIO)
		for (uint64_t i = 0; i < n; i++)
			(void)*p;
	else if (vx->write)
		for (uint64_t i = 0; i < n; i++)
			testdev_outb(port, v);
	else
		for (uint64_t i = 0; i < n; i++)
			(void)testdev_inb(port);
	*ticks = rdtsc() - t0;
	return 0;
}

/* Who handled the last pass's writes, from the device model's count. */
static void note_handler(struct vmexit *vx, struct op_result *r, uint32_t count)
{
	if (count == (uint32_t)r->iterations) {
		r->handled = "user";
	} else if (count == 0 && !strcmp(vx->host.kind, "tcg")) {
		/* TCG has no kernel: QEMU matches the ioeventfd itself and
		 * signals it, so the device model never counts the write. */
		r->handled = "user";
		snprintf(r->note, sizeof(r->note), "QEMU signalled the eventfd (TCG, no KVM)");
	} else if (count == 0) {
		r->handled = "kernel";
	} else {
		r->handled = "mixed";
		snprintf(r->note, sizeof(r->note), "the device counted %u of %llu writes", count,
			 (unsigned long long)r->iterations);
	}
}

static void run_testdev_op(struct vmexit *vx, struct op_result *r, enum testdev_space s,
			   enum testdev_test t, bool write)
{
	const struct testdev *d = &vx->dev;
	struct testdev_header h;
	long err;

	if (!vx->have_dev) {
		skip(r, NO_DEVICE);
		return;
	}
	if ((s == TESTDEV_MMIO && !d->mmio) || (s == TESTDEV_PIO && !d->port)) {
		skip(r, "%s", vx->dev_why);
		return;
	}
	if (!testdev_select(d, s, t, &h)) {
		skip(r, "pci-testdev at %s: no test %u on this BAR (it shows test %u)", d->name, t,
		     h.test);
		return;
	}
	if (write && h.width != 1) {
		skip(r, "pci-testdev at %s: test '%s' writes %u bytes, not 1", d->name, h.name,
		     h.width);
		return;
	}
	vx->space = s;
	vx->test = t;
	vx->write = write;
	vx->offset = write ? h.offset : 0;     /* reads: the header's first byte */
	vx->data = h.data;
	r->ring = s == TESTDEV_PIO && !d->port_ring3 ? 0 : 3;
	if ((err = measure(vx, r, pass_testdev)) < 0) {
		skip(r, "%s", ring0_error(err));
		return;
	}
	if (write)
		note_handler(vx, r, testdev_count(d, s));
}

/* ---- the LAPIC: ring 3 where it reaches it, else ring 0; and hlt ----------------- */

/* Can ring 3 use the xAPIC page?  Not in x2APIC mode (MSRs); else one read
 * of the ID register must not fault and must name this CPU. */
static void probe_lapic3(struct vmexit *vx)
{
	volatile const uint32_t *id = (volatile const uint32_t *)(LAPIC_BASE + LAPIC_ID);
	struct caught c;

	if (sys->x2apic) {
		snprintf(vx->lapic3_why, sizeof(vx->lapic3_why), X2APIC_RING0);
		return;
	}
	TRY_INSN(&c, VEC_PF, "mov (%[p]), %%r8d", [p] "r"(id));
	if (c.vector != (uint64_t)-1) {
		snprintf(vx->lapic3_why, sizeof(vx->lapic3_why),
			 "ring 3's read of the xAPIC page raised #PF");
		return;
	}
	sys_expect_exception(32, 0);     /* nothing raised: disarm */
	if (*id >> ICR_HIGH_DEST_SHIFT != cpu_apic_id()) {
		snprintf(vx->lapic3_why, sizeof(vx->lapic3_why),
			 "the xAPIC page shows APIC ID %u to ring 3, not this CPU's %u",
			 *id >> ICR_HIGH_DEST_SHIFT, cpu_apic_id());
		return;
	}
	vx->lapic3_ok = true;
}

static inline void lapic3_write(const struct lapic3 *l, unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(l->regs + reg) = v;
}

/* Until this CPU's handler has counted `target`: natively, IF set, as ring
 * 3 always runs; false after EXIT_BENCH_WAIT_S seconds. */
static bool wait_hits(const struct lapic3 *l, uint64_t target)
{
	uint64_t deadline = rdtsc() + sys->tsc_hz * EXIT_BENCH_WAIT_S;

	while (*l->hits < target) {
		if (rdtsc() > deadline)
			return false;
		__asm__ volatile("pause" ::: "memory");
	}
	return true;
}

/* n operations that each raise one VEC_EXIT_BENCH interrupt here, which
 * ring 3 waits for.  Inlined with `op` a constant at each call, so each
 * loop holds only its own accesses. */
static inline __attribute__((always_inline)) long
lapic3_loop(const struct lapic3 *l, enum exit_bench_op op, uint64_t n, uint64_t *late)
{
	uint64_t target;

	for (uint64_t i = 0; i < n; i++) {
		target = *l->hits + 1;
		if (op == EXIT_BENCH_SELF_IPI) {
			lapic3_write(l, LAPIC_ICR_LOW, ICR_DEST_SELF | ICR_FIXED | VEC_EXIT_BENCH);
		} else if (op == EXIT_BENCH_TIMER) {
			lapic3_write(l, LAPIC_TIMER_INIT, 1);    /* one-shot: fires after 1 tick */
		} else {
			/* xAPIC's two writes, as every OS makes them; the other
			 * CPU's handler pings back.  A kernel IPI from an
			 * interrupt between them would retarget the ping; any
			 * CPU's handler answers it, so the op still completes
			 * (and the test's threads never outnumber the vCPUs:
			 * no scheduler IPI comes here). */
			lapic3_write(l, LAPIC_ICR_HIGH, l->dest << ICR_HIGH_DEST_SHIFT);
			lapic3_write(l, LAPIC_ICR_LOW, ICR_FIXED | VEC_EXIT_BENCH_PING);
		}
		if (*l->hits < target) {
			*late += op != EXIT_BENCH_IPI;
			if (!wait_hits(l, target))
				return -SYS_ERR_AGAIN;
		}
	}
	return 0;
}

static long pass_lapic3(struct vmexit *vx, struct op_result *r, uint64_t n, uint64_t *ticks)
{
	const struct lapic3 *l = &vx->lapic3;
	uint64_t t0, late = 0;
	long err = 0;

	t0 = rdtsc();
	switch (l->op) {
	case EXIT_BENCH_EOI:
		/* Nothing is in service: the handler EOIs what it takes. */
		for (uint64_t i = 0; i < n; i++)
			lapic3_write(l, LAPIC_EOI, 0);
		break;
	case EXIT_BENCH_SELF_IPI:
		err = lapic3_loop(l, EXIT_BENCH_SELF_IPI, n, &late);
		break;
	case EXIT_BENCH_TIMER:
		err = lapic3_loop(l, EXIT_BENCH_TIMER, n, &late);
		break;
	default:
		err = lapic3_loop(l, EXIT_BENCH_IPI, n, &late);
		break;
	}
	*ticks = rdtsc() - t0;
	r->late = late;
	return err;
}

/* Measures LAPIC op `op` (vx->rq holds its ring-0 form) from ring 3 where
 * ring 3 reaches the xAPIC page, else in ring 0, and says which. */
static void measure_lapic(struct vmexit *vx, struct op_result *r, enum exit_bench_op op)
{
	struct exit_bench rq = {.op = EXIT_BENCH_RING3_BEGIN, .arg = op, .data = vx->rq.arg};
	long err;

	if (op != EXIT_BENCH_EOI)
		r->wait = 0;
	if (!vx->lapic3_ok || (err = sys_exit_bench(&rq)) == -SYS_ERR_NOTSUP) {
		add_note(r, "%s", vx->lapic3_ok ? X2APIC_RING0 : vx->lapic3_why);
		measure_ring0(vx, r);
		return;
	}
	if (err < 0) {
		skip(r, "%s", ring0_error(err));
		return;
	}
	vx->lapic3 = (struct lapic3){
		.op = op, .regs = (uintptr_t)rq.lapic,
		.hits = (volatile const uint64_t *)(uintptr_t)rq.hits, .dest = (uint32_t)rq.dest_apic_id,
	};
	r->ring = 3;
	if (op != EXIT_BENCH_EOI)
		r->wait = 3;
	if ((err = measure(vx, r, pass_lapic3)) < 0)
		skip(r, "%s", err == -SYS_ERR_AGAIN ? "an interrupt ring 3 waited for did not come "
			 "within 10 s" : ring0_error(err));
	rq.op = EXIT_BENCH_RING3_END;
	sys_exit_bench(&rq);
}

static volatile int spinner_state;        /* 0 starting, 1 spinning, 2 told to stop */

/* Keeps CPU 1 busy in ring 3, so the ping of `ipi` finds it running. */
static uint64_t spin(void *arg)
{
	(void)arg;
	spinner_state = 1;
	while (spinner_state != 2)
		__asm__ volatile("" ::: "memory");
	return 0;
}

static void run_ipis(struct vmexit *vx, struct op_result *busy, struct op_result *halted)
{
	uint64_t deadline = rdtsc() + ns_to_tsc(SPINNER_START_S * 1000000000ULL);
	bool started;
	long tid;

	if (sys->cpus_online < 2) {
		skip(busy, "one vCPU (needs --smp 2 or more)");
		skip(halted, "one vCPU (needs --smp 2 or more)");
		return;
	}
	vx->rq = (struct exit_bench){.op = EXIT_BENCH_IPI, .arg = 1};
	if (busy->wanted) {
		spinner_state = 0;
		tid = thread_spawn(1, spin, NULL, SPINNER_STACK);
		while (tid >= 0 && spinner_state != 1 && rdtsc() < deadline)
			__asm__ volatile("pause" ::: "memory");
		started = tid >= 0 && spinner_state == 1;
		if (started) {
			add_note(busy, "to vCPU 1 (running ring 3) and back");
			measure_lapic(vx, busy, EXIT_BENCH_IPI);
		} else {
			skip(busy, "no thread started on vCPU 1 within %d s", SPINNER_START_S);
		}
		/* A thread that never started stops at once if it ever does. */
		spinner_state = 2;
		if (started)
			thread_join(tid);
	}
	if (halted->wanted) {
		add_note(halted, "to vCPU 1 (halted) and back");
		measure_lapic(vx, halted, EXIT_BENCH_IPI);
	}
}

static void run_self_ipi(struct vmexit *vx, struct op_result *r)
{
	vx->rq = (struct exit_bench){.op = EXIT_BENCH_SELF_IPI};
	measure_lapic(vx, r, EXIT_BENCH_SELF_IPI);
	if (r->measured && r->late && r->ring == 0)
		add_note(r, "%llu taken after sti; nop", (unsigned long long)r->late);
}

/* hlt (privileged: ring 0 only) with a self-IPI pending wakes when the IPI
 * is delivered, however late: it hangs only where self-IPIs are lost.  So
 * first, a few must arrive (each wait has its deadline). */
static void run_hlt(struct vmexit *vx, struct op_result *r)
{
	vx->rq = (struct exit_bench){.op = EXIT_BENCH_SELF_IPI, .iterations = HLT_PROBE_IPIS};
	r->wait = 0;
	if (sys_exit_bench(&vx->rq) < 0) {
		skip(r, "self-IPIs did not arrive: a hlt could wait for ever");
		return;
	}
	vx->rq = (struct exit_bench){.op = EXIT_BENCH_HLT};
	measure_ring0(vx, r);
}

/* Ring 3 arms the xAPIC's one-shot timer with one write of its count, an
 * exit as TSC-deadline's wrmsr is, and both deliver the same interrupt;
 * ring 0's wrmsr would add the emulated ring 0 and a system call to every
 * op.  In x2APIC mode ring 0 arms it: TSC deadline where CPUID offers it. */
static void run_timer(struct vmexit *vx, struct op_result *r)
{
	uint32_t regs[4];
	bool deadline;

	cpuid(1, 0, regs);
	deadline = regs[2] & CPUID_1_ECX_TSC_DEADLINE && !vx->lapic3_ok;
	r->mode = deadline ? "tsc-deadline" : "one-shot";
	vx->rq = (struct exit_bench){.op = EXIT_BENCH_TIMER, .arg = deadline};
	measure_lapic(vx, r, EXIT_BENCH_TIMER);
}

/* ---- the report ------------------------------------------------------------------------ */

static double per_op(const struct op_result *r)
{
	return (double)r->ticks / (double)r->iterations;
}

static double ns_per_op(const struct op_result *r)
{
	return per_op(r) * 1e9 / (double)sys->tsc_hz;
}

static void print_table(const struct vmexit *vx)
{
	printf("\n%-22s %4s %4s %12s %12s %12s  %s\n", "op", "ring", "wait", "iterations",
	       "cycles/op", "ns/op", "note");
	for (unsigned i = 0; i < OPS; i++) {
		const struct op_result *r = &vx->op[i];
		char note[200], wait[4] = "-";

		if (!r->wanted)
			continue;
		if (!r->measured) {
			printf("%-22s %4s %4s %12s %12s %12s  skipped: %s\n", op_names[i], "-", "-",
			       "-", "-", "-", r->skipped);
			continue;
		}
		if (r->wait != NO_WAIT)
			snprintf(wait, sizeof(wait), "%d", r->wait);
		snprintf(note, sizeof(note), "%s%s%s%s%s", r->handled ? "handled: " : "",
			 r->handled ? r->handled : "", r->mode ? r->mode : "",
			 (r->handled || r->mode) && r->note[0] ? "; " : "", r->note);
		printf("%-22s %4d %4s %12llu %12.1f %12.1f  %s\n", op_names[i], r->ring, wait,
		       (unsigned long long)r->iterations, per_op(r), ns_per_op(r), note);
	}
	printf("\nring: the ring that made the op's access; wait: the ring that waited for its "
	       "interrupt (the handler always runs in ring 0).\n");
	if (vx->op[OP_RING0_LOOP].measured)
		printf("Ring-0 figures include the engine's loop, %.1f cycles per iteration "
		       "(ring0_loop).\n", per_op(&vx->op[OP_RING0_LOOP]));
}

static void write_result(const struct vmexit *vx, const struct test_args *args)
{
	char buf[6000];
	struct json j;

	json_init(&j, buf, sizeof(buf));
	result_begin(&j, args);
	json_begin(&j, "vmexit");
	json_u64(&j, "min_ticks", vx->min_ticks);
	json_u64(&j, "tsc_khz", sys->tsc_hz / 1000);
	json_begin(&j, "host");
	json_str(&j, "kind", vx->host.kind);
	json_str(&j, "source", vx->host.source);
	json_bool(&j, "ring0_emulated", vx->host.ring0_emulated);
	json_bool(&j, "vmcall_hangs", vx->host.vmcall_hangs);
	json_str(&j, "signature", vx->host.signature);
	json_double(&j, "ring0_loop_ratio", vx->host.ring0_ratio);
	json_end(&j);
	if (vx->have_dev) {
		json_begin(&j, "pci_testdev");
		json_str(&j, "device", vx->dev.name);
		json_bool(&j, "ports_in_ring3", vx->dev.port_ring3);
		json_end(&j);
	}
	json_array_begin(&j, "ops");
	for (unsigned i = 0; i < OPS; i++) {
		const struct op_result *r = &vx->op[i];

		if (!r->wanted)
			continue;
		json_begin(&j, NULL);
		json_str(&j, "name", op_names[i]);
		if (!r->measured) {
			json_str(&j, "skipped", r->skipped);
			json_end(&j);
			continue;
		}
		json_u64(&j, "ring", (uint64_t)r->ring);
		json_u64(&j, "iterations", r->iterations);
		json_double(&j, "cycles", per_op(r));
		json_double(&j, "ns", ns_per_op(r));
		if (r->handled)
			json_str(&j, "handled", r->handled);
		if (r->mode)
			json_str(&j, "mode", r->mode);
		if (r->late)
			json_u64(&j, "late", r->late);
		if (r->wait != NO_WAIT)
			json_u64(&j, "wait", (uint64_t)r->wait);
		if (r->note[0])
			json_str(&j, "note", r->note);
		json_end(&j);
	}
	json_array_end(&j);
	if (vx->op[OP_RING0_LOOP].measured)
		json_double(&j, "ring0_loop_cycles", per_op(&vx->op[OP_RING0_LOOP]));
	json_end(&j);
	result_emit(&j);
}

/* ---- the test ----------------------------------------------------------------------------- */

/* --ops: "all" or a comma list of op names. */
static bool choose_ops(struct vmexit *vx, const char *list)
{
	char name[32];

	if (!strcmp(list, "all")) {
		for (unsigned i = 0; i < OPS; i++)
			vx->op[i].wanted = true;
		return true;
	}
	while (*list) {
		size_t len = strchr(list, ',') ? (size_t)(strchr(list, ',') - list) : strlen(list);
		unsigned i;

		snprintf(name, sizeof(name), "%.*s", (int)len, list);
		for (i = 0; i < OPS && strcmp(name, op_names[i]); i++)
			;
		if (i == OPS) {
			printf("vmbench: unknown op '%s' in --ops (ops: all", name);
			for (i = 0; i < OPS; i++)
				printf(",%s", op_names[i]);
			printf(")\n");
			return false;
		}
		vx->op[i].wanted = true;
		list += len + (list[len] == ',');
	}
	for (unsigned i = 0; i < OPS; i++)
		if (vx->op[i].wanted)
			return true;
	printf("vmbench: --ops names no op\n");
	return false;
}

static int vmexit_run(const struct test_args *args, const char *command)
{
	static struct vmexit vx;
	struct op_result *op = vx.op;

	(void)command;
	memset(&vx, 0, sizeof(vx));
	for (unsigned i = 0; i < OPS; i++)
		op[i].wait = NO_WAIT;
	vx.min_ticks = opt_u64(args, "min-ticks");
	if (vx.min_ticks == 0) {
		printf("vmbench: --min-ticks must be at least 1\n");
		return STATUS_USAGE;
	}
	if (vx.min_ticks > MAX_MIN_TICKS) {
		printf("vmbench: --min-ticks must be at most %llu (2^36)\n", MAX_MIN_TICKS);
		return STATUS_USAGE;
	}
	if (!choose_ops(&vx, opt_str(args, "ops")))
		return STATUS_USAGE;

	detect_host(&vx);
	probe_lapic3(&vx);
	vx.have_dev = testdev_open(&vx.dev, vx.dev_why, sizeof(vx.dev_why)) == 0;
	printf("vmbench: VM exits, kvm-unit-tests' method: n doubled from %d until one pass takes "
	       "%llu TSC ticks (TSC %llu kHz)\n", FIRST_ITERATIONS, (unsigned long long)vx.min_ticks,
	       (unsigned long long)(sys->tsc_hz / 1000));
	printf("host: %s (%s; signature '%s', the empty loop %.1fx slower in ring 0 than in "
	       "ring 3: ring 0 %s)\n", vx.host.kind, vx.host.source, vx.host.signature,
	       vx.host.ring0_ratio, vx.host.ring0_emulated ? "emulated" : "native");
	if (vx.have_dev)
		printf("pci-testdev: %s, I/O BAR 0x%x, memory BAR 0x%llx; port I/O in %s\n",
		       vx.dev.name, vx.dev.port, (unsigned long long)(uintptr_t)vx.dev.mmio,
		       vx.dev.port ? vx.dev.port_note : "-");
	else
		printf("pci-testdev: none (QEMU: -device pci-testdev)\n");
	if (vx.lapic3_ok)
		printf("LAPIC: xAPIC page at 0x%lx: ring 3 makes the accesses and waits, the "
		       "handler runs in ring 0\n", LAPIC_BASE);
	else
		printf("LAPIC: ring 0 makes the accesses and waits (%s)\n", vx.lapic3_why);

	if (op[OP_RING0_LOOP].wanted) {
		vx.rq = (struct exit_bench){.op = EXIT_BENCH_LOOP};
		measure_ring0(&vx, &op[OP_RING0_LOOP]);
	}
	if (op[OP_CPUID].wanted) {
		op[OP_CPUID].ring = 3;
		measure(&vx, &op[OP_CPUID], pass_cpuid);
	}
	if (op[OP_HYPERCALL].wanted)
		run_hypercall(&vx, &op[OP_HYPERCALL]);
	static const struct {
		enum op_id id;
		enum testdev_space space;
		enum testdev_test test;
		bool write;
	} pci_ops[] = {
		{OP_PIO_READ, TESTDEV_PIO, TESTDEV_NO_EVENTFD, false},
		{OP_PIO_WRITE, TESTDEV_PIO, TESTDEV_NO_EVENTFD, true},
		{OP_PIO_WRITE_IOEVENTFD, TESTDEV_PIO, TESTDEV_DATAMATCH_EVENTFD, true},
		{OP_MMIO_READ, TESTDEV_MMIO, TESTDEV_NO_EVENTFD, false},
		{OP_MMIO_WRITE, TESTDEV_MMIO, TESTDEV_NO_EVENTFD, true},
		{OP_MMIO_WRITE_IOEVENTFD, TESTDEV_MMIO, TESTDEV_DATAMATCH_EVENTFD, true},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(pci_ops); i++)
		if (op[pci_ops[i].id].wanted)
			run_testdev_op(&vx, &op[pci_ops[i].id], pci_ops[i].space, pci_ops[i].test,
				       pci_ops[i].write);
	if (op[OP_SELF_IPI].wanted)
		run_self_ipi(&vx, &op[OP_SELF_IPI]);
	if (op[OP_IPI].wanted || op[OP_IPI_HALTED].wanted)
		run_ipis(&vx, &op[OP_IPI], &op[OP_IPI_HALTED]);
	if (op[OP_EOI].wanted) {
		vx.rq = (struct exit_bench){.op = EXIT_BENCH_EOI};
		measure_lapic(&vx, &op[OP_EOI], EXIT_BENCH_EOI);
	}
	if (op[OP_TIMER].wanted)
		run_timer(&vx, &op[OP_TIMER]);
	if (op[OP_HLT].wanted)
		run_hlt(&vx, &op[OP_HLT]);

	print_table(&vx);
	write_result(&vx, args);
	if (vx.have_dev)
		testdev_close(&vx.dev);
	return STATUS_OK;
}

static const struct option_def vmexit_options[] = {
	{"min-ticks", OPT_INT, DEFAULT_MIN_TICKS,
	 "TSC ticks one pass of an op must take; n doubles until it does", NULL},
	{"ops", OPT_STRING, "all", "comma list of ops to measure (see the table), or all", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(vmexit, .name = "vmexit",
	   .summary = "what a VM exit costs, op by op (cpuid, hypercall, port/MMIO I/O to "
		      "pci-testdev, IPIs, EOI, timer, hlt), as kvm-unit-tests' vmexit",
	   .options = vmexit_options, .commands = "run", .run = vmexit_run);
