/*
 * fuzz_json.c - json_is_object() (vmm/report.c) on arbitrary bytes: the
 * check that decides whether a guest's result line goes verbatim into the
 * --json file.  Beyond the sanitizers, whatever it accepts must be an
 * object that any JSON parser reads: valid UTF-8, no raw control
 * characters but white space, braces at both ends.
 */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool utf8_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1fu;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0fu;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07u;
		else
			return false;
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t first = 0, last = size;

	if (!json_is_object((const char *)data, size))
		return 0;
	while (first < size && is_ws(data[first]))
		first++;
	while (last > first && is_ws(data[last - 1]))
		last--;
	if (last - first < 2 || data[first] != '{' || data[last - 1] != '}')
		abort();
	for (size_t i = 0; i < size; i++)
		if (data[i] < 0x20 && !is_ws(data[i]))
			abort();
	if (!utf8_valid(data, size))
		abort();
	/* Deterministic, and blind to anything past `size`. */
	char *copy = malloc(size + 2);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '}';
	copy[size + 1] = '\0';
	if (!json_is_object(copy, size) || json_is_object(copy, size + 1))
		abort();
	free(copy);
	return 0;
}
