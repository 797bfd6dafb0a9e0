/*
 * placement.c - where and how vmm's threads run, and locked guest RAM
 * (see placement.h): --pin, --io-pin, --rt, --mlock.
 *
 * Why guest RAM and not mlockall(MCL_CURRENT | MCL_FUTURE): what a
 * guest's latency depends on is that its own pages never fault on the
 * host; mlockall would also lock and fault in every thread stack (8 MiB per
 * vCPU, for up to 4096 vCPUs), every later mapping, and the sanitizer
 * build's terabytes of shadow, and would turn any allocation after it into
 * a way to fail in the middle of a run.  KVM's own structures and the
 * kvm_run pages are kernel memory, never paged out anyway.
 */
#include "placement.h"

#include "error.h"
#include "options.h"
#include "sandbox.h"
#include "stats.h"
#include "vmm.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- checking the command line against this host ------------------------------ */

/* A CPU list for a message (len > 4): cut with "..." where it does not fit. */
static void short_list(const struct cpuset *s, char *buf, size_t len)
{
	if (cpulist_format(s, buf, len - 3) >= len - 3)
		strcat(buf, "...");
}

int placement_check_cpus(const char *option, const int *cpus, unsigned n,
			 const struct cpuset *online, const struct cpuset *allowed,
			 char *errbuf, size_t errlen)
{
	char list[128];

	for (unsigned i = 0; i < n; i++) {
		if (!cpuset_has(online, cpus[i])) {
			short_list(online, list, sizeof(list));
			snprintf(errbuf, errlen, "%s: host CPU %d does not exist (this host has "
				 "CPUs %s)", option, cpus[i], list);
			return -1;
		}
		if (!cpuset_has(allowed, cpus[i])) {
			short_list(allowed, list, sizeof(list));
			snprintf(errbuf, errlen, "%s: host CPU %d is not allowed for this process "
				 "(allowed: %s)", option, cpus[i], list);
			return -1;
		}
	}
	return 0;
}

/* The CPUs of a kernel CPU-list file; false if it cannot be read. */
static bool read_cpulist_file(const char *path, struct cpuset *s)
{
	char *text = malloc(CPULIST_TEXT_MAX);
	int *cpus = malloc((CPULIST_MAX_CPU + 1) * sizeof(int));
	FILE *f = fopen(path, "r");
	bool ok = false;
	char why[256];
	int n;

	cpuset_clear(s);
	if (f && text && cpus && fgets(text, CPULIST_TEXT_MAX, f)) {
		text[strcspn(text, "\n")] = '\0';
		n = cpulist_parse(text, cpus, CPULIST_MAX_CPU + 1, why, sizeof(why));
		for (int i = 0; i < n; i++)
			cpuset_add(s, cpus[i]);
		ok = n > 0;
	}
	if (f)
		fclose(f);
	free(text);
	free(cpus);
	return ok;
}

int placement_host_cpus(struct cpuset *online, struct cpuset *allowed,
			char *errbuf, size_t errlen)
{
	cpuset_clear(allowed);
	if (sched_getaffinity(0, sizeof(allowed->bits), (cpu_set_t *)allowed->bits)) {
		snprintf(errbuf, errlen, "cannot read this process's CPU affinity: %s",
			 strerror(errno));
		return -1;
	}
	/* Without /sys (some containers), the CPUs this process may use are
	 * the ones it can know exist. */
	if (!read_cpulist_file("/sys/devices/system/cpu/online", online))
		*online = *allowed;
	return 0;
}

static void *probe_thread(void *arg)
{
	return arg;
}

static int check_rt(int prio, char *errbuf, size_t errlen)
{
	pthread_t t;
	int err = thread_start_placed(&t, NULL, prio, probe_thread, NULL);

	if (!err) {
		pthread_join(t, NULL);
		return 0;
	}
	if (err == EPERM)
		snprintf(errbuf, errlen, "--rt: the host refuses SCHED_FIFO priority %d: %s "
			 "(vmm needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO of at least %d, in "
			 "a cgroup with real-time runtime)", prio, strerror(err), prio);
	else
		snprintf(errbuf, errlen, "--rt: cannot start a SCHED_FIFO thread at priority "
			 "%d: %s", prio, strerror(err));
	return -1;
}

int placement_check(const struct vmm_config *cfg, char *errbuf, size_t errlen)
{
	struct cpuset online, allowed;

	if (cfg->pin_cpus || cfg->io_pin_cpus) {
		if (placement_host_cpus(&online, &allowed, errbuf, errlen))
			return -1;
		if (placement_check_cpus("--pin", cfg->pin_cpus, cfg->pin_count, &online,
					 &allowed, errbuf, errlen) ||
		    placement_check_cpus("--io-pin", cfg->io_pin_cpus, cfg->io_pin_count,
					 &online, &allowed, errbuf, errlen))
			return -1;
	}
	if (cfg->rt_priority > 0 && check_rt(cfg->rt_priority, errbuf, errlen))
		return -1;
	return 0;
}

/* ---- threads ------------------------------------------------------------------- */

void thread_state_read(struct thread_state *st)
{
	struct sched_param sp = {0};
	int policy;

	memset(st, 0, sizeof(*st));
	st->tid = (int)gettid();
	if (sched_getaffinity(0, sizeof(st->affinity.bits), (cpu_set_t *)st->affinity.bits))
		cpuset_clear(&st->affinity);
	policy = sched_getscheduler(0);
	st->policy = policy < 0 ? -1 : policy & ~SCHED_RESET_ON_FORK;
	if (sched_getparam(0, &sp) == 0)
		st->rt_priority = sp.sched_priority;
	st->known = true;
}

int thread_state_host_cpu(const struct thread_state *st)
{
	return st->known && cpuset_count(&st->affinity) == 1 ? cpuset_first(&st->affinity) : -1;
}

int thread_start_placed(pthread_t *thread, const struct cpuset *cpus, int rt_priority,
			void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);

	if (err)
		return err;
	/* glibc applies both before the new thread runs its first instruction
	 * (and pthread_create fails, the thread never running, if the kernel
	 * refuses them). */
	if (cpus)
		err = pthread_attr_setaffinity_np(&attr, sizeof(cpus->bits),
						  (const cpu_set_t *)cpus->bits);
	if (!err && rt_priority > 0) {
		struct sched_param sp = {.sched_priority = rt_priority};

		err = pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		if (!err)
			err = pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
		if (!err)
			err = pthread_attr_setschedparam(&attr, &sp);
	}
	if (!err)
		err = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return err;
}

static void *io_thread_main(void *arg)
{
	struct io_thread *t = arg;
	char err[160];

	pthread_setname_np(pthread_self(), t->name);
	thread_state_read(&t->state);
	if (sandbox_enter(SANDBOX_IO, t->name, err, sizeof(err))) {
		vmm_error("%s", err);
		vm_request_stop(t->vm, STOP_KVM_ERROR, VMM_STATUS_SETUP);
		return NULL;
	}
	return t->fn(t->arg);
}

int io_thread_start(struct vm *vm, struct io_thread *t, const char *name,
		    void *(*fn)(void *), void *arg, char *errbuf, size_t errlen)
{
	const struct vmm_config *cfg = vm->cfg;
	struct cpuset cpus;
	int err;

	if (vm->nio_threads == VMM_MAX_IO_THREADS) {
		snprintf(errbuf, errlen, "cannot start I/O thread '%s': vmm has %d already",
			 name, VMM_MAX_IO_THREADS);
		return -1;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fn = fn;
	t->arg = arg;
	t->vm = vm;
	cpuset_clear(&cpus);
	for (unsigned i = 0; cfg->io_pin_cpus && i < cfg->io_pin_count; i++)
		cpuset_add(&cpus, cfg->io_pin_cpus[i]);
	err = thread_start_placed(&t->thread, cfg->io_pin_cpus ? &cpus : NULL, 0,
				  io_thread_main, t);
	if (err) {
		snprintf(errbuf, errlen, "cannot start I/O thread '%s': %s", name, strerror(err));
		return -1;
	}
	t->started = true;
	vm->io_threads[vm->nio_threads++] = t;
	return 0;
}

void io_thread_join(struct io_thread *t)
{
	if (!t->started)
		return;
	pthread_join(t->thread, NULL);
	t->started = false;
}

/* ---- memory -------------------------------------------------------------------- */

/* CAP_IPC_LOCK lifts RLIMIT_MEMLOCK; read from CapEff, without libcap. */
static bool has_cap_ipc_lock(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long caps = 0;
	char line[256];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps >> CAP_IPC_LOCK & 1;
}

int placement_lock_memory(const struct guest_memory *mem, char *errbuf, size_t errlen)
{
	unsigned long long mib = (unsigned long long)(mem->size / MIB);
	struct rlimit rl;
	int err;

	/* syscall(2), not mlock(3): AddressSanitizer replaces mlock() with a
	 * no-op, and the sanitizer build is the one the tests run. */
	if (syscall(SYS_mlock, mem->base, mem->size) == 0)
		return 0;
	err = errno;
	/* A failure can leave part of the range locked: undo it. */
	syscall(SYS_munlock, mem->base, mem->size);
	if ((err == ENOMEM || err == EPERM) && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < mem->size && !has_cap_ipc_lock())
		snprintf(errbuf, errlen, "--mlock: cannot lock %llu MiB of guest RAM: "
			 "RLIMIT_MEMLOCK is %llu KiB (raise it with ulimit -l or limits.conf, or "
			 "give vmm CAP_IPC_LOCK)", mib, (unsigned long long)(rl.rlim_cur / KIB));
	else if (err == ENOMEM || err == EAGAIN)
		snprintf(errbuf, errlen, "--mlock: cannot lock %llu MiB of guest RAM: %s "
			 "(not enough free host RAM)", mib, strerror(err));
	else
		snprintf(errbuf, errlen, "--mlock: cannot lock %llu MiB of guest RAM: %s",
			 mib, strerror(err));
	return -1;
}

uint64_t placement_locked_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long kib = 0;
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- reports ------------------------------------------------------------------- */

static const char *policy_name(int policy)
{
	switch (policy) {
	case SCHED_OTHER: return "SCHED_OTHER";
	case SCHED_FIFO: return "SCHED_FIFO";
	case SCHED_RR: return "SCHED_RR";
	case SCHED_BATCH: return "SCHED_BATCH";
	case SCHED_IDLE: return "SCHED_IDLE";
#ifdef SCHED_DEADLINE
	case SCHED_DEADLINE: return "SCHED_DEADLINE";
#endif
	}
	return "unknown";
}

void thread_state_json(FILE *f, const struct thread_state *st)
{
	static char list[CPULIST_TEXT_MAX];   /* the main thread's alone */

	if (!st->known) {
		fputs("\"host_cpu\":-1,\"affinity\":null,\"policy\":null,\"rt_priority\":null,"
		      "\"tid\":null", f);
		return;
	}
	cpulist_format(&st->affinity, list, sizeof(list));
	fprintf(f, "\"host_cpu\":%d,\"affinity\":", thread_state_host_cpu(st));
	json_put_string(f, list);
	fprintf(f, ",\"policy\":\"%s\",\"rt_priority\":%d,\"tid\":%d", policy_name(st->policy),
		st->rt_priority, st->tid);
}

void thread_state_header(FILE *out)
{
	fprintf(out, "vmm: host threads (CPUs and policy as the kernel ran them)\n");
	fprintf(out, "  %-16s %8s %8s %-12s %-12s %4s\n", "thread", "tid", "host_cpu",
		"affinity", "policy", "prio");
}

void thread_state_row(FILE *out, const char *name, const struct thread_state *st)
{
	static char list[CPULIST_TEXT_MAX];

	if (!st->known) {
		fprintf(out, "  %-16s (never ran)\n", name);
		return;
	}
	cpulist_format(&st->affinity, list, sizeof(list));
	fprintf(out, "  %-16s %8d %8d %-12s %-12s %4d\n", name, st->tid,
		thread_state_host_cpu(st), list, policy_name(st->policy), st->rt_priority);
}
