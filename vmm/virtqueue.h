/*
 * virtqueue.h - split virtqueues from the device side (virtqueue.c).
 */
#ifndef VMM_VIRTQUEUE_H
#define VMM_VIRTQUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory.h"

/* * Pure functions over guest memory, no device logic: every ring and buffer
 * address goes through guest_ptr(); descriptor indices are checked against
 * the queue size and a chain is at most `size` descriptors long, which also
 * ends any loop.  Ring layouts and flags are the kernel's <linux/virtio_ring.h>. */
#define VIRTQ_MAX_SIZE 256

struct virtq {
	uint16_t size;             /* power of two, <= VIRTQ_MAX_SIZE */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;       /* next avail index to take */
	uint16_t used_idx;         /* our copy of used->idx */
	bool event_idx;            /* VIRTIO_F_EVENT_IDX negotiated */
	uint16_t signalled_used;   /* used_idx at the last interrupt */
	bool signalled_valid;
};

enum virtq_error {
	VIRTQ_OK = 0,
	VIRTQ_ERR_ADDR,            /* a buffer outside guest RAM (chain walked to its end) */
	VIRTQ_ERR_ORDER,           /* a device-readable buffer after a writable one */
	/* Below: the chain's end cannot be found, so it cannot be completed. */
	VIRTQ_ERR_INDEX,           /* next index >= queue size */
	VIRTQ_ERR_TOO_LONG,        /* more descriptors than the queue has: a loop */
	VIRTQ_ERR_INDIRECT,        /* indirect descriptor, not offered */
	/* Set when virtq_pop returns -1: the ring itself is unusable. */
	VIRTQ_ERR_RING,            /* a ring or descriptor outside guest RAM */
	VIRTQ_ERR_AHEAD,           /* avail->idx (error_next) too far ahead */
	VIRTQ_ERR_HEAD,            /* a head index (error_desc) out of range */
};

struct virtq_buf {
	uint8_t *hva;              /* NULL if outside guest RAM */
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

struct virtq_chain {
	uint16_t head;
	enum virtq_error error;
	uint16_t error_desc;       /* the descriptor the error was found at */
	uint16_t error_next;       /* VIRTQ_ERR_INDEX: its out-of-range next */
	unsigned nbufs;
	uint32_t readable, writable;   /* number of buffers of each kind */
	uint64_t read_bytes, write_bytes;
	struct virtq_buf bufs[VIRTQ_MAX_SIZE];
};

/* Checks that the three rings of a queue of `size` lie in guest RAM with
 * the alignment the spec requires. */
bool virtq_layout_ok(const struct guest_memory *mem, const struct virtq *vq);
/* The same check, saying what is wrong ("the used ring is outside guest
 * RAM", ...), or NULL when the layout is good. */
const char *virtq_layout_problem(const struct guest_memory *mem, const struct virtq *vq);
/* One line on why chain `c` (popped from a queue of `size`) cannot be
 * completed, for the device's report: "descriptor chain from head 3 loops:
 * descriptor 5 comes again after 256 descriptors". */
void virtq_chain_problem(const struct virtq_chain *c, uint16_t size, char *buf, size_t len);
/* Takes the next available chain: 1 (chain filled, see chain->error), 0 if
 * none, -1 if the ring itself is unusable (rings outside RAM, a head index
 * out of range, avail->idx more than `size` ahead; chain->error says
 * which): the device must stop. */
int virtq_pop(const struct guest_memory *mem, struct virtq *vq, struct virtq_chain *chain);
/* Puts `head` with `len` bytes written in the used ring (and publishes
 * used->idx after it).  -1 if the used ring is not in RAM. */
int virtq_push(const struct guest_memory *mem, struct virtq *vq, uint16_t head, uint32_t len);
/* After pushes: does the driver want an interrupt now (NO_INTERRUPT flag,
 * or used_event with EVENT_IDX)? */
bool virtq_should_notify(const struct guest_memory *mem, struct virtq *vq);
/* Asks the driver to notify after adding buffers (`want`), or not to, while
 * the device polls the avail ring: VRING_USED_F_NO_NOTIFY in used->flags
 * and, for a driver using EVENT_IDX, avail_event one behind the next index
 * the device takes (it keeps moving it along while it polls).  Stores only
 * what changed: the driver reads these lines while it waits.  After asking
 * for notifies the caller must look at the avail ring once more (a buffer
 * added just before would otherwise wait forever).  false if the used ring
 * is not in RAM. */
bool virtq_ask_notify(const struct guest_memory *mem, struct virtq *vq, bool want);


#endif /* VMM_VIRTQUEUE_H */
