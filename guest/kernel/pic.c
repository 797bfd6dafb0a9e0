/*
 * pic.c - silence the legacy 8259 PICs.  A BIOS leaves them delivering
 * the PIT's IRQ 0 at vector 8, where the CPU's double-fault handler
 * lives; the guest uses only the LAPIC.  Remap them above the exception
 * vectors (0x20-0x2f), then mask every line.
 */
#include "kernel.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

void pic_disable(void)
{
	outb(PIC1_CMD, 0x11);    /* ICW1: initialise, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, 0x20);   /* ICW2: vector bases */
	outb(PIC2_DATA, 0x28);
	outb(PIC1_DATA, 0x04);   /* ICW3: slave on IRQ 2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01);   /* ICW4: 8086 mode */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xff);   /* mask everything */
	outb(PIC2_DATA, 0xff);
}
