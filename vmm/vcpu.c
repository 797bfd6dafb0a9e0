/*
 * vcpu.c - vCPU threads and the exit loop.
 *
 * One host thread per vCPU, named "vcpu N" (visible in top -H and perf),
 * optionally pinned (--pin) and SCHED_FIFO (--rt) from its first
 * instruction (placement.c); each first records what the kernel gave it.
 * Each runs KVM_RUN until the VM stops; every return to userspace is one
 * exit, dispatched by vcpu_handle_exit() to the device table (io.c) and
 * counted with its handling time (stats.c).
 *
 * Stopping: whoever decides the VM is done calls vm_request_stop(); vm_run()
 * (vm.c) then calls vcpu_kick_all(), which sets immediate_exit in every
 * vCPU's kvm_run and sends it SIGUSR1, so a vCPU inside KVM_RUN returns
 * with EINTR and one about to enter it returns at once.
 */
#include "vmm.h"

#include "options.h"
#include "sandbox.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#define KICK_SIGNAL SIGUSR1

/* `io` describes a port-I/O exit (NULL for others): the trace then names
 * the in/out instruction, wherever this KVM left RIP (see io_insn.c). */
static void trace_exit(struct vcpu *vcpu, const char *what, const struct io_access *io)
{
	char insn[96];

	dump_instruction(vcpu, io, insn, sizeof(insn));
	fprintf(stderr, "[vcpu %u] %s  <- %s\n", vcpu->index, what, insn);
}

static void account(struct vcpu *vcpu, unsigned slot, uint64_t t0)
{
	struct exit_counter *c = &vcpu->stats.slot[slot];
	uint64_t ns = now_ns() - t0;

	c->count++;
	c->ns_total += ns;
	if (ns > c->ns_max)
		c->ns_max = ns;
}

static bool stop_with_dump(struct vcpu *vcpu, enum stop_reason reason, int status,
			   const char *why)
{
	dump_vcpu(vcpu, why, stderr);
	vm_request_stop(vcpu->vm, reason, status);
	return false;
}

static bool handle_pio(struct vcpu *vcpu, uint64_t t0)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	int idx = io_lookup(&vm->io, IO_PORT, run->io.port, run->io.size);
	const struct io_region *r;
	bool ok = true;

	if (vm->cfg->trace) {
		struct io_access io = {.port = run->io.port, .size = run->io.size, .out = write};
		char what[96];

		snprintf(what, sizeof(what), "io %s port 0x%x size %u count %u (%s)",
			 write ? "out" : "in", run->io.port, run->io.size, run->io.count,
			 idx >= 0 ? vm->io.regions[idx].name : "no device");
		trace_exit(vcpu, what, &io);
	}
	if (idx < 0) {
		char why[96];

		account(vcpu, STATS_SLOT_IO_UNHANDLED, t0);
		snprintf(why, sizeof(why), "%s of port 0x%x (%u bytes) that no device handles",
			 write ? "write" : "read", run->io.port, run->io.size);
		return stop_with_dump(vcpu, STOP_BAD_ACCESS, VMM_STATUS_BAD_ACCESS, why);
	}
	r = &vm->io.regions[idx];
	/* `rep outs` arrives as one exit carrying `count` items. */
	if (run->io.count > 1 && r->burst_fn) {
		ok = r->burst_fn(vcpu, run->io.port, write, data, run->io.size,
				 run->io.count, r->opaque);
	} else {
		for (uint32_t i = 0; ok && i < run->io.count; i++)
			ok = r->fn(vcpu, run->io.port, write, data + i * run->io.size,
				   run->io.size, r->opaque);
	}
	account(vcpu, STATS_REASONS + (unsigned)idx, t0);
	if (!ok && !atomic_load(&vm->stopping)) {
		char why[96];

		snprintf(why, sizeof(why), "device %s refused a %s of port 0x%x", r->name,
			 write ? "write" : "read", run->io.port);
		return stop_with_dump(vcpu, STOP_BAD_ACCESS, VMM_STATUS_BAD_ACCESS, why);
	}
	return ok;
}

static bool handle_mmio(struct vcpu *vcpu, uint64_t t0)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;
	int idx = io_lookup(&vm->io, IO_MMIO, run->mmio.phys_addr, run->mmio.len);
	const struct io_region *r;

	if (vm->cfg->trace) {
		char what[96];

		snprintf(what, sizeof(what), "mmio %s 0x%llx size %u (%s)",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len,
			 idx >= 0 ? vm->io.regions[idx].name : "no device");
		trace_exit(vcpu, what, NULL);
	}
	if (idx < 0 || run->mmio.len > 8) {
		char why[96];

		account(vcpu, STATS_SLOT_MMIO_UNHANDLED, t0);
		snprintf(why, sizeof(why), "MMIO %s of 0x%llx (%u bytes) that no device handles",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		return stop_with_dump(vcpu, STOP_BAD_ACCESS, VMM_STATUS_BAD_ACCESS, why);
	}
	r = &vm->io.regions[idx];
	bool ok = r->fn(vcpu, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data,
			run->mmio.len, r->opaque);
	account(vcpu, STATS_REASONS + (unsigned)idx, t0);
	if (!ok && !atomic_load(&vm->stopping))
		return stop_with_dump(vcpu, STOP_BAD_ACCESS, VMM_STATUS_BAD_ACCESS,
				      "an MMIO device refused an access");
	return ok;
}

static bool handle_internal_error(struct vcpu *vcpu)
{
	char why[128];
	const char *kind;

	switch (vcpu->run->internal.suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		kind = "emulation failure: KVM could not emulate the instruction at RIP";
		break;
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		kind = "exception while delivering an exception";
		break;
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		kind = "exception while delivering an event";
		break;
	default:
		kind = "internal error";
	}
	snprintf(why, sizeof(why), "KVM internal error %u (%s)",
		 vcpu->run->internal.suberror, kind);
	return stop_with_dump(vcpu, STOP_KVM_ERROR, VMM_STATUS_KVM_ERROR, why);
}

bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint64_t t0 = now_ns();
	unsigned reason = run->exit_reason;
	char why[128];

	/* Writes KVM kept in the coalesced ring came before this exit: they
	 * are handled first, whichever vCPU made them (a UART register write
	 * after them must find them done). */
	coalesced_drain(&vcpu->vm->coalesced, &vcpu->vm->io);
	switch (reason) {
	case KVM_EXIT_IO:
		return handle_pio(vcpu, t0);
	case KVM_EXIT_MMIO:
		return handle_mmio(vcpu, t0);
	case KVM_EXIT_SHUTDOWN:
		account(vcpu, reason, t0);
		return stop_with_dump(vcpu, STOP_TRIPLE_FAULT, VMM_STATUS_TRIPLE_FAULT,
				      "triple fault (the guest took an exception it "
				      "could not handle)");
	case KVM_EXIT_INTERNAL_ERROR:
		account(vcpu, reason, t0);
		return handle_internal_error(vcpu);
	case KVM_EXIT_FAIL_ENTRY:
		account(vcpu, reason, t0);
		snprintf(why, sizeof(why), "VM entry failed (hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return stop_with_dump(vcpu, STOP_KVM_ERROR, VMM_STATUS_KVM_ERROR, why);
	case KVM_EXIT_SYSTEM_EVENT:
		account(vcpu, reason, t0);
		snprintf(why, sizeof(why), "guest requested a system %s without writing an "
			 "exit status",
			 run->system_event.type == KVM_SYSTEM_EVENT_RESET ? "reset" :
			 run->system_event.type == KVM_SYSTEM_EVENT_CRASH ? "crash" : "shutdown");
		vmm_error("%s", why);
		vm_request_stop(vcpu->vm, STOP_SYSTEM_EVENT, VMM_STATUS_NO_EXIT);
		return false;
	case KVM_EXIT_HLT:
		/* Only seen without an in-kernel LAPIC; we always have one. */
		account(vcpu, reason, t0);
		return stop_with_dump(vcpu, STOP_KVM_ERROR, VMM_STATUS_NO_EXIT,
				      "guest halted with no interrupt controller to wake it");
	default:
		account(vcpu, reason < STATS_REASONS ? reason : 0, t0);
		snprintf(why, sizeof(why), "unexpected KVM exit reason %u", reason);
		return stop_with_dump(vcpu, STOP_KVM_ERROR, VMM_STATUS_KVM_ERROR, why);
	}
}

static void kick_handler(int sig)
{
	(void)sig;   /* only here so KVM_RUN returns EINTR */
}

void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t kick;
	char name[16], why[160];

	thread_state_read(&vcpu->state);
	sigemptyset(&kick);
	sigaddset(&kick, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	snprintf(name, sizeof(name), "vcpu %u", vcpu->index);
	if (sandbox_enter(SANDBOX_VCPU, name, why, sizeof(why))) {
		vmm_error("%s", why);
		vm_request_stop(vm, STOP_KVM_ERROR, VMM_STATUS_SETUP);
	}
	/* The guest runs once the main thread is filtered too. */
	sandbox_wait_sealed();

	while (!atomic_load(&vm->stopping)) {
		uint64_t t0 = now_ns();
		int ret = ioctl(vcpu->fd, KVM_RUN, 0);
		int err = errno;

		vcpu->stats.run_ns += now_ns() - t0;
		vcpu->stats.runs++;
		if (ret < 0) {
			if (err == EINTR || err == EAGAIN)
				continue;
			vmm_error("vCPU %u: KVM_RUN failed: %s", vcpu->index, strerror(err));
			vm_request_stop(vm, STOP_KVM_ERROR, VMM_STATUS_KVM_ERROR);
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu_start_all(struct vm *vm, char *errbuf, size_t errlen)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;   /* no SA_RESTART: KVM_RUN must return */
	sigaction(KICK_SIGNAL, &sa, NULL);

	/* Start the APs first: KVM holds them until the BSP sends SIPIs, so
	 * the BSP never waits on a thread that does not exist yet. */
	for (unsigned n = 0; n < vm->nvcpus; n++) {
		unsigned i = (n + 1) % vm->nvcpus;
		struct vcpu *vcpu = &vm->vcpus[i];
		struct cpuset cpu;
		char name[16];
		int err;

		cpuset_clear(&cpu);
		cpuset_add(&cpu, vcpu->host_cpu);
		/* placement_check (vm_build) made sure the host accepts these. */
		err = thread_start_placed(&vcpu->thread, vcpu->host_cpu >= 0 ? &cpu : NULL,
					  vm->cfg->rt_priority, vcpu_thread, vcpu);
		if (err) {
			snprintf(errbuf, errlen, "cannot start the thread of vCPU %u: %s", i,
				 strerror(err));
			return -1;
		}
		vcpu->thread_started = true;
		snprintf(name, sizeof(name), "vcpu %u", i);
		pthread_setname_np(vcpu->thread, name);
	}
	return 0;
}

void vcpu_kick_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (!vcpu->thread_started)
			continue;
		vcpu->run->immediate_exit = 1;
		pthread_kill(vcpu->thread, KICK_SIGNAL);
	}
}
