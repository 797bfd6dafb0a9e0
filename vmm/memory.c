/*
 * memory.c - guest RAM.
 *
 * One anonymous mapping holds all of RAM.  The first 3 GiB of it appear at
 * guest address 0; whatever is left appears from 4 GiB, so 3..4 GiB stays
 * free for the LAPIC, IOAPIC and PCI BARs, as on a PC (and as QEMU's pc
 * machine does, so the guest sees the same map under both).
 */
#include "memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void memory_layout(uint64_t size, struct guest_memory *mem)
{
	uint64_t low = size < MEM_HOLE_START ? size : MEM_HOLE_START;

	memset(mem, 0, sizeof(*mem));
	mem->size = size;
	mem->regions[0] = (struct mem_region){.gpa = 0, .size = low};
	mem->nregions = 1;
	if (size > low) {
		mem->regions[1] = (struct mem_region){.gpa = MEM_HOLE_END, .size = size - low};
		mem->nregions = 2;
	}
}

/* RAM plus swap, the most an anonymous mapping can ever be backed by. */
static uint64_t host_backing_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kib, total = 0;
	char key[64];

	if (!f)
		return UINT64_MAX;
	while (fscanf(f, "%63s %llu kB\n", key, &kib) == 2) {
		if (!strcmp(key, "MemTotal:") || !strcmp(key, "SwapTotal:"))
			total += kib * KIB;
	}
	fclose(f);
	return total ? total : UINT64_MAX;
}

int memory_map(struct guest_memory *mem, bool hugepages, char *errbuf, size_t errlen)
{
	uint64_t backing = host_backing_bytes();
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

	/* MAP_NORESERVE keeps a big, mostly untouched guest from being refused
	 * by overcommit accounting; the honest limit is what could ever back it. */
	if (mem->size > backing) {
		snprintf(errbuf, errlen,
			 "--mem %llu MiB is more than this host's RAM and swap (%llu MiB)",
			 (unsigned long long)(mem->size / MIB),
			 (unsigned long long)(backing / MIB));
		return -1;
	}
	if (hugepages) {
		/* hugetlbfs pages are reserved at mmap time, so a shortage shows
		 * here as an error instead of a SIGBUS in the middle of a run. */
		if (mem->size % (2 * MIB)) {
			snprintf(errbuf, errlen,
				 "--hugepages needs --mem to be a multiple of 2M");
			return -1;
		}
		flags = (flags & ~MAP_NORESERVE) | MAP_HUGETLB;
	}
	mem->base = mmap(NULL, mem->size, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (mem->base == MAP_FAILED) {
		int err = errno;

		mem->base = NULL;
		if (hugepages)
			snprintf(errbuf, errlen,
				 "cannot map %llu MiB of hugetlbfs pages: %s (reserve them with "
				 "'echo N > /proc/sys/vm/nr_hugepages'; --mem must be a multiple "
				 "of the huge page size)",
				 (unsigned long long)(mem->size / MIB), strerror(err));
		else
			snprintf(errbuf, errlen, "cannot map %llu MiB of guest RAM: %s",
				 (unsigned long long)(mem->size / MIB), strerror(err));
		return -1;
	}
	mem->hugetlbfs = hugepages;
	mem->zeroed = true;
	/* Transparent huge pages cut first-touch and TLB costs; hugetlbfs
	 * pages are huge already. */
	if (!hugepages)
		madvise(mem->base, mem->size, MADV_HUGEPAGE);
	/* Guest RAM is no use in a core dump of vmm and could be large. */
	madvise(mem->base, mem->size, MADV_DONTDUMP);

	uint64_t offset = 0;
	for (unsigned i = 0; i < mem->nregions; i++) {
		mem->regions[i].hva = mem->base + offset;
		offset += mem->regions[i].size;
	}
	return 0;
}

void memory_unmap(struct guest_memory *mem)
{
	if (mem->base)
		munmap(mem->base, mem->size);
	mem->base = NULL;
}

void *guest_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct mem_region *r = &mem->regions[i];

		/* Written so that no sum can overflow, whatever the guest sends. */
		if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->hva ? r->hva + (gpa - r->gpa) : NULL;
	}
	return NULL;
}
