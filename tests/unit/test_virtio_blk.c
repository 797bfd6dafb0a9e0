/*
 * test_virtio_blk.c - the virtio-blk device (vmm/dev_virtio_blk.c) against
 * a temporary file and fake guest RAM: opening (missing, qcow2, too small,
 * not a file), the configuration the driver reads, IN/OUT/FLUSH/GET_ID and
 * unknown requests, bounds, readonly disks, host errors (a file truncated
 * under the guest, a write past RLIMIT_FSIZE), malformed chains (failed
 * with IOERR when the status byte is reachable, NEEDS_RESET when not),
 * framing-agnostic parsing, O_DIRECT with unaligned buffers, interrupt
 * suppression, notify suppression while the I/O thread polls, write-through
 * for a driver without VIRTIO_BLK_F_FLUSH and a failed flush that sticks.
 */
#include "unit.h"

#include "virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define RAM (16 * MIB)
#define QSIZE 16
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define HDR 0x10000
#define DATA 0x20000
#define STAT 0x30000
#define SECTORS 64

struct rig {
	struct guest_memory mem;
	struct blk_dev blk;
	struct disk_stats stats;
	char path[64];
	unsigned next_desc;
};

static void make_file(struct rig *r, uint64_t bytes)
{
	strcpy(r->path, "/tmp/vmbench-blk-XXXXXX");
	int fd = mkstemp(r->path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
	close(fd);
}

static void start(struct rig *r, bool readonly, bool direct)
{
	struct disk_config d = {.path = r->path, .readonly = readonly, .direct = direct};
	char err[256];

	if (blk_open(&r->blk, &d, &r->mem, &r->stats, err, sizeof(err)))
		fail_msg("blk_open: %s", err);
	/* A driver that negotiated everything and set up queue 0. */
	r->blk.vp.driver_features = r->blk.vp.device_features & ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	r->blk.vp.status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	r->blk.vp.vq[0] = (struct virtq){.size = QSIZE, .ready = true, .desc_gpa = DESC,
					 .avail_gpa = AVAIL, .used_gpa = USED};
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(guest_map_noreserve(RAM, &r->mem), 0);
	make_file(r, SECTORS * 512);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	blk_close(&r->blk);
	unlink(r->path);
	munmap(r->mem.base, RAM);
	free(r);
	return 0;
}

static uint8_t *at(struct rig *r, uint64_t gpa) { return r->mem.base + gpa; }

static unsigned desc(struct rig *r, uint64_t addr, uint32_t len, bool writable, bool more)
{
	unsigned i = r->next_desc++ % QSIZE;
	uint8_t *d = at(r, DESC + 16 * i);

	le_put(d, 8, addr);
	le_put(d + 8, 4, len);
	le_put(d + 12, 2, (more ? VRING_DESC_F_NEXT : 0) | (writable ? VRING_DESC_F_WRITE : 0));
	le_put(d + 14, 2, (i + 1) % QSIZE);
	return i;
}

static void offer(struct rig *r, unsigned head)
{
	uint16_t idx = (uint16_t)le_get(at(r, AVAIL + 2), 2);

	le_put(at(r, AVAIL + 4 + 2 * (idx % QSIZE)), 2, head);
	le_put(at(r, AVAIL + 2), 2, (uint16_t)(idx + 1));
}

static void header(struct rig *r, uint32_t type, uint64_t sector)
{
	le_put(at(r, HDR), 4, type);
	le_put(at(r, HDR + 4), 4, 0);
	le_put(at(r, HDR + 8), 8, sector);
}

/* The usual three-part request; returns the status byte. */
static int request(struct rig *r, uint32_t type, uint64_t sector, uint32_t len)
{
	header(r, type, sector);
	*at(r, STAT) = 0xee;
	unsigned head = desc(r, HDR, 16, false, true);
	if (len)
		desc(r, DATA, len, type != VIRTIO_BLK_T_OUT, true);
	desc(r, STAT, 1, true, false);
	offer(r, head);
	assert_int_equal(blk_process_queue(&r->blk, 64), 1);
	return *at(r, STAT);
}

static uint32_t last_used_len(struct rig *r)
{
	uint16_t idx = (uint16_t)le_get(at(r, USED + 2), 2);

	return le_get(at(r, USED + 4 + 8 * ((idx - 1) % QSIZE) + 4), 4);
}

static void test_open_errors(void **state)
{
	struct rig *r = *state;
	struct disk_config d = {.path = "/nonexistent/disk.img"};
	char err[256];
	int fd;

	assert_int_equal(blk_open(&r->blk, &d, &r->mem, NULL, err, sizeof(err)), -1);
	assert_contains(err, "cannot open disk '/nonexistent/disk.img'");
	d.path = "/tmp";
	assert_int_equal(blk_open(&r->blk, &d, &r->mem, NULL, err, sizeof(err)), -1);
	assert_contains(err, "not a regular file or block device");
	/* A qcow2 image given as raw. */
	fd = open(r->path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "QFI\xfb\0\0\0\3", 8), 8);
	close(fd);
	d.path = r->path;
	assert_int_equal(blk_open(&r->blk, &d, &r->mem, NULL, err, sizeof(err)), -1);
	assert_contains(err, "qcow2");
	assert_contains(err, "qemu-img convert -O raw");
	assert_int_equal(truncate(r->path, 0), 0);
	assert_int_equal(truncate(r->path, 100), 0);
	assert_int_equal(blk_open(&r->blk, &d, &r->mem, NULL, err, sizeof(err)), -1);
	assert_contains(err, "smaller than one 512-byte sector");
}

static void test_config_space(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	assert_int_equal(le_get(&r->blk.vp.devcfg[0], 4), SECTORS);
	assert_int_equal(le_get(&r->blk.vp.devcfg[4], 4), 0);
	assert_int_equal(le_get(&r->blk.vp.devcfg[0x0c], 4), VIRTIO_BLK_SEG_MAX);
	assert_int_equal(le_get(&r->blk.vp.devcfg[0x14], 4), 512);
	uint64_t f = r->blk.vp.device_features;
	assert_true(f & 1ull << VIRTIO_F_VERSION_1);
	assert_true(f & 1ull << VIRTIO_BLK_F_FLUSH);
	assert_true(f & 1ull << VIRTIO_BLK_F_BLK_SIZE);
	assert_true(f & 1ull << VIRTIO_BLK_F_SEG_MAX);
	assert_false(f & 1ull << VIRTIO_BLK_F_RO);
	blk_close(&r->blk);
	start(r, true, false);
	assert_true(r->blk.vp.device_features & 1ull << VIRTIO_BLK_F_RO);
	assert_int_equal(le_get(&r->blk.vp.func.cfg[0], 4), 0x10421af4);
}

static void test_write_read_flush(void **state)
{
	struct rig *r = *state;
	uint8_t back[1024];
	int fd;

	start(r, false, false);
	for (unsigned i = 0; i < 1024; i++)
		*at(r, DATA + i) = (uint8_t)(i * 7);
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 3, 1024), VIRTIO_BLK_S_OK);
	assert_int_equal(last_used_len(r), 1);
	fd = open(r->path, O_RDONLY);
	assert_int_equal(pread(fd, back, 1024, 3 * 512), 1024);
	close(fd);
	assert_memory_equal(back, at(r, DATA), 1024);

	memset(at(r, DATA), 0, 1024);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 3, 1024), VIRTIO_BLK_S_OK);
	assert_int_equal(last_used_len(r), 1025);
	assert_memory_equal(back, at(r, DATA), 1024);

	assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	/* The last sector exactly, then one past the end. */
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, SECTORS - 1, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, SECTORS - 1, 1024), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, ~0ull, 512), VIRTIO_BLK_S_IOERR);
	/* Not a whole number of sectors. */
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 100), VIRTIO_BLK_S_IOERR);
	assert_int_equal(r->stats.reads, 4);
	assert_int_equal(r->stats.writes, 2);
	assert_int_equal(r->stats.flushes, 1);
	assert_int_equal(r->stats.read_bytes, 1536);
	assert_int_equal(r->stats.write_bytes, 1024);
	assert_int_equal(r->stats.errors, 3);
	assert_int_equal(r->stats.bad_chains, 0);
}

static void test_get_id_and_unsupported(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	memset(at(r, DATA), 0xff, 20);
	assert_int_equal(request(r, VIRTIO_BLK_T_GET_ID, 0, 20), VIRTIO_BLK_S_OK);
	assert_int_equal(memcmp(at(r, DATA), "vmbench-blk-", 12), 0);
	assert_int_equal(last_used_len(r), 21);
	assert_int_equal(request(r, 11 /* DISCARD, not offered */, 0, 0), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(r->stats.unsupported, 1);
}

static void test_readonly(void **state)
{
	struct rig *r = *state;

	start(r, true, false);
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	assert_false(r->blk.vp.broken);
}

/* Puts /dev/null under the device, which takes writes but fails
 * fdatasync (EINVAL): a FLUSH, or any sync the device makes, then shows.
 * Returns the real descriptor, for put_back(). */
static int fail_syncs(struct rig *r)
{
	int real = r->blk.fd;

	r->blk.fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(r->blk.fd >= 0);
	return real;
}

static void put_back(struct rig *r, int real)
{
	close(r->blk.fd);
	r->blk.fd = real;
}

/* VIRTIO 1.x 5.2.5: without VIRTIO_BLK_F_FLUSH the driver may take the
 * cache as write-through, so every write must reach stable storage before
 * it completes. */
static void test_write_through_without_the_flush_feature(void **state)
{
	struct rig *r = *state;
	int real;

	start(r, false, false);
	real = fail_syncs(r);
	/* Negotiated: a write is not synced (the FLUSH will be). */
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_OK);
	/* Not negotiated: the write is synced, so the failing sync shows. */
	r->blk.vp.driver_features &= ~(1ull << VIRTIO_BLK_F_FLUSH);
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_IOERR);
	put_back(r, real);
	r->blk.sync_errno = 0;   /* (the failure latched: see the next test) */
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(r->stats.errors, 1);
}

/* After a failed fdatasync the host may have marked unwritten pages clean:
 * a later fdatasync succeeds without storing them, so every later FLUSH
 * must fail (with and without O_DIRECT). */
static void test_a_failed_flush_stays_failed(void **state)
{
	struct rig *r = *state;

	int probe = open(r->path, O_RDONLY | O_DIRECT);
	int kinds = probe >= 0 ? 2 : 1;   /* tmpfs before Linux 6.6: no O_DIRECT */

	if (probe >= 0)
		close(probe);
	for (int direct = 0; direct < kinds; direct++) {
		int real;

		if (direct) {      /* a fresh device and rings */
			blk_close(&r->blk);
			memset(r->mem.base, 0, DATA);
			r->next_desc = 0;
		}
		start(r, false, direct);
		assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
		real = fail_syncs(r);
		assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_IOERR);
		put_back(r, real);
		assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_IOERR);
		assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_IOERR);
		/* Reads and writes go on; only the promise of durability is gone. */
		assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_OK);
		assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
		assert_false(r->blk.vp.broken);
	}
}

static void test_truncated_under_the_guest(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	assert_int_equal(truncate(r->path, 512), 0);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 4, 512), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 1024), VIRTIO_BLK_S_IOERR);
	assert_int_equal(last_used_len(r), 1);
	assert_false(r->blk.vp.broken);
}

static void test_host_write_error(void **state)
{
	struct rig *r = *state;
	struct rlimit old, small;

	start(r, false, false);
	assert_int_equal(truncate(r->path, 0), 0);
	/* Writing past RLIMIT_FSIZE fails with EFBIG, as a full disk fails. */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	small = old;
	small.rlim_cur = 4096;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	int st_ok = request(r, VIRTIO_BLK_T_OUT, 0, 512);
	int st_big = request(r, VIRTIO_BLK_T_OUT, 16, 512);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(st_ok, VIRTIO_BLK_S_OK);
	assert_int_equal(st_big, VIRTIO_BLK_S_IOERR);
	assert_int_equal(r->stats.errors, 1);
}

static void test_bad_buffer_fails_the_request(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	header(r, VIRTIO_BLK_T_IN, 0);
	*at(r, STAT) = 0xee;
	unsigned head = desc(r, HDR, 16, false, true);
	desc(r, RAM - 256, 512, true, true);      /* data runs past RAM */
	desc(r, STAT, 1, true, false);
	offer(r, head);
	assert_int_equal(blk_process_queue(&r->blk, 64), 1);
	assert_int_equal(*at(r, STAT), VIRTIO_BLK_S_IOERR);
	assert_int_equal(r->stats.bad_chains, 1);
	/* A short header too. */
	head = desc(r, HDR, 8, false, true);
	desc(r, STAT, 1, true, false);
	offer(r, head);
	assert_int_equal(blk_process_queue(&r->blk, 64), 1);
	assert_int_equal(*at(r, STAT), VIRTIO_BLK_S_IOERR);
	assert_false(r->blk.vp.broken);
	/* And the device still works. */
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
}

static void test_unreachable_status_needs_reset(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	header(r, VIRTIO_BLK_T_IN, 0);
	unsigned head = desc(r, HDR, 16, false, true);
	desc(r, DATA, 512, false, false);           /* no writable status */
	offer(r, head);
	assert_int_equal(blk_process_queue(&r->blk, 64), -1);
	assert_true(r->blk.vp.broken);
	assert_true(r->blk.vp.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(le_get(at(r, USED + 2), 2), 0);   /* nothing completed */
	/* Broken: further requests are not looked at. */
	head = desc(r, HDR, 16, false, true);
	desc(r, STAT, 1, true, false);
	offer(r, head);
	assert_int_equal(blk_process_queue(&r->blk, 64), 0);
}

static void test_loop_needs_reset(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	r->next_desc = 5;
	unsigned head = desc(r, HDR, 16, false, true);
	le_put(at(r, DESC + 16 * head + 14), 2, head);   /* next = itself */
	offer(r, head);
	assert_int_equal(blk_process_queue(&r->blk, 64), -1);
	assert_true(r->blk.vp.broken);
	assert_int_equal(r->stats.bad_chains, 1);
}

static void test_any_framing(void **state)
{
	struct rig *r = *state;
	uint8_t back[512];

	start(r, false, false);
	/* Header split 4 + 12, then data and status in one writable buffer. */
	header(r, VIRTIO_BLK_T_OUT, 2);
	memset(at(r, DATA), 0xab, 512);
	unsigned head = desc(r, HDR, 4, false, true);
	desc(r, HDR + 4, 12, false, true);
	desc(r, DATA, 256, false, true);
	desc(r, DATA + 256, 256, false, true);
	desc(r, STAT, 1, true, false);
	offer(r, head);
	assert_int_equal(blk_process_queue(&r->blk, 64), 1);
	assert_int_equal(*at(r, STAT), VIRTIO_BLK_S_OK);
	/* Header and data in one readable buffer. */
	header(r, VIRTIO_BLK_T_IN, 2);
	head = desc(r, HDR, 16, false, true);
	desc(r, DATA + 0x1000, 513, true, false);   /* data + status together */
	offer(r, head);
	assert_int_equal(blk_process_queue(&r->blk, 64), 1);
	assert_int_equal(*at(r, DATA + 0x1000 + 512), VIRTIO_BLK_S_OK);
	memset(back, 0xab, sizeof(back));
	assert_memory_equal(at(r, DATA + 0x1000), back, 512);
}

static void test_direct_unaligned(void **state)
{
	struct rig *r = *state;
	int fd = open(r->path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		skip();   /* this file system has no O_DIRECT (tmpfs) */
	close(fd);
	start(r, false, true);
	for (unsigned i = 0; i < 512; i++)
		*at(r, DATA + 3 + i) = (uint8_t)(i ^ 0x5a);
	header(r, VIRTIO_BLK_T_OUT, 1);
	unsigned head = desc(r, HDR, 16, false, true);
	desc(r, DATA + 3, 512, false, true);         /* not 512-aligned */
	desc(r, STAT, 1, true, false);
	offer(r, head);
	assert_int_equal(blk_process_queue(&r->blk, 64), 1);
	assert_int_equal(*at(r, STAT), VIRTIO_BLK_S_OK);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 1, 512), VIRTIO_BLK_S_OK);   /* aligned */
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(*at(r, DATA + i), (uint8_t)(i ^ 0x5a));
}

static unsigned msis;

static void count_msi(struct virtio_pci *vp, unsigned v, uint64_t addr, uint32_t data)
{
	(void)vp;
	(void)v;
	(void)addr;
	(void)data;
	msis++;
}

static void test_interrupts_and_batching(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	r->blk.vp.hooks.msi = count_msi;
	r->blk.vp.msix_control = 0x8000;       /* MSI-X on */
	r->blk.vp.msix[0].ctrl = 0;            /* vector 0 unmasked */
	r->blk.vp.queue_vector[0] = 0;
	msis = 0;
	/* Three requests, one wake-up: one interrupt. */
	for (unsigned i = 0; i < 3; i++) {
		header(r, VIRTIO_BLK_T_FLUSH, 0);
		unsigned head = desc(r, HDR, 16, false, true);
		desc(r, STAT + i, 1, true, false);
		offer(r, head);
	}
	assert_int_equal(blk_process_queue(&r->blk, 64), 3);
	assert_int_equal(msis, 1);
	assert_int_equal(r->blk.vp.isr, 1);
	/* A polling driver: no interrupt at all. */
	r->blk.vp.isr = 0;
	le_put(at(r, AVAIL), 2, VRING_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(msis, 1);
	assert_int_equal(r->blk.vp.isr, 0);
	/* The budget bounds one call. */
	le_put(at(r, AVAIL), 2, 0);
	for (unsigned i = 0; i < 3; i++) {
		unsigned head = desc(r, HDR, 16, false, true);
		desc(r, STAT, 1, true, false);
		offer(r, head);
	}
	assert_int_equal(blk_process_queue(&r->blk, 2), 2);
	assert_int_equal(blk_process_queue(&r->blk, 2), 1);
	assert_int_equal(blk_process_queue(&r->blk, 2), 0);
}

static void test_event_idx_sets_avail_event(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	r->blk.vp.vq[0].event_idx = true;
	assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	/* avail_event (after the used ring) tells the driver to kick at 2. */
	assert_int_equal(le_get(at(r, USED + 4 + 8 * QSIZE), 2), 2);
}

/* What a driver without EVENT_IDX reads before it notifies. */
static bool driver_may_skip_notify(struct rig *r)
{
	return le_get(at(r, USED), 2) & VRING_USED_F_NO_NOTIFY;
}

/* The driver's EVENT_IDX test after moving avail->idx from old to old + 1. */
static bool driver_notifies(struct rig *r, uint16_t old)
{
	uint16_t event = (uint16_t)le_get(at(r, USED + 4 + 8 * QSIZE), 2);

	return (uint16_t)(old - event) < 1;   /* vring_need_event(event, old + 1, old) */
}

static void test_polling_thread_suppresses_notifies(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	/* While the I/O thread polls: served, and the driver told not to
	 * notify. */
	r->blk.polling = true;
	assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	assert_true(driver_may_skip_notify(r));
	/* An empty queue changes nothing while polling... */
	assert_int_equal(blk_process_queue(&r->blk, 64), 0);
	assert_true(driver_may_skip_notify(r));
	/* ...and when it stops polling the driver must notify again, and a
	 * request that came meanwhile is served by that last look. */
	unsigned head = desc(r, HDR, 16, false, true);
	desc(r, STAT, 1, true, false);
	offer(r, head);
	r->blk.polling = false;
	assert_int_equal(blk_process_queue(&r->blk, 64), 1);
	assert_false(driver_may_skip_notify(r));
}

static void test_polling_thread_keeps_avail_event_behind(void **state)
{
	struct rig *r = *state;

	start(r, false, false);
	r->blk.vp.vq[0].event_idx = true;
	r->blk.polling = true;
	/* The first request, before the device ever looked, is notified;
	 * then 70000 more: avail->idx wraps and the driver never needs to
	 * notify, since avail_event follows what the device took. */
	assert_true(driver_notifies(r, 0));
	assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 70000; i++) {
		uint16_t old = r->blk.vp.vq[0].last_avail;

		assert_false(driver_notifies(r, old));
		assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	}
	r->blk.polling = false;
	assert_int_equal(blk_process_queue(&r->blk, 64), 0);
	assert_true(driver_notifies(r, r->blk.vp.vq[0].last_avail));
}

/* A driver on another thread: offers `total` prepared chains (heads 0, 2,
 * ... QSIZE - 2, each a header and a status byte), never more than QSIZE / 2
 * ahead of the used ring, as fast as it can. */
struct producer {
	struct rig *r;
	unsigned total;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	uint8_t *avail_idx = at(p->r, AVAIL + 2), *used_idx = at(p->r, USED + 2);

	for (unsigned n = 0; n < p->total; n++) {
		while ((uint16_t)(n - __atomic_load_n((uint16_t *)used_idx, __ATOMIC_ACQUIRE)) >=
		       QSIZE / 2)
			;
		le_put(at(p->r, AVAIL + 4 + 2 * (n % QSIZE)), 2, 2 * (n % (QSIZE / 2)));
		__atomic_store_n((uint16_t *)avail_idx, (uint16_t)(n + 1), __ATOMIC_RELEASE);
	}
	return NULL;
}

static void test_event_idx_avail_event_follows_the_recheck(void **state)
{
	struct rig *r = *state;
	struct producer p = {r, 200000};
	pthread_t t;
	uint16_t *avail_event = (uint16_t *)at(r, USED + 4 + 8 * QSIZE);

	start(r, false, false);
	r->blk.vp.vq[0].event_idx = true;
	header(r, 0x7f, 0);                       /* unsupported: no host I/O */
	for (unsigned i = 0; i < QSIZE / 2; i++) {
		desc(r, HDR, 16, false, true);
		desc(r, STAT + i, 1, true, false);
	}
	assert_int_equal(pthread_create(&t, NULL, produce, &p), 0);
	/* Each time the device stops with budget left it found the ring
	 * empty: avail_event must then ask for the very next index, also
	 * when its last look (after storing avail_event) found more work.
	 * Before the fix it stayed at the index of the first look, and a
	 * driver adding the next request skipped the doorbell for good. */
	for (unsigned served = 0; served < p.total;) {
		int n = blk_process_queue(&r->blk, 64);

		assert_true(n >= 0);
		served += (unsigned)n;
		if (n < 64 && *avail_event != r->blk.vp.vq[0].last_avail)
			fail_msg("avail_event %u, next index %u", *avail_event,
				 r->blk.vp.vq[0].last_avail);
	}
	pthread_join(t, NULL);
	assert_int_equal(r->stats.unsupported, p.total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_id_and_unsupported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_through_without_the_flush_feature, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_failed_flush_stays_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_under_the_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_write_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_buffer_fails_the_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_status_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_any_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_unaligned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupts_and_batching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_sets_avail_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_avail_event_follows_the_recheck,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_polling_thread_suppresses_notifies, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_polling_thread_keeps_avail_event_behind, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
