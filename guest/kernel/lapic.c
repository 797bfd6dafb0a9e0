/*
 * lapic.c - the local APIC, in xAPIC (MMIO at 0xFEE00000) or x2APIC (MSR)
 * mode.  x2APIC is used only when a CPU's APIC ID needs more than 8 bits,
 * so guests with few CPUs run the same on QEMU TCG, which lacks x2APIC.
 */
#include "kernel.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_X2APIC (1u << 10)
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_SELF_IPI 0x83f

static bool x2apic_mode;

static uint32_t lapic_read(unsigned reg)
{
	if (x2apic_mode)
		return (uint32_t)rdmsr(0x800 + (reg >> 4));
	return *(volatile uint32_t *)(LAPIC_BASE + reg);
}

static void lapic_write(unsigned reg, uint32_t v)
{
	if (x2apic_mode)
		wrmsr(0x800 + (reg >> 4), v);
	else
		*(volatile uint32_t *)(LAPIC_BASE + reg) = v;
}

void lapic_init(bool x2apic)
{
	x2apic_mode = x2apic;
	if (x2apic)
		wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	lapic_write(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

uint32_t lapic_id(void)
{
	return x2apic_mode ? lapic_read(LAPIC_ID) : lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low)
{
	if (x2apic_mode) {
		wrmsr(0x830, ((uint64_t)apic_id << 32) | icr_low);
		return;
	}
	lapic_write(LAPIC_ICR_HIGH, apic_id << ICR_HIGH_DEST_SHIFT);
	lapic_write(LAPIC_ICR_LOW, icr_low);
	while (lapic_read(LAPIC_ICR_LOW) & ICR_BUSY)
		cpu_relax();
}

/* Without a timing leaf, count the timer against the TSC once. */
static void calibrate_timer(void)
{
	lapic_write(LAPIC_TIMER_DIV, TIMER_DIVIDE_BY_1);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	tsc_delay_us(10000);
	sysinfo.lapic_timer_hz = (uint64_t)(0xffffffffu - lapic_read(LAPIC_TIMER_CURRENT)) * 100;
	lapic_write(LAPIC_TIMER_INIT, 0);
}

void lapic_timer_oneshot(uint64_t ns)
{
	uint64_t ticks;

	if (!sysinfo.lapic_timer_hz)
		calibrate_timer();
	ticks = ns * (sysinfo.lapic_timer_hz / 1000) / 1000000;
	if (ticks == 0)
		ticks = 1;
	if (ticks > 0xffffffff)
		ticks = 0xffffffff;
	lapic_write(LAPIC_TIMER_DIV, TIMER_DIVIDE_BY_1);
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER);   /* one-shot, unmasked */
	lapic_write(LAPIC_TIMER_INIT, (uint32_t)ticks);
}

void lapic_timer_stop(void)
{
	lapic_write(LAPIC_TIMER_INIT, 0);
}

/* One write, so a measurement of it counts one exit: x2APIC's SELF IPI
 * register, or the ICR with the "self" shorthand (no destination, no
 * wait for the delivery status, which KVM never leaves busy). */
void lapic_send_self_ipi(unsigned vector)
{
	if (x2apic_mode)
		wrmsr(MSR_X2APIC_SELF_IPI, vector);
	else
		lapic_write(LAPIC_ICR_LOW, ICR_DEST_SELF | ICR_FIXED | vector);
}

/* The timer as SYS_EXIT_BENCH's interrupt source: vector `vector`, in
 * TSC-deadline or one-shot mode, until lapic_timer_bench_end gives it back
 * to the scheduler masked (sched.c re-arms it with lapic_timer_oneshot). */
void lapic_timer_bench_begin(unsigned vector, bool tsc_deadline)
{
	lapic_write(LAPIC_TIMER_INIT, 0);
	lapic_write(LAPIC_TIMER_DIV, TIMER_DIVIDE_BY_1);
	lapic_write(LAPIC_LVT_TIMER, vector | (tsc_deadline ? LVT_TIMER_TSC_DEADLINE : 0));
}

/* Fires now: a deadline that has passed, or one tick of the count. */
void lapic_timer_bench_fire(bool tsc_deadline)
{
	if (tsc_deadline)
		wrmsr(MSR_TSC_DEADLINE, rdtsc());
	else
		lapic_write(LAPIC_TIMER_INIT, 1);
}

void lapic_timer_bench_end(bool tsc_deadline)
{
	if (tsc_deadline)
		wrmsr(MSR_TSC_DEADLINE, 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, 0);
}
