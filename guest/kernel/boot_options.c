/*
 * boot_options.c - see boot_options.h.  One pass, which looks only at
 * words that start with "--" and skips aligned 8-byte runs holding no '-'
 * in one step: where ring 0 is emulated, a word_in_list per option
 * (strlen, strchr and strncmp per word) cost some 300 us apiece, and the
 * first word, the kernel's path, is often the longest.  An aligned load
 * never reaches into a page the string does not.
 */
#include <stddef.h>

#include "boot_options.h"
#include "word_scan.h"

static const struct {
	const char *word;
	unsigned len, flag;
} options[] = {
	{"--syscall-gate=closed", sizeof("--syscall-gate=closed") - 1, BOOT_OPT_GATE_CLOSED},
	{"--apic=x2apic", sizeof("--apic=x2apic") - 1, BOOT_OPT_X2APIC},
	{"--console=com1", sizeof("--console=com1") - 1, BOOT_OPT_CONSOLE_COM1},
};

/* The length of the word at p: up to a space or the end. */
static size_t word_length(const char *p)
{
	size_t n = 0;

	while (p[n] && p[n] != ' ')
		n++;
	return n;
}

static unsigned option_flag(const char *w, size_t len)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (len != options[i].len)
			continue;
		size_t k = 0;

		while (k < len && w[k] == options[i].word[k])
			k++;
		if (k == len)
			return options[i].flag;
	}
	return 0;
}

unsigned boot_options(const char *cmdline)
{
	unsigned found = 0;

	for (const char *p = cmdline; *p; p++) {
		if ((uintptr_t)p % 8 == 0) {
			uint64_t v;

			__builtin_memcpy(&v, p, 8);
			if (!word_has_byte(v, 0) && !word_has_byte(v, '-')) {
				p += 7;
				continue;
			}
		}
		if (p[0] == '-' && p[1] == '-' && (p == cmdline || p[-1] == ' ')) {
			size_t len = word_length(p);

			found |= option_flag(p, len);
			p += len - 1;
		}
	}
	return found;
}
