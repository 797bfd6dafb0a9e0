/*
 * cpuid.c - what CPUID tells the guest.
 *
 * KVM's supported set, with: the vCPU's APIC ID and the CPU count in the
 * topology leaves; the hypervisor bit; VMX and SVM hidden unless --nested
 * asks for the one KVM offers (then its bit, and for SVM leaf 0x8000000A,
 * stay as KVM reports them: KVM derives the nested VMX capability MSRs of
 * each vCPU from this CPUID, and allows EFER.SVME and VM_HSAVE_PA when
 * it has SVM); the timing leaf 0x40000010 that VMware
 * defined and QEMU also fills (EAX = TSC kHz, EBX = LAPIC timer kHz), so
 * the guest knows its TSC frequency without calibrating; and vmm's own
 * leaves at 0x40000100 (kvm.h), which tell the guest what kind of KVM it
 * runs on, so that it can avoid what hangs there (vmcall on PVM hosts),
 * and where the buffer console is (buffer_console.h).
 */
#include "vmm.h"
#include "buffer_console.h"
#include "options.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_HYPERVISOR_BASE 0x40000000u
#define CPUID_TIMING_LEAF 0x40000010u
#define KVM_LAPIC_TIMER_KHZ 1000000u   /* KVM's APIC timer counts at 1 GHz */

#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_80000001_ECX_SVM (1u << 2)

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

void cpuid_adjust_entry(struct kvm_cpuid_entry2 *e, unsigned vcpu_index,
			unsigned vcpus, uint32_t tsc_khz, enum nested_virt nested)
{
	switch (e->function) {
	case 1:
		e->ebx &= 0x0000ffffu;
		e->ebx |= (vcpu_index & 0xffu) << 24;
		e->ebx |= (vcpus > 255 ? 255u : vcpus) << 16;
		if (vcpus > 1)
			e->edx |= CPUID_1_EDX_HTT;
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (nested != NESTED_VMX)
			e->ecx &= ~CPUID_1_ECX_VMX;
		break;
	case 0xb:
	case 0x1f:
		/* All vCPUs are cores of one package, one thread each. */
		e->edx = vcpu_index;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
		} else if (e->index == 1) {
			e->eax = bits_for(vcpus);
			e->ebx = vcpus;
			e->ecx = (2u << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000001:
		if (nested != NESTED_SVM)
			e->ecx &= ~CPUID_80000001_ECX_SVM;
		break;
	case 0x80000008:
		/* AMD: number of cores minus one, in ECX[7:0]. */
		e->ecx = (e->ecx & ~0xffu) | ((vcpus > 256 ? 256 : vcpus) - 1);
		break;
	case 0x8000000a:
		/* SVM revision, ASIDs and features: none while SVM is hidden. */
		if (nested != NESTED_SVM)
			e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case CPUID_HYPERVISOR_BASE:
		if (e->eax < CPUID_TIMING_LEAF)
			e->eax = CPUID_TIMING_LEAF;
		break;
	case CPUID_TIMING_LEAF:
		e->eax = tsc_khz;
		e->ebx = KVM_LAPIC_TIMER_KHZ;
		e->ecx = e->edx = 0;
		break;
	default:
		break;
	}
}

void cpuid_vmm_leaf(unsigned i, enum kvm_kind kind, unsigned virt_level,
		    struct kvm_cpuid_entry2 *e)
{
	static const char signature[12] = VMM_CPUID_SIGNATURE;

	memset(e, 0, sizeof(*e));
	if (i == 0) {
		e->function = VMM_CPUID_BASE;
		e->eax = VMM_CPUID_BASE + VMM_CPUID_LEAVES - 1;
		/* The signature's bytes in EBX, ECX, EDX order, as KVM's. */
		memcpy(&e->ebx, signature, 4);
		memcpy(&e->ecx, signature + 4, 4);
		memcpy(&e->edx, signature + 8, 4);
		return;
	}
	e->function = VMM_CPUID_KIND;
	e->eax = (uint32_t)kind;
	e->ecx = virt_level + 1;   /* the guest's level: vmm's, plus vmm */
	if (kind == KVM_KIND_PVM)
		e->ebx = VMM_CPUID_F_RING0_EMULATED | VMM_CPUID_F_NO_HYPERCALL;
	e->edx = BUFFER_CONSOLE_PORT;   /* every vmm VM has the buffer console */
}

/* Some KVMs report the brand-string leaves as zeros; the guest should
 * still see the name of the CPU it runs on, as QEMU -cpu host shows it. */
static void fill_brand_from_host(struct kvm_cpuid2 *c)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function >= 0x80000002 && e->function <= 0x80000004 &&
		    !(e->eax | e->ebx | e->ecx | e->edx))
			__cpuid(e->function, e->eax, e->ebx, e->ecx, e->edx);
	}
}

int cpuid_fetch_supported(int kvm_fd, struct kvm_cpuid2 **out, char *errbuf, size_t errlen)
{
	/* Grown until it fits. */
	for (unsigned nent = 128; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c) {
			snprintf(errbuf, errlen, "out of memory");
			return -1;
		}
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			fill_brand_from_host(c);
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			break;
	}
	snprintf(errbuf, errlen, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
	return -1;
}

static const struct kvm_cpuid_entry2 *find_leaf(const struct kvm_cpuid2 *c, uint32_t function)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == function && c->entries[i].index == 0)
			return &c->entries[i];
	return NULL;
}

const char *nested_virt_name(enum nested_virt n)
{
	switch (n) {
	case NESTED_VMX:
		return "vmx";
	case NESTED_SVM:
		return "svm";
	case NESTED_NONE:
		break;
	}
	return "none";
}

/* SVM needs its feature leaf too: the guest's hypervisor reads the ASID
 * count there (KVM lists it when it offers SVM). */
enum nested_virt nested_virt_offered(const struct kvm_cpuid2 *supported)
{
	const struct kvm_cpuid_entry2 *e;

	e = find_leaf(supported, 0x80000001);
	if (e && (e->ecx & CPUID_80000001_ECX_SVM) && find_leaf(supported, 0x8000000a))
		return NESTED_SVM;
	e = find_leaf(supported, 1);
	if (e && (e->ecx & CPUID_1_ECX_VMX))
		return NESTED_VMX;
	return NESTED_NONE;
}

void nested_virt_refusal(const struct kvm_kind_info *info, const char *module_nested,
			 char *buf, size_t len)
{
	const char *who = info->module[0] ? info->module : "unknown";
	char hint[96] = "";

	if (info->kind == KVM_KIND_PVM)
		who = "pvm";
	else if (module_nested && (module_nested[0] == '0' || module_nested[0] == 'N'))
		snprintf(hint, sizeof(hint), " (%s is loaded with nested=%c: reload it with "
			 "nested=1)", info->module, module_nested[0]);
	snprintf(buf, len, "--nested: this host's KVM (%s) offers neither VMX nor SVM to "
		 "its guests%s", who, hint);
}

/* <sysfs>/module/<module>/parameters/nested, first character, or 0. */
static char module_nested_param(const char *module)
{
	char path[128], v = 0;
	FILE *f;

	if (!module[0])
		return 0;
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/nested", module);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fread(&v, 1, 1, f) != 1)
		v = 0;
	fclose(f);
	return v;
}

int cpuid_nested_setup(struct vm *vm, char *errbuf, size_t errlen)
{
	char param[2] = {0, 0};

	vm->nested = NESTED_NONE;
	if (!vm->cfg->nested)
		return 0;
	if (!vm->cpuid && cpuid_fetch_supported(vm->kvm_fd, &vm->cpuid, errbuf, errlen))
		return -1;
	vm->nested = nested_virt_offered(vm->cpuid);
	if (vm->nested != NESTED_NONE)
		return 0;
	param[0] = module_nested_param(vm->kvm_kind.module);
	nested_virt_refusal(&vm->kvm_kind, param[0] ? param : NULL, errbuf, errlen);
	return -1;
}

int cpuid_setup(struct vm *vm, struct vcpu *vcpu, char *errbuf, size_t errlen)
{
	struct kvm_cpuid2 *c;
	unsigned n;
	bool have_timing = false, have_hv = false;

	if (!vm->cpuid && cpuid_fetch_supported(vm->kvm_fd, &vm->cpuid, errbuf, errlen))
		return -1;
	/* Room for the hypervisor leaves if KVM did not list them, and vmm's. */
	c = calloc(1, sizeof(*c) + (vm->cpuid->nent + 2 + VMM_CPUID_LEAVES) *
		   sizeof(c->entries[0]));
	if (!c) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	n = 0;
	for (unsigned i = 0; i < vm->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &vm->cpuid->entries[i];

		/* vmm's range is its own, whatever KVM listed there. */
		if (e->function >= VMM_CPUID_BASE &&
		    e->function < VMM_CPUID_BASE + VMM_CPUID_LEAVES)
			continue;
		have_hv |= e->function == CPUID_HYPERVISOR_BASE;
		have_timing |= e->function == CPUID_TIMING_LEAF;
		c->entries[n++] = *e;
	}
	if (!have_hv)
		c->entries[n++] = (struct kvm_cpuid_entry2){
			.function = CPUID_HYPERVISOR_BASE,
			/* "KVMKVMKVM\0\0\0", as KVM itself reports */
			.ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d,
		};
	if (!have_timing)
		c->entries[n++] = (struct kvm_cpuid_entry2){.function = CPUID_TIMING_LEAF};
	for (unsigned i = 0; i < VMM_CPUID_LEAVES; i++)
		cpuid_vmm_leaf(i, vm->kvm_kind.kind, vm->kvm_kind.virt_level, &c->entries[n++]);
	c->nent = n;

	bool deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	for (unsigned i = 0; i < n; i++) {
		cpuid_adjust_entry(&c->entries[i], vcpu->index, vm->nvcpus, vm->tsc_khz,
				   vm->nested);
		/* KVM emulates the TSC-deadline timer but leaves advertising it
		 * to userspace. */
		if (c->entries[i].function == 1 && deadline)
			c->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0) {
		snprintf(errbuf, errlen, "KVM_SET_CPUID2 failed: %s", strerror(errno));
		free(c);
		return -1;
	}
	free(c);
	return 0;
}
