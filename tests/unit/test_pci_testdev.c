/*
 * test_pci_testdev.c - QEMU's pci-testdev as vmm implements it
 * (vmm/dev_pci_testdev.c), driven through the PCI bus as the guest drives
 * it: IDs and BARs, selecting a test, its header, counted writes, wildcard
 * and datamatch ioeventfds (a fake KVM behind the hooks), stopping, what
 * KVM counted collected on reads, a refused ioeventfd, and BAR moves.
 */
#include "unit.h"

#include <errno.h>

#include "pci_testdev.h"

#define MAX_CALLS 64

struct call {
	unsigned test;
	bool pio, datamatch, assign;
	uint64_t addr;
	uint8_t data;
};

/* A bus with the device plugged, and the fake KVM behind its hooks. */
struct rig {
	struct pci_bus bus;
	struct pci_testdev d;
	uint64_t mem, io;          /* where the BARs are now */
	struct call calls[MAX_CALLS];
	unsigned ncalls;
	uint64_t pending[PCI_TESTDEV_TESTS];   /* writes "KVM" took, not yet drained */
	unsigned drains;
	int refuse;                /* errno the fake KVM_IOEVENTFD fails with, 0 = none */
};

static struct rig *rig_of(struct pci_testdev *d)
{
	return d->transport;
}

static int fake_ioeventfd(struct pci_testdev *d, unsigned test, bool pio, uint64_t addr,
			  bool datamatch, uint8_t data, bool assign)
{
	struct rig *r = rig_of(d);

	if (r->refuse && assign) {
		errno = r->refuse;
		return -1;
	}
	assert_true(r->ncalls < MAX_CALLS);
	r->calls[r->ncalls++] = (struct call){test, pio, datamatch, assign, addr, data};
	return 0;
}

static uint64_t fake_drain(struct pci_testdev *d, unsigned test)
{
	struct rig *r = rig_of(d);
	uint64_t n = r->pending[test];

	r->drains++;
	r->pending[test] = 0;
	return n;
}

static void rig_init(struct rig *r)
{
	char err[256];

	memset(r, 0, sizeof(*r));
	pci_bus_init(&r->bus);
	pci_testdev_init(&r->d);
	r->d.hooks.ioeventfd = fake_ioeventfd;
	r->d.hooks.drain = fake_drain;
	r->d.transport = r;
	assert_int_equal(pci_plug(&r->bus, &r->d.func, err, sizeof(err)), 0);
	r->mem = PCI_MMIO_START;
	r->io = PCI_IO_START;
}

/* Accesses through the bus, at an offset in BAR `bar`. */
static void bar_write(struct rig *r, unsigned bar, uint64_t off, unsigned size, uint64_t v)
{
	uint8_t data[8];

	le_put(data, size, v);
	if (bar == PCI_TESTDEV_IO_BAR)
		pci_io_access(&r->bus, r->io + off, true, data, size);
	else
		pci_mmio_access(&r->bus, r->mem + off, true, data, size);
}

static uint64_t bar_read(struct rig *r, unsigned bar, uint64_t off, unsigned size)
{
	uint8_t data[8];

	memset(data, 0xaa, sizeof(data));
	if (bar == PCI_TESTDEV_IO_BAR)
		pci_io_access(&r->bus, r->io + off, false, data, size);
	else
		pci_mmio_access(&r->bus, r->mem + off, false, data, size);
	return le_get(data, size);
}

#define MEM PCI_TESTDEV_MEM_BAR
#define IO PCI_TESTDEV_IO_BAR

/* kvm-unit-tests' pci_testdev_one(): select, check, 16 writes, count. */
static uint32_t run_like_kvm_unit_tests(struct rig *r, unsigned bar, unsigned t)
{
	bar_write(r, bar, PCI_TESTDEV_HDR_TEST, 1, t);
	assert_int_equal(bar_read(r, bar, PCI_TESTDEV_HDR_COUNT, 4), 0);
	assert_int_equal(bar_read(r, bar, PCI_TESTDEV_HDR_WIDTH, 1), 1);
	uint32_t data = (uint32_t)bar_read(r, bar, PCI_TESTDEV_HDR_DATA, 4);
	uint32_t off = (uint32_t)bar_read(r, bar, PCI_TESTDEV_HDR_OFFSET, 4);

	for (unsigned i = 0; i < 16; i++)
		bar_write(r, bar, off, 1, data);
	return (uint32_t)bar_read(r, bar, PCI_TESTDEV_HDR_COUNT, 4);
}

static void test_ids_class_and_bars(void **state)
{
	struct rig r;
	unsigned devfn;

	(void)state;
	rig_init(&r);
	devfn = r.d.func.devfn;
	assert_int_equal(devfn, 1 << 3);                     /* 00:01.0 */
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_VENDOR_ID, 4), 0x00051b36);
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_CLASS_REVISION, 4), 0xff000000);
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_INTERRUPT_PIN, 1), 0);
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_SUBSYSTEM_VENDOR_ID, 4),
			 0x11001af4);                        /* QEMU's default subsystem */
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_HEADER_TYPE, 1), 0);
	/* BAR 0: 32-bit memory; BAR 1: I/O; both decoding. */
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_BASE_ADDRESS_0, 4), PCI_MMIO_START);
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_BASE_ADDRESS_1, 4),
			 PCI_IO_START | PCI_BASE_ADDRESS_SPACE_IO);
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_COMMAND, 2) &
			 (PCI_COMMAND_IO | PCI_COMMAND_MEMORY), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	/* Sizing: 4 KiB of memory, 256 ports. */
	pci_config_write(&r.bus, devfn, PCI_COMMAND, 2, 0);
	pci_config_write(&r.bus, devfn, PCI_BASE_ADDRESS_0, 4, 0xffffffffu);
	pci_config_write(&r.bus, devfn, PCI_BASE_ADDRESS_1, 4, 0xffffffffu);
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_BASE_ADDRESS_0, 4), 0xfffff000u);
	assert_int_equal(pci_config_read(&r.bus, devfn, PCI_BASE_ADDRESS_1, 4), 0xffffff01u);
	for (unsigned b = 2; b < PCI_STD_NUM_BARS; b++)
		assert_int_equal(pci_config_read(&r.bus, devfn, PCI_BASE_ADDRESS_0 + 4 * b, 4), 0);
}

static void test_no_current_test(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	for (uint64_t off = 0; off < 64; off += 4) {
		assert_int_equal(bar_read(&r, MEM, off, 4), 0);
		assert_int_equal(bar_read(&r, IO, off, 4), 0);
	}
	bar_write(&r, MEM, 2048, 1, 0xfa);
	bar_write(&r, IO, 131, 1, 0xfa);
	assert_int_equal(bar_read(&r, MEM, PCI_TESTDEV_HDR_COUNT, 4), 0);
	assert_int_equal(r.ncalls, 0);
	assert_int_equal(r.drains, 0);
	/* Every access is one exit, whatever its width. */
	assert_int_equal(r.d.reads, 33);
	assert_int_equal(r.d.writes, 2);
}

static void test_headers(void **state)
{
	static const char *const names[PCI_TESTDEV_TESTS] = {
		"mmio-no-eventfd", "mmio-wildcard-eventfd", "mmio-datamatch-eventfd",
		"portio-no-eventfd", "portio-wildcard-eventfd", "portio-datamatch-eventfd",
	};
	struct rig r;

	(void)state;
	rig_init(&r);
	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++) {
		unsigned bar = i < 3 ? MEM : IO;
		size_t len = strlen(names[i]);

		bar_write(&r, bar, PCI_TESTDEV_HDR_TEST, 1, i % 3);
		assert_int_equal(r.d.current, (int)i);
		/* Through either BAR: the header is the current test's. */
		for (unsigned via = 0; via < 2; via++) {
			unsigned b = via ? IO : MEM;

			assert_int_equal(bar_read(&r, b, PCI_TESTDEV_HDR_TEST, 1), i);
			assert_int_equal(bar_read(&r, b, PCI_TESTDEV_HDR_WIDTH, 1), 1);
			assert_int_equal(bar_read(&r, b, 2, 2), 0);               /* pad */
			assert_int_equal(bar_read(&r, b, PCI_TESTDEV_HDR_OFFSET, 4),
					 (i < 3 ? 2048 : 128) + i);
			assert_int_equal(bar_read(&r, b, PCI_TESTDEV_HDR_DATA, 1),
					 i % 3 == 1 ? 0xce : 0xfa);
			assert_int_equal(bar_read(&r, b, 9, 2), 0);               /* pad */
			assert_int_equal(bar_read(&r, b, PCI_TESTDEV_HDR_COUNT, 4), 0);
			for (size_t k = 0; k < len; k++)
				assert_int_equal(bar_read(&r, b, PCI_TESTDEV_HDR_NAME + k, 1),
						 (uint8_t)names[i][k]);
			/* The NUL, and anything past it, reads 0. */
			assert_int_equal(bar_read(&r, b, PCI_TESTDEV_HDR_NAME + len, 1), 0);
			assert_int_equal(bar_read(&r, b, PCI_TESTDEV_HDR_NAME + len + 1, 4), 0);
			assert_int_equal(bar_read(&r, b, 127, 1), 0);
		}
		assert_string_equal(pci_testdev_test_name(&r.d, i), names[i]);
	}
	/* A whole-header read, a dword at a time, as little-endian fields. */
	bar_write(&r, MEM, 0, 4, 2);   /* wider writes at 0: the low byte selects */
	assert_int_equal(r.d.current, 2);
	assert_int_equal(bar_read(&r, MEM, 0, 4), 0x00000102);   /* test 2, width 1 */
	assert_int_equal(bar_read(&r, MEM, 16, 8), le_get((const uint8_t *)"mmio-dat", 8));
}

static void test_no_eventfd_counts_matching_writes(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	assert_int_equal(run_like_kvm_unit_tests(&r, MEM, 0), 16);
	assert_int_equal(run_like_kvm_unit_tests(&r, IO, 0), 16);
	assert_int_equal(r.ncalls, 0);       /* no KVM doorbell for these */
	assert_int_equal(r.drains, 0);
	/* Only the value `data`, only at the offset. */
	bar_write(&r, IO, PCI_TESTDEV_HDR_TEST, 1, 0);
	bar_write(&r, IO, 131, 1, 0xce);
	bar_write(&r, IO, 130, 1, 0xfa);
	bar_write(&r, IO, 132, 1, 0xfa);
	assert_int_equal(bar_read(&r, IO, PCI_TESTDEV_HDR_COUNT, 4), 0);
	/* A word write is split into bytes, as QEMU does: its low byte lands
	 * on the offset. */
	bar_write(&r, IO, 131, 2, 0x11fa);
	bar_write(&r, IO, 130, 2, 0xfa00);
	bar_write(&r, IO, 131, 2, 0xfa11);
	assert_int_equal(bar_read(&r, IO, PCI_TESTDEV_HDR_COUNT, 4), 2);
	/* As in QEMU, the offset counts through the other BAR too. */
	bar_write(&r, MEM, 131, 1, 0xfa);
	assert_int_equal(bar_read(&r, IO, PCI_TESTDEV_HDR_COUNT, 4), 3);
	assert_int_equal(r.d.tests[0].user_writes, 16);
	assert_int_equal(r.d.tests[3].user_writes, 16 + 3);
	assert_int_equal(r.d.tests[3].runs, 2);
}

static void assert_call(const struct call *c, unsigned test, bool pio, uint64_t addr,
			bool datamatch, uint8_t data, bool assign)
{
	assert_int_equal(c->test, test);
	assert_int_equal(c->pio, pio);
	assert_int_equal(c->addr, addr);
	assert_int_equal(c->datamatch, datamatch);
	if (datamatch)
		assert_int_equal(c->data, data);
	assert_int_equal(c->assign, assign);
}

static void test_wildcard_eventfd(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	bar_write(&r, MEM, PCI_TESTDEV_HDR_TEST, 1, 1);
	assert_int_equal(r.ncalls, 1);
	assert_call(&r.calls[0], 1, false, PCI_MMIO_START + 2049, false, 0, true);
	/* KVM takes 16 writes; the guest reads a count of 0, and the device
	 * learns what KVM took. */
	r.pending[1] = 16;
	assert_int_equal(bar_read(&r, MEM, PCI_TESTDEV_HDR_COUNT, 4), 0);
	assert_int_equal(r.d.tests[1].kernel_writes, 16);
	assert_int_equal(r.d.kernel_doorbells, 16);
	/* Writes KVM did not take (of another size) count, whatever the value. */
	bar_write(&r, MEM, 2049, 1, 0x00);
	bar_write(&r, MEM, 2049, 1, 0x77);
	assert_int_equal(bar_read(&r, MEM, PCI_TESTDEV_HDR_COUNT, 4), 2);
	/* The port-I/O one. */
	bar_write(&r, IO, PCI_TESTDEV_HDR_TEST, 1, 1);
	assert_int_equal(r.ncalls, 3);
	assert_call(&r.calls[1], 1, false, PCI_MMIO_START + 2049, false, 0, false);
	assert_call(&r.calls[2], 4, true, PCI_IO_START + 132, false, 0, true);
	r.pending[4] = 7;
	assert_int_equal(bar_read(&r, IO, PCI_TESTDEV_HDR_COUNT, 1), 0);
	assert_int_equal(r.d.tests[4].kernel_writes, 7);
	assert_int_equal(r.d.kernel_doorbells, 23);
}

static void test_datamatch_eventfd(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	bar_write(&r, IO, PCI_TESTDEV_HDR_TEST, 1, 2);
	assert_int_equal(r.ncalls, 1);
	assert_call(&r.calls[0], 5, true, PCI_IO_START + 133, true, 0xfa, true);
	/* What reaches vmm: the value 0xfa counts, others do not. */
	bar_write(&r, IO, 133, 1, 0xce);
	bar_write(&r, IO, 133, 1, 0xfa);
	assert_int_equal(bar_read(&r, IO, PCI_TESTDEV_HDR_COUNT, 4), 1);
	bar_write(&r, MEM, PCI_TESTDEV_HDR_TEST, 1, 2);
	assert_call(&r.calls[2], 2, false, PCI_MMIO_START + 2050, true, 0xfa, true);
}

static void test_reselect_and_stop(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	bar_write(&r, MEM, PCI_TESTDEV_HDR_TEST, 1, 0);
	bar_write(&r, MEM, 2048, 1, 0xfa);
	bar_write(&r, MEM, 2048, 1, 0xfa);
	assert_int_equal(bar_read(&r, MEM, PCI_TESTDEV_HDR_COUNT, 4), 2);
	/* Selecting again starts over. */
	bar_write(&r, MEM, PCI_TESTDEV_HDR_TEST, 1, 0);
	assert_int_equal(bar_read(&r, MEM, PCI_TESTDEV_HDR_COUNT, 4), 0);
	/* An eventfd test, then another: the first one's doorbell goes. */
	bar_write(&r, MEM, PCI_TESTDEV_HDR_TEST, 1, 1);
	r.pending[1] = 3;      /* taken after the guest's last read */
	bar_write(&r, MEM, PCI_TESTDEV_HDR_TEST, 1, 2);
	assert_int_equal(r.ncalls, 3);
	assert_call(&r.calls[1], 1, false, PCI_MMIO_START + 2049, false, 0, false);
	assert_call(&r.calls[2], 2, false, PCI_MMIO_START + 2050, true, 0xfa, true);
	assert_int_equal(r.d.tests[1].kernel_writes, 3);   /* collected when it stopped */
	/* 3 and above stop without starting anything. */
	for (unsigned v = 3; v < 256; v += 84) {
		bar_write(&r, IO, PCI_TESTDEV_HDR_TEST, 1, v);
		assert_int_equal(r.d.current, -1);
		assert_int_equal(bar_read(&r, IO, PCI_TESTDEV_HDR_TEST, 4), 0);
		assert_int_equal(bar_read(&r, MEM, PCI_TESTDEV_HDR_NAME, 4), 0);
	}
	assert_int_equal(r.ncalls, 4);
	assert_call(&r.calls[3], 2, false, PCI_MMIO_START + 2050, true, 0xfa, false);
	/* Selecting through the I/O BAR picks the port-I/O test of that
	 * number, stopping the memory one. */
	bar_write(&r, MEM, PCI_TESTDEV_HDR_TEST, 1, 1);
	bar_write(&r, IO, PCI_TESTDEV_HDR_TEST, 1, 1);
	assert_int_equal(r.d.current, 4);
	assert_call(&r.calls[5], 1, false, PCI_MMIO_START + 2049, false, 0, false);
	assert_call(&r.calls[6], 4, true, PCI_IO_START + 132, false, 0, true);
	/* The VM stops: the doorbell goes and what KVM took is collected. */
	r.pending[4] = 9;
	pci_testdev_reset(&r.d);
	assert_int_equal(r.d.current, -1);
	assert_call(&r.calls[7], 4, true, PCI_IO_START + 132, false, 0, false);
	assert_int_equal(r.d.tests[4].kernel_writes, 9);
	pci_testdev_reset(&r.d);     /* twice is harmless */
	assert_int_equal(r.ncalls, 8);
	assert_int_equal(r.d.tests[1].runs, 2);
	assert_int_equal(r.d.tests[0].runs, 2);
}

/* Reads collect what KVM took, except where QEMU answers without looking
 * (past the name's end). */
static void test_reads_collect_kernel_writes(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	bar_write(&r, IO, PCI_TESTDEV_HDR_TEST, 1, 2);
	unsigned before = r.drains;

	r.pending[5] = 4;
	assert_int_equal(bar_read(&r, IO, 100, 1), 0);
	assert_int_equal(r.drains, before);
	assert_int_equal(r.d.tests[5].kernel_writes, 0);
	assert_int_equal(bar_read(&r, IO, PCI_TESTDEV_HDR_COUNT, 4), 0);   /* 4 byte reads */
	assert_int_equal(r.drains, before + 4);
	assert_int_equal(r.d.tests[5].kernel_writes, 4);
	/* A no-eventfd test has nothing to collect. */
	bar_write(&r, IO, PCI_TESTDEV_HDR_TEST, 1, 0);
	before = r.drains;
	bar_read(&r, IO, PCI_TESTDEV_HDR_COUNT, 4);
	assert_int_equal(r.drains, before);
}

static void test_refused_ioeventfd_counts_in_vmm(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	r.refuse = EINVAL;
	assert_int_equal(run_like_kvm_unit_tests(&r, MEM, 1), 16);
	assert_int_equal(run_like_kvm_unit_tests(&r, IO, 2), 16);
	assert_int_equal(r.d.ioeventfd_refusals, 2);
	assert_int_equal(r.d.ioeventfd_errno, EINVAL);
	assert_int_equal(r.d.tests[1].user_writes, 16);
	assert_int_equal(r.d.tests[5].user_writes, 16);
	/* Nothing was registered, so nothing is removed. */
	bar_write(&r, IO, PCI_TESTDEV_HDR_TEST, 1, 3);
	assert_int_equal(r.ncalls, 0);
}

static void test_bar_moves_take_the_doorbell_along(void **state)
{
	struct rig r;
	unsigned devfn;

	(void)state;
	rig_init(&r);
	devfn = r.d.func.devfn;
	bar_write(&r, MEM, PCI_TESTDEV_HDR_TEST, 1, 1);
	assert_int_equal(r.ncalls, 1);
	/* The memory BAR moves while decoding. */
	pci_config_write(&r.bus, devfn, PCI_BASE_ADDRESS_0, 4, 0xd0000000u);
	r.mem = 0xd0000000u;
	assert_int_equal(r.ncalls, 3);
	assert_call(&r.calls[1], 1, false, PCI_MMIO_START + 2049, false, 0, false);
	assert_call(&r.calls[2], 1, false, 0xd0000000u + 2049, false, 0, true);
	/* The device answers at the new place. */
	assert_int_equal(bar_read(&r, MEM, PCI_TESTDEV_HDR_TEST, 1), 1);
	bar_write(&r, MEM, 2049, 1, 0x55);
	assert_int_equal(bar_read(&r, MEM, PCI_TESTDEV_HDR_COUNT, 1), 1);
	/* Moving the I/O BAR leaves a memory test's doorbell alone. */
	pci_config_write(&r.bus, devfn, PCI_BASE_ADDRESS_1, 4, 0xd000);
	r.io = 0xd000;
	assert_int_equal(r.ncalls, 3);
	/* Memory decoding off: the doorbell goes, and comes back with it. */
	pci_config_write(&r.bus, devfn, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(r.ncalls, 4);
	assert_call(&r.calls[3], 1, false, 0xd0000000u + 2049, false, 0, false);
	pci_config_write(&r.bus, devfn, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(r.ncalls, 5);
	assert_call(&r.calls[4], 1, false, 0xd0000000u + 2049, false, 0, true);
	/* A port-I/O test follows its BAR the same way. */
	bar_write(&r, IO, PCI_TESTDEV_HDR_TEST, 1, 2);
	assert_call(&r.calls[6], 5, true, 0xd000 + 133, true, 0xfa, true);
	pci_config_write(&r.bus, devfn, PCI_BASE_ADDRESS_1, 4, 0xe100);
	r.io = 0xe100;
	assert_int_equal(r.ncalls, 9);
	assert_call(&r.calls[7], 5, true, 0xd000 + 133, true, 0xfa, false);
	assert_call(&r.calls[8], 5, true, 0xe100 + 133, true, 0xfa, true);
	assert_int_equal(bar_read(&r, IO, PCI_TESTDEV_HDR_TEST, 1), 5);
	/* Outside the I/O window it does not decode: no doorbell anywhere. */
	pci_config_write(&r.bus, devfn, PCI_BASE_ADDRESS_1, 4, 0x1000);
	assert_int_equal(r.ncalls, 10);
	assert_call(&r.calls[9], 5, true, 0xe100 + 133, true, 0xfa, false);
	assert_false(pci_io_decodes(&r.bus, 0x1000, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_class_and_bars),
		cmocka_unit_test(test_no_current_test),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_no_eventfd_counts_matching_writes),
		cmocka_unit_test(test_wildcard_eventfd),
		cmocka_unit_test(test_datamatch_eventfd),
		cmocka_unit_test(test_reselect_and_stop),
		cmocka_unit_test(test_reads_collect_kernel_writes),
		cmocka_unit_test(test_refused_ioeventfd_counts_in_vmm),
		cmocka_unit_test(test_bar_moves_take_the_doorbell_along),
	};

	return cmocka_run_group_tests_name("pci_testdev", tests, NULL, NULL);
}
