/*
 * pci_testdev.h - QEMU's pci-testdev (1b36:0005), register for register
 * (dev_pci_testdev.c), so that one guest measures port-I/O and MMIO exits,
 * handled in vmm or by an ioeventfd in KVM, alike under vmm and under
 * QEMU `-device pci-testdev` (the method of kvm-unit-tests' x86/vmexit.c).
 *
 * BAR 0 is 4 KiB of memory, BAR 1 256 ports; each is two halves.  Six
 * tests, i = type * 3 + t (type 0 MMIO, 1 port I/O; t 0 no eventfd,
 * 1 wildcard eventfd, 2 datamatch eventfd), each described by a header the
 * guest reads through either BAR while the test is current:
 *
 *   0 test (= i)   1 width (= 1)   2 pad   4 offset (le32)
 *   8 data         9 pad          12 count (le32)   16 name, NUL-terminated
 *
 * A byte write at offset 0 of a BAR stops the current test and, if the
 * value is below 3, starts test t of that BAR's type: its count goes to 0
 * and, for the eventfd tests, KVM is asked to take byte writes at the
 * test's offset itself (of value `data` only, for datamatch).  A byte write
 * of `data` (datamatch, no-eventfd) or of any value (wildcard) at the
 * current test's offset that reaches vmm counts one.  Reads return header
 * bytes of the current test (0 with none, and from the name's NUL on) and
 * collect what KVM counted meanwhile.  Accesses wider than a byte are
 * handled a byte at a time, as QEMU does (its ops take 1 byte at most).
 *
 * No KVM calls here: registering an ioeventfd and reading its counter go
 * through struct pci_testdev_hooks, so unit tests drive the registers
 * without /dev/kvm.  Every entry point runs with the PCI bus lock held.
 */
#ifndef VMM_PCI_TESTDEV_H
#define VMM_PCI_TESTDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define PCI_TESTDEV_VENDOR 0x1b36       /* PCI_VENDOR_ID_REDHAT */
#define PCI_TESTDEV_DEVICE 0x0005       /* PCI_DEVICE_ID_REDHAT_TEST */
#define PCI_TESTDEV_CLASS 0xff0000      /* PCI_CLASS_OTHERS, subclass 0, prog-if 0 */
#define PCI_TESTDEV_MEM_BAR 0
#define PCI_TESTDEV_MEM_SIZE 4096       /* two halves of 2048 */
#define PCI_TESTDEV_IO_BAR 1
#define PCI_TESTDEV_IO_SIZE 256         /* two halves of 128 */

enum pci_testdev_type { PCI_TESTDEV_MMIO, PCI_TESTDEV_PORTIO, PCI_TESTDEV_TYPES };
enum pci_testdev_kind {
	PCI_TESTDEV_NO_EVENTFD,         /* every write reaches vmm */
	PCI_TESTDEV_WILDCARD,           /* KVM takes byte writes of any value */
	PCI_TESTDEV_DATAMATCH,          /* KVM takes byte writes of `data` */
	PCI_TESTDEV_KINDS,
};
#define PCI_TESTDEV_TESTS (PCI_TESTDEV_TYPES * PCI_TESTDEV_KINDS)

/* The header's fields (offsets in the test's header). */
#define PCI_TESTDEV_HDR_TEST 0
#define PCI_TESTDEV_HDR_WIDTH 1
#define PCI_TESTDEV_HDR_OFFSET 4
#define PCI_TESTDEV_HDR_DATA 8
#define PCI_TESTDEV_HDR_COUNT 12
#define PCI_TESTDEV_HDR_NAME 16
#define PCI_TESTDEV_HDR_MAX 48          /* "portio-datamatch-eventfd" fits */
#define PCI_TESTDEV_DATAMATCH 0xfa      /* `data` of no-eventfd and datamatch */
#define PCI_TESTDEV_NOMATCH 0xce        /* `data` of wildcard */

struct pci_testdev;

struct pci_testdev_hooks {
	/* Add (assign) or remove test i's ioeventfd: 1-byte writes at addr in
	 * port (pio) or memory space, of value `data` only if datamatch.
	 * Returns -1 with errno when KVM refuses: the writes then reach vmm
	 * and are counted there. */
	int (*ioeventfd)(struct pci_testdev *d, unsigned test, bool pio, uint64_t addr,
			 bool datamatch, uint8_t data, bool assign);
	/* The writes KVM took for test i since the last call (0 if none);
	 * must not block. */
	uint64_t (*drain)(struct pci_testdev *d, unsigned test);
};

struct pci_testdev_test {
	uint8_t hdr[PCI_TESTDEV_HDR_MAX];
	unsigned len;              /* header bytes, the name's NUL included */
	enum pci_testdev_type type;
	bool eventfd;              /* wildcard or datamatch */
	bool match_data;           /* no-eventfd and datamatch */
	uint64_t registered_at;    /* where its ioeventfd is now, 0 = nowhere */
	/* Counters, over the whole run. */
	uint64_t runs;             /* times it was started */
	uint64_t user_writes;      /* writes counted in vmm */
	uint64_t kernel_writes;    /* writes KVM took (its ioeventfd) */
};

struct pci_testdev {
	struct pci_func func;
	struct pci_testdev_hooks hooks;
	void *transport;           /* what the hooks need (the device's KVM state) */
	struct pci_testdev_test tests[PCI_TESTDEV_TESTS];
	int current;               /* the current test, -1 = none */
	/* Accesses that reached vmm (exits), and writes KVM took, summed. */
	uint64_t reads, writes, kernel_doorbells;
	/* KVM refused an ioeventfd: those writes were counted in vmm. */
	unsigned ioeventfd_refusals;
	int ioeventfd_errno;       /* the first refusal's errno */
};

/* Builds the function (IDs, class, BAR 0 memory, BAR 1 I/O) and the six
 * headers; no test current.  The caller sets hooks before plugging it. */
void pci_testdev_init(struct pci_testdev *d);
/* A BAR access (the pci_bar rw function of both BARs). */
bool pci_testdev_bar_rw(struct pci_func *f, unsigned bar, uint64_t off, bool is_write,
			uint8_t *data, unsigned size);
/* Stops the current test (its ioeventfd removed, its counter drained):
 * the VM has stopped, or the device goes away. */
void pci_testdev_reset(struct pci_testdev *d);
/* "mmio-no-eventfd" ... "portio-datamatch-eventfd". */
const char *pci_testdev_test_name(const struct pci_testdev *d, unsigned test);
/* Whether vmm plugs the device: true unless --no-testdev was given. */
bool pci_testdev_wanted(void);

#endif /* VMM_PCI_TESTDEV_H */
