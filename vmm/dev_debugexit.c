/*
 * dev_debugexit.c - QEMU's isa-debug-exit at port 0xf4: the guest writes
 * its status and vmm exits with it.  (QEMU exits with status*2+1 for the
 * same write; vmm returns the value itself, so 0 means success.)
 */
#include "vmm.h"

#define DEBUG_EXIT_PORT 0xf4

static bool debug_exit_io(struct vcpu *vcpu, uint64_t addr, bool is_write, uint8_t *data,
			  unsigned size, void *opaque)
{
	uint32_t value = 0;

	(void)addr;
	(void)opaque;
	if (!is_write) {
		for (unsigned i = 0; i < size; i++)
			data[i] = 0;
		return true;
	}
	for (unsigned i = 0; i < size && i < 4; i++)
		value |= (uint32_t)data[i] << (8 * i);
	if (value > VMM_STATUS_GUEST_MAX) {
		vmm_error("guest wrote exit status %u; statuses above %d are vmm's own, "
			  "so it is reported as %d", value, VMM_STATUS_GUEST_MAX,
			  VMM_STATUS_GUEST_MAX);
		value = VMM_STATUS_GUEST_MAX;
	}
	vm_request_stop(vcpu->vm, STOP_GUEST_EXIT, (int)value);
	return false;   /* this vCPU stops here */
}

static int debug_exit_setup(struct vm *vm, const struct vmm_config *cfg, char *errbuf,
			    size_t errlen)
{
	struct io_region r = {
		.space = IO_PORT, .base = DEBUG_EXIT_PORT, .len = 4, .name = "debug-exit",
		.fn = debug_exit_io,
	};

	(void)cfg;
	return io_register(&vm->io, &r, errbuf, errlen);
}

VMM_DEVICE(debug_exit, .name = "debug-exit", .level = VMM_INIT_CORE,
	   .setup = debug_exit_setup);
