/*
 * kvm_kind.c - which kind of KVM backs /dev/kvm, since a figure measured on
 * one kind means something else on another:
 *
 *   hardware    kvm_intel or kvm_amd on bare metal: the guest's ring 0 and
 *               ring 3 both run natively (VMX/SVM).
 *   pvm         kvm_pvm, a PVM-style KVM that needs no VMX/SVM: guest ring 3
 *               runs natively in a host user context, guest ring 0 is
 *               emulated (~1M instructions/s), every exit costs 5-20 us.
 *   nested-tcg  kvm_intel or kvm_amd in a VM whose CPU is QEMU's TCG (what
 *               tools/linuxvm runs where /dev/kvm does not work): every
 *               guest instruction is emulated by TCG.
 *   nested      kvm_intel or kvm_amd in a VM under another hypervisor
 *               (KVM, Hyper-V, VMware ...): guest code runs natively, exits
 *               go through the outer hypervisor too.
 *   unknown     none of these modules is in /sys/module.
 *
 * The names are stable: they go into --json ("kvm_kind") and the harness.
 *
 * Inputs, both injectable for tests: a sysfs root ("/sys") and the host's
 * CPUID (hypervisor bit, VMX, SVM, the 0x40000000 signature).
 *
 * Which module drives /dev/kvm, in order of authority:
 *  1. refcnt.  KVM makes the vendor module the owner of /dev/kvm's file
 *     operations (kvm_init(..., THIS_MODULE)), so while the caller holds
 *     /dev/kvm open, the loadable module behind it has refcnt >= 1 (seen
 *     in a nested-TCG VM: kvm_amd's refcnt goes 0 -> 1 -> 0 as /dev/kvm is
 *     opened and closed).  When some module has refcnt >= 1, only such
 *     modules count.  Built-in modules have no refcnt (this host's kvm_pvm
 *     is built in: /sys/module/kvm_pvm holds only parameters/).
 *  2. The CPU.  kvm_intel cannot drive KVM on a CPU without VMX, nor
 *     kvm_amd without SVM; a built-in one still shows in /sys/module (its
 *     parameters), so it is dropped.
 *  3. Should kvm_pvm and a VMX/SVM module both remain (both built in, on a
 *     CPU with VMX/SVM), the VMX/SVM module wins: only one vendor module
 *     can own /dev/kvm, and where the hardware extension exists it is the
 *     one a host is set up to use.
 *
 * Nested or not: the CPUID hypervisor bit.  Under which hypervisor: the
 * signature of leaf 0x40000000; QEMU's TCG answers "TCGTCGTCGTCG" (seen
 * with QEMU 7.2, -cpu max and -cpu qemu64,+svm alike), KVM "KVMKVMKVM",
 * Hyper-V "Microsoft Hv", VMware "VMwareVMware".  A PVM-style KVM is pvm
 * whatever it runs on (it usually runs in a cloud VM).
 *
 * virt_level: how many hypervisors lie below vmm, as far as CPUID tells
 * (vmm's own KVM is not counted).  0 without the hypervisor bit (bare
 * metal, hardware KVM); 1 with it, since the host is then itself a VM
 * (nested, nested-tcg, and pvm where the PVM host is a cloud VM); more
 * only when the hypervisor below says so, which today only a vmbench vmm
 * does (CPUID 0x40000100 "VMBENCHVMM", 0x40000101 ECX = the level of its
 * guest).  KVM, QEMU, Hyper-V and VMware do not tell their own level, so
 * a KVM in a VM in a VM still reads 1; and a hypervisor may hide itself
 * (no hypervisor bit: KVM's -cpu host,-hypervisor), which reads as 0.
 */
#include "kvm.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TCG_SIGNATURE "TCGTCGTCGTCG"
#define MAX_VIRT_LEVEL 64   /* a level beyond this is garbage, not a level */

static const char *const kind_names[] = {
	[KVM_KIND_UNKNOWN] = "unknown",
	[KVM_KIND_HARDWARE] = "hardware",
	[KVM_KIND_PVM] = "pvm",
	[KVM_KIND_NESTED_TCG] = "nested-tcg",
	[KVM_KIND_NESTED] = "nested",
};

const char *kvm_kind_name(enum kvm_kind kind)
{
	if ((unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]))
		return kind_names[kind];
	return "unknown";
}

void kvm_kind_host_cpu(struct kvm_kind_cpu *cpu)
{
	unsigned a, b, c, d;

	memset(cpu, 0, sizeof(*cpu));
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		cpu->hypervisor = c & (1u << 31);
		cpu->vmx = c & (1u << 5);
	}
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		cpu->svm = c & (1u << 2);
	/* The hypervisor range exists only when the bit says so. */
	if (cpu->hypervisor) {
		__cpuid(0x40000000, a, b, c, d);
		memcpy(cpu->signature, &b, 4);
		memcpy(cpu->signature + 4, &c, 4);
		memcpy(cpu->signature + 8, &d, 4);
		cpu->signature[12] = 0;
		/* Leaves a hypervisor does not define return junk (KVM: its
		 * highest basic leaf): only the full signature counts. */
		__cpuid(VMM_CPUID_BASE, a, b, c, d);
		char sig[12];
		memcpy(sig, &b, 4);
		memcpy(sig + 4, &c, 4);
		memcpy(sig + 8, &d, 4);
		if (a >= VMM_CPUID_KIND && !memcmp(sig, VMM_CPUID_SIGNATURE, 12)) {
			cpu->vmbench_vmm = true;
			__cpuid(VMM_CPUID_KIND, a, b, c, d);
			cpu->vmm_guest_level = c;
		}
	}
}

unsigned kvm_virt_level(const struct kvm_kind_cpu *cpu)
{
	if (!cpu->hypervisor)
		return 0;
	if (cpu->vmbench_vmm && cpu->vmm_guest_level >= 1 &&
	    cpu->vmm_guest_level <= MAX_VIRT_LEVEL)
		return cpu->vmm_guest_level;
	return 1;
}

/* Modules that can back /dev/kvm on x86, in the order rule 3 prefers. */
static const char *const modules[] = {"kvm_intel", "kvm_amd", "kvm_pvm"};
#define NMODULES (sizeof(modules) / sizeof(modules[0]))

/* <root>/module/<name>/refcnt: its value, -1 when there is none (built-in
 * module, or unreadable). */
static long module_refcnt(const char *root, const char *name)
{
	char path[4096], buf[32], *end;
	FILE *f;
	long v;

	snprintf(path, sizeof(path), "%s/module/%s/refcnt", root, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v < 0)
		return -1;
	return v;
}

static bool module_present(const char *root, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/module/%s", root, name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The signature as text: printable ASCII up to the first NUL. */
static void clean_signature(const char *in, char out[13])
{
	unsigned n = 0;

	for (unsigned i = 0; i < 12 && in[i]; i++)
		if (in[i] >= 0x20 && in[i] < 0x7f)
			out[n++] = in[i];
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

enum kvm_kind kvm_kind_detect(const char *sysfs_root, const struct kvm_kind_cpu *cpu,
			      struct kvm_kind_info *info)
{
	bool candidate[NMODULES];
	long refcnt[NMODULES];
	bool any_ref = false;
	int chosen = -1;

	memset(info, 0, sizeof(*info));
	clean_signature(cpu->hypervisor ? cpu->signature : "", info->hypervisor);
	info->virt_level = kvm_virt_level(cpu);
	info->below_vmbench_vmm = cpu->hypervisor && cpu->vmbench_vmm;
	for (unsigned i = 0; i < NMODULES; i++) {
		candidate[i] = module_present(sysfs_root, modules[i]);
		refcnt[i] = candidate[i] ? module_refcnt(sysfs_root, modules[i]) : -1;
		if (refcnt[i] > 0)
			any_ref = true;
	}
	for (unsigned i = 0; i < NMODULES; i++) {
		if (any_ref && refcnt[i] <= 0)          /* rule 1 */
			candidate[i] = false;
		if (!any_ref && ((!strcmp(modules[i], "kvm_intel") && !cpu->vmx) ||
				 (!strcmp(modules[i], "kvm_amd") && !cpu->svm)))
			candidate[i] = false;           /* rule 2 */
		if (candidate[i] && chosen < 0)
			chosen = (int)i;                /* rule 3: the list's order */
	}
	if (chosen < 0) {
		info->kind = KVM_KIND_UNKNOWN;
		return info->kind;
	}
	snprintf(info->module, sizeof(info->module), "%s", modules[chosen]);
	info->by_refcnt = any_ref;
	if (!strcmp(info->module, "kvm_pvm"))
		info->kind = KVM_KIND_PVM;
	else if (!cpu->hypervisor)
		info->kind = KVM_KIND_HARDWARE;
	else if (!strcmp(info->hypervisor, TCG_SIGNATURE))
		info->kind = KVM_KIND_NESTED_TCG;
	else
		info->kind = KVM_KIND_NESTED;
	return info->kind;
}

const char *kvm_kind_meaning(enum kvm_kind kind)
{
	switch (kind) {
	case KVM_KIND_HARDWARE:
		return "VMX/SVM on bare metal: both guest rings run natively";
	case KVM_KIND_PVM:
		return "PVM-style: guest ring 3 native, guest ring 0 emulated at "
		       "~1M instructions/s, exits cost 5-20 us";
	case KVM_KIND_NESTED_TCG:
		return "in a VM under QEMU's TCG: every guest instruction is emulated";
	case KVM_KIND_NESTED:
		return "in a VM: guest code runs natively, exits also go through "
		       "the outer hypervisor";
	case KVM_KIND_UNKNOWN:
		break;
	}
	return "no kvm_intel, kvm_amd or kvm_pvm module in /sys/module";
}

void kvm_kind_describe(const struct kvm_kind_info *info, char *buf, size_t len)
{
	const char *name = kvm_kind_name(info->kind);
	const char *meaning = kvm_kind_meaning(info->kind);

	switch (info->kind) {
	case KVM_KIND_NESTED:
		snprintf(buf, len, "%s KVM (%s in a VM under %s%s%s: guest code runs natively, "
			 "exits also go through the outer hypervisor)", name, info->module,
			 info->hypervisor[0] ? "\"" : "a hypervisor without a signature",
			 info->hypervisor, info->hypervisor[0] ? "\"" : "");
		break;
	case KVM_KIND_UNKNOWN:
		snprintf(buf, len, "%s KVM (%s)", name, meaning);
		break;
	default:
		snprintf(buf, len, "%s KVM (%s, %s)", name, info->module, meaning);
	}
}

void kvm_virt_describe(const struct kvm_kind_info *info, char *buf, size_t len)
{
	if (!info->virt_level) {
		snprintf(buf, len, "virt_level 0 (no hypervisor below vmm's KVM, as CPUID tells)");
		return;
	}
	snprintf(buf, len, "virt_level %u (vmm's host is a VM under %s%s%s%s)", info->virt_level,
		 info->hypervisor[0] ? "\"" : "a hypervisor without a signature",
		 info->hypervisor, info->hypervisor[0] ? "\"" : "",
		 info->below_vmbench_vmm ? ", a vmbench vmm" : "");
}

enum kvm_kind kvm_kind_host(struct kvm_kind_info *info)
{
	struct kvm_kind_cpu cpu;

	kvm_kind_host_cpu(&cpu);
	return kvm_kind_detect("/sys", &cpu, info);
}
