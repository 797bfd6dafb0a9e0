/*
 * test_boot_options.c - the two options guest ring 0 reads from the
 * command line (guest/kernel/boot_options.c), which skips aligned 8-byte
 * runs without a '-': every option at every alignment, at the start, in
 * the middle and at the end, next to look-alikes that must not count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "boot_options.h"
#include "word_scan.h"

#define GATE "--syscall-gate=closed"
#define X2APIC "--apic=x2apic"

/* cmdline copied to each of the 8 alignments; all must give `want`. */
static void check(const char *cmdline, unsigned want)
{
	static char buf[512] __attribute__((aligned(8)));

	for (size_t shift = 0; shift < 8; shift++) {
		memset(buf, 'x', sizeof(buf));
		memcpy(buf + shift, cmdline, strlen(cmdline) + 1);
		if (boot_options(buf + shift) != want)
			fail_msg("'%s' at alignment %zu: 0x%x, want 0x%x", cmdline, shift,
				 boot_options(buf + shift), want);
	}
}

static void test_none(void **state)
{
	(void)state;
	check("", 0);
	check("/work/wt-x/build/guest.elf info", 0);
	check("/boot/guest.elf cpu --threads=2 --time=10 --cpu-max-prime=10000", 0);
}

static void test_each_option_anywhere(void **state)
{
	static const char *const paths[] = {"", "g ", "/a/b-c/guest.elf ", "/very-long/path--with-dashes/x.elf "};
	char line[256];

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(line, sizeof(line), "%s" GATE, paths[i]);
		check(line, BOOT_OPT_GATE_CLOSED);
		snprintf(line, sizeof(line), "%sinfo " X2APIC " --time=1", paths[i]);
		check(line, BOOT_OPT_X2APIC);
		snprintf(line, sizeof(line), "%s" X2APIC " selftest " GATE, paths[i]);
		check(line, BOOT_OPT_GATE_CLOSED | BOOT_OPT_X2APIC);
		snprintf(line, sizeof(line), "%sinfo  " GATE "  " X2APIC " ", paths[i]);
		check(line, BOOT_OPT_GATE_CLOSED | BOOT_OPT_X2APIC);
		snprintf(line, sizeof(line), "%sinfo --console=com1 " X2APIC, paths[i]);
		check(line, BOOT_OPT_CONSOLE_COM1 | BOOT_OPT_X2APIC);
	}
}

static void test_look_alikes_do_not_count(void **state)
{
	(void)state;
	check("info " GATE "x", 0);
	check("info x" GATE, 0);
	check("info -" X2APIC, 0);
	check("info --apic=x2api", 0);
	check("info --syscall-gate=open --apic=auto", 0);
	check("info --apic x2apic", 0);
	check("info --console=com", 0);
	check("info --console=com1x --console=auto", 0);
	check("info-" X2APIC, 0);
}

static void test_word_has_byte(void **state)
{
	(void)state;
	for (unsigned pos = 0; pos < 8; pos++) {
		uint64_t v = 0x4141414141414141ULL;

		assert_false(word_has_byte(v, 0));
		v &= ~(0xffULL << (8 * pos));
		assert_true(word_has_byte(v, 0));
		v |= (uint64_t)'-' << (8 * pos);
		assert_true(word_has_byte(v, '-'));
		assert_false(word_has_byte(v, 0));
		/* a byte just above or below the one sought is no match */
		v = 0x2e2e2e2e2e2e2e2eULL;
		assert_false(word_has_byte(v, '-'));
		v = 0x2c2c2c2c2c2c2c2cULL;
		assert_false(word_has_byte(v, '-'));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_each_option_anywhere),
		cmocka_unit_test(test_look_alikes_do_not_count),
		cmocka_unit_test(test_word_has_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
