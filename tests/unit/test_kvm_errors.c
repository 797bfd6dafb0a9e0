/*
 * test_kvm_errors.c - every way /dev/kvm can fail to open has its own
 * message (vmm/kvm.c: kvm_explain_open_error).  A host only ever shows one
 * of them, so they are tested here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "kvm.h"

static char msg[512];

static const char *explain(int err, bool module_loaded)
{
	kvm_explain_open_error(err, module_loaded, msg, sizeof(msg));
	return msg;
}

static void test_no_device_no_module(void **state)
{
	(void)state;
	assert_non_null(strstr(explain(ENOENT, false),
			       "/dev/kvm does not exist: load the kvm module (modprobe kvm_intel "
			       "or kvm_amd) or enable virtualization in the firmware"));
}

static void test_no_device_but_module(void **state)
{
	(void)state;
	assert_non_null(strstr(explain(ENOENT, true),
			       "although the kvm module is loaded: no kvm_intel/kvm_amd driver bound"));
}

static void test_permission(void **state)
{
	(void)state;
	for (int err = EPERM; err; err = err == EPERM ? EACCES : 0)
		assert_non_null(strstr(explain(err, true),
				       "permission denied opening /dev/kvm: join its group "
				       "(usermod -aG kvm $USER"));
}

static void test_device_without_driver(void **state)
{
	(void)state;
	assert_non_null(strstr(explain(ENODEV, true),
			       "/dev/kvm exists but no KVM driver answers (No such device)"));
	assert_non_null(strstr(explain(ENXIO, false), "no KVM driver answers"));
}

static void test_anything_else_names_the_error(void **state)
{
	(void)state;
	assert_string_equal(explain(EBUSY, true), "cannot open /dev/kvm: Device or resource busy");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_device_no_module),
		cmocka_unit_test(test_no_device_but_module),
		cmocka_unit_test(test_permission),
		cmocka_unit_test(test_device_without_driver),
		cmocka_unit_test(test_anything_else_names_the_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
