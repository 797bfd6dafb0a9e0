/*
 * unit_devices.h - for the tests that drive a device as vcpu.c does: the
 * device found by name in the vmm_devices section (device.c's table).
 */
#ifndef UNIT_DEVICES_H
#define UNIT_DEVICES_H

#include <string.h>

#include "vmm.h"

/* The device called `name`, or NULL. */
static inline const struct vmm_device *unit_find_device(const char *name)
{
	unsigned n;
	const struct vmm_device *const *devs = vmm_devices(&n);

	for (unsigned i = 0; i < n; i++)
		if (devs[i]->name && !strcmp(devs[i]->name, name))
			return devs[i];
	return NULL;
}

#endif /* UNIT_DEVICES_H */
