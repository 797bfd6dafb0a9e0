/*
 * malloc.c - ring 3's memory: every usable RAM range above the kernel's
 * own (sysinfo.free_start), handed out by a bump pointer.  Tests allocate
 * their buffers once, so nothing is ever freed.
 */
#include "user.h"

struct heap_range {
	uint64_t next, end;
};

static struct heap_range ranges[SYSINFO_MAX_RAM];
static unsigned nranges;
static volatile int heap_lock;

bool ram_range_for_user(unsigned i, uint64_t *start, uint64_t *end)
{
	*start = sys->ram[i].base;
	*end = *start + sys->ram[i].size;
	if (*start < sys->free_start)
		*start = sys->free_start;
	if (*end > sys->mapped_bytes)
		*end = sys->mapped_bytes;
	return *start + 4096 <= *end;
}

void heap_init(void)
{
	for (unsigned i = 0; i < sys->nram; i++) {
		uint64_t start, end;

		if (ram_range_for_user(i, &start, &end))
			ranges[nranges++] = (struct heap_range){start, end};
	}
}

void *heap_alloc(size_t size, size_t align)
{
	void *p = NULL;

	if (align < 16)
		align = 16;
	while (__atomic_exchange_n(&heap_lock, 1, __ATOMIC_ACQUIRE))
		;
	for (unsigned i = 0; i < nranges && !p; i++) {
		uint64_t start = (ranges[i].next + align - 1) & ~(uint64_t)(align - 1);

		if (start >= ranges[i].next && start <= ranges[i].end &&
		    size <= ranges[i].end - start) {
			ranges[i].next = start + size;
			p = (void *)start;
		}
	}
	__atomic_store_n(&heap_lock, 0, __ATOMIC_RELEASE);
	return p;
}

uint64_t heap_free_bytes(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < nranges; i++)
		n += ranges[i].end - ranges[i].next;
	return n;
}
