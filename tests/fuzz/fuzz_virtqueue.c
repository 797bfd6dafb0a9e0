/*
 * fuzz_virtqueue.c - a hostile virtio driver: the input becomes the first
 * bytes of guest RAM (descriptor table, avail ring, used ring, request
 * headers, buffers) and, in its first bytes, the queue size and the ring
 * addresses.  Every chain the device takes is checked (buffers it was given
 * lie inside guest RAM, chains no longer than the queue) and then served by
 * the real virtio-blk request code against a small in-memory file.  Guest
 * RAM sits between inaccessible guard pages, so any access outside it
 * crashes, besides what ASan and UBSan catch.
 */
#include "fuzz.h"
#include "virtio_blk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAM (1 * MIB)
#define PAGE 4096
#define DISK_BYTES (64 * 1024)


static struct guest_memory mem;
static struct blk_dev blk;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64], err[256];

	(void)argc;
	(void)argv;
	fuzz_keep_stderr();
	fuzz_guest_ram(RAM, &mem);
	fuzz_memory_disk(DISK_BYTES, path);
	struct disk_config d = {.path = path};
	if (blk_open(&blk, &d, &mem, NULL, err, sizeof(err)))
		abort();
	return 0;
}

static void check_chain(const struct virtq *vq, const struct virtq_chain *c)
{
	if (c->head >= vq->size || c->nbufs > vq->size)
		abort();
	for (unsigned i = 0; i < c->nbufs; i++) {
		const struct virtq_buf *b = &c->bufs[i];

		if (!b->hva) {
			if (c->error == VIRTQ_OK)
				abort();
			continue;
		}
		if (b->hva < mem.base || b->hva > mem.base + RAM ||
		    b->len > (uint64_t)(mem.base + RAM - b->hva) ||
		    (uint64_t)(b->hva - mem.base) != b->gpa)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq *vq = &blk.vp.vq[0];
	uint8_t sel;

	if (size < 8)
		return 0;
	/* Byte 0: log2 of the queue size; 1-3: ring places (in pages, or
	 * anywhere at all when 0xff). */
	sel = data[0];
	memset(vq, 0, sizeof(*vq));
	vq->size = (uint16_t)(1u << (sel % 9));
	vq->desc_gpa = data[1] == 0xff ? 0xfffffffffffff000ull : (uint64_t)data[1] * PAGE / 16;
	vq->avail_gpa = (uint64_t)data[2] * 64;
	vq->used_gpa = data[3] == 0xff ? RAM - 2 : (uint64_t)data[3] * 128;
	vq->ready = true;
	vq->event_idx = sel & 0x80;
	vq->last_avail = vq->used_idx = (uint16_t)(data[4] | data[5] << 8);
	data += 6;
	size -= 6;

	memset(mem.base, 0, RAM);
	memcpy(mem.base, data, size < RAM ? size : RAM);
	(void)virtq_layout_ok(&mem, vq);

	for (unsigned n = 0; n < 2 * VIRTQ_MAX_SIZE; n++) {
		uint32_t len;
		int r = virtq_pop(&mem, vq, &blk.chain);

		if (r <= 0)
			break;
		check_chain(vq, &blk.chain);
		int st = blk_handle_chain(&blk, &blk.chain, &len);

		if (st < 0)
			break;   /* the device would need a reset */
		if (st > VIRTIO_BLK_S_UNSUPP)
			abort();
		const struct virtq_buf *last = &blk.chain.bufs[blk.chain.nbufs - 1];
		if (last->hva[last->len - 1] != st)
			abort();
		if (virtq_push(&mem, vq, blk.chain.head, len) < 0)
			break;
		(void)virtq_should_notify(&mem, vq);
	}
	/* A polling I/O thread going to sleep, or staying awake. */
	(void)virtq_ask_notify(&mem, vq, sel & 0x40);
	return 0;
}
