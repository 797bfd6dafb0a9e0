/*
 * pci.c - a PCI bus 0 behind configuration mechanism #1, as a PC chipset
 * has it: the address latch at 0xCF8, the data window at 0xCFC..0xCFF.
 *
 * Each function keeps its 256-byte configuration space and a mask of the
 * bits the guest may write, so the header, BARs and capabilities all follow
 * one rule: new = (old & ~mask) | (value & mask).  A BAR of size S has mask
 * ~(S-1) (less its type bits), which is exactly the PCI sizing protocol:
 * write all ones, read back ~(S-1) | type bits.  After a write to the
 * command register or a BAR, decoding is recomputed and the device is told
 * (bar_moved) so that its doorbells (ioeventfds) follow the BAR.
 *
 * No BIOS runs under vmm, so pci_plug() does what firmware does: assign
 * each BAR a naturally aligned address, memory BARs in the MMIO window and
 * I/O BARs in the I/O window, and enable decoding.  One "pci-mmio" region
 * covers the whole MMIO window in the I/O registry, one "pci-io" region the
 * I/O window, but each answers only where a BAR decodes (elsewhere vmm
 * stops as for any access no device handles); bar_access() finds that BAR.
 */
#include "pci.h"

#include "vmm.h"

#include <string.h>

#define HOST_BRIDGE_VENDOR 0x8086   /* Intel 440FX host bridge, as QEMU's PC */
#define HOST_BRIDGE_DEVICE 0x1237

static void put16(uint8_t *p, uint16_t v) { le_put(p, 2, v); }
static void put32(uint8_t *p, uint32_t v) { le_put(p, 4, v); }

void pci_func_init(struct pci_func *f, const char *name, uint16_t vendor, uint16_t device,
		   uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		   uint16_t subsys_id)
{
	memset(f, 0, sizeof(*f));
	f->name = name;
	put16(&f->cfg[0x00], vendor);
	put16(&f->cfg[0x02], device);
	f->cfg[0x08] = revision;
	f->cfg[0x09] = (uint8_t)class_code;
	f->cfg[0x0a] = (uint8_t)(class_code >> 8);
	f->cfg[0x0b] = (uint8_t)(class_code >> 16);
	f->cfg[0x0e] = 0;                 /* header type 0, single function */
	put16(&f->cfg[0x2c], subsys_vendor);
	put16(&f->cfg[0x2e], subsys_id);
	/* Command: I/O, memory, bus master, INTx disable are writable. */
	put16(&f->wmask[PCI_COMMAND], 0x0407);
	f->wmask[0x0c] = 0xff;            /* cache line size */
	f->wmask[0x0d] = 0xff;            /* latency timer */
	f->wmask[0x3c] = 0xff;            /* interrupt line (pin 0: none) */
	f->capend = 0x40;
}

void pci_func_add_bar(struct pci_func *f, unsigned bar, uint32_t size,
		      bool (*rw)(struct pci_func *, unsigned, uint64_t, bool, uint8_t *, unsigned))
{
	f->bars[bar].size = size;
	f->bars[bar].rw = rw;
	/* 32-bit, non-prefetchable memory: type bits 0. */
	put32(&f->wmask[PCI_BASE_ADDRESS_0 + 4 * bar], ~(size - 1) & ~0xfu);
}

void pci_func_add_io_bar(struct pci_func *f, unsigned bar, uint32_t size,
			 bool (*rw)(struct pci_func *, unsigned, uint64_t, bool, uint8_t *,
				    unsigned))
{
	f->bars[bar].size = size;
	f->bars[bar].io = true;
	f->bars[bar].rw = rw;
	/* Bit 0 says "I/O space" and is read-only; bit 1 is reserved. */
	put32(&f->cfg[PCI_BASE_ADDRESS_0 + 4 * bar], PCI_BASE_ADDRESS_SPACE_IO);
	put32(&f->wmask[PCI_BASE_ADDRESS_0 + 4 * bar], ~(size - 1) & ~0x3u);
}

unsigned pci_add_cap(struct pci_func *f, uint8_t id, const uint8_t *body, unsigned len)
{
	unsigned at = f->capend;

	if (len < 2 || at + len > 256)
		return 0;
	f->cfg[at] = id;
	f->cfg[at + 1] = 0;
	if (len > 2)
		memcpy(&f->cfg[at + 2], body, len - 2);
	/* Link it at the end of the list. */
	if (!f->cfg[PCI_CAPABILITY_LIST]) {
		f->cfg[PCI_CAPABILITY_LIST] = (uint8_t)at;
		f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	} else {
		unsigned p = f->cfg[PCI_CAPABILITY_LIST];

		while (f->cfg[p + 1])
			p = f->cfg[p + 1];
		f->cfg[p + 1] = (uint8_t)at;
	}
	f->capend = (at + len + 3) & ~3u;
	return at;
}

void pci_bus_init(struct pci_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	bus->mmio_next = PCI_MMIO_START;
	bus->io_next = PCI_IO_START;
	pci_func_init(&bus->host_bridge, "host-bridge", HOST_BRIDGE_VENDOR, HOST_BRIDGE_DEVICE,
		      0x060000, 2, 0, 0);
	bus->host_bridge.devfn = 0;
	bus->funcs[bus->nfuncs++] = &bus->host_bridge;
}

static struct pci_func *find_func(struct pci_bus *bus, unsigned devfn)
{
	for (unsigned i = 0; i < bus->nfuncs; i++)
		if (bus->funcs[i]->devfn == devfn)
			return bus->funcs[i];
	return NULL;
}

/* Where BAR i decodes now: 0 unless its kind of decoding (memory or I/O)
 * is on and the whole BAR lies in its window (a memory BAR elsewhere would
 * shadow RAM or the APICs, which KVM handles before vmm could see the
 * access; an I/O BAR elsewhere, the PC's legacy ports). */
static uint64_t bar_decode(const struct pci_func *f, unsigned i)
{
	const struct pci_bar *b = &f->bars[i];
	uint64_t reg = le_get(&f->cfg[PCI_BASE_ADDRESS_0 + 4 * i], 4);
	uint64_t addr = reg & (b->io ? PCI_BASE_ADDRESS_IO_MASK : PCI_BASE_ADDRESS_MEM_MASK);
	uint64_t start = b->io ? PCI_IO_START : PCI_MMIO_START;
	uint64_t end = b->io ? PCI_IO_END : PCI_MMIO_END;

	if (!b->size || !addr ||
	    !(f->cfg[PCI_COMMAND] & (b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
		return 0;
	if (addr < start || addr + b->size > end)
		return 0;
	return addr;
}

static void update_decoding(struct pci_func *f)
{
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		uint64_t now = bar_decode(f, i);

		if (now == f->bars[i].active)
			continue;
		uint64_t old = f->bars[i].active;

		f->bars[i].active = now;
		if (f->bar_moved)
			f->bar_moved(f, i, old, now);
	}
}

int pci_plug(struct pci_bus *bus, struct pci_func *f, char *errbuf, size_t errlen)
{
	uint64_t mmio_next = bus->mmio_next, io_next = bus->io_next;
	uint16_t decode = 0;

	if (bus->nfuncs >= PCI_MAX_DEVICES) {
		snprintf(errbuf, errlen, "PCI device %s: bus 0 is full (%d slots)", f->name,
			 PCI_MAX_DEVICES);
		return -1;
	}
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		const struct pci_bar *b = &f->bars[i];
		uint64_t *next = b->io ? &io_next : &mmio_next;
		uint64_t at;

		if (!b->size)
			continue;
		at = (*next + b->size - 1) & ~(uint64_t)(b->size - 1);
		if (at + b->size > (b->io ? PCI_IO_END : PCI_MMIO_END)) {
			snprintf(errbuf, errlen, "PCI device %s: no room for BAR %u in the "
				 "%s window", f->name, i, b->io ? "I/O" : "MMIO");
			return -1;
		}
		put32(&f->cfg[PCI_BASE_ADDRESS_0 + 4 * i],
		      (uint32_t)at | (b->io ? PCI_BASE_ADDRESS_SPACE_IO : 0));
		*next = at + b->size;
		decode |= b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	}
	pthread_mutex_lock(&bus->lock);
	bus->mmio_next = mmio_next;
	bus->io_next = io_next;
	f->devfn = bus->nfuncs << 3;      /* slot n, function 0 */
	/* A function without BARs gets memory decoding, as before. */
	f->cfg[PCI_COMMAND] |= decode ? decode : PCI_COMMAND_MEMORY;
	bus->funcs[bus->nfuncs++] = f;
	update_decoding(f);
	pthread_mutex_unlock(&bus->lock);
	return 0;
}

static uint32_t config_read_locked(struct pci_bus *bus, unsigned devfn, unsigned off,
				   unsigned size)
{
	struct pci_func *f = find_func(bus, devfn);
	uint32_t val;

	if (!f)
		return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	if (f->cfg_read && f->cfg_read(f, off, size, &val))
		return val;
	return le_get(&f->cfg[off], size);
}

uint32_t pci_config_read(struct pci_bus *bus, unsigned devfn, unsigned off, unsigned size)
{
	uint32_t v;

	if ((size != 1 && size != 2 && size != 4) || off > 255 || (off & 3) + size > 4)
		return 0xffffffffu;
	pthread_mutex_lock(&bus->lock);
	v = config_read_locked(bus, devfn, off, size);
	pthread_mutex_unlock(&bus->lock);
	return v;
}

static void config_write_locked(struct pci_bus *bus, unsigned devfn, unsigned off,
				unsigned size, uint32_t val)
{
	struct pci_func *f = find_func(bus, devfn);
	bool decoding = false;

	if (!f)
		return;   /* master abort: the write vanishes */
	for (unsigned i = 0; i < size; i++) {
		unsigned o = off + i;
		uint8_t m = f->wmask[o], b = (uint8_t)(val >> (8 * i));

		f->cfg[o] = (uint8_t)((f->cfg[o] & ~m) | (b & m));
		if (o == PCI_COMMAND || (o >= PCI_BASE_ADDRESS_0 && o < PCI_BASE_ADDRESS_0 + 4 * PCI_STD_NUM_BARS))
			decoding = true;
	}
	if (decoding)
		update_decoding(f);
	if (f->cfg_written)
		f->cfg_written(f, off, size);
}

void pci_config_write(struct pci_bus *bus, unsigned devfn, unsigned off, unsigned size,
		      uint32_t val)
{
	if ((size != 1 && size != 2 && size != 4) || off > 255 || (off & 3) + size > 4)
		return;
	pthread_mutex_lock(&bus->lock);
	config_write_locked(bus, devfn, off, size, val);
	pthread_mutex_unlock(&bus->lock);
}

void pci_port_access(struct pci_bus *bus, uint64_t port, bool is_write, uint8_t *data,
		     unsigned size)
{
	unsigned reg = (unsigned)(port - PCI_CONFIG_PORT);

	pthread_mutex_lock(&bus->lock);
	if (reg < 4) {
		/* Only a dword access at 0xCF8 is the address latch; narrower
		 * ones reach nothing on a PC chipset (reads float high). */
		if (reg == 0 && size == 4) {
			if (is_write)
				bus->config_address = le_get(data, 4) & 0x80fffffcu;
			else
				le_put(data, 4, bus->config_address);
		} else if (!is_write) {
			memset(data, 0xff, size);
		}
		pthread_mutex_unlock(&bus->lock);
		return;
	}
	uint32_t a = bus->config_address;
	unsigned off = (a & 0xfc) + (reg - 4);
	bool ok = (a & 0x80000000u) && ((a >> 16) & 0xff) == 0 && (off & 3) + size <= 4;
	unsigned devfn = (a >> 8) & 0xff;

	if (is_write) {
		if (ok)
			config_write_locked(bus, devfn, off, size, le_get(data, size));
	} else {
		le_put(data, size, ok ? config_read_locked(bus, devfn, off, size) : 0xffffffffu);
	}
	pthread_mutex_unlock(&bus->lock);
}

/* Whether a BAR of this kind (I/O or memory) decodes [addr, addr+size). */
static bool bar_decodes(struct pci_bus *bus, bool io, uint64_t addr, unsigned size)
{
	bool found = false;

	pthread_mutex_lock(&bus->lock);
	for (unsigned n = 0; n < bus->nfuncs && !found; n++)
		for (unsigned i = 0; i < PCI_STD_NUM_BARS && !found; i++) {
			const struct pci_bar *b = &bus->funcs[n]->bars[i];

			found = b->active && b->io == io && addr >= b->active &&
				addr - b->active < b->size && size <= b->size - (addr - b->active);
		}
	pthread_mutex_unlock(&bus->lock);
	return found;
}

/* An access to the BAR of this kind that decodes addr; reads where none
 * does (or across its end) return all ones, writes vanish. */
static void bar_access(struct pci_bus *bus, bool io, uint64_t addr, bool is_write,
		       uint8_t *data, unsigned size)
{
	pthread_mutex_lock(&bus->lock);
	for (unsigned n = 0; n < bus->nfuncs; n++) {
		struct pci_func *f = bus->funcs[n];

		for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
			struct pci_bar *b = &f->bars[i];

			if (!b->active || b->io != io || addr < b->active ||
			    addr - b->active >= b->size)
				continue;
			if (addr - b->active + size > b->size || !b->rw ||
			    !b->rw(f, i, addr - b->active, is_write, data, size)) {
				if (!is_write)
					memset(data, 0xff, size);
			}
			pthread_mutex_unlock(&bus->lock);
			return;
		}
	}
	pthread_mutex_unlock(&bus->lock);
	if (!is_write)
		memset(data, 0xff, size);   /* master abort */
}

bool pci_mmio_decodes(struct pci_bus *bus, uint64_t addr, unsigned size)
{
	return bar_decodes(bus, false, addr, size);
}

void pci_mmio_access(struct pci_bus *bus, uint64_t addr, bool is_write, uint8_t *data,
		     unsigned size)
{
	bar_access(bus, false, addr, is_write, data, size);
}

bool pci_io_decodes(struct pci_bus *bus, uint64_t port, unsigned size)
{
	return bar_decodes(bus, true, port, size);
}

void pci_io_access(struct pci_bus *bus, uint64_t port, bool is_write, uint8_t *data,
		   unsigned size)
{
	bar_access(bus, true, port, is_write, data, size);
}

/* ---- the VM's bus -------------------------------------------------------- */

static struct pci_bus vm_bus;

static bool pci_port_io(struct vcpu *vcpu, uint64_t addr, bool is_write, uint8_t *data,
			unsigned size, void *opaque)
{
	(void)vcpu;
	pci_port_access(opaque, addr, is_write, data, size);
	return true;
}

static bool pci_mmio_window_decodes(uint64_t addr, unsigned size, void *opaque)
{
	return pci_mmio_decodes(opaque, addr, size);
}

static bool pci_mmio_io(struct vcpu *vcpu, uint64_t addr, bool is_write, uint8_t *data,
			unsigned size, void *opaque)
{
	(void)vcpu;
	pci_mmio_access(opaque, addr, is_write, data, size);
	return true;
}

static bool pci_io_window_decodes(uint64_t port, unsigned size, void *opaque)
{
	return pci_io_decodes(opaque, port, size);
}

static bool pci_io_bar_io(struct vcpu *vcpu, uint64_t port, bool is_write, uint8_t *data,
			  unsigned size, void *opaque)
{
	(void)vcpu;
	pci_io_access(opaque, port, is_write, data, size);
	return true;
}

struct pci_bus *pci_bus_get(struct vm *vm, char *errbuf, size_t errlen)
{
	if (vm->pci)
		return vm->pci;
	pci_bus_init(&vm_bus);

	struct io_region ports = {
		.space = IO_PORT, .base = PCI_CONFIG_PORT, .len = 8, .name = "pci-config",
		.fn = pci_port_io, .opaque = &vm_bus,
	};
	struct io_region mmio = {
		.space = IO_MMIO, .base = PCI_MMIO_START, .len = PCI_MMIO_END - PCI_MMIO_START,
		.name = "pci-mmio", .fn = pci_mmio_io, .decodes = pci_mmio_window_decodes,
		.opaque = &vm_bus,
	};
	struct io_region io_window = {
		.space = IO_PORT, .base = PCI_IO_START, .len = PCI_IO_END - PCI_IO_START,
		.name = "pci-io", .fn = pci_io_bar_io, .decodes = pci_io_window_decodes,
		.opaque = &vm_bus,
	};

	if (io_register(&vm->io, &ports, errbuf, errlen) ||
	    io_register(&vm->io, &mmio, errbuf, errlen) ||
	    io_register(&vm->io, &io_window, errbuf, errlen))
		return NULL;
	vm->pci = &vm_bus;
	return vm->pci;
}

/* The bus exists with or without disks: a guest that scans PCI for a disk
 * finds the host bridge and nothing else, rather than stopping vmm. */
static int pci_setup(struct vm *vm, const struct vmm_config *cfg, char *errbuf,
		     size_t errlen)
{
	(void)cfg;
	return pci_bus_get(vm, errbuf, errlen) ? 0 : -1;
}

/* Torn down after the devices on it (it is set up before them): the bus
 * forgets their functions, so none is left pointing at a device that is
 * gone, and the next VM built in this process gets a new bus. */
static void pci_teardown(struct vm *vm)
{
	if (vm->pci != &vm_bus)
		return;
	pthread_mutex_destroy(&vm_bus.lock);
	memset(&vm_bus, 0, sizeof(vm_bus));
	vm->pci = NULL;
}

VMM_DEVICE(pci, .name = "pci", .setup = pci_setup, .teardown = pci_teardown);
