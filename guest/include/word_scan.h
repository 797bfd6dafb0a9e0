/*
 * word_scan.h - testing eight bytes of a string at once, for ring 0's
 * scans (strlen, the boot options): where guest ring 0 is emulated every
 * instruction costs about a microsecond, and a byte loop spends three or
 * four on each byte.  Plain C, also built by the host's unit tests.
 */
#ifndef GUEST_WORD_SCAN_H
#define GUEST_WORD_SCAN_H

#include <stdbool.h>
#include <stdint.h>

/* Does any byte of the 8-byte word v equal c?  Exact (Hacker's Delight,
 * 6-1). */
static inline bool word_has_byte(uint64_t v, uint8_t c)
{
	const uint64_t ones = 0x0101010101010101ULL;

	v ^= ones * c;
	return ((v - ones) & ~v & (ones << 7)) != 0;
}

#endif
