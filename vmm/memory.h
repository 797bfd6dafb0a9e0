/*
 * memory.h - guest RAM (memory.c): its layout around the PC hole and the
 * one checked way from a guest address to a host pointer.
 */
#ifndef VMM_MEMORY_H
#define VMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GIB (1ULL << 30)
#define MIB (1ULL << 20)
#define KIB (1ULL << 10)

/* RAM up to 3 GiB sits at 0; the rest continues at 4 GiB, leaving the
 * 3..4 GiB hole for the LAPIC, IOAPIC and PCI MMIO, as on a PC. */
#define MEM_HOLE_START (3 * GIB)
#define MEM_HOLE_END (4 * GIB)

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_memory {
	uint8_t *base;            /* one mapping of mem_bytes */
	uint64_t size;
	bool hugetlbfs;
	bool zeroed;              /* fresh from mmap: every byte reads 0 until written */
	unsigned nregions;
	struct mem_region regions[2];
};

/* Computes the regions for `size` bytes of RAM (no allocation). */
void memory_layout(uint64_t size, struct guest_memory *mem);
/* Maps the RAM; errbuf says why on failure (too large for this host ...). */
int memory_map(struct guest_memory *mem, bool hugepages, char *errbuf, size_t errlen);
void memory_unmap(struct guest_memory *mem);
/* Host pointer for [gpa, gpa+len) if it lies wholly in one RAM region,
 * else NULL.  The only way vmm turns a guest address into a pointer. */
void *guest_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len);

#endif /* VMM_MEMORY_H */
