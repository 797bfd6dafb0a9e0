/*
 * tsc.c - the TSC frequency, which every time the guest reports rests on.
 *
 * In order of trust: the hypervisor timing leaf 0x40000010 (vmm and QEMU
 * with invtsc fill it: exact), CPUID 0x15 (crystal ratio: exact on Intel),
 * then 20 ms measurements against the PIT, repeated until two agree (QEMU
 * TCG, AMD bare metal; pit_calibrate.c), then CPUID 0x16 (nominal base
 * frequency: approximate).
 */
#include "kernel.h"
#include "pit_calibrate.h"

/* Names the source: a constant string copied whole, which the compiler
 * turns into a few stores (strlcpy, a strlen and a call, cost some 100 us
 * where ring 0 is emulated). */
#define SET_TSC_SOURCE(name)                                                     \
	do {                                                                     \
		_Static_assert(sizeof(name) <= sizeof(sysinfo.tsc_source), name); \
		__builtin_memcpy(sysinfo.tsc_source, name, sizeof(name));        \
	} while (0)

static bool from_hypervisor_leaf(void)
{
	uint32_t r[4];

	if (!cpu_has_hypervisor())
		return false;
	cpuid(0x40000000, 0, r);
	if (r[0] < 0x40000010 || r[0] > 0x4fffffff)
		return false;
	cpuid(0x40000010, 0, r);
	if (!r[0])
		return false;
	sysinfo.tsc_hz = (uint64_t)r[0] * 1000;
	sysinfo.lapic_timer_hz = (uint64_t)r[1] * 1000;
	SET_TSC_SOURCE("cpuid-0x40000010");
	return true;
}

static bool from_leaf_15(uint32_t max_leaf)
{
	uint32_t r[4];

	if (max_leaf < 0x15)
		return false;
	cpuid(0x15, 0, r);
	if (!r[0] || !r[1] || !r[2])
		return false;
	sysinfo.tsc_hz = (uint64_t)r[2] * r[1] / r[0];
	SET_TSC_SOURCE("cpuid-0x15");
	return true;
}

/* PIT channel 0 counting down from 0xffff (mode 2), read with the latch
 * command: needs only ports 0x40-0x43, which QEMU's microvm has too (it
 * lacks port 0x61, the gate channel 2 would need).  The interrupt it
 * raises is masked (pic.c). */
static void pit_start(void *ctx)
{
	(void)ctx;
	outb(0x43, 0x34);                  /* channel 0, lobyte/hibyte, mode 2 */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
}

static int pit_count(void *ctx)
{
	uint8_t lo, hi;

	(void)ctx;
	outb(0x43, 0x00);                  /* latch channel 0 */
	lo = inb(0x40);
	hi = inb(0x40);
	return (hi << 8) | lo;
}

static uint64_t tsc_now(void *ctx)
{
	(void)ctx;
	return rdtsc();
}

static bool from_pit(void)
{
	static const struct pit_clocks hw = {pit_start, pit_count, tsc_now, NULL};
	bool agreed;
	uint64_t hz = pit_calibrate(&hw, &agreed);

	if (!hz)
		return false;
	sysinfo.tsc_hz = hz;
	/* The median of measurements that never agreed: say it is unsteady. */
	if (agreed)
		SET_TSC_SOURCE("pit");
	else
		SET_TSC_SOURCE("pit-unsteady");
	if (!agreed)
		kprintf("vmbench: the PIT calibration never agreed with itself (a busy host?); "
			"using the median of its measurements\n");
	return true;
}

static bool from_leaf_16(uint32_t max_leaf)
{
	uint32_t r[4];

	if (max_leaf < 0x16)
		return false;
	cpuid(0x16, 0, r);
	if (!r[0])
		return false;
	sysinfo.tsc_hz = (uint64_t)r[0] * 1000000;
	SET_TSC_SOURCE("cpuid-0x16");
	return true;
}

void tsc_init(void)
{
	uint32_t r[4];

	if (sysinfo.tsc_hz)
		return;             /* smp.c needed it first */
	cpuid(0, 0, r);
	if (from_hypervisor_leaf() || from_leaf_15(r[0]) || from_pit() || from_leaf_16(r[0]))
		return;
	panic("cannot tell the TSC frequency: no CPUID timing leaf and no PIT "
	      "(QEMU's microvm has a PIT only with KVM or -M microvm,pit=on)");
}

void tsc_delay_us(uint64_t us)
{
	uint64_t end = rdtsc() + us * sysinfo.tsc_hz / 1000000;

	while (rdtsc() < end)
		cpu_relax();
}
