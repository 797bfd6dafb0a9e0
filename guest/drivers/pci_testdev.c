/*
 * pci_testdev.c - QEMU's pci-testdev from ring 3 (pci_testdev.h).
 */
#include "pci_testdev.h"

#define VEC_GP 13

/* Offsets of the header's fields on the BAR. */
enum {
	HDR_TEST = 0, HDR_WIDTH = 1, HDR_OFFSET = 4, HDR_DATA = 8, HDR_COUNT = 12, HDR_NAME = 16,
};

static bool is_testdev(const struct pci_dev *d, void *ctx)
{
	if (d->vendor != TESTDEV_VENDOR || d->device != TESTDEV_DEVICE)
		return false;
	*(struct pci_dev *)ctx = *d;
	return true;
}

/* One byte through ring 0 (EXIT_BENCH_PIO_*, once): for set-up, where the
 * host does not let ring 3 use ports. */
static uint8_t ring0_port(uint16_t port, bool write, uint8_t v)
{
	struct exit_bench rq = {
		.op = write ? EXIT_BENCH_PIO_WRITE : EXIT_BENCH_PIO_READ,
		.width = 1, .iterations = 1, .arg = port, .data = v,
	};

	if (sys_exit_bench(&rq) < 0)
		return 0xff;
	return (uint8_t)rq.data;
}

/* IOPL 3, then one `in` from the device's port: a host that ignores IOPL
 * in ring 3 (or traps every port access from there) raises #GP. */
static void probe_ring3_ports(struct testdev *d)
{
	struct caught c;

	if (sys_iopl(3) < 0) {
		snprintf(d->port_note, sizeof(d->port_note), "ring 0 (SYS_IOPL refused)");
		return;
	}
	TRY_INSN(&c, VEC_GP, "mov %k[port], %%edx\n\tinb %%dx, %%al", [port] "r"((uint32_t)d->port));
	if (c.vector == (uint64_t)-1) {
		sys_expect_exception(32, 0);    /* nothing raised: disarm */
		d->port_ring3 = true;
		snprintf(d->port_note, sizeof(d->port_note), "ring 3 (IOPL 3)");
		return;
	}
	sys_iopl(0);
	snprintf(d->port_note, sizeof(d->port_note), "ring 0 (ring 3's in raised #GP under IOPL 3)");
}

int testdev_open(struct testdev *d, char *why, size_t len)
{
	uint32_t bar1, cmd;
	uint64_t mem;
	bool is64;

	memset(d, 0, sizeof(*d));
	why[0] = 0;
	if (!pci_scan(is_testdev, &d->pci))
		return -1;
	pci_name(&d->pci, d->name);
	/* Firmware may leave decoding off (vmm, bare metal). */
	cmd = pci_read(&d->pci, PCI_COMMAND, 2);
	if ((cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) != (PCI_COMMAND_IO | PCI_COMMAND_MEMORY))
		pci_write(&d->pci, PCI_COMMAND, 2, cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY);

	mem = pci_bar_address(&d->pci, 0, &is64);
	if (mem && mem + 4096 <= sys->mapped_bytes)
		d->mmio = (volatile uint8_t *)(uintptr_t)mem;
	else
		snprintf(why, len, "pci-testdev at %s: its memory BAR is %s", d->name,
			 mem ? "above the memory the guest maps" : "unassigned");

	bar1 = pci_read(&d->pci, PCI_BASE_ADDRESS_1, 4);
	if ((bar1 & PCI_BASE_ADDRESS_SPACE) == PCI_BASE_ADDRESS_SPACE_IO &&
	    (bar1 & PCI_BASE_ADDRESS_IO_MASK) && (bar1 & PCI_BASE_ADDRESS_IO_MASK) <= 0xffff)
		d->port = (uint16_t)(bar1 & PCI_BASE_ADDRESS_IO_MASK);
	else
		snprintf(why, len, "pci-testdev at %s: its I/O BAR is unassigned", d->name);
	if (d->port)
		probe_ring3_ports(d);
	return 0;
}

void testdev_close(struct testdev *d)
{
	if (d->port_ring3)
		sys_iopl(0);
	d->port_ring3 = false;
}

uint8_t testdev_read(const struct testdev *d, enum testdev_space s, unsigned offset)
{
	if (s == TESTDEV_MMIO)
		return d->mmio[offset];
	if (d->port_ring3)
		return testdev_inb((uint16_t)(d->port + offset));
	return ring0_port((uint16_t)(d->port + offset), false, 0);
}

void testdev_write(const struct testdev *d, enum testdev_space s, unsigned offset, uint8_t v)
{
	if (s == TESTDEV_MMIO)
		d->mmio[offset] = v;
	else if (d->port_ring3)
		testdev_outb((uint16_t)(d->port + offset), v);
	else
		ring0_port((uint16_t)(d->port + offset), true, v);
}

static uint32_t read_le32(const struct testdev *d, enum testdev_space s, unsigned offset)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)testdev_read(d, s, offset + i) << (8 * i);
	return v;
}

bool testdev_select(const struct testdev *d, enum testdev_space s, enum testdev_test t,
		    struct testdev_header *h)
{
	unsigned i;

	testdev_write(d, s, HDR_TEST, (uint8_t)t);
	h->test = testdev_read(d, s, HDR_TEST);
	h->width = testdev_read(d, s, HDR_WIDTH);
	h->offset = read_le32(d, s, HDR_OFFSET);
	h->data = testdev_read(d, s, HDR_DATA);
	h->count = read_le32(d, s, HDR_COUNT);
	for (i = 0; i + 1 < sizeof(h->name); i++)
		if (!(h->name[i] = (char)testdev_read(d, s, HDR_NAME + i)))
			break;
	h->name[i] = 0;
	/* QEMU numbers the tests of both BARs together: BAR 1's are 3..5. */
	return h->test % 3 == t && h->offset >= HDR_NAME &&
	       h->offset < (s == TESTDEV_MMIO ? 4096u : 256u);
}

uint32_t testdev_count(const struct testdev *d, enum testdev_space s)
{
	return read_le32(d, s, HDR_COUNT);
}
