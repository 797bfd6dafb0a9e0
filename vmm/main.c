/*
 * main.c - vmm's entry point: options, build the VM, run it, report, and
 * exit with the guest's status (or vmm's own, see enum vmm_status).
 *
 * After a run, once the guest's output is flushed and the reports are
 * written, vmm exits without tearing the VM down: the kernel frees the
 * same memory and descriptors at exit anyway, and unmapping and freeing
 * them first only makes vmm later.  The sanitizer builds (and
 * VMM_TEARDOWN=1) keep the orderly teardown, so leak checks still see
 * every allocation given back.
 */
#include "vmm.h"

#include "options.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED_BUILD 1
#endif
#endif
#ifndef SANITIZED_BUILD
#define SANITIZED_BUILD 0
#endif

/* Whether to free everything before exiting (see the top of this file). */
static bool orderly_teardown(void)
{
	const char *env = getenv("VMM_TEARDOWN");

	return SANITIZED_BUILD || (env && *env && strcmp(env, "0"));
}

int main(int argc, char **argv)
{
	static struct vm vm;
	struct vmm_config cfg;
	char err[512];
	int status;

	vm.timeline.start = now_ns();
	if (vm_block_signals()) {
		vmm_error("cannot block signals");
		return VMM_STATUS_SETUP;
	}
	switch (options_parse(argc, argv, &cfg, err, sizeof(err), stdout)) {
	case OPTIONS_EXIT_OK:
		options_free(&cfg);
		return 0;
	case OPTIONS_ERROR:
		vmm_error("%s", err);
		options_free(&cfg);
		return VMM_STATUS_SETUP;
	case OPTIONS_CHECK:
		options_free(&cfg);
		if (kvm_check(stdout, err, sizeof(err))) {
			vmm_error("cannot run guests here: %s", err);
			return VMM_STATUS_SETUP;
		}
		return 0;
	case OPTIONS_RUN:
		break;
	}

	if (vm_build(&vm, &cfg, err, sizeof(err))) {
		vmm_error("%s", err);
		vm_destroy(&vm);
		options_free(&cfg);
		return VMM_STATUS_SETUP;
	}
	if (vm_run(&vm, err, sizeof(err)))
		vmm_error("%s", err);
	status = vm.exit_status;
	if (vm.stop_reason == STOP_NONE)
		status = VMM_STATUS_NO_EXIT;

	vm.timeline.reporting = now_ns();
	double wall_s = (vm.timeline.reporting - vm.timeline.start) / 1e9;
	if (cfg.stats)
		stats_print(&vm, stderr);
	if (cfg.json_path && report_write_json(&vm, cfg.json_path, wall_s, err, sizeof(err))) {
		vmm_error("%s", err);
		if (status == 0)
			status = VMM_STATUS_SETUP;
	}
	vm.timeline.reported = now_ns();
	bool stats = cfg.stats;
	if (orderly_teardown()) {
		vm_destroy(&vm);
		options_free(&cfg);
	}
	vm.timeline.exiting = now_ns();
	if (stats)
		stats_print_timeline(&vm, stderr);
	if (!orderly_teardown()) {
		/* The console wrote with write(2); stdio holds only vmm's own. */
		fflush(NULL);
		_exit(status);
	}
	return status;
}
