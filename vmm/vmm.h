/*
 * vmm.h - the VM, its vCPUs and the device API of the vmbench monitor.
 *
 * Read this file first.  The monitor is a handful of modules around one
 * `struct vm`, each with its own header:
 *
 *   main.c        process entry: parse options, build the VM, run, report
 *   vm.c          build a VM, run it until it stops, tear it down (vmm.h)
 *   vcpu.c        vCPU threads and the exit loop (vcpu_thread) (vmm.h)
 *   device.c      the device table: devices in init order (vmm.h)
 *   error.c       vmm_error and the exit statuses (error.h)
 *   options.c     command line -> struct vmm_config, assembled with the
 *                 devices' own options (options.h)
 *   kvm.c         /dev/kvm, required capabilities, VM and vCPU creation,
 *                 interrupt routing and eventfds (kvm.h)
 *   kvm_kind.c    which kind of KVM this is: hardware, pvm, nested(-tcg)
 *   cpuid.c       the CPUID table the guest sees (kvm.h)
 *   memory.c      guest RAM layout (the 3 GiB..4 GiB hole), checked access
 *                 (memory.h)
 *   loader.c      Multiboot 1 ELF32/ELF64 loader, boot information (boot.h)
 *   acpi.c        RSDP, RSDT, XSDT, MADT (boot.h)
 *   io.c          the port and MMIO handler registry (io.h)
 *   io_insn.c     which in/out instruction made a port-I/O exit (io.h)
 *   coalesced.c   KVM's coalesced I/O ring: writes kept without an exit,
 *                 replayed in order (coalesced.h)
 *   dev_*.c       devices; each registers itself with VMM_DEVICE()
 *   pci.c         PCI bus: config mechanism #1, BARs, capabilities, host
 *                 bridge (pci.h)
 *   virtqueue.c   split virtqueues: checked descriptor-chain walking
 *                 (virtqueue.h)
 *   virtio_pci.c  the modern virtio-pci transport (common/notify/ISR/device
 *                 config, MSI-X table, feature negotiation, status, reset);
 *                 no KVM calls (virtio_pci.h)
 *   virtio_kvm.c  what every virtio device needs from KVM: doorbell
 *                 ioeventfds, MSI routes and irqfds, the I/O thread
 *                 (virtio_kvm.h)
 *   poll_window.c  how long an I/O thread polls its queues (poll_window.h)
 *   dev_virtio_blk.c  virtio-blk disks (--disk) (virtio_blk.h)
 *   dev_pci_testdev.c  QEMU's pci-testdev: port and MMIO registers with and
 *                 without ioeventfds, for exit timing (pci_testdev.h)
 *   dump.c        register and code dumps on a bad exit
 *   disas.c       guest code as text with Capstone, for dump.c; run by
 *                 the reaper (disas.h)
 *   reaper.c      the process that releases the VM after vmm exits and
 *                 disassembles for dumps (reaper.h)
 *   placement.c   host CPUs and SCHED_FIFO of vmm's threads, locked guest
 *                 RAM: --pin, --io-pin, --rt, --mlock (placement.h)
 *   stats.c       per-vCPU exit counters with latency; --stats (stats.h)
 *   report.c      --json output (stats.h)
 *   sandbox.c     seccomp filters per thread kind, no_new_privs, --user
 *                 (sandbox.h)
 *
 * Every address the guest hands us goes through guest_ptr(), which returns
 * NULL unless the whole range lies inside guest RAM.
 */
#ifndef VMM_H
#define VMM_H

#include <getopt.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "boot.h"
#include "coalesced.h"
#include "error.h"
#include "io.h"
#include "kvm.h"
#include "memory.h"
#include "placement.h"
#include "reaper.h"
#include "stats.h"

struct vmm_config;

/* ---- devices: modules that register themselves ----------------------------
 * A device brings everything it needs: its command-line options (merged
 * into vmm's getopt_long table, its usage lines into --help), its set-up
 * and tear-down, and its counters for --stats and --json.  Every hook may
 * be NULL.  Devices are set up in init order (then link order), stopped and
 * torn down in reverse, as kvmtool's util-init.h levels. */
enum vmm_init_level {
	VMM_INIT_CORE,             /* the console and the exit port: first up, last down */
	VMM_INIT_DEV,              /* devices on the buses (virtio-blk ...) */
	VMM_INIT_LATE,             /* what needs every other device in place */
};

struct vmm_device {
	const char *name;
	enum vmm_init_level level;

	/* Command line: long options (ended by a zeroed entry) whose `val`
	 * is the code parse_option gets; `shortopts` in getopt's syntax
	 * ("d:"); `usage`, the device's lines of --help. */
	const struct option *options;
	const char *shortopts;
	const char *usage;
	/* One option of this device; -1 with one line in errbuf. */
	int (*parse_option)(int code, const char *arg, char *errbuf, size_t errlen);
	/* Forgets what parse_option kept (before a parse, and in options_free). */
	void (*free_options)(void);

	/* Called once after guest memory and the VM exist, before vCPUs run. */
	int (*setup)(struct vm *vm, const struct vmm_config *cfg,
		     char *errbuf, size_t errlen);
	/* The vCPUs have stopped: finish in-flight work, flush output, join
	 * threads (counters are final after this). */
	void (*stop)(struct vm *vm);
	/* Releases what setup took (also after a failed or partial setup). */
	void (*teardown)(struct vm *vm);

	/* --stats lines (stderr) and the device's members of the --json
	 * document (each starting with ','). */
	void (*print_stats)(const struct vm *vm, FILE *out);
	void (*write_json)(const struct vm *vm, FILE *out);
};

/* Places a device in the vmm_devices linker section; the device table
 * (device.c) finds it there, so adding a device is adding its files. */
#define VMM_DEVICE(ident, ...)                                                 \
	static const struct vmm_device ident##_device = {__VA_ARGS__};        \
	static const struct vmm_device *const ident##_device_ptr              \
		__attribute__((used, section("vmm_devices"),                    \
			       aligned(sizeof(void *)))) = &ident##_device

/* Every device, in init order (stable by level); *n gets the count. */
const struct vmm_device *const *vmm_devices(unsigned *n);
/* Each device's setup in init order; vm->ndevices_up counts those whose
 * setup ran, the failing one included.  errbuf says what failed. */
int devices_setup(struct vm *vm, char *errbuf, size_t errlen);
/* stop, then teardown, of the devices set up, in reverse init order. */
void devices_stop(struct vm *vm);
void devices_teardown(struct vm *vm);
/* Each device's --stats lines; its --json members. */
void devices_print_stats(const struct vm *vm, FILE *out);
void devices_write_json(const struct vm *vm, FILE *f);

/* ---- the VM and its vCPUs (vm.c, vcpu.c, dump.c) ---------------------------- */
enum stop_reason {
	STOP_NONE = 0,
	STOP_GUEST_EXIT,          /* debug-exit written */
	STOP_TRIPLE_FAULT,
	STOP_KVM_ERROR,
	STOP_BAD_ACCESS,
	STOP_TIMEOUT,
	STOP_SIGNAL,
	STOP_SYSTEM_EVENT,        /* guest asked for reset/shutdown */
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	int host_cpu;             /* --pin's host CPU, or -1 */
	struct thread_state state; /* what the kernel gave the thread (placement.h) */
	struct vcpu_stats stats;
};

/* Host-side milestones (ns since process start), for --stats and --json:
 * start .. stopped are the VM's (first_output: when vmm got the first byte);
 * reporting and reported bracket --stats and --json, exiting is when vmm
 * was done (after the teardown: its cost is exit - reports written). */
struct boot_timeline {
	uint64_t start, guest_loaded, kvm_open, vm_ready, vcpus_started,
		first_output, stopped, reporting, reported, exiting;
};

struct vm {
	const struct vmm_config *cfg;
	int kvm_fd, vm_fd;
	unsigned max_vcpus;
	struct kvm_kind_info kvm_kind;  /* set by kvm_create_vm */
	uint32_t tsc_khz;
	struct kvm_cpuid2 *cpuid;  /* KVM's supported set, fetched once */
	enum nested_virt nested;   /* what --nested gives the guest (cpuid.c) */
	struct guest_memory mem;
	struct boot_entry boot;
	struct io_registry io;
	struct coalesced_ring coalesced;   /* writes KVM kept for us (coalesced.h) */
	unsigned nvcpus;
	struct vcpu *vcpus;
	struct boot_timeline timeline;
	/* Who releases the VM at the end (reaper.h); reaper_off says why vmm
	 * does it itself ("" when the reaper does). */
	struct reaper reaper;
	char reaper_off[256];

	/* Stopping: the first vCPU (or signal) to decide records why; vm_run()
	 * waits on stop_fd, then kicks every vCPU out of KVM_RUN. */
	pthread_mutex_t stop_lock;
	atomic_bool stopping;
	enum stop_reason stop_reason;
	int exit_status;
	int stop_fd;              /* eventfd, written once */

	/* Guest result lines captured from the console, for --json. */
	pthread_mutex_t results_lock;
	char **results;
	unsigned nresults;

	/* PCI and interrupt routing (pci.c, kvm.c). */
	struct pci_bus *pci;
	pthread_mutex_t irq_lock;
	struct kvm_irq_routing *routing;   /* NULL until the first MSI route */
	unsigned next_gsi;

	/* Devices set up so far, in init order (vm_destroy tears them down
	 * in reverse). */
	unsigned ndevices_up;

	/* vmm's threads other than the vCPUs (io_thread_start), for the
	 * reports; each is owned by the device that started it. */
	struct io_thread *io_threads[VMM_MAX_IO_THREADS];
	unsigned nio_threads;

	/* VmLck when the vCPUs start (placement_locked_kib): read then, as
	 * the sandbox lets no thread open /proc at report time. */
	uint64_t locked_kib;

	/* KVM's lane of the set-up (vm_start_kvm): guest RAM mapped, then a
	 * thread opens /dev/kvm and creates the VM and its memory slots while
	 * main goes on; vm_build joins it.  Its error (err, status -1) is
	 * reported where the old sequence would have met it. */
	struct {
		pthread_t thread;
		bool started, map_failed;
		int status;
		char err[512];
	} kvm_lane;
};

/* vm.c: the state every VM starts from (locks, no descriptors), before
 * anything is built: vm_build's first step, and all the device fuzzer
 * (tests/fuzz/fuzz_devices.c) needs before devices_setup() without KVM. */
void vm_init(struct vm *vm, const struct vmm_config *cfg);
/* vm_init, then maps guest RAM and starts KVM's lane of the set-up (see
 * struct vm): as early as the sandbox allows (after
 * sandbox_before_threads' single malloc arena), since on PVM-style KVM the first memory slot
 * sleeps 4-10 ms in an SRCU grace period that the rest can overlap. */
void vm_start_kvm(struct vm *vm, const struct vmm_config *cfg);
/* Build the VM described by cfg (after vm_start_kvm; errbuf says what
 * failed): placement, reaper, guest image, then KVM's lane joined, the
 * devices and the vCPUs. */
int vm_build(struct vm *vm, const struct vmm_config *cfg, char *errbuf, size_t errlen);
/* Runs the vCPUs until the VM stops, then stops the devices (their last
 * output flushed, their threads joined: counters are final). */
int vm_run(struct vm *vm, char *errbuf, size_t errlen);
/* Blocks the signals that end a run (call first in main). */
int vm_block_signals(void);
/* Tears the devices down (reverse init order) and frees the VM. */
void vm_destroy(struct vm *vm);

/* Records the first reason to stop and wakes vm_run(); later calls are
 * ignored, so the first failure is the one reported. */
void vm_request_stop(struct vm *vm, enum stop_reason reason, int status);
/* Appends a line the guest printed after "VMBENCH-RESULT ". */
void vm_add_result(struct vm *vm, const char *json, size_t len);

/* vcpu.c */
void *vcpu_thread(void *arg);
int vcpu_start_all(struct vm *vm, char *errbuf, size_t errlen);
void vcpu_kick_all(struct vm *vm);
/* Handles one KVM exit, after draining the coalesced ring; false when the
 * vCPU must stop. */
bool vcpu_handle_exit(struct vcpu *vcpu);

/* dump.c: exit reason, registers and the code around RIP, to `out`. */
void dump_vcpu(struct vcpu *vcpu, const char *why, FILE *out);
/* Disassembles one instruction of guest code at RIP into buf (for --trace);
 * for a port-I/O exit (io not NULL), the instruction that made it. */
void dump_instruction(struct vcpu *vcpu, const struct io_access *io, char *buf, size_t len);

#endif /* VMM_H */
