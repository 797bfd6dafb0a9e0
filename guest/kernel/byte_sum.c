/*
 * byte_sum.c - see byte_sum.h.  Each quadword adds its eight bytes into
 * four 16-bit lanes (even bytes and odd bytes, masked apart); a lane gains
 * at most 2 * 255 per quadword, so 128 quadwords fit before the lanes are
 * folded, each on its own so no carry crosses from one into the next.
 */
#include "byte_sum.h"

#define LANE_MASK 0x00ff00ff00ff00ffULL
#define QUADS_PER_FOLD 128          /* 128 * 510 < 65536 */

uint8_t byte_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len >= 8) {
		size_t quads = len / 8 < QUADS_PER_FOLD ? len / 8 : QUADS_PER_FOLD;
		uint64_t lanes = 0;

		for (size_t i = 0; i < quads; i++) {
			uint64_t q;

			__builtin_memcpy(&q, b + 8 * i, 8);
			lanes += (q & LANE_MASK) + (q >> 8 & LANE_MASK);
		}
		sum += (uint8_t)(lanes + (lanes >> 16) + (lanes >> 32) + (lanes >> 48));
		b += 8 * quads;
		len -= 8 * quads;
	}
	while (len--)
		sum += *b++;
	return sum;
}
