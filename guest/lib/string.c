/*
 * string.c - memory and string functions.  The bulk copies use rep movsq
 * and rep stosq, then movsb/stosb for the tail: fast strings on modern
 * CPUs, and where ring 0 is emulated each step costs about an instruction
 * (measured on the PVM-style KVM: 0.75 us a step), so eight bytes a step.
 */
#include "libc.h"

/* Ring 0 copies a thread's 512-byte FPU area and clears its frame on
 * every spawn: 688 steps a byte at a time took 530 us there, 130 us now. */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	size_t words = n / 8, bytes = n % 8;

	__asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(words) : : "memory");
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(bytes) : : "memory");
	return dst;
}

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

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	size_t words = n / 8, bytes = n % 8;
	uint64_t pattern = (uint8_t)c * 0x0101010101010101ULL;

	/* As memcpy: eight bytes a step. */
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(pattern) : "memory");
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(bytes) : "a"(pattern) : "memory");
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

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

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
