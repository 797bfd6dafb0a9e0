/*
 * libc.h - the guest's tiny C library (lib/), for ring 0 and ring 3.
 *
 * lib/ is built once per ring, with -DGUEST_RING=0 or 3 (see the
 * Makefile), and each ring links its own copy: ring 0's with general
 * registers only, ring 3's as the rest of ring 3 is built.  So ring-0 code
 * never runs ring-3 code.  The one piece that needs floating point,
 * printf's %f %e %g, exists only in ring 3: ring 3's vsnprintf hands those
 * conversions to printf_float() (below), which ring 3 supplies
 * (user/printf_float.c); ring 0's vsnprintf has no such case and prints
 * the conversion unformatted ("%f"), as it does any conversion it does not
 * know (ring-0 code cannot pass a double anyway: -mgeneral-regs-only).
 */
#ifndef GUEST_LIBC_H
#define GUEST_LIBC_H

#if !defined(GUEST_RING) || (GUEST_RING != 0 && GUEST_RING != 3)
#error "GUEST_RING must be 0 or 3 (the Makefile passes -DGUEST_RING=...)"
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "word_scan.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
size_t strlcpy(char *dst, const char *src, size_t size);
/* Is `word` one of the `sep`-separated words of `list`? */
bool word_in_list(const char *word, const char *list, char sep);

static inline bool isdigit(int c) { return c >= '0' && c <= '9'; }
static inline bool isspace(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static inline bool isxdigit(int c)
{
	return isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static inline int tolower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Parses an unsigned number in `base` (0: 0x prefix means 16); *ok is
 * false on no digits or overflow. */
uint64_t strtou64(const char *s, const char **end, int base, bool *ok);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One conversion as vsnprintf parsed it: the letter, its flags. */
struct format_spec {
	char conv;
	int width, precision;   /* precision -1: not given */
	bool left, plus, space, zero, alt;
};

#if GUEST_RING == 3
/* The hook for %f %F %e %E %g %G (ring 3 only; see above): formats the
 * double that *ap holds next into buf, returns its length. */
int printf_float(char *buf, size_t size, const struct format_spec *spec, va_list *ap);
#endif

#endif
