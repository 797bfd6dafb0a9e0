/*
 * fuzz_pci_config.c - a hostile guest on PCI configuration space: the
 * input is a list of 8-byte operations on vmm's bus 0 (the host bridge, a
 * virtio-blk function and the pci-testdev, as vmm plugs them), made
 * through the ports a guest uses, 0xCF8 (the address latch) and
 * 0xCFC-0xCFF (the data window), at every width: raw port accesses, a
 * configuration access to a chosen function and register (enabled or not,
 * bus 0 or not, present or absent), the BAR sizing protocol (all ones, read
 * back, restore or leave), and accesses through the BARs wherever they
 * were moved.  The virtio function's PCI-config window capability reaches
 * its common configuration from here too.
 *
 * Besides the sanitizers, checks after every operation: the latch keeps
 * only its defined bits; read-only bits of every header never change;
 * reads of absent functions, of a disabled latch or of another bus are all
 * ones, and writes there change nothing; sizing reads back ~(size-1) with
 * the BAR's type bits (0 where no BAR is); each BAR decodes exactly where
 * the PCI rules say (decoding on, address non-zero, inside its window); an
 * access where no BAR decodes reads all ones; the virtio doorbells sit at
 * the BAR's notify area, or nowhere when it does not decode; the MSI-X
 * control the transport uses is the one in config space.
 */
#include "fuzz.h"
#include "pci_testdev.h"
#include "virtio_pci.h"

#include <linux/virtio_ids.h>
#include <string.h>

#define OP_BYTES 8
#define RAM (64 * KIB)
#define NQUEUES 1
#define CONFIG_PORTS_END (PCI_CONFIG_PORT + 8)

static struct guest_memory mem;
static struct pci_bus bus;
static struct virtio_pci vp;
static struct pci_testdev td;
static struct pci_func *funcs[3];             /* host bridge, virtio, testdev */
static uint8_t pristine[3][256];
static uint64_t home[3][PCI_STD_NUM_BARS];     /* where pci_plug put each BAR */

/* What the fake KVM holds: the virtio doorbells and the testdev's. */
static uint64_t vp_doorbell[NQUEUES];
static uint64_t td_doorbell[PCI_TESTDEV_TESTS];

static void vp_ioeventfd(struct virtio_pci *v, unsigned q, uint64_t gpa, bool assign)
{
	(void)v;
	FUZZ_CHECK(q < NQUEUES, "doorbell for queue %u", q);
	if (assign) {
		FUZZ_CHECK(!vp_doorbell[q], "doorbell of queue %u given twice", q);
		vp_doorbell[q] = gpa;
	} else {
		FUZZ_CHECK(vp_doorbell[q] == gpa, "removing doorbell 0x%llx, not given",
			   (unsigned long long)gpa);
		vp_doorbell[q] = 0;
	}
}

static void vp_msi(struct virtio_pci *v, unsigned vec, uint64_t addr, uint32_t data)
{
	(void)addr;
	(void)data;
	FUZZ_CHECK(vec < VIRTIO_PCI_MSIX_VECTORS && (v->msix_control & PCI_MSIX_FLAGS_ENABLE) &&
		   !(v->msix_control & PCI_MSIX_FLAGS_MASKALL),
		   "MSI-X vector %u sent while disabled or masked", vec);
}

static int td_ioeventfd(struct pci_testdev *d, unsigned test, bool pio, uint64_t addr,
			bool datamatch, uint8_t data, bool assign)
{
	(void)d;
	(void)pio;
	(void)datamatch;
	(void)data;
	FUZZ_CHECK(test < PCI_TESTDEV_TESTS, "testdev doorbell %u", test);
	if (assign) {
		FUZZ_CHECK(!td_doorbell[test], "testdev doorbell %u given twice", test);
		td_doorbell[test] = addr;
	} else {
		FUZZ_CHECK(td_doorbell[test] == addr, "testdev doorbell %u not given there", test);
		td_doorbell[test] = 0;
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_keep_stderr();
	fuzz_guest_ram(RAM, &mem);
	return 0;
}

/* ---- the guest's side: ports 0xCF8-0xCFF --------------------------------- */

static uint32_t port_in(unsigned port, unsigned size)
{
	uint8_t buf[4] = {0};

	pci_port_access(&bus, port, false, buf, size);
	return (uint32_t)le_get(buf, size);
}

static void port_out(unsigned port, unsigned size, uint32_t v)
{
	uint8_t buf[4];

	le_put(buf, 4, v);
	pci_port_access(&bus, port, true, buf, size);
}

static uint64_t ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* ---- the model ------------------------------------------------------------ */

/* Where BAR i of f decodes by the PCI rules (vmm's firmware windows). */
static uint64_t model_decode(const struct pci_func *f, unsigned i)
{
	const struct pci_bar *b = &f->bars[i];
	uint32_t reg = (uint32_t)le_get(&f->cfg[PCI_BASE_ADDRESS_0 + 4 * i], 4);
	uint64_t addr = b->io ? reg & ~3u : reg & ~0xfu;
	uint16_t cmd = (uint16_t)le_get(&f->cfg[PCI_COMMAND], 2);

	if (!b->size || !addr || !(cmd & (b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
		return 0;
	if (b->io ? addr < PCI_IO_START || addr + b->size > PCI_IO_END :
		    addr < PCI_MMIO_START || addr + b->size > PCI_MMIO_END)
		return 0;
	return addr;
}

static bool model_decodes(bool io, uint64_t addr, unsigned size)
{
	for (unsigned n = 0; n < 3; n++)
		for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
			const struct pci_bar *b = &funcs[n]->bars[i];

			if (b->active && b->io == io && addr >= b->active &&
			    addr + size <= b->active + b->size)
				return true;
		}
	return false;
}

static void check(void)
{
	FUZZ_CHECK(!(bus.config_address & ~0x80fffffcu), "latch holds 0x%x",
		   bus.config_address);
	for (unsigned n = 0; n < 3; n++) {
		const struct pci_func *f = funcs[n];

		for (unsigned o = 0; o < 256; o++)
			FUZZ_CHECK(!((f->cfg[o] ^ pristine[n][o]) & ~f->wmask[o]),
				   "%s: read-only bits of config byte 0x%x changed", f->name, o);
		for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
			FUZZ_CHECK(f->bars[i].active == model_decode(f, i),
				   "%s: BAR %u decodes at 0x%llx", f->name, i,
				   (unsigned long long)f->bars[i].active);
	}
	uint64_t bar0 = vp.func.bars[0].active;

	for (unsigned q = 0; q < NQUEUES; q++)
		FUZZ_CHECK(vp_doorbell[q] == (bar0 ? bar0 + VIRTIO_PCI_NOTIFY +
						     VIRTIO_PCI_NOTIFY_MULT * q : 0),
			   "virtio doorbell %u at 0x%llx, BAR 0 at 0x%llx", q,
			   (unsigned long long)vp_doorbell[q], (unsigned long long)bar0);
	FUZZ_CHECK(vp.notify_gpa == (bar0 ? bar0 + VIRTIO_PCI_NOTIFY : 0), "notify_gpa");
	FUZZ_CHECK(!((vp.msix_control ^ le_get(&vp.func.cfg[vp.msix_cap + PCI_MSIX_FLAGS], 2)) &
		     (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)),
		   "MSI-X enable/mask 0x%x, config space says otherwise", vp.msix_control);
	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++) {
		const struct pci_testdev_test *t = &td.tests[i];
		unsigned bar = t->type == PCI_TESTDEV_MMIO ? PCI_TESTDEV_MEM_BAR :
							     PCI_TESTDEV_IO_BAR;
		uint64_t base = td.func.bars[bar].active;

		FUZZ_CHECK(!td_doorbell[i] || (td.current == (int)i && base &&
					       td_doorbell[i] == t->registered_at &&
					       td_doorbell[i] >= base &&
					       td_doorbell[i] < base + td.func.bars[bar].size),
			   "testdev doorbell %u at 0x%llx outside its BAR", i,
			   (unsigned long long)td_doorbell[i]);
	}
}

/* ---- operations ------------------------------------------------------------- */

static const unsigned sizes[4] = {1, 2, 4, 4};

/* A configuration access as a guest makes it: the latch, then the data
 * window at the register's byte. */
static void config_access(const uint8_t *op, bool write, unsigned size, uint32_t val)
{
	unsigned slot = op[1] % 4, fn = (op[1] >> 2) & 7, reg = op[2];
	bool other_bus = op[1] & 0x20, disabled = op[1] & 0x40;
	uint32_t latch = (disabled ? 0 : 0x80000000u) | (other_bus ? 1u << 16 : 0) |
			 slot << 11 | fn << 8 | (reg & 0xfc);
	unsigned port = 0xcfc + (reg & 3);
	const struct pci_func *f = !other_bus && !disabled && slot < 3 && !fn ? funcs[slot] : NULL;
	uint8_t before[3][256];

	/* Past 0xCFF no device answers (vmm stops the guest), so the access
	 * never crosses the dword. */
	if (port + size > CONFIG_PORTS_END)
		return;
	port_out(PCI_CONFIG_PORT, 4, latch);
	FUZZ_CHECK(port_in(PCI_CONFIG_PORT, 4) == (latch & 0x80fffffcu), "latch reads back wrong");
	if (!write) {
		bool window = f == &vp.func && reg + size > vp.cfg_cap + 16 &&
			      reg < vp.cfg_cap + 20;
		uint32_t expect = f ? (uint32_t)le_get(&f->cfg[reg], size) : ones(size);
		uint32_t got = port_in(port, size);

		FUZZ_CHECK(window || got == expect, "config read at 0x%x (latch 0x%x, size %u) "
			   "gave 0x%x, not 0x%x", reg, latch, size, got, expect);
		return;
	}
	for (unsigned n = 0; n < 3; n++)
		memcpy(before[n], funcs[n]->cfg, 256);
	port_out(port, size, val);
	if (!f)
		for (unsigned n = 0; n < 3; n++)
			FUZZ_CHECK(!memcmp(before[n], funcs[n]->cfg, 256),
				   "a write no function decodes changed %s", funcs[n]->name);
}

/* Firmware's BAR sizing: all ones, read back, then the old value or not. */
static void size_bar(const uint8_t *op)
{
	unsigned n = 1 + (op[1] & 1), i = (op[1] >> 1) % PCI_STD_NUM_BARS;
	const struct pci_func *f = funcs[n];
	const struct pci_bar *b = &f->bars[i];
	uint32_t latch = 0x80000000u | (f->devfn << 8) | (PCI_BASE_ADDRESS_0 + 4 * i);
	uint32_t old, got, expect;

	port_out(PCI_CONFIG_PORT, 4, latch);
	old = port_in(0xcfc, 4);
	port_out(0xcfc, 4, 0xffffffffu);
	got = port_in(0xcfc, 4);
	expect = !b->size ? 0 : b->io ? (~(b->size - 1) & ~3u) | PCI_BASE_ADDRESS_SPACE_IO :
					~(b->size - 1) & ~0xfu;
	FUZZ_CHECK(got == expect, "%s BAR %u sized as 0x%x, not 0x%x", f->name, i, got, expect);
	if (op[4] & 1)
		port_out(0xcfc, 4, old);
}

/* An access through a BAR, where it decodes now or where it was: 1 to 8
 * bytes in memory space (KVM splits an access that crosses a page into
 * pieces of any length), 1, 2 or 4 ports. */
static void bar_access(const uint8_t *op, bool write, unsigned size, uint32_t val)
{
	unsigned n = 1 + (op[1] & 1), i = (op[1] >> 1) % PCI_STD_NUM_BARS;
	const struct pci_bar *b = &funcs[n]->bars[i];
	uint64_t base = b->active ? b->active : home[n][i];
	unsigned off = (unsigned)le_get(op + 2, 2);
	uint64_t addr = b->size ? base + off % (2 * b->size) : PCI_MMIO_START + off;
	bool io = b->io;
	uint8_t buf[8];

	if (io)
		size = sizes[size & 3];
	if (io && addr + size > PCI_IO_END)
		return;
	le_put(buf, 4, val);
	le_put(buf + 4, 4, val);
	bool decodes = model_decodes(io, addr, size);

	FUZZ_CHECK(decodes == (io ? pci_io_decodes(&bus, addr, size) :
				    pci_mmio_decodes(&bus, addr, size)),
		   "decoding of 0x%llx disagrees", (unsigned long long)addr);
	if (io)
		pci_io_access(&bus, addr, write, buf, size);
	else
		pci_mmio_access(&bus, addr, write, buf, size);
	if (!write && !decodes)
		FUZZ_CHECK(le_get(buf, size) == ones(size), "a read where no BAR decodes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	memset(vp_doorbell, 0, sizeof(vp_doorbell));
	memset(td_doorbell, 0, sizeof(td_doorbell));
	memset(mem.base, 0, RAM);
	pci_bus_init(&bus);
	virtio_pci_init(&vp, &mem, VIRTIO_ID_BLOCK, 0x0180, 0, NQUEUES, 256, 24);
	vp.func.name = "virtio-blk";
	vp.hooks.ioeventfd = vp_ioeventfd;
	vp.hooks.msi = vp_msi;
	pci_testdev_init(&td);
	td.hooks.ioeventfd = td_ioeventfd;
	funcs[0] = &bus.host_bridge;
	funcs[1] = &vp.func;
	funcs[2] = &td.func;
	if (pci_plug(&bus, &vp.func, err, sizeof(err)) || pci_plug(&bus, &td.func, err, sizeof(err)))
		abort();
	for (unsigned n = 0; n < 3; n++) {
		memcpy(pristine[n], funcs[n]->cfg, 256);
		for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
			home[n][i] = funcs[n]->bars[i].active;
	}
	check();

	for (size_t at = 0; at + OP_BYTES <= size; at += OP_BYTES) {
		const uint8_t *op = data + at;
		bool write = op[0] & 4;
		unsigned width = sizes[(op[0] >> 3) & 3];
		uint32_t val = (uint32_t)le_get(op + 4, 4);

		switch (op[0] & 3) {
		case 0: {   /* any port of the eight, any width */
			unsigned port = PCI_CONFIG_PORT + op[1] % 8;

			if (port + width > CONFIG_PORTS_END)
				break;
			if (write) {
				port_out(port, width, val);
			} else {
				uint32_t got = port_in(port, width);

				if (port < 0xcfc && !(port == PCI_CONFIG_PORT && width == 4))
					FUZZ_CHECK(got == ones(width), "a narrow latch read gave 0x%x",
						   got);
			}
			break;
		}
		case 1:
			config_access(op, write, width, val);
			break;
		case 2:
			bar_access(op, write, (op[0] >> 5) + 1, val);
			break;
		default:
			size_bar(op);
			break;
		}
		check();
	}
	pci_testdev_reset(&td);
	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++)
		FUZZ_CHECK(!td_doorbell[i], "testdev doorbell %u left after its reset", i);
	pthread_mutex_destroy(&vp.lock);
	pthread_cond_destroy(&vp.idle);
	pthread_mutex_destroy(&bus.lock);
	return 0;
}
