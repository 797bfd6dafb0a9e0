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

/* PIT channel 2, gated through port 0x61, counts down once in mode 0;
 * OUT2 (bit 5 of port 0x61) rises when it reaches zero. */
static bool from_pit(void)
{
	uint64_t latch = PIT_HZ * PIT_CALIBRATION_MS / 1000;
	uint64_t t0, t1;
	unsigned long polls = 0;

	outb(0x61, (inb(0x61) & ~0x02) | 0x01);
	outb(0x43, 0xb0);
	outb(0x42, latch & 0xff);
	outb(0x42, latch >> 8);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20))
		if (++polls > PIT_MAX_POLLS)
			return false;
	t1 = rdtsc();
	if (t1 <= t0 || polls < 2)
		return false;     /* no PIT: OUT2 never low */
	sysinfo.tsc_hz = (t1 - t0) * 1000 / PIT_CALIBRATION_MS;
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
	panic("cannot tell the TSC frequency: no CPUID timing leaf and no PIT");
}

void tsc_delay_us(uint64_t us)
{
	uint64_t end = rdtsc() + us * sysinfo.tsc_hz / 1000000;

	while (rdtsc() < end)
		cpu_relax();
}
