/*
 * test_virtqueue.c - split virtqueues (vmm/virtqueue.c) against fake guest
 * RAM: well-formed chains, and every kind of malformed one a driver could
 * send - buffers outside RAM, lengths that wrap, indices out of range,
 * loops, readable-after-writable, indirect descriptors, a runaway avail
 * index - plus the used ring and interrupt suppression.
 */
#include "unit.h"

#include "le.h"
#include "virtqueue.h"

#define RAM (16 * MIB)
#define QSIZE 8
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000

struct rig {
	struct guest_memory mem;
	struct virtq vq;
	struct virtq_chain chain;
};

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(guest_map_noreserve(RAM, &r->mem), 0);
	r->vq = (struct virtq){.size = QSIZE, .ready = true, .desc_gpa = DESC,
			       .avail_gpa = AVAIL, .used_gpa = USED};
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	munmap(r->mem.base, RAM);
	free(r);
	return 0;
}

static uint8_t *at(struct rig *r, uint64_t gpa)
{
	return r->mem.base + gpa;
}

static void set_desc(struct rig *r, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = at(r, DESC + 16 * i);

	le_put(d, 8, addr);
	le_put(d + 8, 4, len);
	le_put(d + 12, 2, flags);
	le_put(d + 14, 2, next);
}

/* Makes `head` available (the driver's side of the protocol). */
static void offer(struct rig *r, uint16_t head)
{
	uint16_t idx = (uint16_t)le_get(at(r, AVAIL + 2), 2);

	le_put(at(r, AVAIL + 4 + 2 * (idx % QSIZE)), 2, head);
	le_put(at(r, AVAIL + 2), 2, (uint16_t)(idx + 1));
}

/* header (readable) -> data (writable) -> status (writable) */
static void good_chain(struct rig *r, unsigned first)
{
	set_desc(r, first, BUF, 16, VRING_DESC_F_NEXT, (uint16_t)(first + 1));
	set_desc(r, first + 1, BUF + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
		 (uint16_t)(first + 2));
	set_desc(r, first + 2, BUF + 0x2000, 1, VRING_DESC_F_WRITE, 0);
}

static void test_empty_ring(void **state)
{
	struct rig *r = *state;

	assert_true(virtq_layout_ok(&r->mem, &r->vq));
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 0);
	r->vq.ready = false;
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 0);
}

static void test_good_chain(void **state)
{
	struct rig *r = *state;

	good_chain(r, 0);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_OK);
	assert_int_equal(r->chain.head, 0);
	assert_int_equal(r->chain.nbufs, 3);
	assert_int_equal(r->chain.readable, 1);
	assert_int_equal(r->chain.writable, 2);
	assert_int_equal(r->chain.read_bytes, 16);
	assert_int_equal(r->chain.write_bytes, 513);
	assert_ptr_equal(r->chain.bufs[0].hva, at(r, BUF));
	assert_ptr_equal(r->chain.bufs[1].hva, at(r, BUF + 0x1000));
	assert_true(r->chain.bufs[2].writable);
	assert_int_equal(r->vq.last_avail, 1);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 0);
}

static void test_buffer_outside_ram(void **state)
{
	struct rig *r = *state;

	good_chain(r, 0);
	set_desc(r, 1, RAM - 256, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_ERR_ADDR);
	assert_null(r->chain.bufs[1].hva);
	/* Walked to its end, so the status buffer is known. */
	assert_int_equal(r->chain.nbufs, 3);
	assert_non_null(r->chain.bufs[2].hva);
}

static void test_length_that_wraps(void **state)
{
	struct rig *r = *state;

	good_chain(r, 0);
	set_desc(r, 1, BUF, 0xffffffffu, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_ERR_ADDR);
	/* An address near 2^64 whose end wraps to a small number. */
	set_desc(r, 1, 0xfffffffffffff000ull, 0x2000, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_ERR_ADDR);
	assert_null(r->chain.bufs[1].hva);
}

static void test_next_index_out_of_range(void **state)
{
	struct rig *r = *state;

	good_chain(r, 0);
	set_desc(r, 1, BUF, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, QSIZE);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_ERR_INDEX);
	assert_int_equal(r->chain.nbufs, 2);
	/* The report names the descriptor and its bad next. */
	char why[160];

	virtq_chain_problem(&r->chain, QSIZE, why, sizeof(why));
	assert_string_equal(why, "descriptor chain from head 0: descriptor 1's next is 8, "
			    "beyond the queue's 8 descriptors");
}

static void test_loop(void **state)
{
	struct rig *r = *state;

	set_desc(r, 3, BUF, 16, VRING_DESC_F_NEXT, 4);
	set_desc(r, 4, BUF, 16, VRING_DESC_F_NEXT, 3);
	offer(r, 3);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_ERR_TOO_LONG);
	assert_int_equal(r->chain.nbufs, QSIZE);
	/* A descriptor pointing at itself. */
	set_desc(r, 5, BUF, 16, VRING_DESC_F_NEXT, 5);
	offer(r, 5);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_ERR_TOO_LONG);
	/* The report names a descriptor of the loop, met once more. */
	char why[160];

	assert_int_equal(r->chain.error_desc, 5);
	virtq_chain_problem(&r->chain, QSIZE, why, sizeof(why));
	assert_string_equal(why, "descriptor chain from head 5 loops: descriptor 5 comes "
			    "again after 8 descriptors");
}

static void test_longest_chain_is_fine(void **state)
{
	struct rig *r = *state;

	for (unsigned i = 0; i < QSIZE; i++)
		set_desc(r, i, BUF + 512 * i, 512,
			 i + 1 < QSIZE ? VRING_DESC_F_NEXT : VRING_DESC_F_WRITE,
			 (uint16_t)(i + 1));
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_OK);
	assert_int_equal(r->chain.nbufs, QSIZE);
}

static void test_readable_after_writable(void **state)
{
	struct rig *r = *state;

	good_chain(r, 0);
	set_desc(r, 1, BUF + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set_desc(r, 2, BUF + 0x2000, 1, 0, 0);   /* "status" is device-readable */
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_ERR_ORDER);
	assert_false(r->chain.bufs[2].writable);
}

static void test_indirect_not_offered(void **state)
{
	struct rig *r = *state;

	set_desc(r, 0, BUF, 64, VRING_DESC_F_INDIRECT, 0);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
	assert_int_equal(r->chain.error, VIRTQ_ERR_INDIRECT);
}

static void test_broken_rings(void **state)
{
	struct rig *r = *state;

	/* A head index out of range cannot be completed at all. */
	char why[160];

	offer(r, QSIZE);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), -1);
	virtq_chain_problem(&r->chain, QSIZE, why, sizeof(why));
	assert_string_equal(why, "the available ring offers head 8, beyond the queue's 8 "
			    "descriptors");
	/* avail->idx claiming more than the ring holds. */
	r->vq.last_avail = 0;
	le_put(at(r, AVAIL + 2), 2, QSIZE + 1);
	assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), -1);
	virtq_chain_problem(&r->chain, QSIZE, why, sizeof(why));
	assert_string_equal(why, "the available ring's index is 9, more than the queue's 8 "
			    "entries ahead of the device's 0");
	/* Rings outside RAM or misaligned. */
	struct virtq bad = r->vq;
	bad.avail_gpa = RAM - 4;
	assert_false(virtq_layout_ok(&r->mem, &bad));
	assert_int_equal(virtq_pop(&r->mem, &bad, &r->chain), -1);
	bad = r->vq;
	bad.desc_gpa = DESC + 8;
	assert_false(virtq_layout_ok(&r->mem, &bad));
	bad = r->vq;
	bad.used_gpa = RAM - 8;
	assert_false(virtq_layout_ok(&r->mem, &bad));
	assert_int_equal(virtq_push(&r->mem, &bad, 0, 1), -1);
	bad = r->vq;
	bad.size = 6;
	assert_false(virtq_layout_ok(&r->mem, &bad));
	bad.size = VIRTQ_MAX_SIZE * 2;
	assert_false(virtq_layout_ok(&r->mem, &bad));
}

static void test_used_ring_and_wrap(void **state)
{
	struct rig *r = *state;

	/* Indices are free-running 16-bit counters: start near the wrap. */
	r->vq.last_avail = r->vq.used_idx = 0xfffe;
	le_put(at(r, AVAIL + 2), 2, 0xfffe);
	for (unsigned n = 0; n < 3; n++) {
		good_chain(r, 0);
		offer(r, 0);
		assert_int_equal(virtq_pop(&r->mem, &r->vq, &r->chain), 1);
		assert_int_equal(r->chain.error, VIRTQ_OK);
		assert_int_equal(virtq_push(&r->mem, &r->vq, r->chain.head, 7 + n), 0);
	}
	assert_int_equal(r->vq.last_avail, 1);
	assert_int_equal(le_get(at(r, USED + 2), 2), 1);
	/* Entry for used index 0 sits in slot 0. */
	assert_int_equal(le_get(at(r, USED + 4), 4), 0);
	assert_int_equal(le_get(at(r, USED + 8), 4), 9);
}

static void test_interrupt_suppression(void **state)
{
	struct rig *r = *state;

	assert_int_equal(virtq_push(&r->mem, &r->vq, 0, 1), 0);
	assert_true(virtq_should_notify(&r->mem, &r->vq));
	le_put(at(r, AVAIL), 2, VRING_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(virtq_push(&r->mem, &r->vq, 0, 1), 0);
	assert_false(virtq_should_notify(&r->mem, &r->vq));

	/* EVENT_IDX: interrupt only when used_event was passed. */
	r->vq.event_idx = true;
	r->vq.signalled_valid = false;
	le_put(at(r, AVAIL + 4 + 2 * QSIZE), 2, 5);    /* used_event = 5 */
	assert_int_equal(virtq_push(&r->mem, &r->vq, 0, 1), 0);   /* used_idx 3 */
	assert_true(virtq_should_notify(&r->mem, &r->vq));          /* first one */
	assert_int_equal(virtq_push(&r->mem, &r->vq, 0, 1), 0);   /* 4 */
	assert_false(virtq_should_notify(&r->mem, &r->vq));
	assert_int_equal(virtq_push(&r->mem, &r->vq, 0, 1), 0);   /* 5 */
	assert_false(virtq_should_notify(&r->mem, &r->vq));
	assert_int_equal(virtq_push(&r->mem, &r->vq, 0, 1), 0);   /* 6: entry 5 published */
	assert_true(virtq_should_notify(&r->mem, &r->vq));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_good_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_that_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_index_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longest_chain_is_fine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_not_offered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_used_ring_and_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_suppression, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
