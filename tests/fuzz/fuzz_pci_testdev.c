/*
 * fuzz_pci_testdev.c - a hostile guest on the pci-testdev: the input is a
 * list of 12-byte operations, each a read or write of 1, 2, 4 or 8 bytes
 * through either BAR (at offsets up to twice its size), a configuration
 * write (moving BARs, switching decoding), or a change in the fake KVM
 * behind the hooks (refuse the next ioeventfds, take some writes).
 * Besides the sanitizers, checks what the device promises: the fake KVM
 * never gets a doorbell twice nor loses one it was not given, only the
 * current test has one and it sits at its BAR's address plus its offset,
 * reads without a current test are 0, the headers change only in their
 * count, and after a reset no doorbell is left.
 */
#include "pci_testdev.h"

#include <stdlib.h>
#include <string.h>

#define OP_BYTES 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct doorbell {
	bool used, pio, datamatch;
	uint64_t addr;
	uint8_t data;
};

static struct doorbell kvm[PCI_TESTDEV_TESTS];   /* what the fake KVM holds */
static bool refuse;
static uint64_t taken[PCI_TESTDEV_TESTS];        /* writes it took, not drained */

static int fake_ioeventfd(struct pci_testdev *d, unsigned test, bool pio, uint64_t addr,
			  bool datamatch, uint8_t data, bool assign)
{
	struct doorbell *b = &kvm[test];

	(void)d;
	if (test >= PCI_TESTDEV_TESTS)
		abort();
	if (!assign) {
		if (!b->used || b->pio != pio || b->addr != addr || b->datamatch != datamatch ||
		    (datamatch && b->data != data))
			abort();             /* removing one it was not given */
		b->used = false;
		return 0;
	}
	if (b->used)
		abort();                     /* given twice */
	if (refuse)
		return -1;
	*b = (struct doorbell){true, pio, datamatch, addr, data};
	return 0;
}

static uint64_t fake_drain(struct pci_testdev *d, unsigned test)
{
	uint64_t n = taken[test];

	(void)d;
	taken[test] = 0;
	return n;
}

static void check(const struct pci_testdev *d, const struct pci_testdev *pristine)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++) {
		const struct pci_testdev_test *t = &d->tests[i];

		sum += t->kernel_writes;
		if (memcmp(t->hdr, pristine->tests[i].hdr, PCI_TESTDEV_HDR_COUNT) ||
		    memcmp(t->hdr + PCI_TESTDEV_HDR_NAME, pristine->tests[i].hdr +
			   PCI_TESTDEV_HDR_NAME, PCI_TESTDEV_HDR_MAX - PCI_TESTDEV_HDR_NAME))
			abort();
		if (kvm[i].used != (t->registered_at != 0))
			abort();
		if (!kvm[i].used)
			continue;
		/* Only the current test has a doorbell, where its BAR is. */
		unsigned bar = t->type == PCI_TESTDEV_MMIO ? PCI_TESTDEV_MEM_BAR :
							     PCI_TESTDEV_IO_BAR;
		uint64_t base = d->func.bars[bar].active;

		if (d->current != (int)i || !base || !t->eventfd ||
		    kvm[i].addr != base + le_get(&t->hdr[PCI_TESTDEV_HDR_OFFSET], 4) ||
		    kvm[i].pio != (t->type == PCI_TESTDEV_PORTIO) ||
		    kvm[i].datamatch != t->match_data)
			abort();
	}
	if (sum != d->kernel_doorbells)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned sizes[4] = {1, 2, 4, 8};
	static struct pci_testdev d, pristine;
	struct pci_bus bus;
	char err[256];

	memset(kvm, 0, sizeof(kvm));
	memset(taken, 0, sizeof(taken));
	refuse = false;
	pci_bus_init(&bus);
	pci_testdev_init(&d);
	pci_testdev_init(&pristine);
	d.hooks.ioeventfd = fake_ioeventfd;
	d.hooks.drain = fake_drain;
	if (pci_plug(&bus, &d.func, err, sizeof(err)))
		abort();
	uint64_t mem_home = d.func.bars[PCI_TESTDEV_MEM_BAR].active;
	uint64_t io_home = d.func.bars[PCI_TESTDEV_IO_BAR].active;

	for (size_t at = 0; at + OP_BYTES <= size; at += OP_BYTES) {
		const uint8_t *op = data + at;
		bool is_write = op[1] & 1, io = op[0] % 4 == 1;
		unsigned n = sizes[(op[1] >> 1) & 3];
		unsigned off = (unsigned)le_get(op + 2, 2);
		uint8_t buf[8];

		memcpy(buf, op + 4, 8);
		switch (op[0] % 4) {
		case 0:     /* a BAR, or where it was */
		case 1: {
			unsigned bar = io ? PCI_TESTDEV_IO_BAR : PCI_TESTDEV_MEM_BAR;
			uint32_t bar_size = io ? PCI_TESTDEV_IO_SIZE : PCI_TESTDEV_MEM_SIZE;
			uint64_t base = d.func.bars[bar].active;
			uint64_t addr = (base ? base : io ? io_home : mem_home) + off % (2 * bar_size);
			bool inside = base && off % (2 * bar_size) + (io && n > 4 ? 4 : n) <= bar_size;
			bool idle = d.current < 0;

			if (io) {
				n = n > 4 ? 4 : n;   /* port accesses: 4 bytes at most */
				pci_io_access(&bus, addr, is_write, buf, n);
			} else {
				pci_mmio_access(&bus, addr, is_write, buf, n);
			}
			/* Where the BAR does not decode, all ones; inside it,
			 * without a current test, zeros. */
			for (unsigned i = 0; i < n && !is_write; i++)
				if ((!inside && buf[i] != 0xff) || (inside && idle && buf[i]))
					abort();
			break;
		}
		case 2:     /* configuration header: command, BARs ... */
			pci_config_write(&bus, d.func.devfn, off % 64, n > 4 ? 4 : n,
					 (uint32_t)le_get(buf, 4));
			break;
		default:    /* the fake KVM: refuse or not, take writes */
			refuse = op[1] & 1;
			taken[op[2] % PCI_TESTDEV_TESTS] += op[3];
			break;
		}
		check(&d, &pristine);
	}
	pci_testdev_reset(&d);
	check(&d, &pristine);
	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++)
		if (kvm[i].used)
			abort();             /* a doorbell left behind */
	pthread_mutex_destroy(&bus.lock);
	return 0;
}
