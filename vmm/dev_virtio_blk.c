/*
 * dev_virtio_blk.c - virtio-blk disks (--disk FILE[,direct][,readonly]),
 * one PCI function each (1af4:1042) on the modern virtio-pci transport.
 *
 * Threads: no request is served on a vCPU thread.  Each disk has an I/O
 * thread ("blk N") that sleeps in poll() on an eventfd which KVM signals
 * itself when the guest writes the queue's doorbell (KVM_IOEVENTFD on the
 * notify address, moved with the BAR), so a notify costs the guest no exit
 * to vmm.  On each wake-up it takes every available request, serves them
 * with preadv/pwritev/fdatasync, publishes them in the used ring and sends
 * at most one interrupt - an MSI-X message through KVM_IRQFD on a GSI whose
 * MSI route follows the guest's MSI-X table - unless the driver set
 * VIRTQ_AVAIL_F_NO_INTERRUPT (a polling driver gets none).
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
 * no-op (nothing can be dirty).  `direct` disks are opened O_DIRECT;
 * requests whose buffers are not 512-byte aligned go through an aligned
 * bounce buffer.
 */
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SECTOR 512
#define BLK_CONFIG_LEN 0x24      /* up to and including writeback/num_queues */
#define BLK_BATCH 64             /* requests between interrupts at most */
#define DIRECT_ALIGN 4096

static const uint8_t qcow_magic[4] = {'Q', 'F', 'I', 0xfb};

/* ---- opening a disk ------------------------------------------------------ */

static int probe_file(const char *path, uint64_t *bytes, char *errbuf, size_t errlen)
{
	uint8_t magic[4];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(errbuf, errlen, "cannot open disk '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		snprintf(errbuf, errlen, "disk '%s' is not a regular file or block device", path);
		close(fd);
		return -1;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, bytes) < 0) {
			snprintf(errbuf, errlen, "disk '%s': cannot get its size: %s", path,
				 strerror(errno));
			close(fd);
			return -1;
		}
	} else {
		*bytes = (uint64_t)st.st_size;
	}
	if (pread(fd, magic, 4, 0) == 4 && !memcmp(magic, qcow_magic, 4)) {
		snprintf(errbuf, errlen, "disk '%s' is a qcow2 image; vmm reads raw images "
			 "only: convert it with qemu-img convert -O raw '%s' DISK.raw", path, path);
		close(fd);
		return -1;
	}
	close(fd);
	if (*bytes < SECTOR) {
		snprintf(errbuf, errlen, "disk '%s' is smaller than one 512-byte sector", path);
		return -1;
	}
	return 0;
}

int blk_open(struct blk_dev *b, const struct disk_config *disk,
	     const struct guest_memory *mem, struct disk_stats *stats,
	     char *errbuf, size_t errlen)
{
	uint64_t bytes, features;
	int flags = (disk->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	const char *base;

	memset(b, 0, sizeof(*b));
	b->fd = b->notify_fd = b->stop_fd = -1;
	for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++)
		b->irq_fd[v] = -1;
	if (probe_file(disk->path, &bytes, errbuf, errlen))
		return -1;
	if (disk->direct)
		flags |= O_DIRECT;
	b->fd = open(disk->path, flags);
	if (b->fd < 0) {
		int err = errno;

		if (err == EINVAL && disk->direct)
			snprintf(errbuf, errlen, "cannot open disk '%s' with O_DIRECT: its file "
				 "system does not support direct I/O (drop ',direct')", disk->path);
		else if ((err == EACCES || err == EROFS || err == EPERM) && !disk->readonly)
			snprintf(errbuf, errlen, "cannot open disk '%s' for writing: %s "
				 "(add ',readonly' to use it read-only)", disk->path, strerror(err));
		else
			snprintf(errbuf, errlen, "cannot open disk '%s': %s", disk->path,
				 strerror(err));
		return -1;
	}
	b->readonly = disk->readonly;
	b->direct = disk->direct;
	b->capacity = bytes / SECTOR;
	b->stats = stats;
	if (stats)
		stats->path = disk->path;
	base = strrchr(disk->path, '/');
	snprintf(b->serial, sizeof(b->serial), "%.20s", base ? base + 1 : disk->path);

	features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		   (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_F_EVENT_IDX);
	if (b->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	virtio_pci_init(&b->vp, mem, 2, 0x0180, features, 1, VIRTIO_BLK_QUEUE_SIZE,
			BLK_CONFIG_LEN);
	b->vp.opaque = b;
	snprintf(b->name, sizeof(b->name), "virtio-blk");
	b->vp.func.name = b->name;
	le_put(&b->vp.devcfg[0x00], 8, b->capacity);
	le_put(&b->vp.devcfg[0x0c], 4, VIRTIO_BLK_SEG_MAX);
	le_put(&b->vp.devcfg[0x14], 4, SECTOR);         /* blk_size */
	return 0;
}

void blk_close(struct blk_dev *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/* ---- requests ------------------------------------------------------------ */

/* Copies `len` bytes starting `skip` bytes into the iovec into buf. */
static void iov_gather(const struct iovec *iov, unsigned n, uint64_t skip, uint8_t *buf,
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
	uint8_t hdr[16], *status;
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
	iov_gather(rd, nrd, 0, hdr, sizeof(hdr));
	type = le_get(hdr, 4);
	sector = le_get(hdr + 8, 4) | (uint64_t)le_get(hdr + 12, 4) << 32;

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

			if (fdatasync(b->fd) < 0)
				st = VIRTIO_BLK_S_IOERR;
			s->ns_total += now_ns() - t0;
		}
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint8_t id[20] = {0};
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

		if (r == 0 && vq->event_idx && !rechecked) {
			/* avail_event: the driver kicks again once it passes
			 * this index.  Then look once more, or a request
			 * added just before the store would wait forever. */
			uint8_t *ae = guest_ptr(vp->mem, vq->used_gpa + 4 + 8ull * vq->size, 2);

			if (ae)
				le_put(ae, 2, vq->last_avail);
			atomic_thread_fence(memory_order_seq_cst);
			rechecked = true;
			continue;
		}
		if (r == 0)
			break;
		if (r < 0) {
			virtio_pci_set_broken(vp, "the available ring is unusable (outside RAM, "
					      "a head index out of range, or an index too far "
					      "ahead)");
			done = -1;
			break;
		}
		vp->busy++;
		pthread_mutex_unlock(&vp->lock);
		int st = blk_handle_chain(b, &b->chain, &len);
		pthread_mutex_lock(&vp->lock);
		vp->busy--;
		if (st < 0) {
			if (b->stats)
				b->stats->bad_chains++;
			virtio_pci_set_broken(vp, b->chain.error >= VIRTQ_ERR_INDEX ?
					      "a descriptor chain loops, is too long, or has "
					      "an index out of range" :
					      "a request has no writable status byte");
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

/* ---- KVM plumbing and the I/O thread ----------------------------------------- */

static void hook_ioeventfd(struct virtio_pci *vp, unsigned q, uint64_t gpa, bool assign)
{
	struct blk_dev *b = vp->opaque;

	(void)q;   /* one queue, one eventfd */
	if (kvm_ioeventfd(b->vm, b->notify_fd, gpa, assign) < 0)
		vmm_error("%s: cannot %s the doorbell at 0x%llx: %s (notifies now exit "
			  "to vmm)", b->name, assign ? "register" : "remove",
			  (unsigned long long)gpa, strerror(errno));
}

static void hook_kick(struct virtio_pci *vp, unsigned q)
{
	struct blk_dev *b = vp->opaque;
	uint64_t one = 1;

	(void)q;
	if (write(b->notify_fd, &one, sizeof(one)) < 0)
		vmm_error("%s: cannot wake its I/O thread: %s", b->name, strerror(errno));
}

static void hook_msi(struct virtio_pci *vp, unsigned v, uint64_t addr, uint32_t data)
{
	struct blk_dev *b = vp->opaque;
	uint64_t one = 1;

	/* Re-route only when the guest changed the message. */
	if (!b->route_valid[v] || b->routed[v].addr_lo != (uint32_t)addr ||
	    b->routed[v].addr_hi != (uint32_t)(addr >> 32) || b->routed[v].data != data) {
		if (kvm_set_msi_route(b->vm, b->gsi[v], addr, data) < 0) {
			vmm_error("%s: cannot route MSI-X vector %u: %s", b->name, v,
				  strerror(errno));
			return;
		}
		b->routed[v] = (struct msix_entry){(uint32_t)addr, (uint32_t)(addr >> 32), data, 0};
		b->route_valid[v] = true;
	}
	if (b->stats)
		b->stats->interrupts++;
	if (write(b->irq_fd[v], &one, sizeof(one)) < 0)
		vmm_error("%s: cannot raise MSI-X vector %u: %s", b->name, v, strerror(errno));
}

static void *io_thread(void *arg)
{
	struct blk_dev *b = arg;

	for (;;) {
		struct pollfd fds[2] = {{b->notify_fd, POLLIN, 0}, {b->stop_fd, POLLIN, 0}};
		uint64_t n;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		if (!(fds[0].revents & POLLIN) || read(b->notify_fd, &n, sizeof(n)) != sizeof(n))
			continue;
		if (b->stats)
			b->stats->notifies++;
		while (blk_process_queue(b, BLK_BATCH) == BLK_BATCH)
			;
	}
	return NULL;
}

static struct blk_dev *disks[VMM_MAX_DISKS];
static unsigned ndisks;

static int blk_start(struct vm *vm, struct blk_dev *b, char *errbuf, size_t errlen)
{
	struct pci_bus *bus = pci_bus_get(vm, errbuf, errlen);
	int err;

	if (!bus)
		return -1;
	b->vm = vm;
	b->vp.hooks = (struct virtio_pci_hooks){
		.ioeventfd = hook_ioeventfd, .kick = hook_kick, .msi = hook_msi,
	};
	b->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	b->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (b->notify_fd < 0 || b->stop_fd < 0) {
		snprintf(errbuf, errlen, "%s: eventfd: %s", b->name, strerror(errno));
		return -1;
	}
	for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++) {
		int gsi = kvm_alloc_msi_gsi(vm);

		b->irq_fd[v] = eventfd(0, EFD_CLOEXEC);
		if (gsi < 0 || b->irq_fd[v] < 0) {
			snprintf(errbuf, errlen, "%s: no interrupt line left for MSI-X", b->name);
			return -1;
		}
		b->gsi[v] = (unsigned)gsi;
		if (kvm_irqfd(vm, b->irq_fd[v], b->gsi[v], true) < 0) {
			snprintf(errbuf, errlen, "%s: KVM_IRQFD failed: %s", b->name,
				 strerror(errno));
			return -1;
		}
	}
	if (pci_plug(bus, &b->vp.func, errbuf, errlen))
		return -1;
	err = pthread_create(&b->thread, NULL, io_thread, b);
	if (err) {
		snprintf(errbuf, errlen, "%s: cannot start its I/O thread: %s", b->name,
			 strerror(err));
		return -1;
	}
	b->thread_started = true;
	char tname[16];

	snprintf(tname, sizeof(tname), "blk %u", (unsigned)(b->stats - vm->disk_stats));
	pthread_setname_np(b->thread, tname);
	return 0;
}

static int blk_setup(struct vm *vm, const struct vmm_config *cfg, char *errbuf, size_t errlen)
{
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		struct blk_dev *b = calloc(1, sizeof(*b));

		if (!b) {
			snprintf(errbuf, errlen, "out of memory for disk %u", i);
			return -1;
		}
		if (blk_open(b, &cfg->disks[i], &vm->mem, &vm->disk_stats[i], errbuf, errlen)) {
			free(b);
			return -1;
		}
		disks[ndisks++] = b;
		vm->ndisks = ndisks;
		snprintf(b->name, sizeof(b->name), "virtio-blk%u", i);
		if (blk_start(vm, b, errbuf, errlen))
			return -1;
	}
	return 0;
}

static void blk_teardown(struct vm *vm)
{
	uint64_t one = 1;

	(void)vm;
	for (unsigned i = 0; i < ndisks; i++) {
		struct blk_dev *b = disks[i];

		if (b->thread_started) {
			if (write(b->stop_fd, &one, sizeof(one)) < 0)
				vmm_error("%s: cannot stop its I/O thread", b->name);
			pthread_join(b->thread, NULL);
			b->thread_started = false;
		}
		blk_close(b);
		for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++)
			if (b->irq_fd[v] >= 0)
				close(b->irq_fd[v]);
		if (b->notify_fd >= 0)
			close(b->notify_fd);
		if (b->stop_fd >= 0)
			close(b->stop_fd);
		/* The PCI bus still points at b->vp.func: the block stays
		 * allocated until the process exits. */
	}
}

VMM_DEVICE(virtio_blk, .name = "virtio-blk", .setup = blk_setup, .teardown = blk_teardown);
