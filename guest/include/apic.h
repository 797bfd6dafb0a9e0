/*
 * apic.h - the local APIC's registers, as offsets into its xAPIC page at
 * 0xFEE00000 (x2APIC: MSR 0x800 + offset / 16), and the bits the guest
 * uses.  Shared by the kernel (kernel/lapic.c) and ring 3, which in xAPIC
 * mode reaches the page through the identity map (workloads/vmexit.c).
 */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#define LAPIC_BASE 0xfee00000UL

enum lapic_reg {
	LAPIC_ID = 0x20, LAPIC_TPR = 0x80, LAPIC_EOI = 0xb0, LAPIC_SVR = 0xf0,
	LAPIC_ICR_LOW = 0x300, LAPIC_ICR_HIGH = 0x310, LAPIC_LVT_TIMER = 0x320,
	LAPIC_TIMER_INIT = 0x380, LAPIC_TIMER_CURRENT = 0x390, LAPIC_TIMER_DIV = 0x3e0,
};

#define ICR_INIT 0x00004500        /* INIT, level assert */
#define ICR_STARTUP 0x00004600     /* SIPI; vector in the low byte */
#define ICR_FIXED 0x00004000       /* fixed delivery, level assert */
#define ICR_BUSY (1u << 12)        /* delivery status: send pending */
#define ICR_DEST_SELF (1u << 18)   /* shorthand: no destination field */
#define ICR_HIGH_DEST_SHIFT 24     /* xAPIC: the APIC ID in ICR high's top byte */
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_TSC_DEADLINE (2u << 17)
#define SVR_ENABLE (1u << 8)
#define TIMER_DIVIDE_BY_1 0xb

#endif
