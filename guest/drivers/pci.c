/*
 * pci.c - PCI enumeration and configuration space, from ring 3 (pci.h).
 *
 * Configuration mechanism #1 is port I/O, so each access is a system call
 * (SYS_PCI_READ/SYS_PCI_WRITE).  Enumeration is the usual recursive scan:
 * bus 0, every device, every function of a multi-function device, and the
 * secondary bus of each PCI-to-PCI bridge; a bus is scanned once.  Bus 0
 * of QEMU's pc has six functions or so: a scan is a few dozen calls.
 */
#include "pci.h"

#define MAX_BUSES 256
/* Not in the uapi headers: */
#define PCI_HEADER_TYPE_MULTI 0x80     /* a multi-function device */
#define PCI_CLASS_BRIDGE_PCI 0x0604    /* class 06, subclass 04 (Linux: pci_ids.h) */

static uint32_t config_address(const struct pci_dev *d, unsigned offset)
{
	return (uint32_t)d->bus << 16 | (uint32_t)d->dev << 11 | (uint32_t)d->fn << 8 | offset;
}

uint32_t pci_read(const struct pci_dev *d, unsigned offset, unsigned size)
{
	long v = sys_pci_read(config_address(d, offset), size);

	return v < 0 ? 0xffffffffu : (uint32_t)v;
}

void pci_write(const struct pci_dev *d, unsigned offset, unsigned size, uint32_t value)
{
	sys_pci_write(config_address(d, offset), size, value);
}

struct scan {
	bool (*visit)(const struct pci_dev *d, void *ctx);
	void *ctx;
	bool seen[MAX_BUSES];
};

static bool scan_bus(struct scan *s, unsigned bus);

static bool scan_function(struct scan *s, struct pci_dev *d)
{
	uint32_t id = pci_read(d, PCI_VENDOR_ID, 4);

	d->vendor = (uint16_t)id;
	d->device = (uint16_t)(id >> 16);
	if (d->vendor == 0xffff || d->vendor == 0)
		return false;
	if (s->visit(d, s->ctx))
		return true;
	/* A PCI-to-PCI bridge: scan what is behind it. */
	if ((pci_read(d, PCI_CLASS_REVISION, 4) >> 16) == PCI_CLASS_BRIDGE_PCI) {
		unsigned secondary = pci_read(d, PCI_SECONDARY_BUS, 1);

		if (secondary && scan_bus(s, secondary))
			return true;
	}
	return false;
}

static bool scan_bus(struct scan *s, unsigned bus)
{
	if (bus >= MAX_BUSES || s->seen[bus])
		return false;
	s->seen[bus] = true;
	for (unsigned dev = 0; dev < 32; dev++) {
		struct pci_dev d = {.bus = (uint8_t)bus, .dev = (uint8_t)dev, .fn = 0};

		if ((uint16_t)pci_read(&d, PCI_VENDOR_ID, 2) == 0xffff)
			continue;
		bool multi = pci_read(&d, PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MULTI;

		for (unsigned fn = 0; fn < (multi ? 8u : 1u); fn++) {
			d.fn = (uint8_t)fn;
			if (scan_function(s, &d))
				return true;
		}
	}
	return false;
}

bool pci_scan(bool (*visit)(const struct pci_dev *d, void *ctx), void *ctx)
{
	static struct scan s;

	memset(&s, 0, sizeof(s));
	s.visit = visit;
	s.ctx = ctx;
	return scan_bus(&s, 0);
}

unsigned pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned after)
{
	unsigned p, guard = 0;

	if (!(pci_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	p = pci_read(d, after ? after + PCI_CAP_LIST_NEXT : PCI_CAPABILITY_LIST, 1);
	/* 48 capabilities at most fit in the 192 bytes after the header. */
	for (; p >= PCI_STD_HEADER_SIZEOF && guard < 48; guard++) {
		p &= ~3u;
		if (pci_read(d, p + PCI_CAP_LIST_ID, 1) == id)
			return p;
		p = pci_read(d, p + PCI_CAP_LIST_NEXT, 1);
	}
	return 0;
}

uint64_t pci_bar_address(const struct pci_dev *d, unsigned bar, bool *is64)
{
	uint32_t lo;
	uint64_t addr;

	*is64 = false;
	if (bar > 5)
		return 0;
	lo = pci_read(d, PCI_BASE_ADDRESS_0 + 4 * bar, 4);
	if ((lo & PCI_BASE_ADDRESS_SPACE) == PCI_BASE_ADDRESS_SPACE_IO)
		return 0;          /* an I/O BAR */
	addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
	if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64 && bar < 5) {
		*is64 = true;
		addr |= (uint64_t)pci_read(d, PCI_BASE_ADDRESS_0 + 4 * (bar + 1), 4) << 32;
	}
	return addr;
}

void pci_name(const struct pci_dev *d, char buf[16])
{
	snprintf(buf, 16, "%02x:%02x.%x", d->bus, d->dev, d->fn);
}
