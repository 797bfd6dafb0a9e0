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
 *   kvm_kind.c    which kind of KVM this is: hardware, pvm, nested(-tcg)
 *   memory.c      guest RAM layout (the 3 GiB..4 GiB hole), checked access
 *   loader.c      Multiboot 1 ELF32/ELF64 loader, boot information
 *   acpi.c        RSDP, RSDT, XSDT, MADT
 *   cpuid.c       the CPUID table the guest sees
 *   vcpu.c        vCPU threads and the exit loop (vcpu_thread)
 *   io.c          the port and MMIO handler registry and exit dispatch
 *   dev_*.c       devices; each registers itself with VMM_DEVICE()
 *   pci.c         PCI bus: config mechanism #1, BARs, capabilities, host bridge
 *   virtqueue.c   split virtqueues: checked descriptor-chain walking
 *   virtio_pci.c  the modern virtio-pci transport (common/notify/ISR/device
 *                 config, MSI-X table, feature negotiation, status, reset)
 *   dev_virtio_blk.c  virtio-blk disks (--disk), one I/O thread each
 *   dump.c        register and code dumps (Capstone) on a bad exit
 *   io_insn.c     which in/out instruction made a port-I/O exit (pure)
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

/* --disk FILE[,format=raw][,direct][,readonly] (repeatable). */
#define VMM_MAX_DISKS 8

struct disk_config {
	char *path;                /* owned */
	bool direct;               /* O_DIRECT */
	bool readonly;
};

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
	struct disk_config disks[VMM_MAX_DISKS];
	unsigned ndisks;
};

/* Parses one --disk argument ("FILE[,direct][,readonly][,format=raw]") into
 * *disk (path allocated); -1 with one line in errbuf (qcow2 is refused with
 * the conversion command). */
int disk_option_parse(const char *arg, struct disk_config *disk, char *errbuf,
		      size_t errlen);

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
/* vmm --check: can this host run vmm?  Prints one line that names the kind
 * of KVM (kvm_kind.c); returns 0 if so. */
int kvm_check(FILE *out, char *errbuf, size_t errlen);
int kvm_create_vcpu(struct vm *vm, struct vcpu *vcpu, char *errbuf, size_t errlen);
/* The CPUID table vCPU `index` sees (KVM's supported set, adjusted). */
int cpuid_setup(struct vm *vm, struct vcpu *vcpu, char *errbuf, size_t errlen);
/* Pure adjustment of one entry, separated for unit tests. */
void cpuid_adjust_entry(struct kvm_cpuid_entry2 *e, unsigned vcpu_index,
			unsigned vcpus, uint32_t tsc_khz);

/* ---- the kind of KVM (kvm_kind.c) -----------------------------------------
 * Figures mean different things on each; the names (kvm_kind_name) are
 * stable, they go into --json.  kvm_kind.c says how each is told apart. */
enum kvm_kind {
	KVM_KIND_UNKNOWN = 0,      /* "unknown": no known module in /sys/module */
	KVM_KIND_HARDWARE,         /* "hardware": kvm_intel/kvm_amd, bare metal */
	KVM_KIND_PVM,              /* "pvm": kvm_pvm, guest ring 0 emulated */
	KVM_KIND_NESTED_TCG,       /* "nested-tcg": in a VM under QEMU's TCG */
	KVM_KIND_NESTED,           /* "nested": in a VM under another hypervisor */
};

/* What detection reads from CPUID (injectable for tests). */
struct kvm_kind_cpu {
	bool hypervisor;           /* CPUID.1:ECX[31] */
	bool vmx;                  /* CPUID.1:ECX[5] */
	bool svm;                  /* CPUID.80000001h:ECX[2] */
	char signature[13];        /* CPUID.40000000h EBX, ECX, EDX; NUL-terminated */
};

struct kvm_kind_info {
	enum kvm_kind kind;
	char module[16];           /* "kvm_pvm", "kvm_intel", "kvm_amd" or "" */
	char hypervisor[13];       /* the host's hypervisor signature, "" if none */
	bool by_refcnt;            /* module told by its refcnt (authoritative) */
};

/* The host's CPUID as detection needs it. */
void kvm_kind_host_cpu(struct kvm_kind_cpu *cpu);
/* Which kind of KVM a host with this sysfs (root "/sys") and CPUID has.
 * Call it with /dev/kvm open: a loadable vendor module's refcnt then tells
 * which one drives it. */
enum kvm_kind kvm_kind_detect(const char *sysfs_root, const struct kvm_kind_cpu *cpu,
			      struct kvm_kind_info *info);
/* kvm_kind_detect on this host ("/sys", its CPUID). */
enum kvm_kind kvm_kind_host(struct kvm_kind_info *info);
/* "hardware", "pvm", "nested-tcg", "nested", "unknown". */
const char *kvm_kind_name(enum kvm_kind kind);
/* What the kind means for the figures, a few words. */
const char *kvm_kind_meaning(enum kvm_kind kind);
/* "pvm KVM (kvm_pvm, PVM-style: guest ring 3 native, ...)", for --check. */
void kvm_kind_describe(const struct kvm_kind_info *info, char *buf, size_t len);

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
	/* Optional: whether the region answers at addr right now (the PCI
	 * MMIO window answers only where a BAR decodes); an access it does
	 * not answer is one that no device handles. */
	bool (*decodes)(uint64_t addr, unsigned size, void *opaque);
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

/* ---- the instruction behind a port-I/O exit (io_insn.c) ------------------
 * Hardware KVM exits with RIP at the in/out/ins/outs instruction, PVM-style
 * KVM with RIP already past it; --trace and dumps look for it either way.
 * Pure decoding of guest bytes (no KVM, no Capstone): unit-tested, fuzzed. */
#define IO_INSN_MAX 15             /* longest x86 instruction */

enum io_insn_mode { IO_INSN_16, IO_INSN_32, IO_INSN_64 };   /* code segment */

struct io_access {                 /* what the exit reported */
	uint16_t port;
	unsigned size;             /* 1, 2 or 4 */
	bool out;
};

struct io_insn {
	unsigned len;              /* bytes, prefixes included */
	bool out, string;          /* out/outs; ins/outs */
	unsigned size;             /* 1, 2 or 4 */
	bool port_dx;              /* port from DX, else the immediate `port` */
	uint16_t port;
	bool idle_prefix;          /* has a prefix that changes nothing for it */
};

/* Guest code around RIP: bytes[i] is at RIP - IO_INSN_MAX + i, and bit i of
 * `readable` says whether it could be read. */
struct io_insn_window {
	uint8_t bytes[2 * IO_INSN_MAX];
	uint32_t readable;
};

/* Decodes one port-I/O instruction (legal prefixes, REX in 64-bit mode)
 * from code[0..len); false if the bytes are not one. */
bool io_insn_decode(const uint8_t *code, size_t len, enum io_insn_mode mode,
		    struct io_insn *insn);
/* The instruction that made exit `io`: the one at RIP if it matches, else
 * one ending exactly at RIP that does; sets *addr (a RIP value) and *insn.
 * False if there is none (the caller then shows RIP). */
bool io_insn_find(const struct io_insn_window *w, uint64_t rip, enum io_insn_mode mode,
		  uint64_t rdx, const struct io_access *io, uint64_t *addr,
		  struct io_insn *insn);

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

/* ---- PCI (pci.c) ----------------------------------------------------------
 * One bus (0) behind configuration mechanism #1: a 32-bit address latch at
 * 0xCF8 (bit 31 enable, bus 23:16, device 15:11, function 10:8, register
 * 7:2) and a data window at 0xCFC..0xCFF.  Each function keeps its 256-byte
 * configuration space with a mask of the bits the guest may write; memory
 * BARs are sized and moved by the guest as the PCI spec says, and every
 * access inside the MMIO window goes to the BAR that decodes it.  vmm plays
 * the firmware: it assigns BARs in the window and enables memory decoding. */
#define PCI_CONFIG_PORT 0xcf8
#define PCI_MMIO_START 0xc0000000ULL      /* MEM_HOLE_START */
#define PCI_MMIO_END 0xfec00000ULL        /* the IOAPIC */
#define PCI_MAX_DEVICES 32
#define PCI_NUM_BARS 6
#define PCI_VENDOR_ID 0x00
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_BAR0 0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

struct pci_func;

struct pci_bar {
	uint32_t size;            /* power of two >= 16; 0 = no BAR */
	uint64_t active;          /* address it decodes at, 0 when not decoding */
	/* One access inside the BAR at offset `off` (size 1, 2, 4 or 8). */
	bool (*rw)(struct pci_func *f, unsigned bar, uint64_t off, bool is_write,
		   uint8_t *data, unsigned size);
};

struct pci_func {
	const char *name;
	unsigned devfn;            /* device << 3 | function, bus 0 */
	uint8_t cfg[256];
	uint8_t wmask[256];        /* writable bits of cfg */
	unsigned capend;           /* where pci_add_cap puts the next one */
	struct pci_bar bars[PCI_NUM_BARS];
	/* A BAR started or stopped decoding, or moved (old/new 0 = none).
	 * Called with the bus lock held, before any access at the new place. */
	void (*bar_moved)(struct pci_func *f, unsigned bar, uint64_t old_addr,
			  uint64_t new_addr);
	/* Called after the guest wrote config bytes [off, off+size). */
	void (*cfg_written)(struct pci_func *f, unsigned off, unsigned size);
	/* Lets a device compute a config read (virtio's PCI-config window);
	 * returns false to read cfg[] as usual. */
	bool (*cfg_read)(struct pci_func *f, unsigned off, unsigned size, uint32_t *val);
	void *opaque;
};

struct pci_bus {
	pthread_mutex_t lock;      /* config accesses, BAR decoding, MMIO dispatch */
	uint32_t config_address;   /* the 0xCF8 latch */
	unsigned nfuncs;
	struct pci_func *funcs[PCI_MAX_DEVICES];
	struct pci_func host_bridge;
	uint64_t mmio_next;        /* the firmware's BAR allocator */
};

/* An empty bus with the host bridge at 00:00.0. */
void pci_bus_init(struct pci_bus *bus);
/* The VM's bus, created and registered (ports 0xCF8-0xCFF "pci-config",
 * the MMIO window "pci-mmio") on first use; NULL with errbuf on failure. */
struct pci_bus *pci_bus_get(struct vm *vm, char *errbuf, size_t errlen);
/* Sets up a type-0 header with these IDs (class = base<<16|sub<<8|prog-if). */
void pci_func_init(struct pci_func *f, const char *name, uint16_t vendor, uint16_t device,
		   uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		   uint16_t subsys_id);
/* Declares a 32-bit memory BAR of `size` bytes (a power of two >= 16). */
void pci_func_add_bar(struct pci_func *f, unsigned bar, uint32_t size,
		      bool (*rw)(struct pci_func *, unsigned, uint64_t, bool, uint8_t *, unsigned));
/* Appends a capability (id, then body of len-2 bytes after id and next);
 * returns its offset in config space, or 0 if it does not fit. */
unsigned pci_add_cap(struct pci_func *f, uint8_t id, const uint8_t *body, unsigned len);
/* Puts the function in the next free slot, assigns its BARs in the MMIO
 * window (naturally aligned) and enables memory decoding.  -1 if full. */
int pci_plug(struct pci_bus *bus, struct pci_func *f, char *errbuf, size_t errlen);
/* Mechanism #1 port access (0xCF8..0xCFF); the io_handler of "pci-config". */
void pci_port_access(struct pci_bus *bus, uint64_t port, bool is_write, uint8_t *data,
		     unsigned size);
/* A config-space access to bus 0 devfn at `off` (size 1, 2 or 4, not
 * crossing a dword); reads of absent functions return all ones. */
uint32_t pci_config_read(struct pci_bus *bus, unsigned devfn, unsigned off, unsigned size);
void pci_config_write(struct pci_bus *bus, unsigned devfn, unsigned off, unsigned size,
		      uint32_t val);
/* Whether a BAR decodes [addr, addr+size) now (the "pci-mmio" region's
 * decodes function: elsewhere in the window vmm stops as for any access
 * no device handles). */
bool pci_mmio_decodes(struct pci_bus *bus, uint64_t addr, unsigned size);
/* An access in the MMIO window: dispatched to the decoding BAR; should the
 * BAR have moved meanwhile, reads return all ones and writes vanish. */
void pci_mmio_access(struct pci_bus *bus, uint64_t addr, bool is_write, uint8_t *data,
		     unsigned size);

static inline uint32_t le_get(const uint8_t *p, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size && i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static inline void le_put(uint8_t *p, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- split virtqueues (virtqueue.c) ---------------------------------------
 * Pure functions over guest memory, no device logic: every ring and buffer
 * address goes through guest_ptr(); descriptor indices are checked against
 * the queue size and a chain is at most `size` descriptors long, which also
 * ends any loop. */
#define VIRTQ_MAX_SIZE 256
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq {
	uint16_t size;             /* power of two, <= VIRTQ_MAX_SIZE */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;       /* next avail index to take */
	uint16_t used_idx;         /* our copy of used->idx */
	bool event_idx;            /* VIRTIO_F_EVENT_IDX negotiated */
	uint16_t signalled_used;   /* used_idx at the last interrupt */
	bool signalled_valid;
};

enum virtq_error {
	VIRTQ_OK = 0,
	VIRTQ_ERR_ADDR,            /* a buffer outside guest RAM (chain walked to its end) */
	VIRTQ_ERR_ORDER,           /* a device-readable buffer after a writable one */
	/* Below: the chain's end cannot be found, so it cannot be completed. */
	VIRTQ_ERR_INDEX,           /* next index >= queue size */
	VIRTQ_ERR_TOO_LONG,        /* more descriptors than the queue has: a loop */
	VIRTQ_ERR_INDIRECT,        /* indirect descriptor, not offered */
};

struct virtq_buf {
	uint8_t *hva;              /* NULL if outside guest RAM */
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

struct virtq_chain {
	uint16_t head;
	enum virtq_error error;
	unsigned nbufs;
	uint32_t readable, writable;   /* number of buffers of each kind */
	uint64_t read_bytes, write_bytes;
	struct virtq_buf bufs[VIRTQ_MAX_SIZE];
};

/* Checks that the three rings of a queue of `size` lie in guest RAM with
 * the alignment the spec requires. */
bool virtq_layout_ok(const struct guest_memory *mem, const struct virtq *vq);
/* Takes the next available chain: 1 (chain filled, see chain->error), 0 if
 * none, -1 if the ring itself is unusable (rings outside RAM, a head index
 * out of range, avail->idx more than `size` ahead): the device must stop. */
int virtq_pop(const struct guest_memory *mem, struct virtq *vq, struct virtq_chain *chain);
/* Puts `head` with `len` bytes written in the used ring (and publishes
 * used->idx after it).  -1 if the used ring is not in RAM. */
int virtq_push(const struct guest_memory *mem, struct virtq *vq, uint16_t head, uint32_t len);
/* After pushes: does the driver want an interrupt now (NO_INTERRUPT flag,
 * or used_event with EVENT_IDX)? */
bool virtq_should_notify(const struct guest_memory *mem, struct virtq *vq);

/* ---- the modern virtio-pci transport (virtio_pci.c) ------------------------
 * BAR 0, 32 KiB:  0x0000 common config   0x1000 ISR   0x2000 device config
 *                 0x3000 notify (4 bytes per queue)   0x4000 MSI-X table
 *                 0x5000 MSI-X PBA
 * Capabilities: virtio common, notify, ISR, device, PCI-config window,
 * and MSI-X (VIRTIO_PCI_MSIX_VECTORS vectors). */
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80
#define VIRTIO_MSI_NO_VECTOR 0xffff
#define VIRTIO_PCI_MAX_QUEUES 4
#define VIRTIO_PCI_MSIX_VECTORS 2
#define VIRTIO_PCI_BAR_SIZE 0x8000
#define VIRTIO_PCI_COMMON 0x0000
#define VIRTIO_PCI_ISR 0x1000
#define VIRTIO_PCI_DEVICE 0x2000
#define VIRTIO_PCI_NOTIFY 0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_MSIX_TABLE 0x4000
#define VIRTIO_PCI_MSIX_PBA 0x5000
#define VIRTIO_PCI_DEVCFG_MAX 64

struct virtio_pci;

/* What the transport asks of the device and of KVM.  Any hook may be NULL
 * (unit tests); the transport calls them with its lock held. */
struct virtio_pci_hooks {
	/* The driver reset the device (status 0): forget in-flight state. */
	void (*reset)(struct virtio_pci *vp);
	/* Queue `q` was enabled (its rings are checked to lie in RAM). */
	void (*queue_enabled)(struct virtio_pci *vp, unsigned q);
	/* Add (assign) or remove a notify doorbell at gpa for queue q. */
	void (*ioeventfd)(struct virtio_pci *vp, unsigned q, uint64_t gpa, bool assign);
	/* A notify write that reached vmm (no ioeventfd there): kick queue q. */
	void (*kick)(struct virtio_pci *vp, unsigned q);
	/* Deliver MSI-X vector v as message (addr, data). */
	void (*msi)(struct virtio_pci *vp, unsigned v, uint64_t addr, uint32_t data);
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;   /* ctrl bit 0: masked */
};

struct virtio_pci {
	pthread_mutex_t lock;
	pthread_cond_t idle;       /* signalled when busy drops to 0 */
	unsigned busy;             /* requests the device has taken, not yet done */
	const struct guest_memory *mem;
	struct pci_func func;
	struct virtio_pci_hooks hooks;
	void *opaque;              /* the device */
	uint64_t device_features, driver_features;
	uint32_t dfselect, gfselect;
	uint8_t status;
	uint8_t config_generation;
	uint8_t isr;
	uint16_t queue_select;
	uint16_t config_vector;
	unsigned nqueues;
	uint16_t max_queue_size;
	struct virtq vq[VIRTIO_PCI_MAX_QUEUES];
	uint16_t queue_vector[VIRTIO_PCI_MAX_QUEUES];
	uint8_t devcfg[VIRTIO_PCI_DEVCFG_MAX];
	unsigned devcfg_len;
	unsigned msix_cap, cfg_cap;   /* capability offsets in config space */
	uint16_t msix_control;     /* copy of the MSI-X message control word */
	struct msix_entry msix[VIRTIO_PCI_MSIX_VECTORS];
	bool msix_pending[VIRTIO_PCI_MSIX_VECTORS];
	uint64_t notify_gpa;       /* where doorbells are registered, 0 = none */
	bool broken;               /* NEEDS_RESET set; no more requests served */
	bool draining;             /* a reset waits for the device to finish */
};

/* Builds the PCI function (IDs, BAR 0, capabilities) of a modern virtio
 * device of type `device_id` (2 = block).  The device then fills devcfg. */
void virtio_pci_init(struct virtio_pci *vp, const struct guest_memory *mem,
		     unsigned device_id, uint16_t pci_class_code_hi, uint64_t features,
		     unsigned nqueues, uint16_t max_queue_size, unsigned devcfg_len);
/* BAR 0 access (the pci_bar rw function). */
bool virtio_pci_bar_rw(struct pci_func *f, unsigned bar, uint64_t off, bool is_write,
		       uint8_t *data, unsigned size);
/* True when queue q may be served (DRIVER_OK, enabled, not broken). */
bool virtio_pci_queue_live(const struct virtio_pci *vp, unsigned q);
/* Raises the used-buffer interrupt of queue q (ISR bit 0, then its MSI-X
 * vector unless masked, in which case it is left pending).  Lock held. */
void virtio_pci_notify_queue(struct virtio_pci *vp, unsigned q);
/* Sets NEEDS_RESET, stops serving, and sends a config-change interrupt. */
void virtio_pci_set_broken(struct virtio_pci *vp, const char *why);
/* Waits (lock held) until the device has finished what it took. */
void virtio_pci_drain(struct virtio_pci *vp);

/* ---- virtio-blk (dev_virtio_blk.c) ---------------------------------------- */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2)
#define VIRTIO_BLK_MAX_REQUEST (64 * MIB)   /* larger data: IOERR */

/* Per-disk counters for --stats and --json (written by the disk's I/O
 * thread only, read after it stopped). */
struct disk_stats {
	const char *path;
	uint64_t reads, writes, flushes, get_ids, unsupported;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;           /* requests completed with IOERR */
	uint64_t bad_chains;       /* malformed descriptor chains */
	uint64_t notifies;         /* I/O thread wake-ups */
	uint64_t interrupts;       /* MSI-X messages sent */
	uint64_t ns_total;         /* time spent in host I/O calls */
};

struct blk_dev {
	struct virtio_pci vp;
	int fd;
	bool readonly, direct;
	uint64_t capacity;         /* in 512-byte sectors */
	char serial[21];           /* GET_ID answer */
	struct disk_stats *stats;
	char name[24];             /* "virtio-blk0" ... */
	/* Runtime (dev_virtio_blk.c's I/O thread): */
	struct vm *vm;
	int notify_fd, stop_fd;
	int irq_fd[VIRTIO_PCI_MSIX_VECTORS];
	unsigned gsi[VIRTIO_PCI_MSIX_VECTORS];
	struct msix_entry routed[VIRTIO_PCI_MSIX_VECTORS];
	bool route_valid[VIRTIO_PCI_MSIX_VECTORS];
	pthread_t thread;
	bool thread_started;
	struct virtq_chain chain;  /* the I/O thread's scratch */
};

/* Opens `disk` and builds the device (no KVM, no thread): the part unit
 * tests use.  errbuf says why not (missing file, qcow2 image ...). */
int blk_open(struct blk_dev *b, const struct disk_config *disk,
	     const struct guest_memory *mem, struct disk_stats *stats,
	     char *errbuf, size_t errlen);
void blk_close(struct blk_dev *b);
/* Serves every available request of the queue (at most `budget`);
 * returns the number completed, or -1 if the device was marked broken.
 * Takes and drops vp.lock itself. */
int blk_process_queue(struct blk_dev *b, unsigned budget);
/* Handles one chain: returns the status byte written (or -1 when the
 * chain cannot be completed) and the bytes written to the guest in *len. */
int blk_handle_chain(struct blk_dev *b, struct virtq_chain *c, uint32_t *len);

/* ---- KVM interrupt plumbing (kvm.c) --------------------------------------- */
/* GSIs 0-23 keep KVM's default PIC/IOAPIC routes; MSI routes go from 24. */
#define KVM_FIRST_MSI_GSI 24
#define KVM_MAX_GSI_ROUTES 256

/* Allocates a GSI for MSI routing; -1 when none is left. */
int kvm_alloc_msi_gsi(struct vm *vm);
/* Sets the MSI message of `gsi` (re-sends the whole routing table). */
int kvm_set_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data);
int kvm_irqfd(struct vm *vm, int fd, unsigned gsi, bool assign);
/* An MMIO doorbell: a write of any size at gpa signals fd inside KVM. */
int kvm_ioeventfd(struct vm *vm, int fd, uint64_t gpa, bool assign);

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
	struct kvm_kind_info kvm_kind;  /* set by kvm_create_vm */
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

	/* PCI and interrupt routing (pci.c, kvm.c). */
	struct pci_bus *pci;
	pthread_mutex_t irq_lock;
	struct kvm_irq_routing *routing;   /* NULL until the first MSI route */
	unsigned next_gsi;

	/* Disks (dev_virtio_blk.c), for --stats and --json. */
	unsigned ndisks;
	struct disk_stats disk_stats[VMM_MAX_DISKS];
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
/* Disassembles one instruction of guest code at RIP into buf (for --trace);
 * for a port-I/O exit (io not NULL), the instruction that made it. */
void dump_instruction(struct vcpu *vcpu, const struct io_access *io, char *buf, size_t len);

/* report.c: the --json document. */
int report_write_json(const struct vm *vm, const char *path, double wall_s,
		      char *errbuf, size_t errlen);
/* True if s[0..len) is one syntactically valid JSON object. */
bool json_is_object(const char *s, size_t len);

/* Printf-style "vmm: ..." line to stderr. */
void vmm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* VMM_H */
