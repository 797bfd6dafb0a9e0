/*
 * test_pci.c - the PCI bus (vmm/pci.c): configuration mechanism #1 through
 * the 0xCF8/0xCFC ports with byte, word and dword accesses, absent
 * functions, BAR sizing and relocation (and the device being told so its
 * doorbells follow), the capability list, MMIO dispatch to memory BARs and
 * port dispatch to I/O BARs.
 */
#include "unit.h"

#include "pci.h"
#include "vmm.h"

struct moved {
	unsigned calls;
	uint64_t old_addr, new_addr;
};

static uint8_t bar_mem[4096];

static bool fake_bar_rw(struct pci_func *f, unsigned bar, uint64_t off, bool is_write,
			uint8_t *data, unsigned size)
{
	(void)f;
	(void)bar;
	if (is_write)
		memcpy(&bar_mem[off], data, size);
	else
		memcpy(data, &bar_mem[off], size);
	return true;
}

static void fake_moved(struct pci_func *f, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct moved *m = f->opaque;

	(void)bar;
	m->calls++;
	m->old_addr = old_addr;
	m->new_addr = new_addr;
}

static void port_write(struct pci_bus *bus, uint16_t port, unsigned size, uint32_t v)
{
	uint8_t data[4];

	le_put(data, size, v);
	pci_port_access(bus, port, true, data, size);
}

static uint32_t port_read(struct pci_bus *bus, uint16_t port, unsigned size)
{
	uint8_t data[4] = {0};

	pci_port_access(bus, port, false, data, size);
	return le_get(data, size);
}

static uint32_t cfg_addr(unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | dev << 11 | fn << 8 | (reg & 0xfc);
}

/* A bus with the host bridge and one device with a 4 KiB BAR 0 and two
 * capabilities. */
struct rig {
	struct pci_bus bus;
	struct pci_func dev;
	struct moved moved;
};

static void rig_init(struct rig *r)
{
	char err[256];
	uint8_t vndr[6] = {8, 1, 2, 3, 4, 5};
	uint8_t msix[10] = {0};

	memset(r, 0, sizeof(*r));
	pci_bus_init(&r->bus);
	pci_func_init(&r->dev, "test", 0x1af4, 0x1042, 0x018000, 1, 0x1af4, 0x1100);
	r->dev.opaque = &r->moved;
	r->dev.bar_moved = fake_moved;
	pci_func_add_bar(&r->dev, 0, 4096, fake_bar_rw);
	assert_int_equal(pci_add_cap(&r->dev, PCI_CAP_ID_VNDR, vndr, 8), 0x40);
	assert_int_equal(pci_add_cap(&r->dev, PCI_CAP_ID_MSIX, msix, 12), 0x48);
	assert_int_equal(pci_plug(&r->bus, &r->dev, err, sizeof(err)), 0);
}

static void test_host_bridge_and_device_ids(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	port_write(&r.bus, 0xcf8, 4, cfg_addr(0, 0, 0));
	assert_int_equal(port_read(&r.bus, 0xcfc, 4), 0x12378086);
	port_write(&r.bus, 0xcf8, 4, cfg_addr(0, 0, 8));
	assert_int_equal(port_read(&r.bus, 0xcfc, 4) >> 8, 0x060000);   /* host bridge */
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 0, 0));
	assert_int_equal(port_read(&r.bus, 0xcfc, 4), 0x10421af4);
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 0, 8));
	assert_int_equal(port_read(&r.bus, 0xcfc, 4), 0x01800001);   /* class, revision */
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 0, 0x2c));
	assert_int_equal(port_read(&r.bus, 0xcfc, 4), 0x11001af4);
	/* The latch reads back what was written (low two bits dropped). */
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 0, 0x2c) | 3);
	assert_int_equal(port_read(&r.bus, 0xcf8, 4), cfg_addr(1, 0, 0x2c));
}

static void test_byte_and_word_accesses(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 0, 0));
	assert_int_equal(port_read(&r.bus, 0xcfc, 1), 0xf4);
	assert_int_equal(port_read(&r.bus, 0xcfd, 1), 0x1a);
	assert_int_equal(port_read(&r.bus, 0xcfe, 2), 0x1042);   /* device id */
	assert_int_equal(port_read(&r.bus, 0xcff, 1), 0x10);
	/* A word straddling the dword boundary is not a valid access. */
	assert_int_equal(port_read(&r.bus, 0xcff, 2), 0xffff);
	/* Byte writes to the latch's ports do not change it. */
	port_write(&r.bus, 0xcf9, 1, 0x55);
	assert_int_equal(port_read(&r.bus, 0xcf8, 4), cfg_addr(1, 0, 0));
	/* Interrupt line is writable a byte at a time; pin reads 0. */
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 0, 0x3c));
	port_write(&r.bus, 0xcfc, 1, 0x0b);
	assert_int_equal(port_read(&r.bus, 0xcfc, 2), 0x000b);
	/* Read-only bytes ignore writes: vendor id stays. */
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 0, 0));
	port_write(&r.bus, 0xcfc, 2, 0xbeef);
	assert_int_equal(port_read(&r.bus, 0xcfc, 2), 0x1af4);
}

static void test_absent_functions_and_disabled_latch(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	port_write(&r.bus, 0xcf8, 4, cfg_addr(2, 0, 0));
	assert_int_equal(port_read(&r.bus, 0xcfc, 4), 0xffffffffu);
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 1, 0));      /* function 1 */
	assert_int_equal(port_read(&r.bus, 0xcfc, 2), 0xffff);
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 0, 0) | 1u << 16);   /* bus 1 */
	assert_int_equal(port_read(&r.bus, 0xcfc, 4), 0xffffffffu);
	port_write(&r.bus, 0xcf8, 4, cfg_addr(1, 0, 0) & 0x7fffffffu);   /* enable off */
	assert_int_equal(port_read(&r.bus, 0xcfc, 4), 0xffffffffu);
	port_write(&r.bus, 0xcfc, 4, 0);   /* goes nowhere */
	assert_int_equal(pci_config_read(&r.bus, 1 << 3, 0, 4), 0x10421af4);
}

static void test_firmware_assigned_bar(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	assert_int_equal(pci_config_read(&r.bus, 8, PCI_BASE_ADDRESS_0, 4), PCI_MMIO_START);
	assert_true(pci_config_read(&r.bus, 8, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	assert_int_equal(r.moved.calls, 1);
	assert_int_equal(r.moved.old_addr, 0);
	assert_int_equal(r.moved.new_addr, PCI_MMIO_START);
	/* Unimplemented BARs read 0 and ignore writes. */
	pci_config_write(&r.bus, 8, PCI_BASE_ADDRESS_0 + 4, 4, 0xffffffffu);
	assert_int_equal(pci_config_read(&r.bus, 8, PCI_BASE_ADDRESS_0 + 4, 4), 0);
}

static void test_bar_sizing_and_relocation(void **state)
{
	struct rig r;
	uint8_t data[4];

	(void)state;
	rig_init(&r);
	/* Sizing as Linux does it: decoding off, all ones, read, restore. */
	pci_config_write(&r.bus, 8, PCI_COMMAND, 2, 0);
	assert_int_equal(r.moved.calls, 2);
	assert_int_equal(r.moved.new_addr, 0);
	pci_config_write(&r.bus, 8, PCI_BASE_ADDRESS_0, 4, 0xffffffffu);
	assert_int_equal(pci_config_read(&r.bus, 8, PCI_BASE_ADDRESS_0, 4), 0xfffff000u);
	assert_int_equal(r.moved.calls, 2);   /* not decoding: nothing moves */
	/* Relocate to 0xd0000000 and turn decoding back on. */
	pci_config_write(&r.bus, 8, PCI_BASE_ADDRESS_0, 4, 0xd0000123u);
	assert_int_equal(pci_config_read(&r.bus, 8, PCI_BASE_ADDRESS_0, 4), 0xd0000000u);
	pci_config_write(&r.bus, 8, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_int_equal(r.moved.calls, 3);
	assert_int_equal(r.moved.new_addr, 0xd0000000u);
	/* MMIO follows the BAR. */
	le_put(data, 4, 0xcafef00d);
	pci_mmio_access(&r.bus, 0xd0000010, true, data, 4);
	assert_int_equal(le_get(&bar_mem[0x10], 4), 0xcafef00d);
	memset(data, 0, 4);
	pci_mmio_access(&r.bus, PCI_MMIO_START + 0x10, false, data, 4);
	assert_int_equal(le_get(data, 4), 0xffffffffu);   /* old place: master abort */
	/* Moving it while decoding reports old and new places. */
	pci_config_write(&r.bus, 8, PCI_BASE_ADDRESS_0 + 2, 2, 0xd100);   /* a word write */
	assert_int_equal(r.moved.calls, 4);
	assert_int_equal(r.moved.old_addr, 0xd0000000u);
	assert_int_equal(r.moved.new_addr, 0xd1000000u);
	/* Outside the MMIO window (over RAM or the APICs) it does not decode. */
	pci_config_write(&r.bus, 8, PCI_BASE_ADDRESS_0, 4, 0x10000000u);
	assert_int_equal(r.moved.calls, 5);
	assert_int_equal(r.moved.new_addr, 0);
	pci_config_write(&r.bus, 8, PCI_BASE_ADDRESS_0, 4, 0xfec00000u);
	assert_int_equal(r.moved.calls, 5);
}

static void test_capability_list(void **state)
{
	struct rig r;
	unsigned p, n = 0;
	uint8_t ids[8];

	(void)state;
	rig_init(&r);
	assert_true(pci_config_read(&r.bus, 8, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (p = pci_config_read(&r.bus, 8, PCI_CAPABILITY_LIST, 1); p && n < 8;
	     p = pci_config_read(&r.bus, 8, p + 1, 1))
		ids[n++] = (uint8_t)pci_config_read(&r.bus, 8, p, 1);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], PCI_CAP_ID_VNDR);
	assert_int_equal(ids[1], PCI_CAP_ID_MSIX);
	assert_int_equal(pci_config_read(&r.bus, 8, 0x42, 2), 0x0108);
	assert_int_equal(pci_config_read(&r.bus, 8, 0x44, 4), 0x05040302);
	/* An access that crosses a dword is refused. */
	assert_int_equal(pci_config_read(&r.bus, 8, 0x42, 4), 0xffffffffu);
	/* The host bridge has none. */
	assert_false(pci_config_read(&r.bus, 0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* A capability that does not fit is refused. */
	uint8_t big[250] = {0};
	assert_int_equal(pci_add_cap(&r.dev, 0x05, big, sizeof(big)), 0);
}

static void test_mmio_edges(void **state)
{
	struct rig r;
	uint8_t data[8];

	(void)state;
	rig_init(&r);
	memset(bar_mem, 0x5a, sizeof(bar_mem));
	pci_mmio_access(&r.bus, PCI_MMIO_START + 4092, false, data, 4);
	assert_int_equal(le_get(data, 4), 0x5a5a5a5a);
	/* Crossing the end of the BAR: master abort, not a read past it. */
	pci_mmio_access(&r.bus, PCI_MMIO_START + 4094, false, data, 4);
	assert_int_equal(le_get(data, 4), 0xffffffffu);
	pci_mmio_access(&r.bus, PCI_MMIO_START + 4096, false, data, 8);
	assert_int_equal(le_get(data, 4), 0xffffffffu);
	/* What the "pci-mmio" registry region answers for. */
	assert_true(pci_mmio_decodes(&r.bus, PCI_MMIO_START, 4));
	assert_true(pci_mmio_decodes(&r.bus, PCI_MMIO_START + 4088, 8));
	assert_false(pci_mmio_decodes(&r.bus, PCI_MMIO_START + 4094, 4));
	assert_false(pci_mmio_decodes(&r.bus, PCI_MMIO_START + 4096, 1));
	assert_false(pci_mmio_decodes(&r.bus, 0xfeb00000, 4));
	pci_config_write(&r.bus, 8, PCI_COMMAND, 2, 0);
	assert_false(pci_mmio_decodes(&r.bus, PCI_MMIO_START, 4));
}

static void test_plug_until_full(void **state)
{
	static struct pci_func f[PCI_MAX_DEVICES];
	struct pci_bus bus;
	char err[256];
	unsigned i;

	(void)state;
	pci_bus_init(&bus);
	for (i = 0; i < PCI_MAX_DEVICES - 1; i++) {
		pci_func_init(&f[i], "f", 1, 2, 0, 0, 0, 0);
		pci_func_add_bar(&f[i], 0, 0x8000, fake_bar_rw);
		assert_int_equal(pci_plug(&bus, &f[i], err, sizeof(err)), 0);
		assert_int_equal(pci_config_read(&bus, f[i].devfn, PCI_BASE_ADDRESS_0, 4),
				 PCI_MMIO_START + 0x8000ull * i);
	}
	pci_func_init(&f[i], "f", 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_plug(&bus, &f[i], err, sizeof(err)), -1);
	assert_contains(err, "bus 0 is full");
}

/* I/O BARs: assigned in the I/O window, sized, moved, switched off with
 * the command register's I/O bit, and dispatched apart from memory. */
static unsigned io_bar_seen = 99;

static bool fake_io_rw(struct pci_func *f, unsigned bar, uint64_t off, bool is_write,
		       uint8_t *data, unsigned size)
{
	io_bar_seen = bar;
	return fake_bar_rw(f, bar, off, is_write, data, size);
}

static void test_io_bars(void **state)
{
	static struct pci_func f, g, h;
	struct moved moved = {0};
	struct pci_bus bus;
	uint8_t data[4];
	char err[256];

	(void)state;
	pci_bus_init(&bus);
	pci_func_init(&f, "f", 1, 2, 0, 0, 0, 0);
	f.opaque = &moved;
	f.bar_moved = fake_moved;
	pci_func_add_bar(&f, 0, 4096, fake_bar_rw);
	pci_func_add_io_bar(&f, 1, 64, fake_io_rw);
	assert_int_equal(pci_plug(&bus, &f, err, sizeof(err)), 0);
	assert_int_equal(pci_config_read(&bus, 8, PCI_BASE_ADDRESS_1, 4),
			 PCI_IO_START | PCI_BASE_ADDRESS_SPACE_IO);
	assert_int_equal(pci_config_read(&bus, 8, PCI_BASE_ADDRESS_0, 4), PCI_MMIO_START);
	assert_int_equal(pci_config_read(&bus, 8, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(moved.calls, 2);                  /* both BARs decode */
	/* Ports answer only for the I/O BAR, memory only for the memory one. */
	assert_true(pci_io_decodes(&bus, PCI_IO_START, 4));
	assert_true(pci_io_decodes(&bus, PCI_IO_START + 60, 4));
	assert_false(pci_io_decodes(&bus, PCI_IO_START + 62, 4));
	assert_false(pci_io_decodes(&bus, PCI_IO_START + 64, 1));
	assert_false(pci_mmio_decodes(&bus, PCI_MMIO_START + 4096, 1));
	le_put(data, 2, 0xbeef);
	pci_io_access(&bus, PCI_IO_START + 6, true, data, 2);
	assert_int_equal(io_bar_seen, 1);
	assert_int_equal(le_get(&bar_mem[6], 2), 0xbeef);
	/* Sizing: bit 0 stays (I/O space), the size shows in the rest. */
	pci_config_write(&bus, 8, PCI_BASE_ADDRESS_1, 4, 0xffffffffu);
	assert_int_equal(pci_config_read(&bus, 8, PCI_BASE_ADDRESS_1, 4), 0xffffffc1u);
	assert_int_equal(moved.new_addr, 0);              /* outside the window now */
	/* Moved inside the window; the old ports answer no more. */
	pci_config_write(&bus, 8, PCI_BASE_ADDRESS_1, 4, 0xd040);
	assert_int_equal(moved.new_addr, 0xd040);
	assert_true(pci_io_decodes(&bus, 0xd040, 1));
	assert_false(pci_io_decodes(&bus, PCI_IO_START, 1));
	pci_io_access(&bus, 0xd040 + 6, false, data, 2);
	assert_int_equal(le_get(data, 2), 0xbeef);
	pci_io_access(&bus, PCI_IO_START + 6, false, data, 2);
	assert_int_equal(le_get(data, 2), 0xffff);        /* master abort */
	/* The I/O bit of the command register alone turns it off. */
	unsigned calls = moved.calls;
	pci_config_write(&bus, 8, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(moved.calls, calls + 1);
	assert_false(pci_io_decodes(&bus, 0xd040, 1));
	assert_true(pci_mmio_decodes(&bus, PCI_MMIO_START, 1));
	/* The next function's I/O BAR comes after, naturally aligned. */
	pci_func_init(&g, "g", 1, 2, 0, 0, 0, 0);
	pci_func_add_io_bar(&g, 0, 256, fake_io_rw);
	assert_int_equal(pci_plug(&bus, &g, err, sizeof(err)), 0);
	assert_int_equal(pci_config_read(&bus, g.devfn, PCI_BASE_ADDRESS_0, 4),
			 (PCI_IO_START + 256) | PCI_BASE_ADDRESS_SPACE_IO);
	assert_int_equal(pci_config_read(&bus, g.devfn, PCI_COMMAND, 2), PCI_COMMAND_IO);
	/* No room left in the window: one line that says so. */
	bus.io_next = PCI_IO_END - 16;
	pci_func_init(&h, "h", 1, 2, 0, 0, 0, 0);
	pci_func_add_io_bar(&h, 2, 32, fake_io_rw);
	assert_int_equal(pci_plug(&bus, &h, err, sizeof(err)), -1);
	assert_contains(err, "no room for BAR 2 in the I/O window");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_bridge_and_device_ids),
		cmocka_unit_test(test_byte_and_word_accesses),
		cmocka_unit_test(test_absent_functions_and_disabled_latch),
		cmocka_unit_test(test_firmware_assigned_bar),
		cmocka_unit_test(test_bar_sizing_and_relocation),
		cmocka_unit_test(test_capability_list),
		cmocka_unit_test(test_mmio_edges),
		cmocka_unit_test(test_plug_until_full),
		cmocka_unit_test(test_io_bars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
