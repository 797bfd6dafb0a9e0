/*
 * test_disas.c - guest code as text (vmm/disas.c), with Capstone loaded in
 * this process as the reaper loads it: the lines of a dump, the requests
 * it refuses, and RIP at the very end of the address space.
 */
#include "unit.h"

#include "disas.h"

static int setup(void **state)
{
	(void)state;
	if (disas_load())
		skip();   /* no libcapstone.so.4 here (make deps installs it) */
	return 0;
}

static void test_dump_lines_mark_rip_and_the_io_instruction(void **state)
{
	/* mov edx, esi; out dx, al; hlt - RIP past the out, as PVM leaves it. */
	struct disas_request req = {.mode = IO_INSN_32, .len = 4, .addr = 0x1000, .rip = 0x1003,
				    .io_at = 0x1002, .code = {0x89, 0xf2, 0xee, 0xf4}};
	char text[DISAS_TEXT_MAX];

	(void)state;
	assert_int_equal(disas_format(&req, text, sizeof(text)), 0);
	assert_string_equal(text, "     1000: 89 f2                    mov edx, esi\n"
				  "  io 1002: ee                       out dx, al\n"
				  "  => 1003: f4                       hlt \n");
}

static void test_requests_outside_their_code_are_refused(void **state)
{
	struct disas_request req = {.mode = IO_INSN_64, .len = 2, .addr = 0x1000, .rip = 0x1002,
				    .io_at = 0x1002, .code = {0x90, 0x90}};
	char text[64];

	(void)state;
	assert_int_equal(disas_format(&req, text, sizeof(text)), -1);   /* RIP past the code */
	req.rip = 0xfff;
	assert_int_equal(disas_format(&req, text, sizeof(text)), -1);   /* RIP before it */
	req.rip = 0x1000;
	req.len = DISAS_CODE_MAX + 1;
	assert_int_equal(disas_format(&req, text, sizeof(text)), -1);
	req.len = 2;
	req.mode = 3;
	assert_int_equal(disas_format(&req, text, sizeof(text)), -1);
}

/* RIP at the last address: the search for a start before RIP went by
 * address up to RIP inclusive, which never ends there (the address wraps),
 * and read past the code (found by fuzz_disas). */
static void test_rip_at_the_last_address(void **state)
{
	/* Bytes that decode from no start (ff /7 is undefined). */
	struct disas_request req = {.mode = IO_INSN_64, .len = 2, .addr = UINT64_MAX,
				    .rip = UINT64_MAX, .io_at = UINT64_MAX, .code = {0xff, 0xff}};
	char text[DISAS_TEXT_MAX];

	(void)state;
	assert_int_equal(disas_format(&req, text, sizeof(text)), 0);
	assert_string_equal(text, "  (the bytes at RIP do not decode as an instruction)\n");
	/* And one that does, from the start before RIP. */
	req.addr = UINT64_MAX - 1;
	req.code[0] = req.code[1] = 0x90;
	assert_int_equal(disas_format(&req, text, sizeof(text)), 0);
	assert_contains(text, "  => ffffffffffffffff: 90                       nop \n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_dump_lines_mark_rip_and_the_io_instruction, setup),
		cmocka_unit_test_setup(test_requests_outside_their_code_are_refused, setup),
		cmocka_unit_test_setup(test_rip_at_the_last_address, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
