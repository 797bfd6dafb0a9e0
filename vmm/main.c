/*
 * main.c - vmm's entry point: options, build the VM, run it, report, and
 * exit with the guest's status (or vmm's own, see enum vmm_status).
 *
 * The teardown stays orderly: exiting without it (the kernel frees the same
 * memory and descriptors at exit) was measured on PVM-style KVM and saved
 * nothing, since the kernel's VM destruction, the costly part, runs at exit
 * either way.  What does save it is not waiting for it: vm_destroy() hands
 * the VM to the reaper (reaper.h) unless --sync-teardown.
 */
#include "vmm.h"

#include "options.h"
#include "sandbox.h"
#include "setup_watchdog.h"

#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	static struct vm vm;
	struct vmm_config cfg;
	struct setup_watchdog watchdog = {0};
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

	/* The sandbox (sandbox.h): what every thread inherits before the
	 * first one (KVM's lane: from here on KVM creates the VM while the rest
	 * is set up; vm_build joins it and reports its errors in their turn),
	 * the filters compiled, the --json file opened before --user's drop,
	 * which comes once every file is open; the filters go on as the vCPUs
	 * start (vm_run). */
	sandbox_before_threads();
	vm_start_kvm(&vm, &cfg);
	if (sandbox_prepare(&cfg, err, sizeof(err))) {
		vmm_error("%s", err);
		options_free(&cfg);
		return VMM_STATUS_SETUP;
	}
	if (report_prepare(cfg.json_path, err, sizeof(err))) {
		vmm_error("%s", err);
		options_free(&cfg);
		return VMM_STATUS_SETUP;
	}
	/* --timeout counts from the start: set-up is watched too. */
	if (cfg.timeout_s > 0 &&
	    setup_watchdog_start(&watchdog, vm.timeline.start + (uint64_t)(cfg.timeout_s * 1e9),
				 cfg.timeout_s)) {
		vmm_error("cannot start the --timeout watchdog");
		report_discard();
		options_free(&cfg);
		return VMM_STATUS_SETUP;
	}
	int built = vm_build(&vm, &cfg, err, sizeof(err));

	setup_watchdog_stop(&watchdog);
	if (built || sandbox_drop_privileges(err, sizeof(err))) {
		vmm_error("%s", err);
		report_discard();
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
	vm_destroy(&vm);
	options_free(&cfg);
	vm.timeline.exiting = now_ns();
	if (stats)
		stats_print_timeline(&vm, stderr);
	return status;
}
