/*
 * coalesced.c - KVM's coalesced I/O ring: register the zones the devices
 * asked for (io_region.coalesced_len), and drain the ring into their
 * handlers, in order (see coalesced.h for when and why).
 *
 * The ring is one page per VM, shared by every vCPU's kvm_run mapping at
 * page KVM_COALESCED_MMIO_PAGE_OFFSET.  KVM appends at `last`, vmm consumes
 * at `first`; when the ring is full KVM exits with the write instead, and
 * that exit is handled only after the drain before it, so nothing is lost
 * or reordered.  As QEMU and kvmtool do, entries are read in place.
 */
#include "coalesced.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

uint32_t coalesced_ring_entries(long page_size)
{
	return (uint32_t)(((size_t)page_size - sizeof(struct kvm_coalesced_mmio_ring)) /
			  sizeof(struct kvm_coalesced_mmio));
}

void coalesced_init(struct coalesced_ring *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->off_why = "not started";
}

static void replay(const struct kvm_coalesced_mmio *e, const struct io_registry *io)
{
	unsigned len = e->len <= sizeof(e->data) ? e->len : sizeof(e->data);
	int idx = io_lookup(io, e->pio ? IO_PORT : IO_MMIO, e->phys_addr, len);

	/* Only registered zones reach the ring, so a miss cannot happen. */
	if (idx >= 0 && io->regions[idx].coalesced_fn)
		io->regions[idx].coalesced_fn(e->phys_addr, e->data, len, io->regions[idx].opaque);
}

unsigned coalesced_drain(struct coalesced_ring *c, const struct io_registry *io)
{
	struct kvm_coalesced_mmio_ring *ring = c->ring;
	unsigned n = 0;
	uint32_t first;

	if (!ring)
		return 0;
	/* The common case, checked without the lock: nothing waiting. */
	if (__atomic_load_n(&ring->first, __ATOMIC_RELAXED) ==
	    __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&c->lock);
	first = ring->first;
	for (;;) {
		uint32_t last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);

		if (first == last || first >= c->max || last >= c->max)
			break;
		replay(&ring->coalesced_mmio[first], io);
		first = (first + 1) % c->max;
		/* The slot is free once KVM sees `first` past it. */
		__atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
		n++;
	}
	c->replayed += n;
	c->drains += n > 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* Takes back the zones registered so far (after a failed registration). */
static void unregister_zones(int vm_fd, const struct io_registry *io, unsigned upto)
{
	for (unsigned i = 0; i < upto; i++) {
		const struct io_region *r = &io->regions[i];
		struct kvm_coalesced_mmio_zone z = {
			.addr = r->base, .size = (uint32_t)r->coalesced_len,
			.pio = r->space == IO_PORT,
		};

		if (r->coalesced_len)
			ioctl(vm_fd, KVM_UNREGISTER_COALESCED_MMIO, &z);
	}
}

int coalesced_start(struct coalesced_ring *c, int kvm_fd, int vm_fd, void *vcpu_map,
		    size_t map_size, const struct io_registry *io, char *errbuf, size_t errlen)
{
	static char why[128];
	long page = sysconf(_SC_PAGESIZE);
	bool port_zones = false;

	for (unsigned i = 0; i < io->count; i++)
		port_zones |= io->regions[i].coalesced_len && io->regions[i].space == IO_PORT;
	if (port_zones && ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) <= 0) {
		c->off_why = "KVM lacks KVM_CAP_COALESCED_PIO";
		return 0;
	}
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO) <= 0) {
		c->off_why = "KVM lacks KVM_CAP_COALESCED_MMIO";
		return 0;
	}
	if ((size_t)(KVM_COALESCED_MMIO_PAGE_OFFSET + 1) * (size_t)page > map_size) {
		snprintf(errbuf, errlen, "KVM offers coalesced I/O but its ring page is not in "
			 "the vCPU mapping (%zu bytes)", map_size);
		return -1;
	}
	for (unsigned i = 0; i < io->count; i++) {
		const struct io_region *r = &io->regions[i];
		struct kvm_coalesced_mmio_zone z = {
			.addr = r->base, .size = (uint32_t)r->coalesced_len,
			.pio = r->space == IO_PORT,
		};

		if (!r->coalesced_len)
			continue;
		if (ioctl(vm_fd, KVM_REGISTER_COALESCED_MMIO, &z) < 0) {
			snprintf(why, sizeof(why), "KVM_REGISTER_COALESCED_MMIO for %s failed: %s",
				 r->name, strerror(errno));
			unregister_zones(vm_fd, io, i);
			c->off_why = why;
			return 0;
		}
	}
	c->max = coalesced_ring_entries(page);
	c->ring = (struct kvm_coalesced_mmio_ring *)((char *)vcpu_map +
						     KVM_COALESCED_MMIO_PAGE_OFFSET * page);
	c->off_why = NULL;
	return 0;
}
