/*
 * stats.c - per-vCPU exit counters (count, total and worst handling time)
 * and the --stats report, in the spirit of Firecracker's metrics: every
 * exit to userspace is counted under its device or KVM exit reason.
 */
#include "stats.h"

#include "options.h"
#include "vmm.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* /proc/self/status, open from rss_prepare() on (-1 before, or if it
 * could not be opened). */
static int status_fd = -1;

void rss_prepare(void)
{
	if (status_fd < 0)
		status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
}

/* VmHWM, this address space's peak RSS, in KiB; 0 if unknown. */
static uint64_t peak_rss_kib(void)
{
	char buf[4096];
	ssize_t n = status_fd >= 0 ? pread(status_fd, buf, sizeof(buf) - 1, 0) : -1;
	const char *hwm;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	hwm = strstr(buf, "\nVmHWM:");
	return hwm ? strtoull(hwm + 7, NULL, 10) : 0;
}

void rss_measure(const struct vm *vm, struct rss_figures *rss)
{
	struct rusage ru;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* mincore's answer a piece at a time, on the stack: one byte per guest
	 * page in a single buffer was 512 KiB for 2 GiB of RAM, faulted in
	 * right after the peak was read - vmm's true peak, 25% above the
	 * reported one. */
	unsigned char vec[1024];

	/* Not getrusage's ru_maxrss when VmHWM can be had: the kernel carries
	 * ru_maxrss over exec, so it counts the memory of whoever forked vmm
	 * (a Python harness: 10-15 MiB) when that was more than vmm's own. */
	rss->peak_kib = peak_rss_kib();
	if (!rss->peak_kib) {
		getrusage(RUSAGE_SELF, &ru);
		rss->peak_kib = (uint64_t)ru.ru_maxrss;
	}
	rss->guest_kib = 0;
	/* Guest RAM is never given back during a run, so what is resident at
	 * the end is the most the guest ever had. */
	for (size_t at = 0; vm->mem.base && at < vm->mem.size; at += sizeof(vec) * page) {
		size_t len = vm->mem.size - at < sizeof(vec) * page ? vm->mem.size - at :
			     sizeof(vec) * page;

		if (mincore(vm->mem.base + at, len, vec))
			break;
		for (size_t i = 0; i < (len + page - 1) / page; i++)
			rss->guest_kib += (vec[i] & 1) ? page / 1024 : 0;
	}
}

static const char *const reason_names[] = {
	[KVM_EXIT_UNKNOWN] = "unknown",
	[KVM_EXIT_EXCEPTION] = "exception",
	[KVM_EXIT_IO] = "io",
	[KVM_EXIT_HYPERCALL] = "hypercall",
	[KVM_EXIT_DEBUG] = "debug",
	[KVM_EXIT_HLT] = "hlt",
	[KVM_EXIT_MMIO] = "mmio",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq-window",
	[KVM_EXIT_SHUTDOWN] = "shutdown",
	[KVM_EXIT_FAIL_ENTRY] = "fail-entry",
	[KVM_EXIT_INTR] = "intr",
	[KVM_EXIT_SET_TPR] = "set-tpr",
	[KVM_EXIT_TPR_ACCESS] = "tpr-access",
	[KVM_EXIT_NMI] = "nmi",
	[KVM_EXIT_INTERNAL_ERROR] = "internal-error",
	[KVM_EXIT_SYSTEM_EVENT] = "system-event",
};

const char *stats_slot_name(const struct vm *vm, unsigned slot)
{
	if (slot < STATS_REASONS) {
		if (slot < sizeof(reason_names) / sizeof(reason_names[0]) && reason_names[slot])
			return reason_names[slot];
		return "other";
	}
	if (slot == STATS_SLOT_IO_UNHANDLED)
		return "io (no device)";
	if (slot == STATS_SLOT_MMIO_UNHANDLED)
		return "mmio (no device)";
	if (slot - STATS_REASONS < vm->io.count)
		return vm->io.regions[slot - STATS_REASONS].name;
	return "?";
}

static void print_row(FILE *out, const char *vcpu, const char *name,
		      const struct exit_counter *c)
{
	fprintf(out, "  %-6s %-18s %10llu %12.1f %9.2f %9.1f\n", vcpu, name,
		(unsigned long long)c->count, c->ns_total / 1e3,
		c->count ? c->ns_total / 1e3 / (double)c->count : 0.0, c->ns_max / 1e3);
}

static double ms_since_start(const struct vm *vm, uint64_t t)
{
	return t ? (t - vm->timeline.start) / 1e6 : 0.0;
}

void stats_print(const struct vm *vm, FILE *out)
{
	struct exit_counter total[STATS_SLOTS];
	uint64_t run_ns = 0, exits = 0;
	char level[128];

	memset(total, 0, sizeof(total));
	kvm_virt_describe(&vm->kvm_kind, level, sizeof(level));
	fprintf(out, "vmm: %s; nested virtualization for the guest: %s\n", level,
		nested_virt_name(vm->nested));
	fprintf(out, "vmm: exits to userspace on %s KVM (time = handling in vmm, microseconds)\n",
		kvm_kind_name(vm->kvm_kind.kind));
	fprintf(out, "  %-6s %-18s %10s %12s %9s %9s\n", "vcpu", "exit", "count",
		"total_us", "avg_us", "max_us");
	for (unsigned v = 0; v < vm->nvcpus; v++) {
		const struct vcpu_stats *st = &vm->vcpus[v].stats;
		char name[16];

		snprintf(name, sizeof(name), "%u", v);
		run_ns += st->run_ns;
		for (unsigned s = 0; s < STATS_SLOTS; s++) {
			const struct exit_counter *c = &st->slot[s];

			if (!c->count)
				continue;
			print_row(out, name, stats_slot_name(vm, s), c);
			total[s].count += c->count;
			total[s].ns_total += c->ns_total;
			if (c->ns_max > total[s].ns_max)
				total[s].ns_max = c->ns_max;
			exits += c->count;
		}
	}
	for (unsigned s = 0; s < STATS_SLOTS; s++)
		if (total[s].count)
			print_row(out, "all", stats_slot_name(vm, s), &total[s]);
	fprintf(out, "  %llu exits; %.3f ms inside KVM_RUN over %u vCPUs\n",
		(unsigned long long)exits, run_ns / 1e6, vm->nvcpus);
	if (vm->coalesced.ring)
		fprintf(out, "vmm: coalesced I/O ring: on (%u entries); %llu writes replayed "
			"in %llu drains\n", vm->coalesced.max,
			(unsigned long long)vm->coalesced.replayed,
			(unsigned long long)vm->coalesced.drains);
	else
		fprintf(out, "vmm: coalesced I/O ring: off (%s); every such write exits\n",
			vm->coalesced.off_why);
	devices_print_stats(vm, out);   /* disks ... */
	thread_state_header(out);
	for (unsigned v = 0; v < vm->nvcpus; v++) {
		char name[16];

		snprintf(name, sizeof(name), "vcpu %u", v);
		thread_state_row(out, name, &vm->vcpus[v].state);
	}
	for (unsigned i = 0; i < vm->nio_threads; i++)
		thread_state_row(out, vm->io_threads[i]->name, &vm->io_threads[i]->state);
	struct rss_figures rss;
	rss_measure(vm, &rss);
	fprintf(out, "vmm: memory: peak RSS %llu KiB = guest RAM touched %llu KiB + vmm %llu KiB\n",
		(unsigned long long)rss.peak_kib, (unsigned long long)rss.guest_kib,
		(unsigned long long)(rss.peak_kib - rss.guest_kib));
	fprintf(out, "vmm: memory locked (VmLck): %llu KiB; --mlock %s\n",
		(unsigned long long)vm->locked_kib, vm->cfg->mlock ? "on" : "off");
}

void stats_print_timeline(const struct vm *vm, FILE *out)
{
	const struct boot_timeline *t = &vm->timeline;

	/* Who releases the VM, then the timeline: the last line. */
	if (vm->reaper.handed_over)
		fprintf(out, "vmm: the VM is released by the reaper (pid %d) after vmm exits\n",
			(int)vm->reaper.pid);
	else
		fprintf(out, "vmm: the VM was released by vmm itself (%s)\n",
			vm->reaper_off[0] ? vm->reaper_off : "no VM");
	fprintf(out, "vmm: host timeline (ms since start): guest loaded %.3f, "
		"/dev/kvm open %.3f, VM ready %.3f, vCPUs started %.3f, "
		"first output %.3f, stopped %.3f, reports written %.3f, exit %.3f\n",
		ms_since_start(vm, t->guest_loaded), ms_since_start(vm, t->kvm_open),
		ms_since_start(vm, t->vm_ready), ms_since_start(vm, t->vcpus_started),
		ms_since_start(vm, t->first_output), ms_since_start(vm, t->stopped),
		ms_since_start(vm, t->reported), ms_since_start(vm, t->exiting));
}
