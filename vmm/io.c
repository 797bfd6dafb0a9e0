/*
 * io.c - the device table: one registry for port I/O and MMIO handlers,
 * as in kvmtool.  Devices add their ranges at setup (see VMM_DEVICE in
 * vmm.h); the exit loop looks the address up here.  The table is small and
 * fixed after setup, so a linear scan is both simplest and fastest.
 */
#include "io.h"

#include <stdio.h>
#include <string.h>

static const char *space_name(enum io_space s)
{
	return s == IO_PORT ? "port" : "MMIO";
}

int io_register(struct io_registry *reg, const struct io_region *region,
		char *errbuf, size_t errlen)
{
	if (region->len == 0 || region->base + region->len < region->base ||
	    (region->space == IO_PORT && region->base + region->len > 0x10000)) {
		snprintf(errbuf, errlen, "device %s: bad %s range 0x%llx+0x%llx",
			 region->name, space_name(region->space),
			 (unsigned long long)region->base, (unsigned long long)region->len);
		return -1;
	}
	for (unsigned i = 0; i < reg->count; i++) {
		const struct io_region *o = &reg->regions[i];

		if (o->space == region->space && region->base < o->base + o->len &&
		    o->base < region->base + region->len) {
			snprintf(errbuf, errlen, "device %s: %s 0x%llx overlaps device %s",
				 region->name, space_name(region->space),
				 (unsigned long long)region->base, o->name);
			return -1;
		}
	}
	if (reg->count == IO_MAX_HANDLERS) {
		snprintf(errbuf, errlen, "device %s: the I/O registry is full (%d)",
			 region->name, IO_MAX_HANDLERS);
		return -1;
	}
	reg->regions[reg->count++] = *region;
	return 0;
}

int io_lookup(const struct io_registry *reg, enum io_space space, uint64_t addr,
	      unsigned size)
{
	for (unsigned i = 0; i < reg->count; i++) {
		const struct io_region *r = &reg->regions[i];

		if (r->space == space && addr >= r->base && addr - r->base < r->len &&
		    size <= r->len - (addr - r->base) &&
		    (!r->decodes || r->decodes(addr, size, r->opaque)))
			return (int)i;
	}
	return -1;
}
