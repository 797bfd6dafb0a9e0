/*
 * le.h - little-endian fields of 1 to 8 bytes at any alignment, for the
 * byte images of PCI configuration space and device registers (sizes are
 * the guest's access widths, known only at run time).  Built on <endian.h>.
 */
#ifndef VMM_LE_H
#define VMM_LE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t le_get(const void *p, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, p, size < 8 ? size : 8);
	return le64toh(v);
}

static inline void le_put(void *p, unsigned size, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, size < 8 ? size : 8);
}

#endif /* VMM_LE_H */
