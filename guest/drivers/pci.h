/*
 * pci.h - PCI from ring 3 (guest/drivers/pci.c): configuration space
 * through the SYS_PCI_READ/SYS_PCI_WRITE system calls (mechanism #1 needs
 * port I/O, which only ring 0 has), enumeration, capabilities and BARs.
 *
 * Everything here is a slow path: each configuration access is a system
 * call and two port exits.  Drivers touch configuration space while they
 * set a device up, never per request; BARs are plain memory to ring 3 (the
 * guest identity-maps 0..4 GiB, the 3..4 GiB hole uncached and
 * user-accessible, see boot/header.S).
 */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include "user.h"

/* Configuration-space offsets and bits: PCI_VENDOR_ID, PCI_COMMAND_MASTER,
 * PCI_CAP_ID_MSIX ... (the kernel's, guest/include/linux/README.md). */
#include <linux/pci_regs.h>

struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
};

uint32_t pci_read(const struct pci_dev *d, unsigned offset, unsigned size);
void pci_write(const struct pci_dev *d, unsigned offset, unsigned size, uint32_t value);

/* Calls visit(d, ctx) for every function on bus 0 and on the buses behind
 * PCI-to-PCI bridges, in bus/device/function order, until it returns true;
 * returns whether one did.  A machine without PCI (no host bridge answers
 * 0xCF8) reads all-ones: no function. */
bool pci_scan(bool (*visit)(const struct pci_dev *d, void *ctx), void *ctx);

/* Offset of the next capability with this ID after `after` (0: the first);
 * 0 when there is none. */
unsigned pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned after);

/* A memory BAR: its address (0 for an I/O or unassigned BAR), and whether
 * it is a 64-bit BAR. */
uint64_t pci_bar_address(const struct pci_dev *d, unsigned bar, bool *is64);

/* "bb:dd.f" */
void pci_name(const struct pci_dev *d, char buf[16]);

#endif
