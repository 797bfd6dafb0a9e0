/*
 * virtio_blk.c - the virtio-blk-pci driver, in ring 3 (virtio_blk.h).
 *
 * Set-up (VIRTIO 1.2, 4.1 "Virtio Over PCI Bus"): find the device, walk its
 * vendor capabilities for the common, notify and device configuration
 * structures, enable memory decoding and bus mastering, reset, negotiate
 * (VERSION_1 required; SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH and RO taken when
 * offered), read the capacity, give queue 0 its rings, and, in interrupt
 * mode, point MSI-X entry 0 at the kernel's vector for our slot.
 *
 * A request is a chain of descriptors: the 16-byte header, the data (one
 * descriptor per seg_size piece; the buffer is contiguous in physical
 * memory, which is virtual memory here), the status byte.  The queue's
 * state (free descriptors, the avail index, the used index we have seen)
 * is guarded by one ring-3 spinlock; whoever holds it may reap every
 * completion in the used ring, marking each request slot done.  The notify
 * is written outside the lock, after a full fence, unless the device said
 * it needs none: VRING_USED_F_NO_NOTIFY, or with EVENT_IDX an avail_event
 * this request's index did not cross (a device that is busy, or polls the
 * ring, keeps it behind).  With EVENT_IDX, used_event asks for the next
 * completion's interrupt (irq mode, a thread about to sleep) or is kept
 * half the index space away from what was reaped, so that a polling driver,
 * or a spinning one, gets no interrupts.
 */
#include "virtio_blk.h"

#define VIRTIO_VENDOR 0x1af4                    /* PCI vendor ID (VIRTIO 1.2, 4.1.2) */
#define VIRTIO_BLK_MODERN (0x1040 + VIRTIO_ID_BLOCK)  /* modern device IDs: 0x1040 + type */

#define BIT(n) (1ULL << (n))
#define F_WANTED (BIT(VIRTIO_BLK_F_SIZE_MAX) | BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_RO) | \
		  BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) | \
		  BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_F_VERSION_1))

/* Offsets of the fields read from struct virtio_blk_config. */
#define BC(field) offsetof(struct virtio_blk_config, field)

/* Device status, written to the common configuration. */
#define S_DRIVER_STEPS (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)

#define DEFAULT_SEG_SIZE (4u << 20)    /* without SIZE_MAX: 4 MiB per descriptor */
#define LOCK_SPINS 256                 /* then yield, when threads share vCPUs */
#define POLL_SPINS 2048
#define VBLK_SPIN_MAX_US 200           /* interrupt mode: spin at most this long first */

/* ---- MMIO ------------------------------------------------------------------ */

static inline uint8_t r8(volatile uint8_t *base, unsigned off)
{
	return *(volatile uint8_t *)(base + off);
}
static inline uint16_t r16(volatile uint8_t *base, unsigned off)
{
	return *(volatile uint16_t *)(base + off);
}
static inline uint32_t r32(volatile uint8_t *base, unsigned off)
{
	return *(volatile uint32_t *)(base + off);
}
static inline void w8(volatile uint8_t *base, unsigned off, uint8_t v)
{
	*(volatile uint8_t *)(base + off) = v;
}
static inline void w16(volatile uint8_t *base, unsigned off, uint16_t v)
{
	*(volatile uint16_t *)(base + off) = v;
}
static inline void w32(volatile uint8_t *base, unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(base + off) = v;
}
/* 64-bit fields as two 32-bit halves, which the spec allows (4.1.3.1). */
static inline void w64(volatile uint8_t *base, unsigned off, uint64_t v)
{
	w32(base, off, (uint32_t)v);
	w32(base, off + 4, (uint32_t)(v >> 32));
}

/* The EVENT_IDX fields: used_event after the avail ring, avail_event after
 * the used ring (VIRTIO 1.2, 2.7.10). */
static volatile uint16_t *used_event(struct vblk *d)
{
	return &d->avail[2 + d->qsize];
}

static volatile uint16_t *avail_event(struct vblk *d)
{
	return &d->used[2 + 4 * d->qsize];
}

/* ---- finding the device ---------------------------------------------------- */

static bool is_virtio_blk(const struct pci_dev *d, void *ctx)
{
	if (d->vendor != VIRTIO_VENDOR ||
	    (d->device != VIRTIO_BLK_MODERN && d->device != VIRTIO_TRANS_ID_BLOCK))
		return false;
	*(struct pci_dev *)ctx = *d;
	return true;
}

struct region {
	bool found;
	uint8_t bar;
	uint32_t offset, length;
	uint64_t address;
};

/* The structure a capability points at, checked to lie below 4 GiB (what
 * the guest maps; the 3..4 GiB hole uncached and user-accessible). */
static bool map_region(struct vblk *d, struct region *r, const char *what, char *why,
		       size_t len)
{
	bool is64;
	uint64_t base = pci_bar_address(&d->pci, r->bar, &is64);

	if (!base) {
		snprintf(why, len, "virtio-blk at %s: its %s structure is in BAR %u, which is "
			 "unassigned or not a memory BAR", d->name, what, r->bar);
		return false;
	}
	r->address = base + r->offset;
	if (r->address + r->length > (4ULL << 30)) {
		snprintf(why, len, "virtio-blk at %s: BAR %u is at 0x%llx, above 4 GiB, which "
			 "the guest does not map (give the device a 32-bit BAR)", d->name, r->bar,
			 (unsigned long long)base);
		return false;
	}
	return true;
}

static void find_caps(struct vblk *d, struct region caps[VIRTIO_PCI_CAP_DEVICE_CFG + 1],
		      uint32_t *notify_mult)
{
	for (unsigned p = pci_find_cap(&d->pci, PCI_CAP_ID_VNDR, 0); p;
	     p = pci_find_cap(&d->pci, PCI_CAP_ID_VNDR, p)) {
		unsigned type = pci_read(&d->pci, p + VIRTIO_PCI_CAP_CFG_TYPE, 1);
		struct region r = {
			.found = true,
			.bar = (uint8_t)pci_read(&d->pci, p + VIRTIO_PCI_CAP_BAR, 1),
			.offset = pci_read(&d->pci, p + VIRTIO_PCI_CAP_OFFSET, 4),
			.length = pci_read(&d->pci, p + VIRTIO_PCI_CAP_LENGTH, 4),
		};

		/* The first of each type the driver can use (4.1.4). */
		if (type < VIRTIO_PCI_CAP_COMMON_CFG || type > VIRTIO_PCI_CAP_DEVICE_CFG ||
		    caps[type].found || r.bar > 5)
			continue;
		caps[type] = r;
		if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
			*notify_mult = pci_read(&d->pci, p + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
	}
}

static bool fail(struct vblk *d, char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool fail(struct vblk *d, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(why, len, "virtio-blk at %s: ", d->name);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < len)
		vsnprintf(why + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	if (d->common)
		w8(d->common, VIRTIO_PCI_COMMON_STATUS,
		   r8(d->common, VIRTIO_PCI_COMMON_STATUS) | VIRTIO_CONFIG_S_FAILED);
	return false;
}

/* ---- set-up ------------------------------------------------------------------- */

static bool negotiate(struct vblk *d, char *why, size_t len)
{
	uint64_t offered, wanted;
	uint64_t deadline = rdtsc() + sys->tsc_hz;

	w8(d->common, VIRTIO_PCI_COMMON_STATUS, 0);     /* reset */
	while (r8(d->common, VIRTIO_PCI_COMMON_STATUS) != 0) {
		if (rdtsc() > deadline)
			return fail(d, why, len, "the device does not reset");
		__builtin_ia32_pause();
	}
	w8(d->common, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	w8(d->common, VIRTIO_PCI_COMMON_STATUS, S_DRIVER_STEPS);
	w32(d->common, VIRTIO_PCI_COMMON_DFSELECT, 0);
	offered = r32(d->common, VIRTIO_PCI_COMMON_DF);
	w32(d->common, VIRTIO_PCI_COMMON_DFSELECT, 1);
	offered |= (uint64_t)r32(d->common, VIRTIO_PCI_COMMON_DF) << 32;
	if (!(offered & BIT(VIRTIO_F_VERSION_1)))
		return fail(d, why, len, "the device does not offer VIRTIO_F_VERSION_1 (a "
			    "legacy-only device?): the guest drives VIRTIO 1.x devices only");
	wanted = offered & F_WANTED;
	w32(d->common, VIRTIO_PCI_COMMON_GFSELECT, 0);
	w32(d->common, VIRTIO_PCI_COMMON_GF, (uint32_t)wanted);
	w32(d->common, VIRTIO_PCI_COMMON_GFSELECT, 1);
	w32(d->common, VIRTIO_PCI_COMMON_GF, (uint32_t)(wanted >> 32));
	w8(d->common, VIRTIO_PCI_COMMON_STATUS, S_DRIVER_STEPS | VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(r8(d->common, VIRTIO_PCI_COMMON_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
		return fail(d, why, len, "the device refused features 0x%llx",
			    (unsigned long long)wanted);
	d->features = wanted;
	d->read_only = wanted & BIT(VIRTIO_BLK_F_RO);
	d->event_idx = wanted & BIT(VIRTIO_RING_F_EVENT_IDX);
	d->flush = wanted & BIT(VIRTIO_BLK_F_FLUSH);
	return true;
}

static void read_config(struct vblk *d, uint32_t devcfg_len)
{
	uint8_t gen;
	uint64_t sectors;
	uint32_t size_max = 0, seg_max = 0, blk_size = 0;

	do {
		gen = r8(d->common, VIRTIO_PCI_COMMON_CFGGENERATION);
		sectors = r32(d->devcfg, BC(capacity)) |
			  (uint64_t)r32(d->devcfg, BC(capacity) + 4) << 32;
		if ((d->features & BIT(VIRTIO_BLK_F_SIZE_MAX)) && devcfg_len >= BC(size_max) + 4)
			size_max = r32(d->devcfg, BC(size_max));
		if ((d->features & BIT(VIRTIO_BLK_F_SEG_MAX)) && devcfg_len >= BC(seg_max) + 4)
			seg_max = r32(d->devcfg, BC(seg_max));
		if ((d->features & BIT(VIRTIO_BLK_F_BLK_SIZE)) && devcfg_len >= BC(blk_size) + 4)
			blk_size = r32(d->devcfg, BC(blk_size));
	} while (gen != r8(d->common, VIRTIO_PCI_COMMON_CFGGENERATION));
	d->capacity = sectors * VBLK_SECTOR;
	d->blk_size = blk_size >= VBLK_SECTOR && !(blk_size & (blk_size - 1)) ? blk_size
									       : VBLK_SECTOR;
	d->seg_size = size_max >= 4096 && size_max < DEFAULT_SEG_SIZE ? size_max & ~4095u
								      : DEFAULT_SEG_SIZE;
	d->nseg_max = seg_max ? seg_max : ~0u;
}

static bool setup_msix(struct vblk *d, char *why, size_t len)
{
	unsigned cap = pci_find_cap(&d->pci, PCI_CAP_ID_MSIX, 0);
	struct region table;
	long msg;

	if (!cap)
		return fail(d, why, len, "the device has no MSI-X capability, which "
			    "--file-completion=irq needs (poll works without)");
	uint32_t ctrl = pci_read(&d->pci, cap + PCI_MSIX_FLAGS, 2);
	uint32_t where = pci_read(&d->pci, cap + PCI_MSIX_TABLE, 4);

	table = (struct region){.found = true, .bar = where & PCI_MSIX_TABLE_BIR,
				.offset = where & PCI_MSIX_TABLE_OFFSET,
				.length = PCI_MSIX_ENTRY_SIZE * ((ctrl & PCI_MSIX_FLAGS_QSIZE) + 1)};
	if (!map_region(d, &table, "MSI-X table", why, len))
		return false;
	msg = sys_irq_msi(d->irq_slot);
	if (msg < 0)
		return fail(d, why, len, "no MSI message for interrupt slot %u", d->irq_slot);
	pci_write(&d->pci, cap + PCI_MSIX_FLAGS, 2,
		  ctrl | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	volatile uint8_t *entry = (volatile uint8_t *)(uintptr_t)table.address;
	w32(entry, PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)msg);
	w32(entry, PCI_MSIX_ENTRY_UPPER_ADDR, 0);
	w32(entry, PCI_MSIX_ENTRY_DATA, (uint32_t)((uint64_t)msg >> 32));   /* the vector */
	w32(entry, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);                         /* unmasked */
	pci_write(&d->pci, cap + PCI_MSIX_FLAGS, 2,
		  (ctrl | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
	w16(d->common, VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);   /* no config interrupts */
	return true;
}

static bool setup_queue(struct vblk *d, char *why, size_t len)
{
	uint16_t max, vector = d->mode == VBLK_IRQ ? 0 : VIRTIO_MSI_NO_VECTOR;

	w16(d->common, VIRTIO_PCI_COMMON_Q_SELECT, 0);
	max = r16(d->common, VIRTIO_PCI_COMMON_Q_SIZE);
	if (max == 0)
		return fail(d, why, len, "the device has no queue 0");
	for (d->qsize = VBLK_QUEUE_MAX; d->qsize > max; d->qsize >>= 1)
		;
	if (d->qsize < 4 || (max & (max - 1)))
		return fail(d, why, len, "unusable queue size %u", max);
	/* Three pages: descriptors (16 * 256), avail ring (6 + 2 * 256) and
	 * used ring (6 + 8 * 256), each page-aligned, zeroed. */
	uint8_t *mem = heap_alloc(3 * 4096, 4096);
	if (!mem)
		return fail(d, why, len, "no memory for the queue");
	memset(mem, 0, 3 * 4096);
	d->desc = (struct vring_desc *)mem;
	d->avail = (volatile uint16_t *)(mem + 4096);
	d->used = (volatile uint16_t *)(mem + 8192);
	for (uint16_t i = 0; i < d->qsize; i++)
		d->desc[i].next = (uint16_t)(i + 1);
	d->free_head = 0;
	d->num_free = d->qsize;
	d->avail_idx = d->last_used = 0;
	d->avail[0] = d->mode == VBLK_POLL ? VRING_AVAIL_F_NO_INTERRUPT : 0;
	*used_event(d) = d->mode == VBLK_POLL ? (uint16_t)-1 : 0;

	w16(d->common, VIRTIO_PCI_COMMON_Q_SIZE, d->qsize);
	w16(d->common, VIRTIO_PCI_COMMON_Q_MSIX, vector);
	if (r16(d->common, VIRTIO_PCI_COMMON_Q_MSIX) != vector)
		return fail(d, why, len, "the device refused MSI-X vector %u for queue 0", vector);
	w64(d->common, VIRTIO_PCI_COMMON_Q_DESCLO, (uint64_t)(uintptr_t)d->desc);
	w64(d->common, VIRTIO_PCI_COMMON_Q_AVAILLO, (uint64_t)(uintptr_t)d->avail);
	w64(d->common, VIRTIO_PCI_COMMON_Q_USEDLO, (uint64_t)(uintptr_t)d->used);
	w16(d->common, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
	return true;
}

int vblk_open(struct vblk *d, enum vblk_mode mode, char *why, size_t len)
{
	struct region caps[VIRTIO_PCI_CAP_DEVICE_CFG + 1] = {{0}};
	uint32_t notify_mult = 0;

	memset(d, 0, sizeof(*d));
	why[0] = 0;
	d->mode = mode;
	d->irq_slot = 0;
	if (!pci_scan(is_virtio_blk, &d->pci))
		return STATUS_UNAVAILABLE;
	pci_name(&d->pci, d->name);
	find_caps(d, caps, &notify_mult);
	struct region *common = &caps[VIRTIO_PCI_CAP_COMMON_CFG];
	struct region *notify_cfg = &caps[VIRTIO_PCI_CAP_NOTIFY_CFG];
	struct region *device = &caps[VIRTIO_PCI_CAP_DEVICE_CFG];
	if (!common->found || !notify_cfg->found || !device->found) {
		fail(d, why, len, "no VIRTIO 1.x capabilities (a legacy-only device, such as "
		     "QEMU's disable-modern=on): the guest drives VIRTIO 1.x devices only");
		return STATUS_UNAVAILABLE;
	}
	if (common->length < sizeof(struct virtio_pci_common_cfg) ||
	    device->length < sizeof(((struct virtio_blk_config *)0)->capacity)) {
		fail(d, why, len, "its configuration structures are too small");
		return STATUS_UNAVAILABLE;
	}
	if (!map_region(d, common, "common configuration", why, len) ||
	    !map_region(d, notify_cfg, "notification", why, len) ||
	    !map_region(d, device, "device configuration", why, len))
		return STATUS_UNAVAILABLE;
	/* Firmware may leave decoding off (vmm, bare metal); DMA needs bus
	 * mastering; interrupts, when wanted, are MSI-X, never INTx. */
	uint32_t cmd = pci_read(&d->pci, PCI_COMMAND, 2);
	uint32_t want = cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
	if (want != cmd)
		pci_write(&d->pci, PCI_COMMAND, 2, want);
	d->common = (volatile uint8_t *)(uintptr_t)common->address;
	d->devcfg = (volatile uint8_t *)(uintptr_t)device->address;

	if (!negotiate(d, why, len))
		return STATUS_UNAVAILABLE;
	read_config(d, device->length);
	if (mode == VBLK_IRQ && !setup_msix(d, why, len))
		return STATUS_UNAVAILABLE;
	if (!setup_queue(d, why, len))
		return STATUS_UNAVAILABLE;
	uint64_t notify = notify_cfg->address +
			  (uint64_t)r16(d->common, VIRTIO_PCI_COMMON_Q_NOFF) * notify_mult;
	if (notify + 2 > notify_cfg->address + notify_cfg->length) {
		fail(d, why, len, "queue 0's notify address lies outside its structure");
		return STATUS_UNAVAILABLE;
	}
	d->notify = (volatile uint16_t *)(uintptr_t)notify;
	if (d->nseg_max > d->qsize - 2u)
		d->nseg_max = d->qsize - 2u;
	w8(d->common, VIRTIO_PCI_COMMON_STATUS,
	   S_DRIVER_STEPS | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	if (r8(d->common, VIRTIO_PCI_COMMON_STATUS) & VIRTIO_CONFIG_S_FAILED) {
		fail(d, why, len, "the device failed when started");
		return STATUS_UNAVAILABLE;
	}
	return 0;
}

uint64_t vblk_max_request(const struct vblk *d)
{
	return (uint64_t)d->seg_size * d->nseg_max;
}

const char *vblk_status_name(int status)
{
	switch (status) {
	case VBLK_S_OK: return "OK";
	case VBLK_S_IOERR: return "I/O error";
	case VBLK_S_UNSUPP: return "unsupported request";
	case VBLK_S_TIMEOUT: return "no completion within " "60" " s";
	case VBLK_S_BADREQ: return "request outside the disk or its limits";
	default: return "unknown status";
	}
}

/* ---- the I/O path --------------------------------------------------------- */

static void queue_lock(struct vblk *d)
{
	unsigned spins = 0;

	while (__atomic_exchange_n(&d->lock, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&d->lock, __ATOMIC_RELAXED)) {
			__builtin_ia32_pause();
			/* The holder may have lost its vCPU to us: give it back. */
			if (d->share_cpus && ++spins >= LOCK_SPINS) {
				sys_yield();
				spins = 0;
			}
		}
	}
}

static bool queue_trylock(struct vblk *d)
{
	return !__atomic_load_n(&d->lock, __ATOMIC_RELAXED) &&
	       !__atomic_exchange_n(&d->lock, 1, __ATOMIC_ACQUIRE);
}

static void queue_unlock(struct vblk *d)
{
	__atomic_store_n(&d->lock, 0, __ATOMIC_RELEASE);
}

static uint16_t used_idx(const struct vblk *d)
{
	return __atomic_load_n(&d->used[1], __ATOMIC_ACQUIRE);
}

/* Every completion the device has posted: free its descriptors, mark its
 * slot done.  With the lock held. */
static void reap(struct vblk *d)
{
	uint16_t idx = used_idx(d);

again:
	while (d->last_used != idx) {
		volatile uint32_t *elem = (volatile uint32_t *)(d->used + 2) +
					  2 * (d->last_used & (d->qsize - 1));
		uint16_t head = (uint16_t)elem[0], i = head, n = 1;
		struct vblk_req *r;

		d->last_used++;
		if (head >= d->qsize || !(r = d->inflight[head]))
			continue;            /* a device bug; nothing of ours to free */
		d->inflight[head] = NULL;
		while (d->desc[i].flags & VRING_DESC_F_NEXT) {
			i = d->desc[i].next;
			n++;
		}
		d->desc[i].next = d->free_head;
		d->free_head = head;
		d->num_free = (uint16_t)(d->num_free + n);
		__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	}
	if (d->event_idx) {
		/* The next completion's interrupt while a thread sleeps for
		 * one, or none (polling, or every waiter still spinning): half
		 * the index space away from what we reaped.  Not one behind
		 * it: a device that published that entry and reads used_event
		 * only after we reaped it would find it in the range it just
		 * published (vring_need_event) and interrupt. */
		uint16_t want = d->mode == VBLK_IRQ && d->sleepers ? d->last_used
								   : (uint16_t)(d->last_used + 0x8000);

		if (*used_event(d) != want) {
			*used_event(d) = want;
			/* The store before the index load: a completion posted
			 * meanwhile is either seen here or interrupts. */
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if ((idx = used_idx(d)) != d->last_used)
				goto again;
		}
	}
}

/* Puts the request on the avail ring; with the lock held and `n` free
 * descriptors. */
static void post(struct vblk *d, struct vblk_req *r, enum vblk_type type, void *buf,
		 uint32_t len, uint16_t n)
{
	uint16_t head = d->free_head, i = head;
	uint16_t data_flags = VRING_DESC_F_NEXT | (type == VBLK_T_IN ? VRING_DESC_F_WRITE : 0);

	d->desc[i] = (struct vring_desc){(uint64_t)(uintptr_t)&r->hdr, sizeof(r->hdr),
					 VRING_DESC_F_NEXT, d->desc[i].next};
	i = d->desc[i].next;
	for (uint32_t done = 0; done < len; done += d->seg_size) {
		uint32_t piece = len - done < d->seg_size ? len - done : d->seg_size;

		d->desc[i] = (struct vring_desc){(uint64_t)(uintptr_t)buf + done, piece,
						 data_flags, d->desc[i].next};
		i = d->desc[i].next;
	}
	d->desc[i] = (struct vring_desc){(uint64_t)(uintptr_t)&r->status, 1,
					 VRING_DESC_F_WRITE, d->desc[i].next};
	d->free_head = d->desc[i].next;
	d->num_free = (uint16_t)(d->num_free - n);
	d->inflight[head] = r;
	d->avail[2 + (d->avail_idx & (d->qsize - 1))] = head;
	/* Descriptors and ring entry before the index (x86 keeps stores in
	 * order; this keeps the compiler from reordering them). */
	__atomic_store_n(&d->avail[1], ++d->avail_idx, __ATOMIC_RELEASE);
}

/* A waiter's look at the used ring: reaps what the device posted, unless
 * another thread holds the lock (it reaps them then); true if it reaped. */
static bool reap_if_posted(struct vblk *d)
{
	if (used_idx(d) == __atomic_load_n(&d->last_used, __ATOMIC_RELAXED) || !queue_trylock(d))
		return false;
	reap(d);
	queue_unlock(d);
	return true;
}

static int wait_poll(struct vblk *d, struct vblk_req *r)
{
	uint64_t spins = 0, start = rdtsc();

	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		if (reap_if_posted(d))
			continue;
		__builtin_ia32_pause();
		spins++;
		if (d->share_cpus && spins % POLL_SPINS == 0) {
			sys_yield();
			r->yields++;
		}
		if (spins % 4096 == 0 && rdtsc() - start > VBLK_TIMEOUT_S * sys->tsc_hz)
			return VBLK_S_TIMEOUT;
	}
	return VBLK_S_OK;
}

/* Interrupt mode, hybrid (as Linux blk-mq's polling before it sleeps):
 * spin on the used ring for a while first, with the device asked for no
 * interrupt (no waiter sleeps), since a sleep costs a system call, an
 * interrupt and a wake-up, where a fast disk's completion comes sooner.
 * The while: twice the recent completion time (an average, TSC cycles),
 * at most VBLK_SPIN_MAX_US; none where threads outnumber vCPUs (the
 * spinner would hold the vCPU a sibling needs). */
static uint64_t spin_budget(const struct vblk *d)
{
	uint64_t cap = sys->tsc_hz / 1000000 * VBLK_SPIN_MAX_US;

	if (d->share_cpus)
		return 0;
	return d->latency_avg && 2 * d->latency_avg < cap ? 2 * d->latency_avg : cap;
}

static bool spin_for(struct vblk *d, struct vblk_req *r, uint64_t budget)
{
	uint64_t start = rdtsc();

	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		if (rdtsc() - start >= budget)
			return false;
		if (reap_if_posted(d))
			continue;
		__builtin_ia32_pause();
	}
	return true;
}

static int wait_irq(struct vblk *d, struct vblk_req *r)
{
	if (spin_for(d, r, spin_budget(d))) {
		r->irq_spun++;
		return VBLK_S_OK;
	}
	/* A sleeper asks for the next completion's interrupt (reap: the
	 * used_event store, then a second look at the ring). */
	r->irq_armed++;
	queue_lock(d);
	d->sleepers++;
	queue_unlock(d);
	for (;;) {
		/* The count first: an interrupt after it wakes the wait below. */
		uint64_t seen = sys->irq_count[d->irq_slot];

		queue_lock(d);
		reap(d);
		queue_unlock(d);
		if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
			break;
		sys_irq_wait(d->irq_slot, seen);
		r->irq_waits++;
	}
	/* No sleeper left: the next completion's interrupt is taken back,
	 * so a request that is then caught spinning gets none. */
	queue_lock(d);
	d->sleepers--;
	reap(d);
	queue_unlock(d);
	return VBLK_S_OK;
}

int vblk_rw(struct vblk *d, struct vblk_req *r, enum vblk_type type, uint64_t offset,
	    void *buf, uint32_t len)
{
	uint32_t nseg = 0;
	uint16_t n;
	int status;

	if (type == VBLK_T_FLUSH) {
		offset = 0;
		len = 0;
	} else {
		nseg = (len + d->seg_size - 1) / d->seg_size;
		if (len == 0 || (offset | len) & (d->blk_size - 1) || offset > d->capacity ||
		    len > d->capacity - offset || nseg > d->nseg_max)
			return VBLK_S_BADREQ;
	}
	n = (uint16_t)(2 + nseg);
	r->hdr.type = type;
	r->hdr.ioprio = 0;
	r->hdr.sector = offset / VBLK_SECTOR;
	r->status = 0xff;
	r->done = 0;
	r->requests++;

	queue_lock(d);
	while (d->num_free < n) {
		/* Every descriptor is in flight: wait for some to come back. */
		reap(d);
		if (d->num_free >= n)
			break;
		queue_unlock(d);
		if (d->share_cpus)
			sys_yield();
		else
			__builtin_ia32_pause();
		queue_lock(d);
	}
	post(d, r, type, buf, len, n);
	uint16_t new_idx = d->avail_idx;
	queue_unlock(d);

	/* The index store before the flags load (a store-load order). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	bool notify = d->event_idx ?
		vring_need_event(*avail_event(d), new_idx, (uint16_t)(new_idx - 1)) :
		!(__atomic_load_n(&d->used[0], __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY);
	if (notify) {
		*d->notify = 0;              /* queue 0; the exit */
		r->notifies++;
	} else {
		r->notifies_skipped++;
	}

	uint64_t posted = rdtsc();

	status = d->mode == VBLK_IRQ ? wait_irq(d, r) : wait_poll(d, r);
	if (status == VBLK_S_OK) {
		/* The recent completion time, for the next spin (a race
		 * between threads only blurs an average). */
		int64_t took = (int64_t)(rdtsc() - posted);

		d->latency_avg = (uint64_t)((int64_t)d->latency_avg + (took - (int64_t)d->latency_avg) / 8);
	}
	return status != VBLK_S_OK ? status : r->status;
}
