/*
 * vmm.h - the whole internal API of the vmbench monitor.
 *
 * Read this file first.  The monitor is a handful of modules around one
 * `struct vm`:
 *
 *   main.c        process entry: parse options, build the VM, run, report
 *   vm.c          build a VM, run it until it stops, tear it down
 *   options.c     command line -> struct vmm_config (no side effects)
 *   kvm.c         /dev/kvm, required capabilities, VM and vCPU creation
 *   memory.c      guest RAM layout (the 3 GiB..4 GiB hole), checked access
 *   loader.c      Multiboot 1 ELF32/ELF64 loader, boot information
 *   acpi.c        RSDP, RSDT, XSDT, MADT
 *   cpuid.c       the CPUID table the guest sees
 *   vcpu.c        vCPU threads and the exit loop (vcpu_thread)
 *   io.c          the port and MMIO handler registry and exit dispatch
 *   dev_*.c       devices; each registers itself with VMM_DEVICE()
 *   dump.c        register and code dumps (Capstone) on a bad exit
 *   stats.c       per-vCPU exit counters with latency; --stats report
 *   report.c      --json output
 *
 * Every address the guest hands us goes through guest_ptr(), which returns
 * NULL unless the whole range lies inside guest RAM.
 */
#ifndef VMM_H
#define VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VMM_VERSION "0.1.0"

/* ---- exit statuses of the vmm process ------------------------------------
 * 0..119 are the guest's own status (written to the isa-debug-exit port);
 * the values below are vmm's, so a script can tell who failed.  They follow
 * the conventions of timeout(1) (124), env(1) (125) and the shell (128+sig). */
enum vmm_status {
	VMM_STATUS_GUEST_MAX = 119,   /* larger guest values are clamped here */
	VMM_STATUS_TRIPLE_FAULT = 120,
	VMM_STATUS_KVM_ERROR = 121,   /* internal error, failed entry */
	VMM_STATUS_BAD_ACCESS = 122,  /* port or MMIO access no device handles */
	VMM_STATUS_NO_EXIT = 123,     /* guest halted forever or stopped without status */
	VMM_STATUS_TIMEOUT = 124,
	VMM_STATUS_SETUP = 125,       /* bad option, file, missing KVM ... */
	VMM_STATUS_SIGNAL_BASE = 128, /* 128 + signal number */
};

/* ---- configuration (options.c) ------------------------------------------- */

struct vmm_config {
	const char *guest_path;
	char *guest_cmdline;       /* guest arguments joined by spaces (owned) */
	uint64_t mem_bytes;
	unsigned vcpus;
	int *pin_cpus;             /* host CPU of vCPU i, or NULL (owned) */
	unsigned pin_count;
	bool stats;
	bool trace;
	bool timestamps;           /* prefix guest output lines with host time */
	bool hugepages;
	const char *json_path;
	double timeout_s;          /* 0 = none */
};

enum options_result { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_ERROR, OPTIONS_CHECK };

/* Parses argv into *cfg.  On OPTIONS_ERROR, errbuf holds one line that says
 * what is wrong; OPTIONS_EXIT_OK means --help or --version was printed to
 * `out`.  Never exits the process, so it can be unit-tested. */
enum options_result options_parse(int argc, char **argv, struct vmm_config *cfg,
				  char *errbuf, size_t errlen, FILE *out);
void options_free(struct vmm_config *cfg);

/* "64M", "2G", "512K", "1T" -> bytes; a bare number is in units of
 * `bare_unit` (vmm --mem takes MiB, as QEMU -m does).  Returns false on
 * garbage, overflow or trailing junk. */
bool parse_size(const char *s, uint64_t bare_unit, uint64_t *bytes);

/* ---- guest memory (memory.c) --------------------------------------------- */

#define GIB (1ULL << 30)
#define MIB (1ULL << 20)
#define KIB (1ULL << 10)

/* RAM up to 3 GiB sits at 0; the rest continues at 4 GiB, leaving the
 * 3..4 GiB hole for the LAPIC, IOAPIC and PCI MMIO, as on a PC. */
#define MEM_HOLE_START (3 * GIB)
#define MEM_HOLE_END (4 * GIB)

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_memory {
	uint8_t *base;            /* one mapping of mem_bytes */
	uint64_t size;
	bool hugetlbfs;
	unsigned nregions;
	struct mem_region regions[2];
};

/* Computes the regions for `size` bytes of RAM (no allocation). */
void memory_layout(uint64_t size, struct guest_memory *mem);
/* Maps the RAM; errbuf says why on failure (too large for this host ...). */
int memory_map(struct guest_memory *mem, bool hugepages, char *errbuf, size_t errlen);
void memory_unmap(struct guest_memory *mem);
/* Host pointer for [gpa, gpa+len) if it lies wholly in one RAM region,
 * else NULL.  The only way vmm turns a guest address into a pointer. */
void *guest_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len);

/* ---- boot (loader.c, acpi.c) ---------------------------------------------- */

/* Fixed places in low guest memory.  The multiboot information (info
 * structure, command line, memory map, loader name) lives in one page at
 * BOOTINFO_GPA; the ACPI tables in the BIOS area, where the RSDP must be. */
#define BOOTINFO_GPA 0x9000ULL
#define BOOTINFO_SIZE 0x6000ULL   /* 0x9000..0xefff */
#define BIOS_AREA_START 0x9fc00ULL /* reserved in the memory map from here */
#define ACPI_GPA 0xe0000ULL
#define ACPI_SIZE 0x20000ULL      /* 0xe0000..0xfffff */
#define LAPIC_GPA 0xfee00000ULL
#define IOAPIC_GPA 0xfec00000ULL
#define GUEST_CMDLINE_MAX 4095

struct boot_entry {
	uint64_t entry;           /* 32-bit protected mode entry point */
	uint32_t info_gpa;        /* EBX */
	uint64_t image_start, image_end; /* loaded extent, for messages */
};

/* Loads the multiboot image `file` (size bytes) into guest memory and writes
 * the boot information.  Returns 0, or -1 with one line in errbuf. */
int multiboot_load(struct guest_memory *mem, const uint8_t *file, size_t size,
		   const char *cmdline, struct boot_entry *boot,
		   char *errbuf, size_t errlen);

/* Builds RSDP, RSDT, XSDT and MADT for `vcpus` CPUs at `gpa` in `buf` (the
 * host view of that guest range, `len` bytes).  Returns bytes used or -1. */
long acpi_build(uint8_t *buf, uint64_t gpa, size_t len, unsigned vcpus);

/* ---- KVM (kvm.c, cpuid.c) ------------------------------------------------- */

struct vm;
struct vcpu;

/* Opens /dev/kvm and checks every capability vmm needs; errbuf names the
 * first one missing.  max_vcpus gets KVM's limit. */
int kvm_open(int *kvm_fd, unsigned *max_vcpus, char *errbuf, size_t errlen);
/* Why /dev/kvm could not be opened (errno err), in words a user can act on. */
void kvm_explain_open_error(int err, bool kvm_module_loaded, char *errbuf, size_t errlen);
int kvm_create_vm(struct vm *vm, char *errbuf, size_t errlen);
/* vmm --check: can this host run vmm?  Prints one line; returns 0 if so. */
int kvm_check(FILE *out, char *errbuf, size_t errlen);
int kvm_create_vcpu(struct vm *vm, struct vcpu *vcpu, char *errbuf, size_t errlen);
/* The CPUID table vCPU `index` sees (KVM's supported set, adjusted). */
int cpuid_setup(struct vm *vm, struct vcpu *vcpu, char *errbuf, size_t errlen);
/* Pure adjustment of one entry, separated for unit tests. */
void cpuid_adjust_entry(struct kvm_cpuid_entry2 *e, unsigned vcpu_index,
			unsigned vcpus, uint32_t tsc_khz);

/* ---- the I/O registry (io.c) --------------------------------------------- */

enum io_space { IO_PORT, IO_MMIO };

/* A handler sees one access of `size` bytes (1, 2, 4 or 8) at `addr`; for a
 * write, `data` holds the value; for a read it fills `data`.  Returning
 * false marks the access as not handled (vmm then stops with a dump). */
typedef bool (*io_handler)(struct vcpu *vcpu, uint64_t addr, bool is_write,
			   uint8_t *data, unsigned size, void *opaque);

#define IO_MAX_HANDLERS 32

struct io_region {
	enum io_space space;
	uint64_t base, len;
	const char *name;
	io_handler fn;
	void *opaque;
	/* A handler that accepts a whole `rep outs/ins` burst at once (the
	 * serial port does: one exit carries up to a page of output). */
	bool (*burst_fn)(struct vcpu *vcpu, uint64_t addr, bool is_write,
			 uint8_t *data, unsigned size, unsigned count, void *opaque);
};

struct io_registry {
	unsigned count;
	struct io_region regions[IO_MAX_HANDLERS];
};

/* Registers a handler; fails (and says why) on overlap or a full table. */
int io_register(struct io_registry *reg, const struct io_region *region,
		char *errbuf, size_t errlen);
/* Index of the region holding [addr, addr+size), or -1. */
int io_lookup(const struct io_registry *reg, enum io_space space,
	      uint64_t addr, unsigned size);

/* ---- devices: modules that register themselves ---------------------------- */

struct vmm_device {
	const char *name;
	/* Called once after guest memory exists and before vCPUs run. */
	int (*setup)(struct vm *vm, const struct vmm_config *cfg,
		     char *errbuf, size_t errlen);
	/* Called at exit (flush output, close files). */
	void (*teardown)(struct vm *vm);
};

/* Places a device in the vmm_devices linker section; main.c sets up every
 * device found there, so adding a device is adding a file. */
#define VMM_DEVICE(ident, ...)                                                 \
	static const struct vmm_device ident##_device = {__VA_ARGS__};        \
	static const struct vmm_device *const ident##_device_ptr              \
		__attribute__((used, section("vmm_devices"),                    \
			       aligned(sizeof(void *)))) = &ident##_device

extern const struct vmm_device *const __start_vmm_devices[];
extern const struct vmm_device *const __stop_vmm_devices[];

/* ---- stats (stats.c) ------------------------------------------------------ */

/* A counter per userspace exit kind: one per KVM exit reason, and for port
 * and MMIO exits one per registered region, so --stats says "serial" rather
 * than "io". */
#define STATS_REASONS 64                    /* KVM_EXIT_* values */
#define STATS_SLOTS (STATS_REASONS + IO_MAX_HANDLERS + 2)
#define STATS_SLOT_IO_UNHANDLED (STATS_REASONS + IO_MAX_HANDLERS)
#define STATS_SLOT_MMIO_UNHANDLED (STATS_REASONS + IO_MAX_HANDLERS + 1)

struct exit_counter {
	uint64_t count;
	uint64_t ns_total;        /* time vmm spent handling these exits */
	uint64_t ns_max;
};

struct vcpu_stats {
	struct exit_counter slot[STATS_SLOTS];
	uint64_t run_ns;          /* time inside KVM_RUN (guest + kernel) */
	uint64_t runs;            /* KVM_RUN calls */
};

/* Memory: vmm's peak RSS and how much of it is guest RAM the guest
 * touched; the difference is what the monitor itself costs. */
struct rss_figures {
	uint64_t peak_kib;
	uint64_t guest_kib;
};
void rss_measure(const struct vm *vm, struct rss_figures *rss);

/* Name of a stats slot ("serial", "hlt", "shutdown" ...). */
const char *stats_slot_name(const struct vm *vm, unsigned slot);
void stats_print(const struct vm *vm, FILE *out);
uint64_t now_ns(void);

/* ---- the VM and its vCPUs -------------------------------------------------- */

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
	int host_cpu;             /* pinned host CPU, or -1 */
	struct vcpu_stats stats;
};

/* Host-side boot milestones (ns since process start), for --stats. */
struct boot_timeline {
	uint64_t start, guest_loaded, kvm_open, vm_ready, vcpus_started,
		first_output, stopped;
};

struct vm {
	const struct vmm_config *cfg;
	int kvm_fd, vm_fd;
	unsigned max_vcpus;
	uint32_t tsc_khz;
	struct kvm_cpuid2 *cpuid;  /* KVM's supported set, fetched once */
	struct guest_memory mem;
	struct boot_entry boot;
	struct io_registry io;
	unsigned nvcpus;
	struct vcpu *vcpus;
	struct boot_timeline timeline;

	/* Stopping: the first vCPU (or signal) to decide records why; main.c
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
};

/* vm.c: build the VM described by cfg (errbuf says what failed), run it
 * until it stops (returns -1 only if it could not start), free it. */
int vm_build(struct vm *vm, const struct vmm_config *cfg, char *errbuf, size_t errlen);
int vm_run(struct vm *vm, char *errbuf, size_t errlen);
/* Blocks the signals that end a run (call first in main). */
int vm_block_signals(void);
void vm_destroy(struct vm *vm);

/* Records the first reason to stop and wakes main(); later calls are
 * ignored, so the first failure is the one reported. */
void vm_request_stop(struct vm *vm, enum stop_reason reason, int status);
/* Appends a line the guest printed after "VMBENCH-RESULT ". */
void vm_add_result(struct vm *vm, const char *json, size_t len);

/* vcpu.c */
void *vcpu_thread(void *arg);
int vcpu_start_all(struct vm *vm, char *errbuf, size_t errlen);
void vcpu_kick_all(struct vm *vm);
/* Handles one KVM exit; false when the vCPU must stop. */
bool vcpu_handle_exit(struct vcpu *vcpu);

/* dump.c: exit reason, registers and the code around RIP, to `out`. */
void dump_vcpu(struct vcpu *vcpu, const char *why, FILE *out);
/* Disassembles one instruction of guest code at RIP into buf (for --trace). */
void dump_instruction(struct vcpu *vcpu, char *buf, size_t len);

/* report.c: the --json document. */
int report_write_json(const struct vm *vm, const char *path, double wall_s,
		      char *errbuf, size_t errlen);
/* True if s[0..len) is one syntactically valid JSON object. */
bool json_is_object(const char *s, size_t len);

/* Printf-style "vmm: ..." line to stderr. */
void vmm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* VMM_H */
