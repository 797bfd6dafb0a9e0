/*
 * string.c - memory and string functions.  The bulk copies use rep string
 * instructions: in ring 3 rep movsb and rep stosb, fast on modern CPUs
 * (ERMS); in ring 0 rep movsq and rep stosq, because where ring 0 is
 * emulated (PVM-style KVM) a rep instruction costs per iteration, about
 * 0.8 us for a byte and 0.5 us for a quadword: eight bytes per iteration
 * make a copy some 12 times cheaper there, and cost nothing elsewhere.
 */
#include "libc.h"

#if GUEST_RING == 0
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	size_t quads = n / 8, tail = n % 8;

	__asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(quads) : : "memory");
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(tail) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	size_t quads = n / 8, tail = n % 8;
	uint64_t pattern = (uint8_t)c * 0x0101010101010101ULL;

	__asm__ volatile("rep stosq" : "+D"(d), "+c"(quads) : "a"(pattern) : "memory");
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(pattern) : "memory");
	return dst;
}
#else
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}
#endif

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

#if GUEST_RING == 0
/* Eight bytes a step from the first aligned word on, for memcpy's reason
 * (the boot's strings are the loader's name and the command line, whose
 * first word is the kernel's path).  An aligned load never reaches into a
 * page the string does not. */
size_t strlen(const char *s)
{
	const char *p = s;

	for (; (uintptr_t)p % 8; p++)
		if (!*p)
			return (size_t)(p - s);
	for (;; p += 8) {
		uint64_t v;

		__builtin_memcpy(&v, p, 8);
		if (word_has_byte(v, 0))
			break;
	}
	while (*p)
		p++;
	return (size_t)(p - s);
}
#else
size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}
#endif

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

size_t strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = 0;
	}
	return len;
}

uint64_t strtou64(const char *s, const char **end, int base, bool *ok)
{
	uint64_t v = 0;
	const char *start;

	*ok = false;
	if (base == 0) {
		base = 10;
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isxdigit(s[2])) {
			base = 16;
			s += 2;
		}
	}
	start = s;
	for (;; s++) {
		int d;

		if (isdigit(*s))
			d = *s - '0';
		else if (base == 16 && isxdigit(*s))
			d = tolower(*s) - 'a' + 10;
		else
			break;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return *end = s, 0;    /* overflow */
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*end = s;
	*ok = s > start;
	return v;
}

bool word_in_list(const char *word, const char *list, char sep)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		const char *next = strchr(p, sep);
		size_t len = next ? (size_t)(next - p) : strlen(p);

		if (len == n && !strncmp(p, word, n))
			return true;
		if (!next)
			break;
		p = next + 1;
	}
	return false;
}
