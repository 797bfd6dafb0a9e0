/*
 * dev_virtio_blk.c - virtio-blk disks (--disk FILE[,direct][,readonly]),
 * one PCI function each (1af4:1042) on the modern virtio-pci transport.
 *
 * Threads: no request is served on a vCPU thread.  Each disk has an I/O
 * thread ("blk N", virtio_kvm.c) woken by KVM when the guest writes the
 * queue's doorbell.  On each wake-up blk_serve() takes every available
 * request, serves them with preadv/pwritev/fdatasync, publishes them in the
 * used ring and sends at most one interrupt per batch, unless the driver
 * set VRING_AVAIL_F_NO_INTERRUPT (a polling driver gets none).
 *
 * Requests are parsed without assumptions about framing (VIRTIO 1.x
 * 2.6.4): the 16-byte header is the first 16 device-readable bytes, the
 * status is the last device-writable byte, data is what lies between.
 *
 * Failures: a chain that can be followed to a writable status byte but is
 * otherwise bad (a buffer outside RAM, readable after writable, a short
 * header) completes with IOERR; one that cannot (index out of range, a loop,
 * no status byte) marks the device NEEDS_RESET.  Host errors (EIO, ENOSPC,
 * EOF on a file truncated under the guest) complete with IOERR.  Readonly
 * disks offer VIRTIO_BLK_F_RO, fail OUT with IOERR and accept FLUSH as a
 * no-op (nothing can be dirty).  Each image is opened once (input_file.c)
 * and locked against other users (image_lock.c).  `direct` disks are O_DIRECT;
 * requests whose buffers are not 512-byte aligned go through an aligned
 * bounce buffer.
 *
 * Durability (docs/virtio-blk.md, "What a FLUSH promises"): an OUT is
 * completed once pwritev returned, so its data is in the host kernel (page
 * cache, or the disk's volatile cache with `direct`); a FLUSH is
 * fdatasync, which takes every completed write to stable storage.  A
 * driver that did not negotiate VIRTIO_BLK_F_FLUSH sees a write-through
 * cache (VIRTIO 1.x 5.2.5: writeback only if FLUSH is negotiated), so each
 * of its writes is followed by fdatasync before it completes.  A failed
 * fdatasync is latched: every later FLUSH fails too (host_sync).
 */
#include "virtio_blk.h"

#include "input_file.h"
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SECTOR 512
/* struct virtio_blk_config up to and including num_queues */
#define BLK_CONFIG_LEN (offsetof(struct virtio_blk_config, num_queues) + 2)
#define BLK_BATCH 64             /* requests between interrupts at most */
#define DIRECT_ALIGN 4096

static const uint8_t qcow_magic[4] = {'Q', 'F', 'I', 0xfb};

/* ---- the command line: --disk ------------------------------------------------ */

static struct disk_config disk_cfg[VMM_MAX_DISKS];
static unsigned ndisk_cfg;

/* poll=USEC's number: decimal digits only, 1 to DISK_POLL_US_MAX. */
static int parse_poll_us(const char *s, size_t n, unsigned *us)
{
	unsigned long v = 0;

	if (n == 0 || n > 7)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > DISK_POLL_US_MAX)
		return -1;
	*us = (unsigned)v;
	return 0;
}

int disk_option_parse(const char *arg, struct disk_config *disk, char *errbuf,
		      size_t errlen)
{
	const char *comma = strchr(arg, ',');
	size_t plen = comma ? (size_t)(comma - arg) : strlen(arg);

	memset(disk, 0, sizeof(*disk));
	if (plen == 0) {
		snprintf(errbuf, errlen, "no file name before the options");
		return -1;
	}
	while (comma) {
		const char *word = comma + 1;
		size_t n;

		comma = strchr(word, ',');
		n = comma ? (size_t)(comma - word) : strlen(word);
		if (n == 6 && !strncmp(word, "direct", 6)) {
			disk->direct = true;
		} else if (n == 8 && !strncmp(word, "readonly", 8)) {
			disk->readonly = true;
		} else if (n == 4 && !strncmp(word, "poll", 4)) {
			disk->poll = POLL_FIXED;
			disk->poll_us = DISK_POLL_US_DEFAULT;
		} else if (n == 8 && !strncmp(word, "poll=off", 8)) {
			disk->poll = POLL_OFF;
			disk->poll_us = 0;
		} else if (n >= 5 && !strncmp(word, "poll=", 5)) {
			disk->poll = POLL_FIXED;
			if (parse_poll_us(word + 5, n - 5, &disk->poll_us)) {
				snprintf(errbuf, errlen, "poll=%.*s: expected off or a number of "
					 "microseconds from 1 to %u", (int)(n - 5), word + 5,
					 DISK_POLL_US_MAX);
				return -1;
			}
		} else if (n == 11 && !strncmp(word, "locking=off", 11)) {
			disk->nolock = true;
		} else if (n == 10 && !strncmp(word, "locking=on", 10)) {
			disk->nolock = false;
		} else if (n == 10 && !strncmp(word, "format=raw", 10)) {
			/* the default */
		} else if (n == 12 && !strncmp(word, "format=qcow2", 12)) {
			snprintf(errbuf, errlen, "qcow2 images are not supported; convert to "
				 "raw with: qemu-img convert -O raw %.*s DISK.raw", (int)plen, arg);
			return -1;
		} else if (n >= 7 && !strncmp(word, "format=", 7)) {
			snprintf(errbuf, errlen, "unknown format '%.*s' (raw is supported)",
				 (int)(n - 7), word + 7);
			return -1;
		} else {
			snprintf(errbuf, errlen, "unknown disk option '%.*s' (expected direct, "
				 "readonly, poll[=USEC|off], locking=off or format=raw)", (int)n, word);
			return -1;
		}
	}
	disk->path = strndup(arg, plen);
	if (!disk->path) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	return 0;
}

unsigned blk_disk_configs(const struct disk_config **disks)
{
	*disks = disk_cfg;
	return ndisk_cfg;
}

static int blk_option(int code, const char *arg, char *errbuf, size_t errlen)
{
	char why[320];

	(void)code;   /* only --disk */
	if (ndisk_cfg == VMM_MAX_DISKS) {
		snprintf(errbuf, errlen, "--disk '%s': at most %d disks", arg, VMM_MAX_DISKS);
		return -1;
	}
	if (disk_option_parse(arg, &disk_cfg[ndisk_cfg], why, sizeof(why))) {
		snprintf(errbuf, errlen, "--disk '%s': %s", arg, why);
		return -1;
	}
	ndisk_cfg++;
	return 0;
}

static void blk_free_options(void)
{
	for (unsigned i = 0; i < ndisk_cfg; i++) {
		free(disk_cfg[i].path);
		disk_cfg[i].path = NULL;
	}
	ndisk_cfg = 0;
}

/* ---- opening a disk ------------------------------------------------------ */

/* A writable disk on a block device the kernel marks read-only (BLKROGET:
 * `losetup -r`, a write-protected card) would fail every write with EPERM;
 * refuse it at start-up, as a read-only file is refused. */
int blk_check_writable(const char *path, bool device_readonly, bool disk_readonly,
		       char *errbuf, size_t errlen)
{
	if (!device_readonly || disk_readonly)
		return 0;
	snprintf(errbuf, errlen, "cannot open disk '%s' for writing: it is a read-only block "
		 "device (add ',readonly' to use it read-only)", path);
	return -1;
}

/* The size, a read-only block device, a qcow2 image: checked on the one
 * descriptor vmm uses. */
static int check_image(int fd, const struct stat *st, const struct disk_config *disk,
		       uint64_t *bytes, char *errbuf, size_t errlen)
{
	uint8_t magic[4];

	if (S_ISBLK(st->st_mode)) {
		int ro = 0;

		if (ioctl(fd, BLKGETSIZE64, bytes) < 0) {
			snprintf(errbuf, errlen, "disk '%s': cannot get its size: %s", disk->path,
				 strerror(errno));
			return -1;
		}
		if (ioctl(fd, BLKROGET, &ro) < 0) {
			snprintf(errbuf, errlen, "disk '%s': cannot tell whether it is read-only: %s",
				 disk->path, strerror(errno));
			return -1;
		}
		if (blk_check_writable(disk->path, ro != 0, disk->readonly, errbuf, errlen))
			return -1;
	} else {
		*bytes = (uint64_t)st->st_size;
	}
	/* (an O_DIRECT read would need an aligned buffer: O_DIRECT is set after) */
	if (pread(fd, magic, 4, 0) == 4 && !memcmp(magic, qcow_magic, 4)) {
		snprintf(errbuf, errlen, "disk '%s' is a qcow2 image; vmm reads raw images "
			 "only: convert it with qemu-img convert -O raw '%s' DISK.raw", disk->path,
			 disk->path);
		return -1;
	}
	if (*bytes < SECTOR) {
		snprintf(errbuf, errlen, "disk '%s' is smaller than one 512-byte sector",
			 disk->path);
		return -1;
	}
	return 0;
}

/* Opens the image once (input_open: never blocks, type checked on the
 * descriptor), checks it, locks it, and only then turns on O_DIRECT. */
static int open_image(const struct disk_config *disk, uint64_t *bytes, char *errbuf,
		      size_t errlen)
{
	struct stat st;
	int fd = input_open(disk->path, disk->readonly ? O_RDONLY : O_RDWR,
			    INPUT_REGULAR | INPUT_BLOCK, "disk", &st, errbuf, errlen);

	if (fd < 0) {
		int err = errno;

		if ((err == EACCES || err == EROFS || err == EPERM) && !disk->readonly)
			snprintf(errbuf, errlen, "cannot open disk '%s' for writing: %s "
				 "(add ',readonly' to use it read-only)", disk->path, strerror(err));
		return -1;
	}
	if (check_image(fd, &st, disk, bytes, errbuf, errlen) ||
	    (!disk->nolock && image_lock(fd, disk->readonly, disk->path, errbuf, errlen)))
		goto fail;
	if (disk->direct) {
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) < 0) {
			if (errno == EINVAL)
				snprintf(errbuf, errlen, "cannot open disk '%s' with O_DIRECT: its "
					 "file system does not support direct I/O (drop ',direct')",
					 disk->path);
			else
				snprintf(errbuf, errlen, "cannot open disk '%s' with O_DIRECT: %s",
					 disk->path, strerror(errno));
			goto fail;
		}
	}
	return fd;

fail:
	close(fd);
	return -1;
}

int blk_open(struct blk_dev *b, const struct disk_config *disk,
	     const struct guest_memory *mem, struct disk_stats *stats,
	     char *errbuf, size_t errlen)
{
	uint64_t bytes, features;
	const char *base;

	struct virtio_blk_config config = {0};

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	virtio_kvm_init(&b->kvm);
	b->fd = open_image(disk, &bytes, errbuf, errlen);
	if (b->fd < 0)
		return -1;
	b->readonly = disk->readonly;
	b->direct = disk->direct;
	b->capacity = bytes / SECTOR;
	b->stats = stats;
	if (stats)
		stats->path = disk->path;
	base = strrchr(disk->path, '/');
	snprintf(b->serial, sizeof(b->serial), "%.20s", base ? base + 1 : disk->path);

	features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		   (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_RING_F_EVENT_IDX);
	if (b->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	virtio_pci_init(&b->vp, mem, VIRTIO_ID_BLOCK, 0x0180, features, 1, VIRTIO_BLK_QUEUE_SIZE,
			BLK_CONFIG_LEN);
	b->vp.opaque = b;
	snprintf(b->name, sizeof(b->name), "virtio-blk");
	b->vp.func.name = b->name;
	config.capacity = htole64(b->capacity);
	config.seg_max = htole32(VIRTIO_BLK_SEG_MAX);
	config.blk_size = htole32(SECTOR);
	memcpy(b->vp.devcfg, &config, BLK_CONFIG_LEN);
	return 0;
}

void blk_close(struct blk_dev *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/* ---- requests ------------------------------------------------------------ */

/* fdatasync of the disk: 0, or -errno.  A failure sticks.  Linux marks the
 * pages whose writeback failed clean (and may drop them), so a second
 * fdatasync succeeds although the data never reached the disk; answering
 * OK to the guest's next FLUSH would tell it that data is safe.  QEMU does
 * the same (block/file-posix.c, page_cache_inconsistent), but only without
 * O_DIRECT; here `direct` latches too, because on a file system the
 * allocation and size metadata of O_DIRECT writes still go through the
 * host's cache. */
static int host_sync(struct blk_dev *b)
{
	if (b->sync_errno)
		return -b->sync_errno;
	if (fdatasync(b->fd) == 0)
		return 0;
	b->sync_errno = errno;
	fprintf(stderr, "vmm: %s (%s): fdatasync failed: %s; every later FLUSH fails, as "
		"the host may have dropped writes it could not store\n", b->name,
		b->stats && b->stats->path ? b->stats->path : "?", strerror(b->sync_errno));
	return -b->sync_errno;
}

/* Whether the driver negotiated VIRTIO_BLK_F_FLUSH: without it the device
 * must behave as a write-through cache.  Read outside vp.lock: the
 * features are frozen from FEATURES_OK on, and a reset waits for the
 * request being served (vp.busy). */
static bool write_through(const struct blk_dev *b)
{
	return !(b->vp.driver_features & (1ull << VIRTIO_BLK_F_FLUSH));
}

/* Copies `len` bytes starting `skip` bytes into the iovec into buf.  (iov
 * is not const: gcc 12 then warns that rd[] may be unset when n is 0.) */
static void iov_gather(struct iovec *iov, unsigned n, uint64_t skip, uint8_t *buf,
		       uint64_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - skip;

		if (take > len)
			take = len;
		memcpy(buf, (uint8_t *)iov[i].iov_base + skip, take);
		buf += take;
		len -= take;
		skip = 0;
	}
}

static void iov_scatter(const struct iovec *iov, unsigned n, const uint8_t *buf,
			uint64_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t take = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(iov[i].iov_base, buf, take);
		buf += take;
		len -= take;
	}
}

/* preadv/pwritev until done: 0, or -errno (EIO at end of file: a read past
 * the end of a file that shrank under the guest). */
static int full_io(int fd, struct iovec *iov, unsigned n, uint64_t off, bool write)
{
	while (n) {
		ssize_t r = write ? pwritev(fd, iov, (int)n, (off_t)off) :
				    preadv(fd, iov, (int)n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return write ? -ENOSPC : -EIO;
		off += (uint64_t)r;
		while (n && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

static bool aligned_for_direct(const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & (SECTOR - 1))
			return false;
	return true;
}

static int data_io(struct blk_dev *b, struct iovec *iov, unsigned n, uint64_t len,
		   uint64_t off, bool write)
{
	uint64_t t0 = now_ns();
	int ret;

	if (b->direct && !aligned_for_direct(iov, n)) {
		uint8_t *bounce = aligned_alloc(DIRECT_ALIGN, (len + DIRECT_ALIGN - 1) &
					       ~(uint64_t)(DIRECT_ALIGN - 1));
		struct iovec one = {bounce, len};

		if (!bounce)
			return -ENOMEM;
		if (write)
			iov_gather(iov, n, 0, bounce, len);
		ret = full_io(b->fd, &one, 1, off, write);
		if (!ret && !write)
			iov_scatter(iov, n, bounce, len);
		free(bounce);
	} else {
		ret = full_io(b->fd, iov, n, off, write);
	}
	if (b->stats)
		b->stats->ns_total += now_ns() - t0;
	return ret;
}

int blk_handle_chain(struct blk_dev *b, struct virtq_chain *c, uint32_t *len)
{
	struct iovec rd[VIRTQ_MAX_SIZE], wr[VIRTQ_MAX_SIZE];
	unsigned nrd = 0, nwr = 0;
	struct virtq_buf *last;
	struct virtio_blk_outhdr hdr;
	uint8_t *status;
	uint64_t data_len, sector;
	uint32_t type;
	int st = VIRTIO_BLK_S_OK, err = 0;
	struct disk_stats dummy = {0}, *s = b->stats ? b->stats : &dummy;

	*len = 0;
	if (c->error >= VIRTQ_ERR_INDEX || !c->nbufs)
		return -1;
	last = &c->bufs[c->nbufs - 1];
	if (!last->writable || !last->len || !last->hva)
		return -1;   /* no status byte to report anything in */
	status = last->hva + last->len - 1;
	*len = 1;
	if (c->error != VIRTQ_OK || c->read_bytes < sizeof(hdr)) {
		s->bad_chains++;
		s->errors++;
		*status = VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_IOERR;
	}
	for (unsigned i = 0; i < c->nbufs; i++) {
		struct iovec v = {c->bufs[i].hva, c->bufs[i].len};

		if (c->bufs[i].writable)
			wr[nwr++] = v;
		else
			rd[nrd++] = v;
	}
	wr[nwr - 1].iov_len--;   /* the status byte is not data */
	iov_gather(rd, nrd, 0, (uint8_t *)&hdr, sizeof(hdr));
	type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);

	/* Drop the header from the readable side for OUT's data. */
	unsigned first = 0;
	uint64_t skip = sizeof(hdr);

	while (first < nrd && skip >= rd[first].iov_len) {
		skip -= rd[first].iov_len;
		first++;
	}
	if (first < nrd) {
		rd[first].iov_base = (uint8_t *)rd[first].iov_base + skip;
		rd[first].iov_len -= skip;
	}

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool write = type == VIRTIO_BLK_T_OUT;

		data_len = write ? c->read_bytes - sizeof(hdr) : c->write_bytes - 1;
		if (write && b->readonly) {
			st = VIRTIO_BLK_S_IOERR;
		} else if (data_len % SECTOR || data_len > VIRTIO_BLK_MAX_REQUEST ||
			   sector > b->capacity || data_len / SECTOR > b->capacity - sector) {
			st = VIRTIO_BLK_S_IOERR;
		} else if (data_len) {
			err = write ? data_io(b, rd + first, nrd - first, data_len,
					      sector * SECTOR, true) :
				      data_io(b, wr, nwr, data_len, sector * SECTOR, false);
			if (!err && write && write_through(b)) {
				uint64_t t0 = now_ns();

				err = host_sync(b);
				s->ns_total += now_ns() - t0;
			}
			if (err)
				st = VIRTIO_BLK_S_IOERR;
		}
		if (write) {
			s->writes++;
			if (st == VIRTIO_BLK_S_OK)
				s->write_bytes += data_len;
		} else {
			s->reads++;
			if (st == VIRTIO_BLK_S_OK) {
				s->read_bytes += data_len;
				*len = (uint32_t)data_len + 1;
			}
		}
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		s->flushes++;
		if (!b->readonly) {
			uint64_t t0 = now_ns();

			if (host_sync(b))
				st = VIRTIO_BLK_S_IOERR;
			s->ns_total += now_ns() - t0;
		}
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint8_t id[VIRTIO_BLK_ID_BYTES] = {0};
		uint64_t n = c->write_bytes - 1 < sizeof(id) ? c->write_bytes - 1 : sizeof(id);

		s->get_ids++;
		memcpy(id, b->serial, strnlen(b->serial, sizeof(id)));
		iov_scatter(wr, nwr, id, n);
		*len = (uint32_t)n + 1;
		break;
	}
	default:
		s->unsupported++;
		st = VIRTIO_BLK_S_UNSUPP;
	}
	if (st == VIRTIO_BLK_S_IOERR)
		s->errors++;
	*status = (uint8_t)st;
	return st;
}

int blk_process_queue(struct blk_dev *b, unsigned budget)
{
	struct virtio_pci *vp = &b->vp;
	struct virtq *vq = &vp->vq[0];
	int done = 0;
	bool rechecked = false;

	pthread_mutex_lock(&vp->lock);
	while ((unsigned)done < budget && virtio_pci_queue_live(vp, 0)) {
		uint32_t len;
		int r = virtq_pop(vp->mem, vq, &b->chain);

		if (r == 0 && !rechecked) {
			/* Empty: a polling thread tells the driver not to
			 * notify (it comes back by itself); otherwise ask for
			 * a notify and look once more, or a request added
			 * just before the store would wait forever. */
			virtq_ask_notify(vp->mem, vq, !b->polling);
			if (b->polling)
				break;
			atomic_thread_fence(memory_order_seq_cst);
			rechecked = true;
			continue;
		}
		if (r == 0)
			break;
		/* Took one: whatever avail_event said is now behind. */
		rechecked = false;
		if (r < 0) {
			char why[160];

			virtq_chain_problem(&b->chain, vq->size, why, sizeof(why));
			virtio_pci_set_broken(vp, why);
			done = -1;
			break;
		}
		vp->busy++;
		pthread_mutex_unlock(&vp->lock);
		int st = blk_handle_chain(b, &b->chain, &len);
		pthread_mutex_lock(&vp->lock);
		vp->busy--;
		if (st < 0) {
			char why[160];

			if (b->stats)
				b->stats->bad_chains++;
			virtq_chain_problem(&b->chain, vq->size, why, sizeof(why));
			virtio_pci_set_broken(vp, why);
			done = -1;
		} else if (virtq_push(vp->mem, vq, b->chain.head, len) < 0) {
			virtio_pci_set_broken(vp, "the used ring is outside guest RAM");
			done = -1;
		} else {
			done++;
		}
		if (!vp->busy)
			pthread_cond_broadcast(&vp->idle);
		if (done < 0)
			break;
	}
	if (done > 0 && virtq_should_notify(vp->mem, vq))
		virtio_pci_notify_queue(vp, 0);
	pthread_mutex_unlock(&vp->lock);
	return done;
}

/* ---- the device: set-up, I/O thread, counters ------------------------------------ */

static struct blk_dev *disks[VMM_MAX_DISKS];
static struct disk_stats disk_stats[VMM_MAX_DISKS];
static unsigned ndisks;

/* The queue handler virtio_kvm.c calls after each doorbell. */
static int blk_serve(struct virtio_pci *vp, bool polling)
{
	struct blk_dev *b = vp->opaque;
	int n, total = 0;

	b->polling = polling;
	while ((n = blk_process_queue(b, BLK_BATCH)) > 0) {
		total += n;
		if (n < BLK_BATCH)
			break;
	}
	return n < 0 ? -1 : total;
}

static int blk_setup(struct vm *vm, const struct vmm_config *cfg, char *errbuf, size_t errlen)
{
	(void)cfg;   /* the disks are this device's own options */
	for (unsigned i = 0; i < ndisk_cfg; i++) {
		struct blk_dev *b = calloc(1, sizeof(*b));
		char tname[16];

		if (!b) {
			snprintf(errbuf, errlen, "out of memory for disk %u", i);
			return -1;
		}
		disk_stats[i] = (struct disk_stats){0};
		if (blk_open(b, &disk_cfg[i], &vm->mem, &disk_stats[i], errbuf, errlen)) {
			free(b);
			return -1;
		}
		disks[ndisks++] = b;
		snprintf(b->name, sizeof(b->name), "virtio-blk%u", i);
		snprintf(tname, sizeof(tname), "blk %u", i);
		poll_window_init(&b->kvm.window, disk_cfg[i].poll, disk_cfg[i].poll_us * 1000ull);
		if (virtio_kvm_start(&b->kvm, vm, &b->vp, blk_serve, tname, errbuf, errlen))
			return -1;
	}
	return 0;
}

static void blk_stop(struct vm *vm)
{
	(void)vm;
	for (unsigned i = 0; i < ndisks; i++)
		virtio_kvm_stop(&disks[i]->kvm);
}

static void blk_teardown(struct vm *vm)
{
	blk_stop(vm);   /* after a failed set-up, nothing stopped it yet */
	/* The PCI bus goes with the VM (vm_destroy), so nothing points at
	 * the disks after this: a VM built next in the same process (the
	 * device fuzzer builds thousands) starts from no disks. */
	for (unsigned i = 0; i < ndisks; i++) {
		blk_close(disks[i]);
		virtio_kvm_close(&disks[i]->kvm);
		free(disks[i]);
		disks[i] = NULL;
	}
	ndisks = 0;
}

/* What the I/O thread's polling was: the mode as asked, and whether the
 * thread polled at all (an adaptive one without a CPU of its own did not). */
static const char *poll_word(const struct virtio_kvm *k)
{
	switch (k->window.mode) {
	case POLL_FIXED: return "fixed";
	case POLL_OFF: return "off";
	default: return k->polls ? "adaptive" : "adaptive, no CPU of its own";
	}
}

static void blk_print_stats(const struct vm *vm, FILE *out)
{
	(void)vm;
	for (unsigned i = 0; i < ndisks; i++) {
		const struct disk_stats *d = &disk_stats[i];
		const struct virtio_kvm *k = &disks[i]->kvm;

		fprintf(out, "vmm: disk %u (%s): %llu reads (%.1f MiB), %llu writes (%.1f MiB), "
			"%llu flushes, %llu other, %llu errors (%llu bad chains); "
			"%llu wake-ups, %llu polled (%llu pauses; poll %s, window %.1f us, "
			"%llu up, %llu down), %llu interrupts, %.3f ms in host I/O; waits for a "
			"request %.1f us by doorbell, %.1f us by polling\n", i,
			d->path ? d->path : "?", (unsigned long long)d->reads,
			d->read_bytes / (double)MIB, (unsigned long long)d->writes,
			d->write_bytes / (double)MIB, (unsigned long long)d->flushes,
			(unsigned long long)(d->get_ids + d->unsupported),
			(unsigned long long)d->errors, (unsigned long long)d->bad_chains,
			(unsigned long long)k->notifies, (unsigned long long)k->polled,
			(unsigned long long)k->poll_backoffs, poll_word(k), k->window.ns / 1e3,
			(unsigned long long)k->window.grown, (unsigned long long)k->window.shrunk,
			(unsigned long long)k->interrupts, d->ns_total / 1e6,
			k->notifies ? k->woken_wait_ns / 1e3 / (double)k->notifies : 0.0,
			k->polled_waits ? k->polled_wait_ns / 1e3 / (double)k->polled_waits : 0.0);
	}
}

static void blk_write_json(const struct vm *vm, FILE *f)
{
	(void)vm;
	fputs(",\"disks\":[", f);
	for (unsigned i = 0; i < ndisks; i++) {
		const struct disk_stats *d = &disk_stats[i];
		const struct virtio_kvm *k = &disks[i]->kvm;

		fprintf(f, "%s{\"path\":", i ? "," : "");
		json_put_string(f, d->path ? d->path : "");
		fprintf(f, ",\"reads\":%llu,\"writes\":%llu,\"flushes\":%llu,\"get_ids\":%llu,"
			"\"unsupported\":%llu,\"read_bytes\":%llu,\"write_bytes\":%llu,"
			"\"errors\":%llu,\"bad_chains\":%llu,\"notifies\":%llu,\"polled\":%llu,"
			"\"poll_pauses\":%llu,\"poll\":\"%s\",\"polling\":%s,"
			"\"poll_window_ns\":%llu,\"poll_window_max_ns\":%llu,"
			"\"interrupts\":%llu,\"host_io_ms\":%.3f}",
			(unsigned long long)d->reads, (unsigned long long)d->writes,
			(unsigned long long)d->flushes, (unsigned long long)d->get_ids,
			(unsigned long long)d->unsupported, (unsigned long long)d->read_bytes,
			(unsigned long long)d->write_bytes, (unsigned long long)d->errors,
			(unsigned long long)d->bad_chains, (unsigned long long)k->notifies,
			(unsigned long long)k->polled, (unsigned long long)k->poll_backoffs,
			k->window.mode == POLL_FIXED ? "fixed" : k->window.mode == POLL_OFF ? "off" :
			"adaptive", k->polls ? "true" : "false",
			(unsigned long long)k->window.ns, (unsigned long long)k->window.max_ns,
			(unsigned long long)k->interrupts, d->ns_total / 1e6);
	}
	fputs("]", f);
}

static const struct option blk_options[] = {
	{"disk", required_argument, NULL, 'd'},
	{NULL, 0, NULL, 0},
};

VMM_DEVICE(virtio_blk, .name = "virtio-blk", .level = VMM_INIT_DEV,
	   .options = blk_options, .shortopts = "d:",
	   .usage =
	"  -d, --disk FILE[,direct][,readonly][,poll[=USEC|off]][,locking=off][,format=raw]\n"
	"                       a raw disk image or block device as a virtio-blk\n"
	"                       PCI disk (repeatable, up to 8); direct: O_DIRECT,\n"
	"                       readonly: writes fail. The I/O thread polls the\n"
	"                       queue (no doorbells) after serving it, for an\n"
	"                       adaptive 0-32 us if it has a CPU of its own;\n"
	"                       poll: always, until idle USEC (50), burning a\n"
	"                       host CPU meanwhile (--io-pin); poll=off: never.\n"
	"                       The image is locked (shared if readonly) against\n"
	"                       other users; locking=off: no lock, as QEMU's.\n"
	"                       qcow2 is not read: convert\n"
	"                       it with qemu-img convert -O raw IN.qcow2 OUT.raw\n",
	   .parse_option = blk_option, .free_options = blk_free_options,
	   .setup = blk_setup, .stop = blk_stop, .teardown = blk_teardown,
	   .print_stats = blk_print_stats, .write_json = blk_write_json);
