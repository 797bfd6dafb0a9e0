/*
 * libc.h - the guest's tiny C library (lib/), shared by ring 0 and ring 3.
 * Built with general registers only, so ring 0 may call all of it; the one
 * piece that needs floating point, printing doubles, lives in ring 3
 * (user/format_double.c) and is reached through format_double().
 */
#ifndef GUEST_LIBC_H
#define GUEST_LIBC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Formats one double for %f %e %g (ring 3 only; see above).  `spec` holds
 * the conversion letter and its flags as parsed by vsnprintf. */
struct format_spec {
	char conv;
	int width, precision;   /* precision -1: not given */
	bool left, plus, space, zero, alt;
};
int format_double(char *buf, size_t size, const struct format_spec *spec, va_list *ap);

#endif
