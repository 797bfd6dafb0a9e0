/*
 * pci_testdev.h - QEMU's PCI test device, pci-testdev (hw/misc/
 * pci-testdev.c; vmm offers the same), from ring 3: a device that only
 * counts writes, so that a guest can time exits and see who handled them.
 *
 * Two BARs, one per kind of access: BAR 0 memory, BAR 1 I/O ports.  Writing
 * t to offset 0 of a BAR starts that kind's test t (its count back at 0):
 *
 *   0  no-eventfd          every write reaches the device model (user space)
 *   1  wildcard-eventfd    an ioeventfd on the address, any value
 *   2  datamatch-eventfd   an ioeventfd on the address and the test's value
 *
 * Reading the BAR, byte by byte, gives the test's header (struct
 * testdev_header); a write of `data`, `width` bytes wide, at `offset` is
 * the test's write, and `count` says how many of them the device model
 * saw.  A write an in-kernel ioeventfd took never reaches it: after n
 * writes, count n means user space handled them, 0 means the kernel did.
 *
 * Port I/O from ring 3 needs IOPL 3 (SYS_IOPL), which a host may not
 * honour; testdev_open finds out, and otherwise goes through ring 0
 * (SYS_EXIT_BENCH), which is slow but only set-up uses it here.
 */
#ifndef GUEST_PCI_TESTDEV_H
#define GUEST_PCI_TESTDEV_H

#include "pci.h"

/* Red Hat's ID for QEMU's test device (QEMU's docs/specs/pci-ids.rst). */
#define TESTDEV_VENDOR 0x1b36
#define TESTDEV_DEVICE 0x0005
#define TESTDEV_NAME_MAX 40

enum testdev_space { TESTDEV_MMIO, TESTDEV_PIO };   /* BAR 0, BAR 1 */
enum testdev_test {
	TESTDEV_NO_EVENTFD = 0,
	TESTDEV_WILDCARD_EVENTFD = 1,
	TESTDEV_DATAMATCH_EVENTFD = 2,
};

/* A test's header as the device shows it (little-endian on the BAR:
 * u8 test, u8 width, u8 pad[2], le32 offset, u8 data, u8 pad[3],
 * le32 count, char name[]). */
struct testdev_header {
	uint8_t test, width, data;
	uint32_t offset, count;
	char name[TESTDEV_NAME_MAX];
};

struct testdev {
	struct pci_dev pci;
	char name[16];                /* "bb:dd.f" */
	uint16_t port;                /* BAR 1; 0 if unassigned */
	volatile uint8_t *mmio;       /* BAR 0; NULL if unassigned or unmapped */
	bool port_ring3;              /* in/out work in ring 3 (IOPL 3 honoured) */
	char port_note[64];           /* how port I/O is done, in words */
};

/* Port I/O in ring 3, once testdev_open found that it works. */
static inline uint8_t testdev_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void testdev_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* Finds the first pci-testdev and turns its decoding on.  Returns 0 when
 * found (a BAR it could not use is left at 0/NULL, `why` says which), -1
 * when there is none (`why` empty).  With an I/O BAR it raises the
 * caller's IOPL to 3 and probes whether ring 3's in/out then work. */
int testdev_open(struct testdev *d, char *why, size_t len);
/* Gives back IOPL 3. */
void testdev_close(struct testdev *d);

uint8_t testdev_read(const struct testdev *d, enum testdev_space s, unsigned offset);
void testdev_write(const struct testdev *d, enum testdev_space s, unsigned offset, uint8_t v);
/* Starts test t on one BAR (its count back at 0) and reads its header;
 * false if the device shows another test than the one asked for. */
bool testdev_select(const struct testdev *d, enum testdev_space s, enum testdev_test t,
		    struct testdev_header *h);
/* The current test's count of writes the device model saw. */
uint32_t testdev_count(const struct testdev *d, enum testdev_space s);

#endif
