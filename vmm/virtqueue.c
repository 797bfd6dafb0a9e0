/*
 * virtqueue.c - split virtqueues (VIRTIO 1.x, 2.6) from the device side.
 *
 * Nothing here trusts the guest: the rings are re-checked with guest_ptr()
 * on every access (the driver may rewrite them at any time), every
 * descriptor index is compared with the queue size, and a chain may have at
 * most `size` descriptors - a chain that is longer must revisit one, so
 * that bound also ends loops.  Each buffer's address and length are checked
 * as a whole (the sum is never computed in a way that can wrap).
 *
 * Errors come in two kinds.  If the chain could be followed to its end but
 * a buffer is bad (outside RAM, a readable buffer after a writable one),
 * the device can still fail that one request.  If the chain's end cannot be
 * found (index out of range, too long, an indirect descriptor we never
 * offered), the request cannot be completed and the device must stop.
 */
#include "virtqueue.h"

#include "le.h"

#include <endian.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Guest memory may change under us at any time: each field is read once,
 * whole (le_get copies it out first). */
static uint16_t load16(const void *p)
{
	return (uint16_t)le_get(p, 2);
}

static uint64_t avail_bytes(uint16_t size) { return 4 + 2ull * size + 2; }
static uint64_t used_bytes(uint16_t size) { return 4 + 8ull * size + 2; }

const char *virtq_layout_problem(const struct guest_memory *mem, const struct virtq *vq)
{
	uint16_t n = vq->size;

	if (!n)
		return "its size is 0";
	if (n & (n - 1))
		return "its size is not a power of two";
	if (n > VIRTQ_MAX_SIZE)
		return "its size is above the maximum";
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return "a ring is misaligned (descriptors 16, driver 2, device 4 bytes)";
	if (!guest_ptr(mem, vq->desc_gpa, 16ull * n))
		return "the descriptor table is outside guest RAM";
	if (!guest_ptr(mem, vq->avail_gpa, avail_bytes(n)))
		return "the driver (available) ring is outside guest RAM";
	if (!guest_ptr(mem, vq->used_gpa, used_bytes(n)))
		return "the device (used) ring is outside guest RAM";
	return NULL;
}

bool virtq_layout_ok(const struct guest_memory *mem, const struct virtq *vq)
{
	return !virtq_layout_problem(mem, vq);
}

void virtq_chain_problem(const struct virtq_chain *c, uint16_t size, char *buf, size_t len)
{
	switch (c->error) {
	case VIRTQ_ERR_TOO_LONG:
		/* size distinct descriptors were read: the next is a repeat. */
		snprintf(buf, len, "descriptor chain from head %u loops: descriptor %u comes "
			 "again after %u descriptors", c->head, c->error_desc, size);
		break;
	case VIRTQ_ERR_INDEX:
		snprintf(buf, len, "descriptor chain from head %u: descriptor %u's next is %u, "
			 "beyond the queue's %u descriptors", c->head, c->error_desc,
			 c->error_next, size);
		break;
	case VIRTQ_ERR_INDIRECT:
		snprintf(buf, len, "descriptor chain from head %u: descriptor %u is indirect, "
			 "a feature the device does not offer", c->head, c->error_desc);
		break;
	case VIRTQ_ERR_AHEAD:
		snprintf(buf, len, "the available ring's index is %u, more than the queue's %u "
			 "entries ahead of the device's %u", c->error_next, size, c->error_desc);
		break;
	case VIRTQ_ERR_HEAD:
		snprintf(buf, len, "the available ring offers head %u, beyond the queue's %u "
			 "descriptors", c->error_desc, size);
		break;
	case VIRTQ_ERR_RING:
		snprintf(buf, len, "a ring or the descriptor table is outside guest RAM");
		break;
	default:
		snprintf(buf, len, "descriptor chain from head %u has no device-writable "
			 "status byte in guest RAM", c->head);
	}
}

/* One descriptor, in host byte order. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static bool read_desc(const struct guest_memory *mem, const struct virtq *vq, uint16_t i,
		      struct desc *d)
{
	const void *p = guest_ptr(mem, vq->desc_gpa + sizeof(struct vring_desc) * i,
				  sizeof(struct vring_desc));
	struct vring_desc raw;

	if (!p)
		return false;
	memcpy(&raw, p, sizeof(raw));   /* one snapshot: no double fetch */
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
	return true;
}

int virtq_pop(const struct guest_memory *mem, struct virtq *vq, struct virtq_chain *c)
{
	const uint8_t *avail;
	uint16_t avail_idx, head, i;
	struct desc d;

	if (!vq->ready || !vq->size)
		return 0;
	avail = guest_ptr(mem, vq->avail_gpa, avail_bytes(vq->size));
	if (!avail) {
		c->error = VIRTQ_ERR_RING;
		return -1;
	}
	avail_idx = load16(avail + 2);
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
		/* the driver claims more buffers than the ring holds */
		c->error = VIRTQ_ERR_AHEAD;
		c->error_next = avail_idx;
		c->error_desc = vq->last_avail;
		return -1;
	}
	/* Read the ring entry only after seeing the index that covers it. */
	atomic_thread_fence(memory_order_acquire);
	head = load16(avail + 4 + 2 * (vq->last_avail % vq->size));
	if (head >= vq->size) {
		c->error = VIRTQ_ERR_HEAD;   /* no valid id to complete it with */
		c->error_desc = head;
		return -1;
	}
	vq->last_avail++;

	c->head = head;
	c->error = VIRTQ_OK;
	c->nbufs = c->readable = c->writable = 0;
	c->read_bytes = c->write_bytes = 0;
	i = head;
	for (;;) {
		struct virtq_buf *b;

		if (c->nbufs >= vq->size) {
			c->error = VIRTQ_ERR_TOO_LONG;
			c->error_desc = i;
			break;
		}
		if (!read_desc(mem, vq, i, &d)) {
			c->error = VIRTQ_ERR_RING;
			return -1;
		}
		if (d.flags & VRING_DESC_F_INDIRECT) {
			c->error = VIRTQ_ERR_INDIRECT;
			c->error_desc = i;
			break;
		}
		b = &c->bufs[c->nbufs++];
		b->gpa = d.addr;
		b->len = d.len;
		b->writable = d.flags & VRING_DESC_F_WRITE;
		b->hva = guest_ptr(mem, d.addr, d.len);
		if (!b->hva && c->error == VIRTQ_OK)
			c->error = VIRTQ_ERR_ADDR;
		if (b->writable) {
			c->writable++;
			c->write_bytes += d.len;
		} else {
			if (c->writable && c->error == VIRTQ_OK)
				c->error = VIRTQ_ERR_ORDER;
			c->readable++;
			c->read_bytes += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= vq->size) {
			c->error = VIRTQ_ERR_INDEX;
			c->error_desc = i;
			c->error_next = d.next;
			break;
		}
		i = d.next;
	}
	return 1;
}

int virtq_push(const struct guest_memory *mem, struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *used = guest_ptr(mem, vq->used_gpa, used_bytes(vq->size));
	uint8_t *e;

	if (!used || !vq->size)
		return -1;
	e = used + 4 + 8 * (vq->used_idx % vq->size);
	le_put(e, 4, head);
	le_put(e + 4, 4, len);
	vq->used_idx++;
	/* The element must be visible before the index that publishes it. */
	atomic_thread_fence(memory_order_release);
	le_put(used + 2, 2, vq->used_idx);
	return 0;
}

bool virtq_should_notify(const struct guest_memory *mem, struct virtq *vq)
{
	const uint8_t *avail = guest_ptr(mem, vq->avail_gpa, avail_bytes(vq->size));
	bool notify;

	if (!avail)
		return false;
	/* Our used->idx store must be visible before we read the driver's
	 * flags, or a driver re-enabling interrupts could miss this one. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!vq->event_idx) {
		notify = !(load16(avail) & VRING_AVAIL_F_NO_INTERRUPT);
	} else {
		/* vring_need_event(): interrupt when used_event lies in the
		 * range of entries published since the last interrupt. */
		uint16_t event = load16(avail + 4 + 2ull * vq->size);
		uint16_t old = vq->signalled_used, now = vq->used_idx;

		notify = !vq->signalled_valid ||
			 (uint16_t)(now - event - 1) < (uint16_t)(now - old);
	}
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	return notify;
}

bool virtq_ask_notify(const struct guest_memory *mem, struct virtq *vq, bool want)
{
	uint8_t *used = guest_ptr(mem, vq->used_gpa, used_bytes(vq->size));
	uint16_t flags, event;

	if (!used || !vq->size)
		return false;
	flags = want ? 0 : VRING_USED_F_NO_NOTIFY;
	if (load16(used) != flags)
		le_put(used, 2, flags);
	if (vq->event_idx) {
		/* vring_need_event(): the driver notifies when the index it
		 * moves past equals avail_event; one behind what we take next
		 * is one it has already passed. */
		event = want ? vq->last_avail : (uint16_t)(vq->last_avail - 1);
		if (load16(used + 4 + 8ull * vq->size) != event)
			le_put(used + 4 + 8ull * vq->size, 2, event);
	}
	return true;
}
