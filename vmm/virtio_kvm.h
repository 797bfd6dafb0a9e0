/*
 * virtio_kvm.h - what every virtio-pci device needs from KVM, in one place
 * (virtio_kvm.c), as kvmtool's virtio/pci.c: the doorbell eventfd KVM
 * signals itself (KVM_IOEVENTFD, moved with the BAR), one GSI and irqfd per
 * MSI-X vector with its MSI route following the guest's MSI-X table (routes
 * are re-sent only when the message changed), and the device's I/O thread,
 * which sleeps until a doorbell and then calls the device's queue handler.
 * A device supplies only that handler and its configuration layout.
 */
#ifndef VMM_VIRTIO_KVM_H
#define VMM_VIRTIO_KVM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement.h"
#include "poll_window.h"
#include "virtio_pci.h"

struct vm;

/* The device's queue handler, on its I/O thread after each doorbell and,
 * when the thread polls, in a loop: serves whatever its queues hold (it
 * takes vp->lock itself) and returns how many requests that was.  With
 * `polling` it leaves the driver told not to notify (virtq_ask_notify);
 * without, it asks for notifies before it returns. */
typedef int (*virtio_serve_fn)(struct virtio_pci *vp, bool polling);

struct virtio_kvm {
	struct vm *vm;
	struct virtio_pci *vp;
	virtio_serve_fn serve;
	int notify_fd, stop_fd;
	int irq_fd[VIRTIO_PCI_MSIX_VECTORS];
	unsigned gsi[VIRTIO_PCI_MSIX_VECTORS];
	struct msix_entry routed[VIRTIO_PCI_MSIX_VECTORS];
	bool route_valid[VIRTIO_PCI_MSIX_VECTORS];
	struct io_thread io;       /* on --io-pin's CPUs (placement.h) */
	/* Set before virtio_kvm_start (poll_window_init): after serving,
	 * the I/O thread keeps looking at the queues without sleeping until
	 * they have been empty this long (poll_window.h). */
	struct poll_window window;
	bool polls;                /* the thread polls (virtio_kvm.c, may_poll) */
	atomic_bool stopping;      /* virtio_kvm_stop, for a polling thread */
	/* Counters for the device's --stats and --json (the I/O thread's). */
	uint64_t notifies;         /* I/O thread wake-ups */
	uint64_t polled;           /* requests found by polling, not by a doorbell */
	uint64_t poll_backoffs;    /* times polling stopped for want of a CPU */
	uint64_t poll_off_until;   /* now_ns(): no polling before (virtio_kvm.c) */
	unsigned poll_wasted;      /* poll windows in a row that found nothing */
	uint64_t interrupts;       /* MSI-X messages sent */
	/* How long the thread waited for requests, from finding its queues
	 * empty: until a doorbell woke it (the guest's turn-around, the
	 * doorbell exit, the wake-up), and until polling found one (the
	 * turn-around alone); the difference is what a doorbell costs. */
	uint64_t woken_wait_ns, polled_wait_ns, polled_waits;
};

/* No descriptors yet (so virtio_kvm_close is safe at any point). */
void virtio_kvm_init(struct virtio_kvm *k);
/* Wires vp to KVM (doorbell, MSI-X vectors), plugs its PCI function into
 * the VM's bus and starts the I/O thread named `thread_name`.  errbuf says
 * what failed. */
int virtio_kvm_start(struct virtio_kvm *k, struct vm *vm, struct virtio_pci *vp,
		     virtio_serve_fn serve, const char *thread_name,
		     char *errbuf, size_t errlen);
/* Stops and joins the I/O thread (what it took is finished). */
void virtio_kvm_stop(struct virtio_kvm *k);
/* Closes the eventfds. */
void virtio_kvm_close(struct virtio_kvm *k);

#endif /* VMM_VIRTIO_KVM_H */
