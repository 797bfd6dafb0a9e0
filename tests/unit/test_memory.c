/*
 * test_memory.c - guest RAM (vmm/memory.c): the layout around the
 * 3..4 GiB hole, guest_ptr()'s range checks (the only way vmm turns a
 * guest address into a pointer), and memory_map()'s refusals.
 */
#include "unit.h"

#include "boot.h"
#include "memory.h"

#include <errno.h>

#define SMALL (64 * MIB)

/* RAM + swap as memory_map() counts it, in bytes. */
static uint64_t host_ram_and_swap(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kib, total = 0;
	char key[64];

	assert_non_null(f);
	while (fscanf(f, "%63s %llu kB\n", key, &kib) == 2)
		if (!strcmp(key, "MemTotal:") || !strcmp(key, "SwapTotal:"))
			total += kib * KIB;
	fclose(f);
	return total;
}

static unsigned long long meminfo_value(const char *want)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long v = 0, x;
	char key[64];

	assert_non_null(f);
	while (fscanf(f, "%63s %llu%*[^\n]\n", key, &x) == 2)
		if (!strcmp(key, want))
			v = x;
	fclose(f);
	return v;
}

/* ---- layout ----------------------------------------------------------------------- */

static void test_layout_below_3g_is_one_region_at_zero(void **state)
{
	struct guest_memory mem;

	(void)state;
	memory_layout(SMALL, &mem);
	assert_int_equal(mem.size, SMALL);
	assert_int_equal(mem.nregions, 1);
	assert_int_equal(mem.regions[0].gpa, 0);
	assert_int_equal(mem.regions[0].size, SMALL);
	assert_null(mem.regions[0].hva);
	assert_null(mem.base);
	assert_false(mem.hugetlbfs);
}

static void test_layout_of_exactly_3g_has_no_high_region(void **state)
{
	struct guest_memory mem;

	(void)state;
	memory_layout(MEM_HOLE_START, &mem);
	assert_int_equal(mem.nregions, 1);
	assert_int_equal(mem.regions[0].size, MEM_HOLE_START);
}

static void test_layout_above_3g_continues_at_4g(void **state)
{
	struct guest_memory mem;

	(void)state;
	memory_layout(MEM_HOLE_START + 4 * KIB, &mem);
	assert_int_equal(mem.nregions, 2);
	assert_int_equal(mem.regions[0].gpa, 0);
	assert_int_equal(mem.regions[0].size, MEM_HOLE_START);
	assert_int_equal(mem.regions[1].gpa, MEM_HOLE_END);
	assert_int_equal(mem.regions[1].size, 4 * KIB);

	memory_layout(16 * GIB, &mem);
	assert_int_equal(mem.nregions, 2);
	assert_int_equal(mem.regions[1].gpa, 4 * GIB);
	assert_int_equal(mem.regions[1].size, 13 * GIB);
	assert_int_equal(mem.regions[0].size + mem.regions[1].size, 16 * GIB);
}

static void test_layout_forgets_previous_contents(void **state)
{
	struct guest_memory mem;

	(void)state;
	memory_layout(8 * GIB, &mem);
	mem.base = (uint8_t *)&mem;
	mem.regions[1].hva = (uint8_t *)&mem;
	memory_layout(SMALL, &mem);
	assert_int_equal(mem.nregions, 1);
	assert_null(mem.base);
	assert_null(mem.regions[1].hva);
	assert_int_equal(mem.regions[1].size, 0);
}

/* ---- guest_ptr --------------------------------------------------------------------- */

static void test_guest_ptr_is_null_before_mapping(void **state)
{
	struct guest_memory mem;

	(void)state;
	memory_layout(SMALL, &mem);
	assert_null(guest_ptr(&mem, 0, 1));
	assert_null(guest_ptr(&mem, 0x1000, 0));
}

static void test_guest_ptr_boundaries_of_one_region(void **state)
{
	struct guest_memory mem;
	char err[256];
	uint8_t *b;

	(void)state;
	memory_layout(SMALL, &mem);
	assert_int_equal(memory_map(&mem, false, err, sizeof(err)), 0);
	b = mem.base;
	assert_ptr_equal(guest_ptr(&mem, 0, 1), b);
	assert_ptr_equal(guest_ptr(&mem, 0, SMALL), b);                 /* all of RAM */
	assert_ptr_equal(guest_ptr(&mem, SMALL - 1, 1), b + SMALL - 1); /* last byte */
	assert_ptr_equal(guest_ptr(&mem, 0x1234, 0x10), b + 0x1234);
	assert_ptr_equal(guest_ptr(&mem, 0x1234, 0), b + 0x1234);       /* len 0 inside */
	assert_null(guest_ptr(&mem, 0, SMALL + 1));
	assert_null(guest_ptr(&mem, 1, SMALL));
	assert_null(guest_ptr(&mem, SMALL - 1, 2));                     /* crosses the end */
	assert_null(guest_ptr(&mem, SMALL, 1));
	assert_null(guest_ptr(&mem, SMALL + 1, 0));                     /* len 0 outside */
	assert_null(guest_ptr(&mem, MEM_HOLE_END, 1));
	memory_unmap(&mem);
}

static void test_guest_ptr_never_overflows(void **state)
{
	static const struct {
		uint64_t gpa, len;
	} bad[] = {
		{UINT64_MAX, 1}, {UINT64_MAX, 0}, {UINT64_MAX, UINT64_MAX},
		{1, UINT64_MAX}, {SMALL - 1, UINT64_MAX}, {0x1000, UINT64_MAX - 0xfff},
		{UINT64_MAX - SMALL + 1, SMALL}, {0x1000, UINT64_MAX - 0x1000 + 2},
		{UINT64_MAX - 0xfff, 0x2000}, {1ULL << 63, 1ULL << 63},
	};
	struct guest_memory mem;

	(void)state;
	/* Two regions, so both comparisons are exercised. */
	assert_int_equal(guest_map_noreserve(MEM_HOLE_START + SMALL, &mem), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (guest_ptr(&mem, bad[i].gpa, bad[i].len))
			fail_msg("guest_ptr(0x%llx, 0x%llx) gave a pointer",
				 (unsigned long long)bad[i].gpa, (unsigned long long)bad[i].len);
	memory_unmap(&mem);
}

static void test_guest_ptr_around_the_hole(void **state)
{
	struct guest_memory mem;
	uint8_t *lo, *hi;

	(void)state;
	assert_int_equal(guest_map_noreserve(MEM_HOLE_START + SMALL, &mem), 0);
	lo = mem.regions[0].hva;
	hi = mem.regions[1].hva;
	assert_ptr_equal(guest_ptr(&mem, MEM_HOLE_START - 1, 1), lo + MEM_HOLE_START - 1);
	assert_null(guest_ptr(&mem, MEM_HOLE_START - 1, 2));       /* into the hole */
	assert_null(guest_ptr(&mem, MEM_HOLE_START, 1));
	assert_null(guest_ptr(&mem, LAPIC_GPA, 4));
	assert_null(guest_ptr(&mem, IOAPIC_GPA, 4));
	assert_null(guest_ptr(&mem, MEM_HOLE_END - 1, 1));
	assert_null(guest_ptr(&mem, MEM_HOLE_END - 1, 2));         /* out of the hole */
	assert_ptr_equal(guest_ptr(&mem, MEM_HOLE_END, 1), hi);
	assert_ptr_equal(guest_ptr(&mem, MEM_HOLE_END, SMALL), hi);
	assert_ptr_equal(guest_ptr(&mem, MEM_HOLE_END + SMALL - 1, 1), hi + SMALL - 1);
	assert_null(guest_ptr(&mem, MEM_HOLE_END + SMALL - 1, 2));
	assert_null(guest_ptr(&mem, MEM_HOLE_END + SMALL, 1));
	/* Contiguous on the host, but not in the guest: never one range. */
	assert_null(guest_ptr(&mem, MEM_HOLE_START - 0x1000, 0x2000));
	assert_null(guest_ptr(&mem, 0, MEM_HOLE_START + 1));
	assert_null(guest_ptr(&mem, 0, MEM_HOLE_END + SMALL));
	memory_unmap(&mem);
}

/* ---- memory_map ---------------------------------------------------------------------- */

static void test_map_small_guest(void **state)
{
	struct guest_memory mem;
	char err[256] = "";

	(void)state;
	memory_layout(SMALL, &mem);
	assert_int_equal(memory_map(&mem, false, err, sizeof(err)), 0);
	assert_non_null(mem.base);
	assert_ptr_equal(mem.regions[0].hva, mem.base);
	assert_false(mem.hugetlbfs);
	/* Fresh RAM reads as zero and is writable end to end. */
	assert_int_equal(mem.base[0], 0);
	assert_int_equal(mem.base[SMALL - 1], 0);
	mem.base[0] = 1;
	mem.base[SMALL - 1] = 2;
	assert_int_equal(*(uint8_t *)guest_ptr(&mem, SMALL - 1, 1), 2);
	memory_unmap(&mem);
	assert_null(mem.base);
	memory_unmap(&mem);   /* twice is harmless */
}

static void test_map_above_3g_places_high_region_after_low(void **state)
{
	struct guest_memory mem;
	char err[256] = "";
	uint64_t size = MEM_HOLE_START + SMALL;

	(void)state;
	if (host_ram_and_swap() < size)
		skip();   /* memory_map() would rightly refuse on this host */
	memory_layout(size, &mem);
	if (memory_map(&mem, false, err, sizeof(err)))
		fail_msg("memory_map: %s", err);
	assert_ptr_equal(mem.regions[0].hva, mem.base);
	assert_ptr_equal(mem.regions[1].hva, mem.base + MEM_HOLE_START);
	assert_ptr_equal(guest_ptr(&mem, MEM_HOLE_END + 5, 1), mem.base + MEM_HOLE_START + 5);
	memory_unmap(&mem);
}

static void test_map_refuses_more_than_ram_and_swap_naming_both(void **state)
{
	struct guest_memory mem;
	char err[256] = "", want[128];
	uint64_t host = host_ram_and_swap();

	(void)state;
	memory_layout(1ULL << 50, &mem);   /* 1 PiB */
	assert_int_equal(memory_map(&mem, false, err, sizeof(err)), -1);
	assert_null(mem.base);
	assert_contains(err, "--mem 1073741824 MiB is more than this host's RAM and swap");
	snprintf(want, sizeof(want), "(%llu MiB)", (unsigned long long)(host / MIB));
	assert_contains(err, want);
	/* Just above the limit is refused too. */
	memory_layout((host + 2 * MIB) & ~(MIB - 1), &mem);
	assert_int_equal(memory_map(&mem, false, err, sizeof(err)), -1);
	assert_contains(err, "is more than this host's RAM and swap");
}

static void test_map_hugepages_needs_2m_multiple(void **state)
{
	struct guest_memory mem;
	char err[256] = "";

	(void)state;
	memory_layout(3 * MIB, &mem);
	assert_int_equal(memory_map(&mem, true, err, sizeof(err)), -1);
	assert_string_equal(err, "--hugepages needs --mem to be a multiple of 2M");
	assert_null(mem.base);
}

static void test_map_hugepages_says_how_to_reserve_them(void **state)
{
	struct guest_memory mem;
	char err[512] = "";

	(void)state;
	memory_layout(4 * MIB, &mem);
	if (memory_map(&mem, true, err, sizeof(err)) == 0) {
		/* This host has huge pages to spare (reserved or overcommit). */
		assert_true(mem.hugetlbfs);
		assert_non_null(mem.base);
		mem.base[4 * MIB - 1] = 1;
		memory_unmap(&mem);
		return;
	}
	if (meminfo_value("HugePages_Free:") >= 2)
		fail_msg("2 huge pages are free, yet: %s", err);
	assert_contains(err, "cannot map 4 MiB of hugetlbfs pages");
	assert_contains(err, "/proc/sys/vm/nr_hugepages");
	assert_null(mem.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_below_3g_is_one_region_at_zero),
		cmocka_unit_test(test_layout_of_exactly_3g_has_no_high_region),
		cmocka_unit_test(test_layout_above_3g_continues_at_4g),
		cmocka_unit_test(test_layout_forgets_previous_contents),
		cmocka_unit_test(test_guest_ptr_is_null_before_mapping),
		cmocka_unit_test(test_guest_ptr_boundaries_of_one_region),
		cmocka_unit_test(test_guest_ptr_never_overflows),
		cmocka_unit_test(test_guest_ptr_around_the_hole),
		cmocka_unit_test(test_map_small_guest),
		cmocka_unit_test(test_map_above_3g_places_high_region_after_low),
		cmocka_unit_test(test_map_refuses_more_than_ram_and_swap_naming_both),
		cmocka_unit_test(test_map_hugepages_needs_2m_multiple),
		cmocka_unit_test(test_map_hugepages_says_how_to_reserve_them),
	};

	return cmocka_run_group_tests_name("memory", tests, NULL, NULL);
}
