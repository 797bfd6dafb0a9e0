/*
 * pci.h - the PCI bus (pci.c).  Register offsets and bits are the
 * kernel's, from <linux/pci_regs.h>.
 */
#ifndef VMM_PCI_H
#define VMM_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "le.h"

struct vm;

/*
 * One bus (0) behind configuration mechanism #1: a 32-bit address latch at
 * 0xCF8 (bit 31 enable, bus 23:16, device 15:11, function 10:8, register
 * 7:2) and a data window at 0xCFC..0xCFF.  Each function keeps its 256-byte
 * configuration space with a mask of the bits the guest may write; BARs
 * are sized and moved by the guest as the PCI spec says, and every access
 * inside the MMIO window (memory BARs) or the I/O window (I/O BARs) goes to
 * the BAR that decodes it.  vmm plays the firmware: it assigns BARs in the
 * windows and enables memory and I/O decoding. */
#define PCI_CONFIG_PORT 0xcf8
#define PCI_MMIO_START 0xc0000000ULL      /* MEM_HOLE_START */
#define PCI_MMIO_END 0xfec00000ULL        /* the IOAPIC */
#define PCI_IO_START 0xc000               /* where SeaBIOS puts I/O BARs on a PC */
#define PCI_IO_END 0x10000                /* the end of port space */
#define PCI_MAX_DEVICES 32

struct pci_func;

struct pci_bar {
	uint32_t size;            /* power of two; 0 = no BAR */
	bool io;                  /* in port space (an I/O BAR), else memory */
	uint64_t active;          /* address it decodes at, 0 when not decoding */
	/* One access inside the BAR at offset `off` (size 1, 2, 4 or 8). */
	bool (*rw)(struct pci_func *f, unsigned bar, uint64_t off, bool is_write,
		   uint8_t *data, unsigned size);
};

struct pci_func {
	const char *name;
	unsigned devfn;            /* device << 3 | function, bus 0 */
	uint8_t cfg[256];
	uint8_t wmask[256];        /* writable bits of cfg */
	unsigned capend;           /* where pci_add_cap puts the next one */
	struct pci_bar bars[PCI_STD_NUM_BARS];
	/* A BAR started or stopped decoding, or moved (old/new 0 = none).
	 * Called with the bus lock held, before any access at the new place. */
	void (*bar_moved)(struct pci_func *f, unsigned bar, uint64_t old_addr,
			  uint64_t new_addr);
	/* Called after the guest wrote config bytes [off, off+size). */
	void (*cfg_written)(struct pci_func *f, unsigned off, unsigned size);
	/* Lets a device compute a config read (virtio's PCI-config window);
	 * returns false to read cfg[] as usual. */
	bool (*cfg_read)(struct pci_func *f, unsigned off, unsigned size, uint32_t *val);
	void *opaque;
};

struct pci_bus {
	pthread_mutex_t lock;      /* config accesses, BAR decoding, MMIO dispatch */
	uint32_t config_address;   /* the 0xCF8 latch */
	unsigned nfuncs;
	struct pci_func *funcs[PCI_MAX_DEVICES];
	struct pci_func host_bridge;
	uint64_t mmio_next;        /* the firmware's BAR allocators */
	uint64_t io_next;
};

/* An empty bus with the host bridge at 00:00.0. */
void pci_bus_init(struct pci_bus *bus);
/* The VM's bus, created and registered (ports 0xCF8-0xCFF "pci-config",
 * the MMIO window "pci-mmio", the I/O window "pci-io") on first use; NULL
 * with errbuf on failure. */
struct pci_bus *pci_bus_get(struct vm *vm, char *errbuf, size_t errlen);
/* Sets up a type-0 header with these IDs (class = base<<16|sub<<8|prog-if). */
void pci_func_init(struct pci_func *f, const char *name, uint16_t vendor, uint16_t device,
		   uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		   uint16_t subsys_id);
/* Declares a 32-bit memory BAR of `size` bytes (a power of two >= 16). */
void pci_func_add_bar(struct pci_func *f, unsigned bar, uint32_t size,
		      bool (*rw)(struct pci_func *, unsigned, uint64_t, bool, uint8_t *, unsigned));
/* Declares an I/O BAR of `size` ports (a power of two, 4 to 256). */
void pci_func_add_io_bar(struct pci_func *f, unsigned bar, uint32_t size,
			 bool (*rw)(struct pci_func *, unsigned, uint64_t, bool, uint8_t *,
				    unsigned));
/* Appends a capability (id, then body of len-2 bytes after id and next);
 * returns its offset in config space, or 0 if it does not fit. */
unsigned pci_add_cap(struct pci_func *f, uint8_t id, const uint8_t *body, unsigned len);
/* Puts the function in the next free slot, assigns its BARs in the MMIO
 * and I/O windows (naturally aligned) and enables memory and I/O decoding
 * (for the kinds of BAR it has).  -1 if full. */
int pci_plug(struct pci_bus *bus, struct pci_func *f, char *errbuf, size_t errlen);
/* Mechanism #1 port access (0xCF8..0xCFF); the io_handler of "pci-config". */
void pci_port_access(struct pci_bus *bus, uint64_t port, bool is_write, uint8_t *data,
		     unsigned size);
/* A config-space access to bus 0 devfn at `off` (size 1, 2 or 4, not
 * crossing a dword); reads of absent functions return all ones. */
uint32_t pci_config_read(struct pci_bus *bus, unsigned devfn, unsigned off, unsigned size);
void pci_config_write(struct pci_bus *bus, unsigned devfn, unsigned off, unsigned size,
		      uint32_t val);
/* Whether a BAR decodes [addr, addr+size) now (the "pci-mmio" region's
 * decodes function: elsewhere in the window vmm stops as for any access
 * no device handles). */
bool pci_mmio_decodes(struct pci_bus *bus, uint64_t addr, unsigned size);
/* An access in the MMIO window: dispatched to the decoding BAR; should the
 * BAR have moved meanwhile, reads return all ones and writes vanish. */
void pci_mmio_access(struct pci_bus *bus, uint64_t addr, bool is_write, uint8_t *data,
		     unsigned size);
/* The same two for I/O BARs in the I/O window (the "pci-io" region). */
bool pci_io_decodes(struct pci_bus *bus, uint64_t port, unsigned size);
void pci_io_access(struct pci_bus *bus, uint64_t port, bool is_write, uint8_t *data,
		   unsigned size);

#endif /* VMM_PCI_H */
