/*
 * test_kvm_kind.c - which kind of KVM backs /dev/kvm (vmm/kvm_kind.c),
 * from a made-up sysfs tree and CPUID, so every kind is covered without
 * its host: the sysfs trees are those seen on real hosts (this PVM host's
 * built-in kvm_pvm with only parameters/, a nested-TCG L1's loadable
 * kvm_amd with refcnt), the signatures those of real hypervisors.
 */
#include "unit.h"

#include "kvm.h"

#include <ftw.h>
#include <sys/stat.h>

static char root[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_kvm_kind.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkdir_p(const char *path)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

/* A built-in module: /sys/module/NAME/parameters/, no refcnt. */
static void builtin(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/module/%s/parameters", root, name);
	mkdir_p(path);
}

/* A loadable module with its refcnt file ("1\n" as sysfs writes it). */
static void loadable(const char *name, const char *refcnt)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/module/%s/holders", root, name);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/module/%s/refcnt", root, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(refcnt, f);
	fclose(f);
}

static struct kvm_kind_cpu cpu(bool hypervisor, bool vmx, bool svm, const char *sig)
{
	struct kvm_kind_cpu c;

	memset(&c, 0, sizeof(c));
	c.hypervisor = hypervisor;
	c.vmx = vmx;
	c.svm = svm;
	memcpy(c.signature, sig, strlen(sig) < 12 ? strlen(sig) : 12);
	return c;
}

static struct kvm_kind_info info;

static enum kvm_kind detect(struct kvm_kind_cpu c)
{
	return kvm_kind_detect(root, &c, &info);
}

static void test_names_are_stable(void **state)
{
	(void)state;
	assert_string_equal(kvm_kind_name(KVM_KIND_HARDWARE), "hardware");
	assert_string_equal(kvm_kind_name(KVM_KIND_PVM), "pvm");
	assert_string_equal(kvm_kind_name(KVM_KIND_NESTED_TCG), "nested-tcg");
	assert_string_equal(kvm_kind_name(KVM_KIND_NESTED), "nested");
	assert_string_equal(kvm_kind_name(KVM_KIND_UNKNOWN), "unknown");
	assert_string_equal(kvm_kind_name((enum kvm_kind)99), "unknown");
}

/* This host: kvm_pvm built in, a KVM guest itself ("KVMKVMKVM"), no VMX. */
static void test_pvm_builtin_in_a_kvm_guest(void **state)
{
	char line[256];

	(void)state;
	builtin("kvm");
	builtin("kvm_pvm");
	assert_int_equal(detect(cpu(true, false, false, "KVMKVMKVM\0\0\0")), KVM_KIND_PVM);
	assert_string_equal(info.module, "kvm_pvm");
	assert_string_equal(info.hypervisor, "KVMKVMKVM");
	assert_false(info.by_refcnt);
	kvm_kind_describe(&info, line, sizeof(line));
	assert_contains(line, "pvm KVM (kvm_pvm, PVM-style: guest ring 3 native, guest ring 0 "
			"emulated");
}

static void test_pvm_on_bare_metal_is_pvm(void **state)
{
	(void)state;
	loadable("kvm_pvm", "1\n");
	assert_int_equal(detect(cpu(false, false, false, "")), KVM_KIND_PVM);
	assert_true(info.by_refcnt);
	assert_string_equal(info.hypervisor, "");
}

static void test_hardware_intel_and_amd(void **state)
{
	char line[256];

	(void)state;
	loadable("kvm_intel", "1\n");
	assert_int_equal(detect(cpu(false, true, false, "")), KVM_KIND_HARDWARE);
	assert_string_equal(info.module, "kvm_intel");
	assert_true(info.by_refcnt);
	kvm_kind_describe(&info, line, sizeof(line));
	assert_contains(line, "hardware KVM (kvm_intel, ");
	assert_contains(line, "both guest rings run natively");
	teardown(NULL), setup(NULL);
	loadable("kvm_amd", "3\n");
	assert_int_equal(detect(cpu(false, false, true, "")), KVM_KIND_HARDWARE);
	assert_string_equal(info.module, "kvm_amd");
}

/* The L1 that tools/linuxvm boots: QEMU 7.2 TCG, -cpu max or qemu64,+svm. */
static void test_nested_under_tcg(void **state)
{
	char line[256];

	(void)state;
	loadable("kvm", "1\n");
	loadable("kvm_amd", "1\n");
	assert_int_equal(detect(cpu(true, false, true, "TCGTCGTCGTCG")), KVM_KIND_NESTED_TCG);
	assert_string_equal(info.module, "kvm_amd");
	assert_string_equal(info.hypervisor, "TCGTCGTCGTCG");
	kvm_kind_describe(&info, line, sizeof(line));
	assert_contains(line, "nested-tcg KVM (kvm_amd, in a VM under QEMU's TCG");
}

static void test_nested_under_other_hypervisors(void **state)
{
	static const char *const sigs[] = {"KVMKVMKVM\0\0\0", "Microsoft Hv", "VMwareVMware",
					   "XenVMMXenVMM"};
	char line[256];

	(void)state;
	loadable("kvm_intel", "2\n");
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		assert_int_equal(detect(cpu(true, true, false, sigs[i])), KVM_KIND_NESTED);
		assert_string_equal(info.hypervisor, sigs[i]);
		kvm_kind_describe(&info, line, sizeof(line));
		assert_contains(line, "nested KVM (kvm_intel in a VM under \"");
		assert_contains(line, sigs[i]);
	}
	/* The hypervisor bit without a signature: still nested. */
	assert_int_equal(detect(cpu(true, true, false, "")), KVM_KIND_NESTED);
	kvm_kind_describe(&info, line, sizeof(line));
	assert_contains(line, "a hypervisor without a signature");
	/* Without the hypervisor bit the leaf is not looked at. */
	assert_int_equal(detect(cpu(false, true, false, "TCGTCGTCGTCG")), KVM_KIND_HARDWARE);
	assert_string_equal(info.hypervisor, "");
}

static void test_signature_is_printable_text(void **state)
{
	(void)state;
	loadable("kvm_intel", "1\n");
	assert_int_equal(detect(cpu(true, true, false, "ab\x01\x7f\xff" "cd  \0\0\0")),
			 KVM_KIND_NESTED);
	assert_string_equal(info.hypervisor, "abcd");
}

/* Rule 1: the module /dev/kvm holds (refcnt >= 1) wins over any other. */
static void test_refcnt_decides_between_modules(void **state)
{
	(void)state;
	loadable("kvm_intel", "0\n");
	loadable("kvm_pvm", "1\n");
	assert_int_equal(detect(cpu(false, true, false, "")), KVM_KIND_PVM);
	assert_true(info.by_refcnt);
	teardown(NULL), setup(NULL);
	loadable("kvm_intel", "1\n");
	loadable("kvm_pvm", "0\n");
	assert_int_equal(detect(cpu(false, true, false, "")), KVM_KIND_HARDWARE);
	/* A built-in kvm_pvm beside a loadable kvm_intel that /dev/kvm holds. */
	teardown(NULL), setup(NULL);
	builtin("kvm_pvm");
	loadable("kvm_intel", "1\n");
	assert_int_equal(detect(cpu(true, true, false, "KVMKVMKVM")), KVM_KIND_NESTED);
	assert_string_equal(info.module, "kvm_intel");
}

/* Rule 2: a VMX/SVM module on a CPU without the extension drives nothing. */
static void test_cpu_rules_out_a_hardware_module(void **state)
{
	(void)state;
	builtin("kvm_intel");
	builtin("kvm_amd");
	builtin("kvm_pvm");
	assert_int_equal(detect(cpu(true, false, false, "KVMKVMKVM")), KVM_KIND_PVM);
	/* Refcnts all 0 (nobody holds /dev/kvm): they decide nothing. */
	teardown(NULL), setup(NULL);
	loadable("kvm_intel", "0\n");
	builtin("kvm_pvm");
	assert_int_equal(detect(cpu(false, false, false, "")), KVM_KIND_PVM);
	assert_false(info.by_refcnt);
}

/* Rule 3: both remain: the VMX/SVM module wins. */
static void test_hardware_module_wins_a_tie(void **state)
{
	(void)state;
	builtin("kvm_pvm");
	builtin("kvm_intel");
	assert_int_equal(detect(cpu(false, true, false, "")), KVM_KIND_HARDWARE);
	assert_string_equal(info.module, "kvm_intel");
	builtin("kvm_amd");
	assert_int_equal(detect(cpu(true, false, true, "TCGTCGTCGTCG")), KVM_KIND_NESTED_TCG);
	assert_string_equal(info.module, "kvm_amd");
}

static void test_unreadable_refcnt_counts_as_none(void **state)
{
	(void)state;
	loadable("kvm_intel", "garbage\n");
	loadable("kvm_amd", "-1\n");
	builtin("kvm_pvm");
	assert_int_equal(detect(cpu(false, true, false, "")), KVM_KIND_HARDWARE);
	assert_false(info.by_refcnt);
	loadable("kvm_intel", "");
	assert_int_equal(detect(cpu(false, false, true, "")), KVM_KIND_HARDWARE);
	assert_string_equal(info.module, "kvm_amd");
}

static void test_unknown(void **state)
{
	char line[256];

	(void)state;
	assert_int_equal(detect(cpu(true, true, true, "KVMKVMKVM")), KVM_KIND_UNKNOWN);
	assert_string_equal(info.module, "");
	kvm_kind_describe(&info, line, sizeof(line));
	assert_string_equal(line, "unknown KVM (no kvm_intel, kvm_amd or kvm_pvm module in "
			    "/sys/module)");
	builtin("kvm");   /* kvm alone drives nothing */
	assert_int_equal(detect(cpu(false, true, false, "")), KVM_KIND_UNKNOWN);
	/* A file where a module directory would be. */
	char path[256];
	snprintf(path, sizeof(path), "%s/module/kvm_intel", root);
	fclose(fopen(path, "w"));
	assert_int_equal(detect(cpu(false, true, false, "")), KVM_KIND_UNKNOWN);
	struct kvm_kind_cpu c = cpu(false, true, false, "");
	assert_int_equal(kvm_kind_detect("/nonexistent/sysfs", &c, &info), KVM_KIND_UNKNOWN);
}

static void test_describe_fits_and_truncates(void **state)
{
	char small[12];

	(void)state;
	loadable("kvm_pvm", "1\n");
	detect(cpu(true, false, false, "KVMKVMKVM"));
	kvm_kind_describe(&info, small, sizeof(small));
	assert_string_equal(small, "pvm KVM (kv");
	for (int k = KVM_KIND_UNKNOWN; k <= KVM_KIND_NESTED; k++)
		assert_true(strlen(kvm_kind_meaning((enum kvm_kind)k)) > 10);
}

/* This host, whatever it is: a known name, and a module unless unknown. */
static void test_this_host(void **state)
{
	struct kvm_kind_info here;
	enum kvm_kind kind;

	(void)state;
	kind = kvm_kind_host(&here);
	assert_int_equal(kind, here.kind);
	assert_true(strlen(kvm_kind_name(kind)) > 0);
	assert_true(kind == KVM_KIND_UNKNOWN || here.module[0]);
	assert_true(here.virt_level <= 64);
	print_message("this host: %s KVM (%s, hypervisor \"%s\", virt_level %u)\n",
		      kvm_kind_name(kind), here.module, here.hypervisor, here.virt_level);
}

/* virt_level: 0 on bare metal, 1 under any hypervisor, and what a
 * vmbench vmm below says its guest's level is (kvm_virt_level). */
static void test_virt_level_from_cpuid(void **state)
{
	struct kvm_kind_cpu c;
	char line[256];

	(void)state;
	builtin("kvm_pvm");
	/* Bare metal: no hypervisor bit, whatever the module. */
	detect(cpu(false, false, false, ""));
	assert_int_equal(info.virt_level, 0);
	assert_false(info.below_vmbench_vmm);
	kvm_virt_describe(&info, line, sizeof(line));
	assert_contains(line, "virt_level 0");
	/* This host: a PVM host that is itself a KVM guest. */
	detect(cpu(true, false, false, "KVMKVMKVM"));
	assert_int_equal(info.virt_level, 1);
	kvm_virt_describe(&info, line, sizeof(line));
	assert_contains(line, "virt_level 1");
	assert_contains(line, "\"KVMKVMKVM\"");
	/* Under TCG, VMware, Hyper-V, or a hypervisor without a signature. */
	static const char *const sigs[] = {"TCGTCGTCGTCG", "VMwareVMware", "Microsoft Hv", ""};
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		detect(cpu(true, false, true, sigs[i]));
		assert_int_equal(info.virt_level, 1);
	}
	/* A vmbench vmm below that says its guest is at level 2: vmm is too. */
	c = cpu(true, false, true, "KVMKVMKVM");
	c.vmbench_vmm = true;
	c.vmm_guest_level = 2;
	detect(c);
	assert_int_equal(info.virt_level, 2);
	assert_true(info.below_vmbench_vmm);
	kvm_virt_describe(&info, line, sizeof(line));
	assert_contains(line, "a vmbench vmm");
	/* An older vmm (level 0) or garbage: at least the one hypervisor seen. */
	c.vmm_guest_level = 0;
	assert_int_equal(kvm_virt_level(&c), 1);
	c.vmm_guest_level = 0xdeadbeef;
	assert_int_equal(kvm_virt_level(&c), 1);
	/* No hypervisor bit: a hidden hypervisor reads as bare metal, even
	 * with leftovers in the fields. */
	c.hypervisor = false;
	c.vmm_guest_level = 3;
	assert_int_equal(kvm_virt_level(&c), 0);
	detect(c);
	assert_false(info.below_vmbench_vmm);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_names_are_stable),
		T(test_pvm_builtin_in_a_kvm_guest),
		T(test_pvm_on_bare_metal_is_pvm),
		T(test_hardware_intel_and_amd),
		T(test_nested_under_tcg),
		T(test_nested_under_other_hypervisors),
		T(test_signature_is_printable_text),
		T(test_refcnt_decides_between_modules),
		T(test_cpu_rules_out_a_hardware_module),
		T(test_hardware_module_wins_a_tie),
		T(test_unreadable_refcnt_counts_as_none),
		T(test_unknown),
		T(test_describe_fits_and_truncates),
		T(test_virt_level_from_cpuid),
		T(test_this_host),
	};

	return cmocka_run_group_tests_name("kvm_kind", tests, NULL, NULL);
}
