/*
 * test_cpuid.c - cpuid_adjust_entry() and cpuid_vmm_leaf() (vmm/cpuid.c):
 * what the guest learns from CPUID about its APIC ID, the CPU count and
 * topology, the hypervisor, nested virtualization, its TSC frequency, and
 * from vmm's own leaves the kind of KVM it runs on and its level; and
 * --nested's decision: which extension KVM offers, or the refusal.
 */
#include "unit.h"

#include "kvm.h"

#define TSC_KHZ 2450000u

static struct kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index, uint32_t eax,
				    uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 e;

	memset(&e, 0, sizeof(e));
	e.function = function;
	e.index = index;
	e.eax = eax;
	e.ebx = ebx;
	e.ecx = ecx;
	e.edx = edx;
	return e;
}

static struct kvm_cpuid_entry2 adjusted(struct kvm_cpuid_entry2 e, unsigned index,
					unsigned vcpus)
{
	cpuid_adjust_entry(&e, index, vcpus, TSC_KHZ, NESTED_NONE);
	return e;
}

static struct kvm_cpuid_entry2 adjusted_nested(struct kvm_cpuid_entry2 e, enum nested_virt n)
{
	cpuid_adjust_entry(&e, 0, 1, TSC_KHZ, n);
	return e;
}

static void test_leaf1_apic_id_and_count(void **state)
{
	/* Host values in every field, to see what is replaced and what kept. */
	struct kvm_cpuid_entry2 in = leaf(1, 0, 0x000806f8, 0xffffffff, 0, 0);

	(void)state;
	for (unsigned vcpus = 1; vcpus <= 300; vcpus += 37) {
		for (unsigned i = 0; i < vcpus; i += 13) {
			struct kvm_cpuid_entry2 e = adjusted(in, i, vcpus);

			assert_int_equal(e.ebx >> 24, i & 0xff);      /* initial APIC ID */
			assert_int_equal((e.ebx >> 16) & 0xff, vcpus > 255 ? 255 : vcpus);
			assert_int_equal(e.ebx & 0xffff, 0xffff);     /* brand, clflush kept */
			assert_int_equal(e.eax, 0x000806f8);          /* signature kept */
		}
	}
}

static void test_leaf1_hypervisor_bit_set_and_vmx_cleared(void **state)
{
	struct kvm_cpuid_entry2 e;

	(void)state;
	e = adjusted(leaf(1, 0, 0, 0, 1u << 5 | 1u << 0, 0), 0, 1);
	assert_int_equal(e.ecx & (1u << 31), 1u << 31);   /* hypervisor present */
	assert_int_equal(e.ecx & (1u << 5), 0);           /* no VMX */
	assert_int_equal(e.ecx & 1, 1);                   /* SSE3 kept */
	e = adjusted(leaf(1, 0, 0, 0, 0xffffffff, 0), 3, 4);
	assert_int_equal(e.ecx, 0xffffffff & ~(1u << 5));
}

static void test_leaf1_htt_with_more_than_one_vcpu(void **state)
{
	(void)state;
	assert_int_equal(adjusted(leaf(1, 0, 0, 0, 0, 0), 0, 2).edx & (1u << 28), 1u << 28);
	assert_int_equal(adjusted(leaf(1, 0, 0, 0, 0, 0x178bfbff), 0, 2).edx,
			 0x178bfbff | (1u << 28));
}

/* Leaf 0xB and 0x1F: SMT level (one thread per core), then the core
 * level spanning every vCPU, then the invalid level. */
static void check_topology_leaf(uint32_t function)
{
	static const struct {
		unsigned vcpus, shift;
	} cases[] = {{1, 0}, {2, 1}, {3, 2}, {4, 2}, {5, 3}, {8, 3}, {255, 8},
		     {256, 8}, {257, 9}, {300, 9}};

	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		unsigned vcpus = cases[k].vcpus;

		for (unsigned i = 0; i < vcpus; i += (vcpus > 8 ? 17 : 1)) {
			struct kvm_cpuid_entry2 smt = adjusted(leaf(function, 0, 7, 7, 7, 7), i, vcpus);
			struct kvm_cpuid_entry2 core = adjusted(leaf(function, 1, 7, 7, 7, 7), i, vcpus);
			struct kvm_cpuid_entry2 end = adjusted(leaf(function, 2, 7, 7, 7, 7), i, vcpus);

			/* x2APIC ID in EDX at every level. */
			assert_int_equal(smt.edx, i);
			assert_int_equal(core.edx, i);
			assert_int_equal(end.edx, i);
			/* Level type in ECX[15:8], level number in ECX[7:0]. */
			assert_int_equal(smt.ecx, 1u << 8 | 0);
			assert_int_equal(core.ecx, 2u << 8 | 1);
			assert_int_equal(end.ecx & 0xff00, 0);
			assert_int_equal(end.ecx & 0xff, 2);
			assert_int_equal(end.eax, 0);
			assert_int_equal(end.ebx, 0);
			/* SMT: no bits, one thread; core: enough bits, vcpus CPUs. */
			assert_int_equal(smt.eax & 0x1f, 0);
			assert_int_equal(smt.ebx & 0xffff, 1);
			assert_int_equal(core.eax & 0x1f, cases[k].shift);
			assert_int_equal(core.ebx & 0xffff, vcpus);
			/* Every vCPU is in package 0. */
			assert_int_equal(i >> (core.eax & 0x1f), 0);
		}
	}
}

static void test_leaf_0xb_x2apic_id_and_levels(void **state)
{
	(void)state;
	check_topology_leaf(0xb);
}

static void test_leaf_0x1f_x2apic_id_and_levels(void **state)
{
	(void)state;
	check_topology_leaf(0x1f);
}

static void test_svm_hidden(void **state)
{
	struct kvm_cpuid_entry2 e;

	(void)state;
	e = adjusted(leaf(0x80000001, 0, 0, 0, 0xffffffff, 0x2fd3fbff), 0, 1);
	assert_int_equal(e.ecx, 0xffffffff & ~(1u << 2));   /* only SVM cleared */
	assert_int_equal(e.edx, 0x2fd3fbff);
	e = adjusted(leaf(0x8000000a, 0, 1, 0x8000, 0, 0xffffffff), 0, 1);
	assert_int_equal(e.eax | e.ebx | e.ecx | e.edx, 0);
}

static void test_amd_core_count_leaf(void **state)
{
	(void)state;
	assert_int_equal(adjusted(leaf(0x80000008, 0, 0x3030, 0, 0x7007, 0), 0, 4).ecx, 0x7003);
	assert_int_equal(adjusted(leaf(0x80000008, 0, 0, 0, 0, 0), 0, 1).ecx, 0);
	assert_int_equal(adjusted(leaf(0x80000008, 0, 0, 0, 0, 0), 0, 300).ecx & 0xff, 255);
	assert_int_equal(adjusted(leaf(0x80000008, 0, 0x3030, 0, 0, 0), 0, 4).eax, 0x3030);
}

static void test_hypervisor_leaf_reaches_timing_leaf(void **state)
{
	/* "KVMKVMKVM\0\0\0" */
	struct kvm_cpuid_entry2 in = leaf(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56,
					  0x4d);
	struct kvm_cpuid_entry2 e = adjusted(in, 0, 1);

	(void)state;
	assert_true(e.eax >= 0x40000010);
	assert_int_equal(e.ebx, 0x4b4d564b);   /* signature kept */
	assert_int_equal(e.ecx, 0x564b4d56);
	assert_int_equal(e.edx, 0x4d);
	in.eax = 0x40000020;                   /* already higher: kept */
	assert_int_equal(adjusted(in, 0, 1).eax, 0x40000020);
}

static void test_timing_leaf_has_tsc_and_lapic_khz(void **state)
{
	struct kvm_cpuid_entry2 e;

	(void)state;
	e = adjusted(leaf(0x40000010, 0, 1, 2, 3, 4), 1, 2);
	assert_int_equal(e.eax, TSC_KHZ);
	assert_int_equal(e.ebx, 1000000);      /* LAPIC timer: 1 GHz */
	assert_int_equal(e.ecx, 0);
	assert_int_equal(e.edx, 0);
	e = leaf(0x40000010, 0, 0, 0, 0, 0);
	cpuid_adjust_entry(&e, 0, 1, 3000000, NESTED_NONE);
	assert_int_equal(e.eax, 3000000);
}

static void test_other_leaves_untouched(void **state)
{
	static const uint32_t functions[] = {0, 2, 4, 7, 0xd, 0x80000000, 0x80000002,
					     0x80000007, 0x40000001};

	(void)state;
	for (unsigned i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
		struct kvm_cpuid_entry2 in = leaf(functions[i], 0, 0x11111111, 0x22222222,
						  0x33333333, 0x44444444);
		struct kvm_cpuid_entry2 out = adjusted(in, 5, 8);

		if (memcmp(&in, &out, sizeof(in)))
			fail_msg("leaf 0x%x was changed", functions[i]);
	}
}

/* vmm's own leaves: the signature a guest looks for, then the kind. */
static void test_vmm_leaves_signature_and_kind(void **state)
{
	struct kvm_cpuid_entry2 base, kind;
	char sig[13] = {0};

	(void)state;
	cpuid_vmm_leaf(0, KVM_KIND_HARDWARE, 0, &base);
	assert_int_equal(base.function, 0x40000100);
	assert_int_equal(base.index, 0);
	assert_int_equal(base.flags, 0);
	assert_int_equal(base.eax, 0x40000101);            /* the range's last leaf */
	memcpy(sig, &base.ebx, 4);
	memcpy(sig + 4, &base.ecx, 4);
	memcpy(sig + 8, &base.edx, 4);
	assert_memory_equal(sig, "VMBENCHVMM\0\0", 12);
	assert_int_equal(base.ebx, 0x45424d56);            /* "VMBE" */
	assert_int_equal(base.ecx, 0x5648434e);            /* "NCHV" */
	assert_int_equal(base.edx, 0x00004d4d);            /* "MM\0\0" */

	static const struct {
		enum kvm_kind kind;
		uint32_t eax, ebx;
	} cases[] = {
		{KVM_KIND_UNKNOWN, 0, 0},
		{KVM_KIND_HARDWARE, 1, 0},
		{KVM_KIND_PVM, 2, 3},                      /* ring 0 emulated, no hypercalls */
		{KVM_KIND_NESTED_TCG, 3, 0},
		{KVM_KIND_NESTED, 4, 0},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cpuid_vmm_leaf(1, cases[i].kind, 0, &kind);
		assert_int_equal(kind.function, 0x40000101);
		assert_int_equal(kind.eax, cases[i].eax);
		assert_int_equal(kind.ebx, cases[i].ebx);
		assert_int_equal(kind.ecx, 1);   /* vmm on bare metal: its guest at 1 */
		assert_int_equal(kind.edx, 0x4f8);   /* the buffer console's port */
		/* The signature does not depend on the kind. */
		struct kvm_cpuid_entry2 b2;
		cpuid_vmm_leaf(0, cases[i].kind, 3, &b2);
		assert_memory_equal(&b2, &base, sizeof(base));
	}
	assert_int_equal(VMM_CPUID_F_RING0_EMULATED, 1);
	assert_int_equal(VMM_CPUID_F_NO_HYPERCALL, 2);
}

/* cpuid_adjust_entry leaves vmm's leaves as they are. */
static void test_vmm_leaves_not_adjusted(void **state)
{
	(void)state;
	for (unsigned i = 0; i < VMM_CPUID_LEAVES; i++) {
		struct kvm_cpuid_entry2 e, out;

		cpuid_vmm_leaf(i, KVM_KIND_PVM, 1, &e);
		out = adjusted(e, 3, 4);
		assert_memory_equal(&out, &e, sizeof(e));
	}
}

/* ECX of 0x40000101: the guest's level, one more than vmm's. */
static void test_vmm_leaf_gives_the_guests_level(void **state)
{
	struct kvm_cpuid_entry2 e;

	(void)state;
	for (unsigned level = 0; level < 4; level++) {
		cpuid_vmm_leaf(1, KVM_KIND_NESTED, level, &e);
		assert_int_equal(e.ecx, level + 1);
	}
}

/* --nested keeps the extension KVM offers, and only that one. */
static void test_nested_svm_kept(void **state)
{
	struct kvm_cpuid_entry2 e;

	(void)state;
	e = adjusted_nested(leaf(0x80000001, 0, 0, 0, 0xffffffff, 0), NESTED_SVM);
	assert_int_equal(e.ecx, 0xffffffff);
	e = adjusted_nested(leaf(0x8000000a, 0, 1, 0x8000, 0, 0x1ebf), NESTED_SVM);
	assert_int_equal(e.eax, 1);            /* SVM revision */
	assert_int_equal(e.ebx, 0x8000);       /* ASIDs */
	assert_int_equal(e.edx, 0x1ebf);       /* NPT, NRIPS ... as KVM has them */
	/* SVM offered, VMX still hidden. */
	e = adjusted_nested(leaf(1, 0, 0, 0, 1u << 5, 0), NESTED_SVM);
	assert_int_equal(e.ecx & (1u << 5), 0);
}

static void test_nested_vmx_kept(void **state)
{
	struct kvm_cpuid_entry2 e;

	(void)state;
	e = adjusted_nested(leaf(1, 0, 0, 0, 1u << 5, 0), NESTED_VMX);
	assert_int_equal(e.ecx & (1u << 5), 1u << 5);
	assert_int_equal(e.ecx & (1u << 31), 1u << 31);
	e = adjusted_nested(leaf(0x80000001, 0, 0, 0, 1u << 2, 0), NESTED_VMX);
	assert_int_equal(e.ecx & (1u << 2), 0);
	e = adjusted_nested(leaf(0x8000000a, 0, 1, 0x8000, 0, 1), NESTED_VMX);
	assert_int_equal(e.eax | e.ebx | e.ecx | e.edx, 0);
}

/* A KVM_GET_SUPPORTED_CPUID table with these leaves. */
static struct kvm_cpuid2 *table(const struct kvm_cpuid_entry2 *entries, unsigned n)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

	assert_non_null(c);
	c->nent = n;
	memcpy(c->entries, entries, n * sizeof(*entries));
	return c;
}

static void test_nested_offered_by_kvm(void **state)
{
	struct kvm_cpuid2 *c;

	(void)state;
	/* An AMD host with nested=1: SVM in 80000001h and leaf 8000000Ah. */
	struct kvm_cpuid_entry2 amd[] = {leaf(1, 0, 0, 0, 0, 0),
					 leaf(0x80000001, 0, 0, 0, 1u << 2, 0),
					 leaf(0x8000000a, 0, 1, 8, 0, 0)};
	c = table(amd, 3);
	assert_int_equal(nested_virt_offered(c), NESTED_SVM);
	free(c);
	/* SVM without its feature leaf is not something to offer. */
	c = table(amd, 2);
	assert_int_equal(nested_virt_offered(c), NESTED_NONE);
	free(c);
	/* An Intel host with nested=1: VMX in leaf 1. */
	struct kvm_cpuid_entry2 intel[] = {leaf(1, 0, 0, 0, 1u << 5, 0),
					   leaf(0x80000001, 0, 0, 0, 0, 0)};
	c = table(intel, 2);
	assert_int_equal(nested_virt_offered(c), NESTED_VMX);
	free(c);
	/* PVM, or nested=0: neither. */
	struct kvm_cpuid_entry2 none[] = {leaf(1, 0, 0, 0, ~(1u << 5), 0),
					  leaf(0x80000001, 0, 0, 0, ~(1u << 2), 0),
					  leaf(0x8000000a, 0, 0, 0, 0, 0)};
	c = table(none, 3);
	assert_int_equal(nested_virt_offered(c), NESTED_NONE);
	free(c);
	assert_string_equal(nested_virt_name(NESTED_NONE), "none");
	assert_string_equal(nested_virt_name(NESTED_VMX), "vmx");
	assert_string_equal(nested_virt_name(NESTED_SVM), "svm");
}

static void test_nested_refusal_is_one_line(void **state)
{
	struct kvm_kind_info info;
	char line[256];

	(void)state;
	memset(&info, 0, sizeof(info));
	info.kind = KVM_KIND_PVM;
	snprintf(info.module, sizeof(info.module), "kvm_pvm");
	nested_virt_refusal(&info, NULL, line, sizeof(line));
	assert_string_equal(line, "--nested: this host's KVM (pvm) offers neither VMX nor SVM "
			    "to its guests");
	info.kind = KVM_KIND_HARDWARE;
	snprintf(info.module, sizeof(info.module), "kvm_amd");
	nested_virt_refusal(&info, "0", line, sizeof(line));
	assert_contains(line, "(kvm_amd)");
	assert_contains(line, "nested=0: reload it with nested=1");
	snprintf(info.module, sizeof(info.module), "kvm_intel");
	nested_virt_refusal(&info, "N", line, sizeof(line));
	assert_contains(line, "kvm_intel is loaded with nested=N");
	/* nested=1 but no extension (a CPU model without it): no hint. */
	nested_virt_refusal(&info, "Y", line, sizeof(line));
	assert_null(strstr(line, "reload"));
	assert_null(strchr(line, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf1_apic_id_and_count),
		cmocka_unit_test(test_leaf1_hypervisor_bit_set_and_vmx_cleared),
		cmocka_unit_test(test_leaf1_htt_with_more_than_one_vcpu),
		cmocka_unit_test(test_leaf_0xb_x2apic_id_and_levels),
		cmocka_unit_test(test_leaf_0x1f_x2apic_id_and_levels),
		cmocka_unit_test(test_svm_hidden),
		cmocka_unit_test(test_amd_core_count_leaf),
		cmocka_unit_test(test_hypervisor_leaf_reaches_timing_leaf),
		cmocka_unit_test(test_timing_leaf_has_tsc_and_lapic_khz),
		cmocka_unit_test(test_other_leaves_untouched),
		cmocka_unit_test(test_vmm_leaves_signature_and_kind),
		cmocka_unit_test(test_vmm_leaves_not_adjusted),
		cmocka_unit_test(test_vmm_leaf_gives_the_guests_level),
		cmocka_unit_test(test_nested_svm_kept),
		cmocka_unit_test(test_nested_vmx_kept),
		cmocka_unit_test(test_nested_offered_by_kvm),
		cmocka_unit_test(test_nested_refusal_is_one_line),
	};

	return cmocka_run_group_tests_name("cpuid", tests, NULL, NULL);
}
