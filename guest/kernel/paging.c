/*
 * paging.c - the boot page allocator, and the mapping of RAM above 4 GiB
 * (header.S maps 0..4 GiB).  1 GiB pages when the CPU has them: one entry
 * per GiB instead of a page directory of 512.
 */
#include "kernel.h"

#define GIB (1ULL << 30)
#define CPUID_PDPE1GB (1u << 26)

extern uint64_t pdpt[512];
extern char _image_end[];

static uint64_t boot_alloc_next;

void *boot_alloc_pages(size_t npages)
{
	uint64_t start, end;

	if (!boot_alloc_next)
		boot_alloc_next = ((uint64_t)_image_end + 4095) & ~4095ULL;
	start = boot_alloc_next;
	end = start + npages * 4096;
	/* The allocator walks up from the image; it must stay in one RAM range. */
	for (unsigned i = 0; i < sysinfo.nram; i++) {
		const struct sysinfo_ram *r = &sysinfo.ram[i];

		if (start >= r->base && end <= r->base + r->size) {
			boot_alloc_next = end;
			sysinfo.free_start = end;
			/* Not zeroed: stacks need no zeroes and page directories get
			 * every entry written; zeroing would touch (and make the host
			 * back) every page, and cost ring-0 time. */
			return (void *)start;
		}
	}
	panic("out of memory for %zu boot pages at 0x%llx", npages,
	      (unsigned long long)start);
}

void paging_map_high_ram(void)
{
	uint64_t end = 4 * GIB;
	uint32_t r[4];
	bool huge;

	for (unsigned i = 0; i < sysinfo.nram; i++)
		if (sysinfo.ram[i].base + sysinfo.ram[i].size > end)
			end = sysinfo.ram[i].base + sysinfo.ram[i].size;
	sysinfo.mapped_bytes = end;
	if (end == 4 * GIB)
		return;
	cpuid(0x80000001, 0, r);
	huge = r[3] & CPUID_PDPE1GB;
	for (uint64_t gib = 4; gib * GIB < end; gib++) {
		if (huge) {
			pdpt[gib] = (gib * GIB) | PTE_P | PTE_W | PTE_U | PTE_PS;
			continue;
		}
		uint64_t *pd = boot_alloc_pages(1);

		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (gib * GIB + (i << 21)) | PTE_P | PTE_W | PTE_U | PTE_PS;
		pdpt[gib] = (uint64_t)pd | PTE_P | PTE_W | PTE_U;
	}
	reload_cr3();
}
