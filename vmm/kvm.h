/*
 * kvm.h - talking to /dev/kvm: opening and checking it, creating the VM
 * and its vCPUs (kvm.c), the CPUID table (cpuid.c), interrupt routing and
 * eventfds (kvm.c), and which kind of KVM this is (kvm_kind.c).
 */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vm;
struct vcpu;
struct kvm_kind_info;

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

/* ---- nested virtualization for the guest (cpuid.c) ------------------------
 * What vmm offers its guest with --nested: the extension KVM itself offers
 * to guests (KVM_GET_SUPPORTED_CPUID), SVM on AMD hosts, VMX on Intel
 * hosts; without --nested both stay hidden. */
enum nested_virt {
	NESTED_NONE = 0,           /* "none": VMX and SVM hidden */
	NESTED_VMX,                /* "vmx": CPUID.1:ECX[5] */
	NESTED_SVM,                /* "svm": CPUID.80000001h:ECX[2], leaf 8000000Ah */
};
/* "none", "vmx", "svm" (stable: --json, --check). */
const char *nested_virt_name(enum nested_virt n);
/* Which extension a KVM_GET_SUPPORTED_CPUID table offers guests. */
enum nested_virt nested_virt_offered(const struct kvm_cpuid2 *supported);
/* --nested's one-line refusal on a host whose KVM (kind/module in info)
 * offers neither; module_nested: the module's "nested" parameter as read
 * from sysfs ("0", "N"...), or NULL when there is none. */
void nested_virt_refusal(const struct kvm_kind_info *info, const char *module_nested,
			 char *buf, size_t len);
/* vm->nested from --nested: -1 with the refusal in errbuf when the host's
 * KVM cannot (after kvm_create_vm). */
int cpuid_nested_setup(struct vm *vm, char *errbuf, size_t errlen);
/* KVM_GET_SUPPORTED_CPUID of kvm_fd (caller frees); -1 with errbuf. */
int cpuid_fetch_supported(int kvm_fd, struct kvm_cpuid2 **out, char *errbuf, size_t errlen);

/* Pure adjustment of one entry, separated for unit tests: `nested` is the
 * extension the guest may see (NESTED_NONE hides both). */
void cpuid_adjust_entry(struct kvm_cpuid_entry2 *e, unsigned vcpu_index,
			unsigned vcpus, uint32_t tsc_khz, enum nested_virt nested);

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
/* The general form: a write of exactly `len` bytes (1, 2, 4 or 8) at
 * `addr` in port space (pio) or memory space signals fd inside KVM; with
 * `datamatch` only a write of the value `data`.  Removing takes the same
 * arguments.  -1 with errno when KVM refuses. */
int kvm_ioeventfd_match(struct vm *vm, int fd, bool pio, uint64_t addr, unsigned len,
			bool datamatch, uint64_t data, bool assign);


/* ---- the kind of KVM (kvm_kind.c) -----------------------------------------
 * Figures mean different things on each; the names (kvm_kind_name) are
 * stable, they go into --json, and so are the numbers, which the guest
 * reads in CPUID 0x40000101.  kvm_kind.c says how each is told apart. */
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
	bool vmbench_vmm;          /* CPUID.40000100h says "VMBENCHVMM" */
	unsigned vmm_guest_level;  /* that vmm's CPUID.40000101h ECX (0: not given) */
};

struct kvm_kind_info {
	enum kvm_kind kind;
	char module[16];           /* "kvm_pvm", "kvm_intel", "kvm_amd" or "" */
	char hypervisor[13];       /* the host's hypervisor signature, "" if none */
	bool by_refcnt;            /* module told by its refcnt (authoritative) */
	/* How many hypervisors lie below vmm, as far as CPUID tells
	 * (kvm_virt_level); vmm's own KVM is not counted: 0 on bare metal. */
	unsigned virt_level;
	bool below_vmbench_vmm;    /* the hypervisor below is a vmbench vmm */
};

/* virt_level from the host's CPUID: 0 without the hypervisor bit; else
 * the level a vmbench vmm below says its guest is at, else 1. */
unsigned kvm_virt_level(const struct kvm_kind_cpu *cpu);
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
/* "virt_level 1 (vmm's host is a VM under \"KVMKVMKVM\")", for --check
 * and --stats. */
void kvm_virt_describe(const struct kvm_kind_info *info, char *buf, size_t len);
/* "pvm KVM (kvm_pvm, PVM-style: guest ring 3 native, ...)", for --check. */
void kvm_kind_describe(const struct kvm_kind_info *info, char *buf, size_t len);

/* ---- vmm's own CPUID leaves (cpuid.c) --------------------------------------
 * vmm's own hypervisor leaves, at the next base Linux scans for
 * hypervisors (0x40000000 + n * 0x100), so they never clash with KVM's:
 *   0x40000100  EAX = 0x40000101 (the range's last leaf),
 *               EBX, ECX, EDX = "VMBENCHVMM\0\0"
 *   0x40000101  EAX = enum kvm_kind of the host (0 unknown, 1 hardware,
 *               2 pvm, 3 nested-tcg, 4 nested), EBX = VMM_CPUID_F_* flags,
 *               ECX = the guest's level: hypervisors below the guest,
 *               vmm's virt_level + 1 (0 from a vmm older than this field),
 *               EDX = the buffer console's port (buffer_console.h; 0 from a
 *               vmm older than it)
 * A guest trusts 0x40000101 only after finding the signature. */
#define VMM_CPUID_BASE 0x40000100u
#define VMM_CPUID_KIND 0x40000101u
#define VMM_CPUID_SIGNATURE "VMBENCHVMM\0\0"
#define VMM_CPUID_F_RING0_EMULATED (1u << 0)   /* guest ring 0 is emulated */
#define VMM_CPUID_F_NO_HYPERCALL (1u << 1)     /* vmcall/vmmcall in ring 0 hangs */
#define VMM_CPUID_LEAVES 2

/* Fills entry i (0 or 1) of vmm's leaves for a host of this kind, vmm
 * itself at virt_level. */
void cpuid_vmm_leaf(unsigned i, enum kvm_kind kind, unsigned virt_level,
		    struct kvm_cpuid_entry2 *e);

#endif /* VMM_KVM_H */
