/*
 * vm.c - the life of one VM: build it from a configuration, run it until
 * something decides it is over, report, tear down.
 *
 *   vm_build()   guest file -> RAM -> image and boot info -> ACPI ->
 *                /dev/kvm -> VM -> devices (in init order) -> vCPUs
 *   vm_run()     start vCPU threads; wait for a stop request, a signal or
 *                the timeout; stop every vCPU, then every device; return
 *                the exit status
 *   vm_destroy() tear the devices down (reverse init order), free the rest
 */
#include "vmm.h"

#include "input_file.h"
#include "options.h"
#include "sandbox.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

void vm_request_stop(struct vm *vm, enum stop_reason reason, int status)
{
	uint64_t one = 1;
	bool first;

	pthread_mutex_lock(&vm->stop_lock);
	first = vm->stop_reason == STOP_NONE;
	if (first) {
		vm->stop_reason = reason;
		vm->exit_status = status;
		vm->timeline.stopped = now_ns();
	}
	pthread_mutex_unlock(&vm->stop_lock);
	atomic_store(&vm->stopping, true);
	if (first && write(vm->stop_fd, &one, sizeof(one)) < 0)
		vmm_error("cannot signal the main thread: %s", strerror(errno));
}

void vm_add_result(struct vm *vm, const char *json, size_t len)
{
	/* Not strndup: `json` is `len` bytes of the serial line buffer, with
	 * no NUL after them (the rest of the buffer is older output). */
	char *copy = malloc(len + 1);

	if (!copy)
		return;
	memcpy(copy, json, len);
	copy[len] = '\0';
	pthread_mutex_lock(&vm->results_lock);
	char **grown = realloc(vm->results, (vm->nresults + 1) * sizeof(*grown));
	if (grown) {
		vm->results = grown;
		vm->results[vm->nresults++] = copy;
	} else {
		free(copy);
	}
	pthread_mutex_unlock(&vm->results_lock);
}

/* Each vCPU is a file descriptor: lift the soft limit (1024 by default)
 * when the VM needs more, as QEMU does. */
static int ensure_fd_limit(unsigned vcpus, char *errbuf, size_t errlen)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)vcpus + 64;   /* kvm, vm, eventfds, stdio, devices */

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		snprintf(errbuf, errlen,
			 "--smp %u needs %llu open files, above this process's hard limit of %llu "
			 "(raise it with ulimit -Hn or limits.conf)", vcpus,
			 (unsigned long long)need, (unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		snprintf(errbuf, errlen, "cannot raise the open-file limit to %llu: %s",
			 (unsigned long long)need, strerror(errno));
		return -1;
	}
	return 0;
}

void vm_init(struct vm *vm, const struct vmm_config *cfg)
{
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = -1;
	vm->reaper.sock = -1;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->results_lock, NULL);
	pthread_mutex_init(&vm->irq_lock, NULL);
	coalesced_init(&vm->coalesced);
}

/* KVM's lane of the set-up (struct vm): on a PVM-style host the first
 * memory slot sleeps 4-10 ms in an SRCU grace period (not CPU time), which
 * the rest of the set-up and the guest's loading overlap. */
static void *kvm_lane_run(void *arg)
{
	struct vm *vm = arg;
	const struct vmm_config *cfg = vm->cfg;
	char *err = vm->kvm_lane.err;
	size_t errlen = sizeof(vm->kvm_lane.err);

	vm->kvm_lane.status = -1;
	if (kvm_open(&vm->kvm_fd, &vm->max_vcpus, err, errlen))
		return NULL;
	vm->timeline.kvm_open = now_ns();
	if (cfg->vcpus > vm->max_vcpus) {
		snprintf(err, errlen, "--smp %u is more than KVM allows here (%u)",
			 cfg->vcpus, vm->max_vcpus);
		return NULL;
	}
	if (ensure_fd_limit(cfg->vcpus, err, errlen) || kvm_create_vm(vm, err, errlen))
		return NULL;
	vm->timeline.vm_ready = now_ns();
	vm->kvm_lane.status = 0;
	return NULL;
}

void vm_start_kvm(struct vm *vm, const struct vmm_config *cfg)
{
	vm_init(vm, cfg);
	vm->nvcpus = cfg->vcpus;
	memory_layout(cfg->mem_bytes, &vm->mem);
	if (memory_map(&vm->mem, cfg->hugepages, vm->kvm_lane.err, sizeof(vm->kvm_lane.err))) {
		vm->kvm_lane.map_failed = true;
		vm->kvm_lane.status = -1;
		return;
	}
	/* The reaper is forked after this: guest RAM is not its to copy. */
	madvise(vm->mem.base, vm->mem.size, MADV_DONTFORK);
	vm->kvm_lane.started = !pthread_create(&vm->kvm_lane.thread, NULL, kvm_lane_run, vm);
	if (!vm->kvm_lane.started)
		kvm_lane_run(vm);
}

/* Waits for KVM's lane; its error, if any, goes to errbuf (if given). */
static int kvm_lane_join(struct vm *vm, char *errbuf, size_t errlen)
{
	if (vm->kvm_lane.started) {
		pthread_join(vm->kvm_lane.thread, NULL);
		vm->kvm_lane.started = false;
	}
	if (!vm->kvm_lane.status)
		return 0;
	if (errbuf)
		snprintf(errbuf, errlen, "%s", vm->kvm_lane.err);
	return -1;
}

int vm_build(struct vm *vm, const struct vmm_config *cfg, char *errbuf, size_t errlen)
{
	uint8_t *image;
	size_t image_size;
	char why[256];

	/* Everything that can be checked without KVM comes first - the host
	 * CPUs and policy asked for, the file, the memory size, the image - so
	 * those errors are reported the same on a machine without /dev/kvm
	 * (KVM's lane, started earlier, waits to be joined), and before any
	 * vCPU or device thread runs: nothing is half applied. */
	if (placement_check(cfg, errbuf, errlen))
		goto fail;
	/* The reaper is forked while vmm holds nothing worth inheriting: no
	 * disk (and so no image lock); guest RAM is MADV_DONTFORK; it closes
	 * the descriptors KVM's lane may have opened. */
	if (cfg->sync_teardown)
		snprintf(vm->reaper_off, sizeof(vm->reaper_off), "--sync-teardown");
	else if (reaper_start(&vm->reaper, why, sizeof(why)))
		memcpy(vm->reaper_off, why, sizeof(why));
	image = guest_file_read(cfg->guest_path, &image_size, errbuf, errlen);
	if (!image)
		goto fail;
	if (vm->kvm_lane.map_failed) {
		kvm_lane_join(vm, errbuf, errlen);
		goto fail_image;
	}
	if (multiboot_load(&vm->mem, image, image_size, cfg->guest_cmdline, &vm->boot,
			   why, sizeof(why))) {
		snprintf(errbuf, errlen, "cannot boot '%s': %s", cfg->guest_path, why);
		goto fail_image;
	}
	free(image);
	if (acpi_build(guest_ptr(&vm->mem, ACPI_GPA, ACPI_SIZE), ACPI_GPA, ACPI_SIZE,
		       vm->nvcpus) < 0) {
		snprintf(errbuf, errlen, "ACPI tables for %u vCPUs do not fit in the BIOS area",
			 vm->nvcpus);
		goto fail;
	}
	vm->timeline.guest_loaded = now_ns();
	if (kvm_lane_join(vm, errbuf, errlen))
		return -1;
	if (cpuid_nested_setup(vm, errbuf, errlen))
		return -1;
	/* Before the devices' threads and the vCPUs: the guest never takes a
	 * host page fault on its RAM. */
	if (cfg->mlock && placement_lock_memory(&vm->mem, errbuf, errlen))
		return -1;

	vm->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (vm->stop_fd < 0) {
		snprintf(errbuf, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	if (devices_setup(vm, errbuf, errlen))
		return -1;

	vm->vcpus = calloc(vm->nvcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		snprintf(errbuf, errlen, "out of memory for %u vCPUs", vm->nvcpus);
		return -1;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		vm->vcpus[i].index = i;
		vm->vcpus[i].fd = -1;
		vm->vcpus[i].host_cpu = cfg->pin_cpus ? cfg->pin_cpus[i] : -1;
		if (kvm_create_vcpu(vm, &vm->vcpus[i], errbuf, errlen))
			return -1;
	}
	/* --timestamps stamps each line with the time the guest wrote it, and
	 * --trace shows every access the guest makes: with either, every byte
	 * exits as it is written. */
	if (cfg->timestamps)
		vm->coalesced.off_why = "--timestamps: every line is stamped when it is written";
	else if (cfg->trace)
		vm->coalesced.off_why = "--trace: every access is traced as it happens";
	else if (coalesced_start(&vm->coalesced, vm->kvm_fd, vm->vm_fd, vm->vcpus[0].run,
				 vm->vcpus[0].run_size, &vm->io, errbuf, errlen))
		return -1;
	return 0;

fail_image:
	free(image);
fail:
	kvm_lane_join(vm, NULL, 0);
	return -1;
}

/* The signals that end a run.  main() blocks them first of all (with
 * vm_block_signals), so one that arrives during set-up waits on the
 * signalfd vm_run polls and ends the run the orderly way (status 128+N,
 * --stats still printed). */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);   /* not a core dump: vmm's state is the guest's */
}

int vm_block_signals(void)
{
	sigset_t set;

	stop_signals(&set);
	/* vCPU threads inherit the mask; they unblock only their kick signal. */
	sigaddset(&set, SIGUSR1);
	return pthread_sigmask(SIG_BLOCK, &set, NULL) ? -1 : 0;
}

static void wait_for_stop(struct vm *vm, int sig_fd)
{
	uint64_t deadline = vm->cfg->timeout_s > 0 ?
		vm->timeline.start + (uint64_t)(vm->cfg->timeout_s * 1e9) : 0;

	while (!atomic_load(&vm->stopping)) {
		struct pollfd fds[2] = {{vm->stop_fd, POLLIN, 0}, {sig_fd, POLLIN, 0}};
		/* Output a quiet guest left in the coalesced ring comes out within
		 * COALESCED_DRAIN_MS. */
		int timeout_ms = vm->coalesced.ring ? COALESCED_DRAIN_MS : -1;

		if (deadline) {
			uint64_t now = now_ns();

			if (now >= deadline) {
				vmm_error("timeout: guest still running after %g s; stopping it",
					  vm->cfg->timeout_s);
				vm_request_stop(vm, STOP_TIMEOUT, VMM_STATUS_TIMEOUT);
				break;
			}
			uint64_t left_ms = (deadline - now + 999999) / 1000000;

			if (timeout_ms < 0 || left_ms < (uint64_t)timeout_ms)
				timeout_ms = (int)left_ms;
		}
		if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
			break;
		coalesced_drain(&vm->coalesced, &vm->io);
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
				vmm_error("stopping on signal %s", strsignal((int)si.ssi_signo));
				vm_request_stop(vm, STOP_SIGNAL,
						VMM_STATUS_SIGNAL_BASE + (int)si.ssi_signo);
			}
		}
	}
}

int vm_run(struct vm *vm, char *errbuf, size_t errlen)
{
	sigset_t set;
	int sig_fd, ret = 0;

	stop_signals(&set);
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sig_fd < 0) {
		snprintf(errbuf, errlen, "cannot set up signal handling: %s", strerror(errno));
		return -1;
	}
	vm->locked_kib = placement_locked_kib();   /* /proc: before the filter */
	rss_prepare();
	if (vcpu_start_all(vm, errbuf, errlen)) {
		char scratch[160];

		sandbox_seal(scratch, sizeof(scratch));   /* lets started vCPUs end */
		vm_request_stop(vm, STOP_KVM_ERROR, VMM_STATUS_SETUP);
		ret = -1;
	} else if (sandbox_seal(errbuf, errlen)) {
		vm_request_stop(vm, STOP_KVM_ERROR, VMM_STATUS_SETUP);
		ret = -1;
	} else {
		vm->timeline.vcpus_started = now_ns();
		wait_for_stop(vm, sig_fd);
	}
	vcpu_kick_all(vm);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
	close(sig_fd);
	/* What the guest wrote last may still wait in the coalesced ring. */
	coalesced_drain(&vm->coalesced, &vm->io);
	/* Devices are quiet now: let them finish and flush (the last line of
	 * output) before anyone reports their counters. */
	devices_stop(vm);
	return ret;
}

void vm_destroy(struct vm *vm)
{
	devices_teardown(vm);
	for (unsigned i = 0; vm->vcpus && i < vm->nvcpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->vcpus[i].run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	free(vm->vcpus);
	free(vm->cpuid);
	free(vm->routing);
	for (unsigned i = 0; i < vm->nresults; i++)
		free(vm->results[i]);
	free(vm->results);
	bool handed_over = false;

	if (vm->vm_fd >= 0 && vm->reaper.sock >= 0) {
		handed_over = !reaper_hand_over(&vm->reaper, vm->vm_fd);
		if (!handed_over)
			snprintf(vm->reaper_off, sizeof(vm->reaper_off),
				 "the reaper (pid %d) is gone", (int)vm->reaper.pid);
	}
	/* Guest RAM is free when vmm's exit status is out, whoever releases
	 * the rest of the VM.  Once the reaper holds the VM, vmm's exit frees
	 * it (exit_mm comes before the parent is told): munmap here would make
	 * KVM's MMU notifier walk the slot's rmaps page by page, 0.8 ms for
	 * 2 GiB on PVM-style KVM, where exit's notifier release zaps at once. */
	if (!handed_over)
		memory_unmap(&vm->mem);
	/* Our copy goes first, then the socket: the reaper keeps its copy
	 * until it sees the socket's end, so its copy is the last one and the
	 * VM is destroyed there, not here. */
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	vm->vm_fd = -1;
	reaper_stop(&vm->reaper);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
}
