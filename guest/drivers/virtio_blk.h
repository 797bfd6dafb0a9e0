/*
 * virtio_blk.h - a virtio-blk-pci driver that runs in ring 3
 * (guest/drivers/virtio_blk.c).
 *
 * The device is VIRTIO 1.x over PCI (modern 1af4:1042, or transitional
 * 1af4:1001 with the modern capabilities, QEMU's default).  Set-up is a
 * slow path (PCI configuration through system calls); the I/O path is ring
 * 3 only: requests go on one split virtqueue in guest RAM (physical =
 * virtual: the guest identity-maps its RAM), shared by every thread under a
 * ring-3 spinlock, and the device is notified by one MMIO write.
 *
 * Completions, two ways (struct vblk.mode):
 *   VBLK_POLL  the waiting thread polls the used ring itself, with
 *              interrupts suppressed (no MSI-X vector, VRING_AVAIL_F_NO_INTERRUPT):
 *              no system call and no interrupt per request, one exit (the
 *              notify) unless the device asks for none.  Where threads
 *              outnumber vCPUs a waiter yields its vCPU after a short spin.
 *   VBLK_IRQ   MSI-X vector -> LAPIC -> the kernel's handler (trap.c,
 *              sched_irq), which wakes the threads blocked in SYS_IRQ_WAIT;
 *              each looks at the used ring itself.  The general case.
 *              Hybrid: a waiter first spins on the used ring for twice the
 *              recent completion time (at most 200 us), interrupts
 *              suppressed while no thread sleeps; only then it asks for an
 *              interrupt and sleeps.  Per request that sleeps: one
 *              SYS_IRQ_WAIT unless the completion came first, one
 *              interrupt and its EOI, about 120 ring-0 instructions in all
 *              (tools/ring0-profile under QEMU TCG); one caught while
 *              spinning, and polling, take none.
 */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include "pci.h"

/* The device's registers, structures and bits (the kernel's uapi headers,
 * guest/include/linux/README.md). */
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#define VBLK_QUEUE_MAX 256       /* descriptors used of the device's queue */
#define VBLK_SECTOR 512          /* virtio-blk addresses 512-byte sectors */

enum vblk_mode { VBLK_POLL, VBLK_IRQ };

enum vblk_type { VBLK_T_IN = VIRTIO_BLK_T_IN, VBLK_T_OUT = VIRTIO_BLK_T_OUT,
		 VBLK_T_FLUSH = VIRTIO_BLK_T_FLUSH };

/* Request outcomes: the device's status byte, or the driver's own. */
enum {
	VBLK_S_OK = VIRTIO_BLK_S_OK, VBLK_S_IOERR = VIRTIO_BLK_S_IOERR,
	VBLK_S_UNSUPP = VIRTIO_BLK_S_UNSUPP,
	VBLK_S_TIMEOUT = 0x100,      /* polling: no completion in VBLK_TIMEOUT_S (an
				      * interrupt-mode wait has no timeout: it sleeps
				      * in the kernel until the device interrupts) */
	VBLK_S_BADREQ = 0x101,       /* unaligned, beyond the disk, too large */
};
#define VBLK_TIMEOUT_S 60

/* One request slot: a thread owns one and reuses it for each request. */
struct vblk_req {
	struct virtio_blk_outhdr hdr;   /* read by the device */
	volatile uint8_t status;     /* written by the device */
	volatile uint8_t done;
	/* What this slot's requests cost, for the report (ring-0 work above
	 * all): requests, notifies written (each an exit), notifies the device
	 * asked us to skip, sys_yield calls, SYS_IRQ_WAIT calls, and (interrupt
	 * mode) requests whose completion came while the thread still spun, and
	 * those that asked for an interrupt instead (spun + armed = requests). */
	uint64_t requests, notifies, notifies_skipped, yields, irq_waits, irq_spun, irq_armed;
} __attribute__((aligned(64)));

struct vblk {
	/* the device */
	struct pci_dev pci;
	char name[16];               /* its PCI address, "00:04.0" */
	uint64_t capacity;           /* bytes */
	uint32_t blk_size;           /* logical block: offsets and lengths are multiples */
	uint64_t features;           /* negotiated */
	bool read_only, flush;       /* VIRTIO_BLK_F_RO, VIRTIO_BLK_F_FLUSH */
	bool event_idx;              /* VIRTIO_RING_F_EVENT_IDX: used_event/avail_event */
	uint32_t seg_size, nseg_max; /* a request's data: nseg_max pieces of seg_size */
	enum vblk_mode mode;
	unsigned irq_slot;
	/* Set by the user: threads outnumber vCPUs, so a thread that waits
	 * (for a lock or a completion) gives its vCPU away now and then. */
	bool share_cpus;
	/* registers (MMIO, in BARs) */
	volatile uint8_t *common, *devcfg;
	volatile uint16_t *notify;
	/* the split virtqueue */
	uint16_t qsize;
	struct vring_desc *desc;
	volatile uint16_t *avail;    /* flags, idx, ring[qsize] */
	volatile uint16_t *used;     /* flags, idx, then {u32 id, u32 len}[qsize] */
	volatile int lock;
	uint16_t free_head, num_free, avail_idx, last_used;
	unsigned sleepers;           /* interrupt mode: threads in SYS_IRQ_WAIT (lock held) */
	uint64_t latency_avg;        /* recent completion time, TSC cycles */
	struct vblk_req *inflight[VBLK_QUEUE_MAX];   /* by head descriptor */
};

/* Finds the first virtio-blk-pci device and sets it up with one queue.
 * Returns 0; STATUS_UNAVAILABLE with why[] empty when there is no
 * virtio-blk device; STATUS_UNAVAILABLE with why[] saying what is wrong
 * when there is one the driver cannot use. */
int vblk_open(struct vblk *d, enum vblk_mode mode, char *why, size_t why_len);

/* The largest request (bytes of data) the device takes. */
uint64_t vblk_max_request(const struct vblk *d);

/* One request, synchronously: read (VBLK_T_IN) or write (VBLK_T_OUT) `len`
 * bytes at byte `offset` of the disk from/to `buf`, or flush the device's
 * write cache (VBLK_T_FLUSH; offset, buf and len unused).  Returns a
 * VBLK_S_ value.  Any number of threads may call it at once, each with its
 * own request slot. */
int vblk_rw(struct vblk *d, struct vblk_req *r, enum vblk_type type, uint64_t offset,
	    void *buf, uint32_t len);

/* "I/O error", "unsupported", ... for a VBLK_S_ value. */
const char *vblk_status_name(int status);

#endif
