/*
 * test_io.c - the port and MMIO handler registry (vmm/io.c): what it
 * refuses at registration, and lookups at the edges of each range.
 */
#include "unit.h"

#include "vmm.h"

static bool dummy_io(struct vcpu *vcpu, uint64_t addr, bool is_write, uint8_t *data,
		     unsigned size, void *opaque)
{
	(void)vcpu;
	(void)addr;
	(void)is_write;
	(void)data;
	(void)size;
	(void)opaque;
	return true;
}

static int add(struct io_registry *reg, enum io_space space, uint64_t base, uint64_t len,
	       const char *name, char *err, size_t errlen)
{
	struct io_region r = {.space = space, .base = base, .len = len, .name = name,
			      .fn = dummy_io};

	strcpy(err, "(untouched)");
	return io_register(reg, &r, err, errlen);
}

#define ADD_OK(reg, space, base, len, name)                                    \
	do {                                                                   \
		char e_[256];                                                  \
		if (add((reg), (space), (base), (len), (name), e_, sizeof(e_))) \
			fail_msg("registering %s: %s", (name), e_);            \
	} while (0)

static void refused(struct io_registry *reg, enum io_space space, uint64_t base,
		    uint64_t len, const char *phrase)
{
	char err[256];
	unsigned before = reg->count;

	if (add(reg, space, base, len, "new", err, sizeof(err)) != -1)
		fail_msg("0x%llx+0x%llx was registered; expected \"%s\"",
			 (unsigned long long)base, (unsigned long long)len, phrase);
	assert_contains(err, phrase);
	assert_int_equal(reg->count, before);   /* nothing added */
}

static void test_register_keeps_the_region(void **state)
{
	struct io_registry reg = {0};
	int cookie;
	char err[256];
	struct io_region r = {.space = IO_PORT, .base = 0x3f8, .len = 8, .name = "serial",
			      .fn = dummy_io, .opaque = &cookie};

	(void)state;
	assert_int_equal(io_register(&reg, &r, err, sizeof(err)), 0);
	assert_int_equal(reg.count, 1);
	assert_int_equal(reg.regions[0].base, 0x3f8);
	assert_int_equal(reg.regions[0].len, 8);
	assert_string_equal(reg.regions[0].name, "serial");
	assert_ptr_equal(reg.regions[0].fn, dummy_io);
	assert_ptr_equal(reg.regions[0].opaque, &cookie);
	assert_null(reg.regions[0].burst_fn);
}

static void test_lookup_at_range_edges(void **state)
{
	struct io_registry reg = {0};

	(void)state;
	ADD_OK(&reg, IO_PORT, 0xf4, 4, "debug-exit");
	ADD_OK(&reg, IO_PORT, 0x3f8, 8, "serial");
	ADD_OK(&reg, IO_PORT, 0xcf8, 8, "pci");
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3f8, 1), 1);   /* first byte */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3ff, 1), 1);   /* last byte */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3f7, 1), -1);  /* just below */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x400, 1), -1);  /* just above */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3f8, 8), 1);   /* all of it */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3fc, 4), 1);
	assert_int_equal(io_lookup(&reg, IO_PORT, 0xcfc, 4), 2);
	assert_int_equal(io_lookup(&reg, IO_PORT, 0xf4, 4), 0);
	assert_int_equal(io_lookup(&reg, IO_PORT, 0xf7, 1), 0);
}

static void test_lookup_refuses_accesses_straddling_an_edge(void **state)
{
	struct io_registry reg = {0};

	(void)state;
	ADD_OK(&reg, IO_PORT, 0x3f8, 8, "serial");
	ADD_OK(&reg, IO_PORT, 0x400, 8, "next");   /* adjacent above */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3ff, 2), -1);  /* serial|next */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3fd, 4), -1);
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3f7, 2), -1);  /* below|serial */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3f8, 9), -1);
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x400, 8), 1);
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x407, 2), -1);  /* past the end */
}

static void test_lookup_keeps_ports_and_mmio_apart(void **state)
{
	struct io_registry reg = {0};

	(void)state;
	ADD_OK(&reg, IO_PORT, 0x1000, 0x100, "port");
	ADD_OK(&reg, IO_MMIO, 0x1000, 0x100, "mmio");   /* same numbers, other space */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x1010, 4), 0);
	assert_int_equal(io_lookup(&reg, IO_MMIO, 0x1010, 4), 1);
	assert_int_equal(io_lookup(&reg, IO_MMIO, 0x3f8, 1), -1);
}

static void test_lookup_in_empty_registry(void **state)
{
	struct io_registry reg = {0};

	(void)state;
	assert_int_equal(io_lookup(&reg, IO_PORT, 0x3f8, 1), -1);
	assert_int_equal(io_lookup(&reg, IO_MMIO, 0, 8), -1);
}

static void test_lookup_near_top_of_address_space(void **state)
{
	struct io_registry reg = {0};
	uint64_t base = UINT64_MAX - 0x1fff;   /* ends 0x1000 below 2^64 */

	(void)state;
	ADD_OK(&reg, IO_MMIO, base, 0x1000, "top");
	assert_int_equal(io_lookup(&reg, IO_MMIO, base + 0xfff, 1), 0);
	assert_int_equal(io_lookup(&reg, IO_MMIO, base + 0xfff, 8), -1);
	assert_int_equal(io_lookup(&reg, IO_MMIO, UINT64_MAX, 8), -1);
	assert_int_equal(io_lookup(&reg, IO_MMIO, UINT64_MAX - 3, 8), -1);
	assert_int_equal(io_lookup(&reg, IO_MMIO, base - 1, 8), -1);
}

static void test_refuses_overlap(void **state)
{
	struct io_registry reg = {0};

	(void)state;
	ADD_OK(&reg, IO_PORT, 0x3f8, 8, "serial");
	refused(&reg, IO_PORT, 0x3f8, 8, "device new: port 0x3f8 overlaps device serial");
	refused(&reg, IO_PORT, 0x3ff, 1, "port 0x3ff overlaps device serial");   /* last byte */
	refused(&reg, IO_PORT, 0x3f0, 9, "overlaps device serial");   /* reaches first byte */
	refused(&reg, IO_PORT, 0x3fa, 2, "overlaps device serial");   /* inside */
	refused(&reg, IO_PORT, 0x300, 0x200, "overlaps device serial");   /* around */
	ADD_OK(&reg, IO_PORT, 0x3f0, 8, "below");   /* adjacent: fine */
	ADD_OK(&reg, IO_PORT, 0x400, 1, "above");
	ADD_OK(&reg, IO_MMIO, 0x3f8, 8, "other-space");

	ADD_OK(&reg, IO_MMIO, LAPIC_GPA, 0x1000, "lapic");
	refused(&reg, IO_MMIO, LAPIC_GPA + 0xff0, 0x20, "MMIO 0xfee00ff0 overlaps device lapic");
}

static void test_refuses_zero_length(void **state)
{
	struct io_registry reg = {0};

	(void)state;
	refused(&reg, IO_PORT, 0x80, 0, "device new: bad port range 0x80+0x0");
	refused(&reg, IO_MMIO, 0xd0000000, 0, "bad MMIO range");
}

static void test_refuses_port_range_past_0xffff(void **state)
{
	struct io_registry reg = {0};

	(void)state;
	refused(&reg, IO_PORT, 0xffff, 2, "bad port range 0xffff+0x2");
	refused(&reg, IO_PORT, 0x10000, 1, "bad port range");
	refused(&reg, IO_PORT, 0, 0x10001, "bad port range");
	refused(&reg, IO_PORT, UINT64_MAX, 2, "bad port range");   /* wraps to 0 */
	ADD_OK(&reg, IO_PORT, 0xfffe, 2, "last-ports");   /* ends exactly at 0x10000 */
	assert_int_equal(io_lookup(&reg, IO_PORT, 0xffff, 1), 0);
	/* MMIO may go above 64K, not past 2^64. */
	ADD_OK(&reg, IO_MMIO, 0x10000, 0x10000, "mmio-high");
	refused(&reg, IO_MMIO, UINT64_MAX, 2, "bad MMIO range");
	refused(&reg, IO_MMIO, 1ULL << 63, 1ULL << 63, "bad MMIO range");
}

static void test_refuses_when_table_is_full(void **state)
{
	struct io_registry reg = {0};
	char name[IO_MAX_HANDLERS][16];

	(void)state;
	for (unsigned i = 0; i < IO_MAX_HANDLERS; i++) {
		snprintf(name[i], sizeof(name[i]), "dev%u", i);
		ADD_OK(&reg, IO_PORT, 0x100 + i * 4, 4, name[i]);
	}
	assert_int_equal(reg.count, IO_MAX_HANDLERS);
	refused(&reg, IO_PORT, 0x2000, 4, "device new: the I/O registry is full (32)");
	/* Every one of them is still found. */
	for (unsigned i = 0; i < IO_MAX_HANDLERS; i++)
		assert_int_equal(io_lookup(&reg, IO_PORT, 0x100 + i * 4 + 3, 1), (int)i);
}

static bool decodes_low_half(uint64_t addr, unsigned size, void *opaque)
{
	(void)opaque;
	return addr + size <= 0xc0000800;
}

static void test_lookup_asks_a_region_that_decodes_in_part(void **state)
{
	struct io_registry reg = {0};
	char err[256];
	struct io_region r = {.space = IO_MMIO, .base = 0xc0000000, .len = 0x1000,
			      .name = "window", .fn = dummy_io, .decodes = decodes_low_half};

	(void)state;
	assert_int_equal(io_register(&reg, &r, err, sizeof(err)), 0);
	assert_int_equal(io_lookup(&reg, IO_MMIO, 0xc0000000, 4), 0);
	assert_int_equal(io_lookup(&reg, IO_MMIO, 0xc00007fc, 4), 0);
	assert_int_equal(io_lookup(&reg, IO_MMIO, 0xc00007fe, 4), -1);
	assert_int_equal(io_lookup(&reg, IO_MMIO, 0xc0000800, 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_keeps_the_region),
		cmocka_unit_test(test_lookup_at_range_edges),
		cmocka_unit_test(test_lookup_refuses_accesses_straddling_an_edge),
		cmocka_unit_test(test_lookup_keeps_ports_and_mmio_apart),
		cmocka_unit_test(test_lookup_in_empty_registry),
		cmocka_unit_test(test_lookup_near_top_of_address_space),
		cmocka_unit_test(test_refuses_overlap),
		cmocka_unit_test(test_refuses_zero_length),
		cmocka_unit_test(test_refuses_port_range_past_0xffff),
		cmocka_unit_test(test_refuses_when_table_is_full),
		cmocka_unit_test(test_lookup_asks_a_region_that_decodes_in_part),
	};

	return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
