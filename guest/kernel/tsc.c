/*
 * tsc.c - the TSC frequency, which every time the guest reports rests on.
 *
 * In order of trust: the hypervisor timing leaf 0x40000010 (vmm and QEMU
 * with invtsc fill it: exact), CPUID 0x15 (crystal ratio: exact on Intel),
 * then a 20 ms measurement against the PIT (QEMU TCG, AMD bare metal),
 * then CPUID 0x16 (nominal base frequency: approximate).
 */
#include "kernel.h"

#define PIT_HZ 1193182ULL
#define PIT_CALIBRATION_MS 20
#define PIT_MAX_POLLS 20000000UL
#define PIT_NO_TICK_POLLS 100000UL

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
	strlcpy(sysinfo.tsc_source, "cpuid-0x40000010", sizeof(sysinfo.tsc_source));
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
	strlcpy(sysinfo.tsc_source, "cpuid-0x15", sizeof(sysinfo.tsc_source));
	return true;
}

/* PIT channel 0 counting down from 0xffff (mode 2), read with the latch
 * command: needs only ports 0x40-0x43, which QEMU's microvm has too (it
 * lacks port 0x61, the gate channel 2 would need).  The interrupt it
 * raises is masked (pic.c).  Returns the count, or -1 if nothing answers. */
static int pit_count(void)
{
	uint8_t lo, hi;

	outb(0x43, 0x00);                  /* latch channel 0 */
	lo = inb(0x40);
	hi = inb(0x40);
	return (hi << 8) | lo;
}

static bool from_pit(void)
{
	uint64_t ticks = PIT_HZ * PIT_CALIBRATION_MS / 1000;
	uint64_t t0, t1;
	unsigned long polls = 0;
	int start, now, last;

	outb(0x43, 0x34);                  /* channel 0, lobyte/hibyte, mode 2 */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
	/* Start on a count change, so t0 is aligned to a PIT tick. */
	start = pit_count();
	do {
		now = pit_count();
		if (++polls > PIT_NO_TICK_POLLS)
			return false;              /* a PIT ticks every 838 ns: none here */
	} while (now == start);
	t0 = rdtsc();
	start = last = now;
	for (;;) {
		now = pit_count();
		if (now > last || ++polls > PIT_MAX_POLLS)
			return false;              /* wrapped or stuck: too slow to poll */
		last = now;
		if ((uint64_t)(start - now) >= ticks)
			break;
	}
	t1 = rdtsc();
	sysinfo.tsc_hz = (t1 - t0) * PIT_HZ / (uint64_t)(start - now);
	strlcpy(sysinfo.tsc_source, "pit", sizeof(sysinfo.tsc_source));
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
	strlcpy(sysinfo.tsc_source, "cpuid-0x16", sizeof(sysinfo.tsc_source));
	return true;
}

void tsc_init(void)
{
	uint32_t r[4];

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
