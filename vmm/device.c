/*
 * device.c - the device table: every VMM_DEVICE() in the vmm_devices
 * linker section, in init order (by level, then link order), and the
 * calls into it: options.c builds the command line from the table, vm.c
 * sets devices up, stops and tears them down through devices_*(), stats.c
 * and report.c ask each for its counters.
 */
#include "vmm.h"

#define VMM_MAX_DEVICES 32

extern const struct vmm_device *const __start_vmm_devices[];
extern const struct vmm_device *const __stop_vmm_devices[];

static const struct vmm_device *table[VMM_MAX_DEVICES];
static unsigned ntable;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
	for (const struct vmm_device *const *d = __start_vmm_devices;
	     d < __stop_vmm_devices && ntable < VMM_MAX_DEVICES; d++) {
		unsigned i = ntable++;

		/* Insertion sort, stable: same level keeps link order. */
		while (i > 0 && table[i - 1]->level > (*d)->level) {
			table[i] = table[i - 1];
			i--;
		}
		table[i] = *d;
	}
}

const struct vmm_device *const *vmm_devices(unsigned *n)
{
	pthread_once(&once, build_table);
	*n = ntable;
	return table;
}

int devices_setup(struct vm *vm, char *errbuf, size_t errlen)
{
	unsigned n;
	const struct vmm_device *const *devs = vmm_devices(&n);

	for (unsigned i = 0; i < n; i++) {
		vm->ndevices_up = i + 1;   /* the one that fails is torn down too */
		if (devs[i]->setup && devs[i]->setup(vm, vm->cfg, errbuf, errlen))
			return -1;
	}
	return 0;
}

/* stop or teardown of the devices set up, in reverse init order. */
static void devices_down(struct vm *vm, bool teardown)
{
	unsigned n;
	const struct vmm_device *const *devs = vmm_devices(&n);

	for (unsigned i = vm->ndevices_up; i-- > 0;) {
		void (*fn)(struct vm *) = teardown ? devs[i]->teardown : devs[i]->stop;

		if (fn)
			fn(vm);
	}
}

void devices_stop(struct vm *vm)
{
	devices_down(vm, false);
}

void devices_teardown(struct vm *vm)
{
	devices_down(vm, true);
	vm->ndevices_up = 0;
}

/* Each device's --stats lines or --json members, in init order. */
static void devices_report(const struct vm *vm, FILE *out, bool json)
{
	unsigned n;
	const struct vmm_device *const *devs = vmm_devices(&n);

	for (unsigned i = 0; i < n; i++) {
		void (*fn)(const struct vm *, FILE *) = json ? devs[i]->write_json :
								devs[i]->print_stats;

		if (fn)
			fn(vm, out);
	}
}

void devices_print_stats(const struct vm *vm, FILE *out)
{
	devices_report(vm, out, false);
}

void devices_write_json(const struct vm *vm, FILE *f)
{
	devices_report(vm, f, true);
}
