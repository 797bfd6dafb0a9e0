/*
 * test_byte_sum.c - the guest's ACPI checksum in quadwords
 * (guest/kernel/byte_sum.c) against the byte loop it replaced, for every
 * length and alignment around its 8-byte steps and its 128-quadword folds,
 * on bytes that push every lane to its largest value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "byte_sum.h"

#define MAX_LEN (3 * 128 * 8 + 40)   /* past three folds */

static uint8_t reference(const uint8_t *b, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

static void check_all(const uint8_t *buf)
{
	for (size_t start = 0; start < 8; start++)
		for (size_t len = 0; len + start <= MAX_LEN; len++)
			assert_int_equal(byte_sum(buf + start, len), reference(buf + start, len));
}

static void test_all_ones_saturate_the_lanes(void **state)
{
	static uint8_t buf[MAX_LEN + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = 0xff;
	check_all(buf);
}

static void test_random_bytes(void **state)
{
	static uint8_t buf[MAX_LEN + 8];

	(void)state;
	srand(12);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	check_all(buf);
}

static void test_acpi_table_sums_to_zero(void **state)
{
	/* An RSDP-sized table sealed as ACPI does: the checksum byte makes
	 * the whole sum zero. */
	uint8_t t[36] = "RSD PTR ";

	(void)state;
	for (size_t i = 8; i < sizeof(t); i++)
		t[i] = (uint8_t)(i * 37);
	t[8] = 0;
	t[8] = (uint8_t)-reference(t, sizeof(t));
	assert_int_equal(byte_sum(t, sizeof(t)), 0);
	t[20] ^= 1;
	assert_int_not_equal(byte_sum(t, sizeof(t)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_ones_saturate_the_lanes),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_acpi_table_sums_to_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
