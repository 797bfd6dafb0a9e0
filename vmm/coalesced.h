/*
 * coalesced.h - KVM's coalesced I/O ring (coalesced.c): writes to a port
 * or MMIO range that KVM keeps in a ring page instead of exiting, which
 * vmm replays to the range's handler later, in order.
 *
 * Why: the console.  Under PVM-style KVM (and under VMX, which also emulates
 * string I/O) a `rep outsb` to COM1 is one exit per byte; with the data port
 * in a coalesced zone (KVM_CAP_COALESCED_PIO) the bytes wait in the ring and
 * a boot makes a few exits instead of a thousand.
 *
 * Order: the ring is drained, under its lock, before any exit of any vCPU is
 * handled, by the main thread every COALESCED_DRAIN_MS while the guest runs
 * (so output of a quiet guest still appears), and once more when the VM has
 * stopped.  Every other access to the device exits, so it is handled after
 * every coalesced write that came before it: a write to the UART's data port
 * under LCR.DLAB still reaches the divisor latch.
 */
#ifndef VMM_COALESCED_H
#define VMM_COALESCED_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"

/* Main-thread drain period: how late the output of a guest that makes no
 * exits may appear. */
#define COALESCED_DRAIN_MS 20

struct coalesced_ring {
	struct kvm_coalesced_mmio_ring *ring;  /* NULL: off, every write exits */
	uint32_t max;                          /* entries the ring holds */
	pthread_mutex_t lock;                  /* one drainer at a time */
	const char *off_why;                   /* why off (for the reports) */
	uint64_t replayed;                     /* entries handed to handlers */
	uint64_t drains;                       /* drains that found entries */
};

/* Entries a ring page of `page_size` bytes holds. */
uint32_t coalesced_ring_entries(long page_size);
void coalesced_init(struct coalesced_ring *c);
/* Replays every entry in the ring to its region's coalesced_fn, oldest
 * first, and frees the slots; returns how many.  No KVM calls (unit tests
 * give it a ring of their own). */
unsigned coalesced_drain(struct coalesced_ring *c, const struct io_registry *io);
/* Registers every region's coalesced zone with KVM and finds the ring in a
 * vCPU's kvm_run mapping (`vcpu_map`, `map_size` bytes).  Where KVM lacks
 * the capability (or refuses a zone) the ring stays off, off_why says why,
 * and every write exits as before; -1 only for a KVM that makes no sense. */
int coalesced_start(struct coalesced_ring *c, int kvm_fd, int vm_fd, void *vcpu_map,
		    size_t map_size, const struct io_registry *io, char *errbuf, size_t errlen);

#endif /* VMM_COALESCED_H */
