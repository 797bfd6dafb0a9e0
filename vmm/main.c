/*
 * main.c - vmm's entry point: options, build the VM, run it, report, and
 * exit with the guest's status (or vmm's own, see enum vmm_status).
 */
#include "vmm.h"

#include "options.h"

#include <stdlib.h>
#include <string.h>

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

	double wall_s = (now_ns() - vm.timeline.start) / 1e9;
	if (cfg.stats)
		stats_print(&vm, stderr);
	if (cfg.json_path && report_write_json(&vm, cfg.json_path, wall_s, err, sizeof(err))) {
		vmm_error("%s", err);
		if (status == 0)
			status = VMM_STATUS_SETUP;
	}
	vm_destroy(&vm);
	options_free(&cfg);
	return status;
}
