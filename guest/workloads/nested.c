/*
 * nested.c - what an exit costs one level down: the guest becomes a
 * minimal hypervisor itself (L1, kernel/nested_svm.c, kvm-unit-tests'
 * x86/svm.c method) and runs an L2 guest, with no Linux anywhere.
 *
 * For each op, L2 runs it --nested-exits times, each one an exit that L1
 * handles (cpuid, vmmcall, hlt, a port write), timing its own loop: one
 * iteration is an L2 exit round trip, VMRUN -> intercept -> L1's handler
 * -> VMRUN.  L1 then runs the same op the same number of times itself,
 * where that op exits to the level below (cpuid, the port write; L1's
 * vmmcall and hlt are not comparable: vmexit measures them), and the ratio
 * of the two is the nested-exit cost.  Then L2 runs a workload with no
 * exit to completion (the primes up to --nested-primes, the cpu test's
 * trial division) and L1 checks L2's count against its own.
 *
 * Routes: SVM, where CPUID shows it (vmm --nested on an AMD host whose
 * KVM offers nesting, QEMU -cpu ...,+svm).  VMX is not implemented: a
 * CPU offering only VMX gets "skipped" with that reason, as does one
 * offering neither (vmm without --nested, or a host whose KVM cannot nest:
 * pvm).  A skip is a result too (status 0, "skipped" in the line).
 */
#include "user.h"
#include "primes.h"

#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_80000001_ECX_SVM (1u << 2)
#define SVM_FEATURE_NPT (1u << 0)
#define SVM_FEATURE_NRIPS (1u << 3)

/* The harness keys on these names. */
static const char *const op_names[NESTED_OPS] = {"cpuid", "vmmcall", "hlt", "pio_write",
						 "primes"};

static const char *const vmm_kinds[] = {"unknown", "hardware", "pvm", "nested-tcg", "nested"};

struct host {
	char signature[13];           /* CPUID 0x40000000, "" without the hypervisor bit */
	const char *vmm_kind;         /* vmm's leaf: the kind of KVM below, or NULL */
	uint64_t guest_level;         /* vmm's leaf: hypervisors below this guest, 0 unknown */
	bool svm, vmx;
};

struct op_run {
	bool done;
	long err;
	struct nested_bench rq;
};

static void detect(struct host *h)
{
	struct cpu_identity id;
	uint32_t r[4];

	memset(h, 0, sizeof(*h));
	cpu_identify(&id);
	strlcpy(h->signature, id.hypervisor, sizeof(h->signature));
	if (id.hypervisor[0] && vmm_cpuid_leaf(r)) {
		h->vmm_kind = r[0] < ARRAY_SIZE(vmm_kinds) ? vmm_kinds[r[0]] : "unknown";
		h->guest_level = r[2];
	}
	cpuid(1, 0, r);
	h->vmx = r[2] & CPUID_1_ECX_VMX;
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x8000000a) {
		cpuid(0x80000001, 0, r);
		h->svm = r[2] & CPUID_80000001_ECX_SVM;
	}
}

/* Why the test cannot run here, or NULL when it can (SVM). */
static const char *why_not(const struct host *h, char *buf, size_t len)
{
	if (h->svm)
		return NULL;
	if (h->vmx) {
		snprintf(buf, len, "the CPU offers VMX, and this guest's L1 hypervisor has only "
			 "the SVM route (VMX not implemented)");
		return buf;
	}
	if (h->vmm_kind)
		snprintf(buf, len, "the CPU offers neither SVM nor VMX (vmm: run it with --nested, "
			 "on a host whose KVM offers nesting; this one's is %s)", h->vmm_kind);
	else
		snprintf(buf, len, "the CPU offers neither SVM nor VMX (QEMU: -cpu ...,+svm)");
	return buf;
}

/* The primes up to n, by L1 in ring 3: what L2's count must be. */
static uint64_t count_primes_l1(uint64_t n, uint64_t *ticks)
{
	uint64_t t0 = rdtsc(), count = count_primes_upto(n);

	*ticks = rdtsc() - t0;
	return count;
}

static double ns(uint64_t ticks, uint64_t n)
{
	return (double)ticks * 1e9 / (double)sys->tsc_hz / (double)n;
}

static double cycles(uint64_t ticks, uint64_t n)
{
	return (double)ticks / (double)n;
}

static const char *error_name(long err)
{
	switch (err) {
	case -SYS_ERR_NOTSUP: return "SVM not usable (no SVM in CPUID, or VM_CR.SVMDIS)";
	case -SYS_ERR_BUSY: return "another CPU is running an L2";
	case -SYS_ERR_INVAL: return "bad request";
	case -SYS_ERR_IO: return "L2 exited unexpectedly";
	}
	return "failed";
}

static void write_result(const struct test_args *args, const struct host *h, const char *skipped,
			 const struct op_run *runs, uint64_t exits, uint64_t limit,
			 uint64_t l1_primes, uint64_t l1_primes_ticks, bool l2_completed)
{
	char buf[3000];
	struct json j;

	json_init(&j, buf, sizeof(buf));
	result_begin(&j, args);
	json_begin(&j, "nested");
	json_str(&j, "route", h->svm ? "svm" : h->vmx ? "vmx" : "none");
	json_u64(&j, "tsc_khz", sys->tsc_hz / 1000);
	json_begin(&j, "host");
	json_str(&j, "signature", h->signature);
	json_str(&j, "vmm_kind", h->vmm_kind ? h->vmm_kind : "");
	json_u64(&j, "guest_level", h->guest_level);
	json_end(&j);
	if (skipped) {
		json_str(&j, "skipped", skipped);
		json_end(&j);
		result_emit(&j);
		return;
	}
	json_u64(&j, "svm_features", runs[NESTED_OP_PRIMES].rq.svm_features);
	json_bool(&j, "nrips", runs[NESTED_OP_PRIMES].rq.svm_features & SVM_FEATURE_NRIPS);
	json_u64(&j, "iterations", exits);
	json_array_begin(&j, "ops");
	for (unsigned i = 0; i < NESTED_OP_PRIMES; i++) {
		const struct op_run *o = &runs[i];

		json_begin(&j, NULL);
		json_str(&j, "name", op_names[i]);
		if (o->err) {
			json_str(&j, "error", error_name(o->err));
			json_u64(&j, "exit_code", o->rq.exit_code);
			json_end(&j);
			continue;
		}
		json_u64(&j, "l2_exits", o->rq.exits);
		json_double(&j, "l2_cycles", cycles(o->rq.l2_ticks, exits));
		json_double(&j, "l2_ns", ns(o->rq.l2_ticks, exits));
		if (o->rq.l1_ticks) {
			json_double(&j, "l1_cycles", cycles(o->rq.l1_ticks, exits));
			json_double(&j, "l1_ns", ns(o->rq.l1_ticks, exits));
			json_double(&j, "ratio", (double)o->rq.l2_ticks / (double)o->rq.l1_ticks);
		}
		json_end(&j);
	}
	json_array_end(&j);
	const struct op_run *p = &runs[NESTED_OP_PRIMES];
	json_begin(&j, "l2_workload");
	json_str(&j, "name", "primes");
	json_u64(&j, "limit", limit);
	json_bool(&j, "completed", l2_completed);
	if (!p->err) {
		json_u64(&j, "primes", p->rq.result);
		json_double(&j, "l2_ms", ns(p->rq.l2_ticks, 1) / 1e6);
	} else {
		json_str(&j, "error", error_name(p->err));
		json_u64(&j, "exit_code", p->rq.exit_code);
	}
	json_u64(&j, "expected", l1_primes);
	json_double(&j, "l1_ms", ns(l1_primes_ticks, 1) / 1e6);
	json_end(&j);
	json_end(&j);
	result_emit(&j);
}

static int nested_run(const struct test_args *args, const char *command)
{
	static struct op_run runs[NESTED_OPS];
	uint64_t exits = opt_u64(args, "nested-exits"), limit = opt_u64(args, "nested-primes");
	uint64_t l1_primes, l1_ticks;
	struct host h;
	char why[200];
	const char *skipped;
	bool failed = false, completed;

	(void)command;
	if (exits == 0 || exits > NESTED_MAX_EXITS || limit < 2 || limit > NESTED_MAX_PRIMES) {
		printf("vmbench: --nested-exits must be 1..%llu and --nested-primes 2..%llu\n",
		       NESTED_MAX_EXITS, NESTED_MAX_PRIMES);
		return STATUS_USAGE;
	}
	detect(&h);
	printf("vmbench: nested virtualization: the guest as an L1 hypervisor (route %s), "
	       "its L2 in the same address space\n", h.svm ? "svm" : h.vmx ? "vmx" : "none");
	printf("host: signature '%s'%s%s", h.signature, h.vmm_kind ? ", vmm's KVM " : "",
	       h.vmm_kind ? h.vmm_kind : "");
	if (h.guest_level)
		printf(", this guest at level %llu (hypervisors below it)",
		       (unsigned long long)h.guest_level);
	printf("\n");
	skipped = why_not(&h, why, sizeof(why));
	if (skipped) {
		printf("nested: skipped: %s\n", skipped);
		write_result(args, &h, skipped, runs, exits, limit, 0, 0, false);
		return STATUS_OK;
	}

	memset(runs, 0, sizeof(runs));
	for (unsigned i = 0; i < NESTED_OPS; i++) {
		struct op_run *o = &runs[i];

		o->rq.op = i;
		o->rq.iterations = i == NESTED_OP_PRIMES ? limit : exits;
		o->err = sys_nested_bench(&o->rq);
		o->done = true;
		failed |= o->err != 0;
	}
	l1_primes = count_primes_l1(limit, &l1_ticks);
	completed = !runs[NESTED_OP_PRIMES].err && runs[NESTED_OP_PRIMES].rq.result == l1_primes;

	printf("SVM features (CPUID 0x8000000A EDX) 0x%llx: NRIPS %s, NPT %s (not used: L2 "
	       "shares L1's page tables)\n",
	       (unsigned long long)runs[NESTED_OP_PRIMES].rq.svm_features,
	       runs[NESTED_OP_PRIMES].rq.svm_features & SVM_FEATURE_NRIPS ? "yes" : "no",
	       runs[NESTED_OP_PRIMES].rq.svm_features & SVM_FEATURE_NPT ? "yes" : "no");
	printf("\n%-10s %10s %14s %12s %14s %12s %8s\n", "op", "L2 exits", "L2 cycles/exit",
	       "L2 ns/exit", "L1 cycles/op", "L1 ns/op", "L2/L1");
	for (unsigned i = 0; i < NESTED_OP_PRIMES; i++) {
		const struct op_run *o = &runs[i];

		if (o->err) {
			printf("%-10s failed: %s (exit code 0x%llx, info 0x%llx 0x%llx, rip 0x%llx)\n",
			       op_names[i], error_name(o->err), (unsigned long long)o->rq.exit_code,
			       (unsigned long long)o->rq.exit_info1,
			       (unsigned long long)o->rq.exit_info2,
			       (unsigned long long)o->rq.exit_rip);
			continue;
		}
		if (o->rq.l1_ticks)
			printf("%-10s %10llu %14.1f %12.1f %14.1f %12.1f %8.2f\n", op_names[i],
			       (unsigned long long)o->rq.exits, cycles(o->rq.l2_ticks, exits),
			       ns(o->rq.l2_ticks, exits), cycles(o->rq.l1_ticks, exits),
			       ns(o->rq.l1_ticks, exits),
			       (double)o->rq.l2_ticks / (double)o->rq.l1_ticks);
		else
			printf("%-10s %10llu %14.1f %12.1f %14s %12s %8s\n", op_names[i],
			       (unsigned long long)o->rq.exits, cycles(o->rq.l2_ticks, exits),
			       ns(o->rq.l2_ticks, exits), "-", "-", "-");
	}
	if (runs[NESTED_OP_PRIMES].err)
		printf("L2 workload: primes up to %llu: failed: %s (exit code 0x%llx)\n",
		       (unsigned long long)limit, error_name(runs[NESTED_OP_PRIMES].err),
		       (unsigned long long)runs[NESTED_OP_PRIMES].rq.exit_code);
	else
		printf("L2 workload: primes up to %llu: L2 counted %llu in %.3f ms, L1 %llu in "
		       "%.3f ms: %s\n", (unsigned long long)limit,
		       (unsigned long long)runs[NESTED_OP_PRIMES].rq.result,
		       ns(runs[NESTED_OP_PRIMES].rq.l2_ticks, 1) / 1e6,
		       (unsigned long long)l1_primes, ns(l1_ticks, 1) / 1e6,
		       completed ? "ran to completion" : "WRONG COUNT");
	printf("\nL2 cycles/exit: one L2 exit round trip (VMRUN -> intercept -> L1's handler -> "
	       "VMRUN) as L2 times it; L1 cycles/op: the same op at L1, an exit to the level "
	       "below.\n");
	write_result(args, &h, NULL, runs, exits, limit, l1_primes, l1_ticks, completed);
	return failed || !completed ? STATUS_FAILED : STATUS_OK;
}

static const struct option_def nested_options[] = {
	{"nested-exits", OPT_INT, "2000", "L2 exits per op (each handled by the guest's L1)",
	 NULL},
	{"nested-primes", OPT_INT, "10000", "L2's workload: count the primes up to this", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(nested, .name = "nested",
	   .summary = "the guest as an SVM hypervisor: the cost of an L2 exit it handles "
		      "against the same op at L1 (needs SVM: vmm --nested)",
	   .options = nested_options, .commands = "run", .run = nested_run);
