/*
 * virtio_pci.c - the modern (VIRTIO 1.x, section 4.1) virtio-pci
 * transport: one 32-bit memory BAR holding the common configuration, ISR,
 * device configuration, the notify doorbells and the MSI-X table and PBA,
 * found by the driver through vendor capabilities.
 *
 * The device status state machine: writing 0 resets (after the device has
 * finished the requests it took); FEATURES_OK sticks only when the driver
 * accepted a subset of what we offer, VERSION_1 included; DRIVER_OK only
 * after FEATURES_OK; NEEDS_RESET is ours alone.  A queue is enabled only if
 * its rings lie in guest RAM, properly aligned.
 *
 * Registers are read by building a little-endian image of the structure and
 * copying the bytes asked for, and written by patching that image and then
 * applying every field the write touched: any access width the guest uses
 * (1, 2, 4 or 8 bytes, aligned or not) behaves like the hardware would.
 *
 * What needs KVM (doorbell ioeventfds, MSI messages) goes through hooks so
 * all of this is unit-tested without /dev/kvm.  The transport lock (vp->lock)
 * nests inside the PCI bus lock.
 */
#include "virtio_pci.h"

#include "error.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Register offsets, capability types and MSI-X bits are the kernel's
 * (<linux/virtio_pci.h>, <linux/pci_regs.h>). */
#define COMMON_LEN sizeof(struct virtio_pci_common_cfg)
#define ISR_QUEUE 1
#define ISR_CONFIG VIRTIO_PCI_ISR_CONFIG
/* pci_cfg_data of the PCI-config window capability */
#define CFG_DATA offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

enum common_field {
	F_DFSELECT, F_DF, F_GFSELECT, F_GF, F_MSIX_CONFIG, F_NUM_QUEUES, F_STATUS,
	F_GENERATION, F_Q_SELECT, F_Q_SIZE, F_Q_MSIX, F_Q_ENABLE, F_Q_NOTIFY_OFF,
	F_Q_DESC, F_Q_DRIVER, F_Q_DEVICE, F_COUNT
};

static const struct { uint8_t off, len; } fields[F_COUNT] = {
	[F_DFSELECT] = {VIRTIO_PCI_COMMON_DFSELECT, 4}, [F_DF] = {VIRTIO_PCI_COMMON_DF, 4},
	[F_GFSELECT] = {VIRTIO_PCI_COMMON_GFSELECT, 4}, [F_GF] = {VIRTIO_PCI_COMMON_GF, 4},
	[F_MSIX_CONFIG] = {VIRTIO_PCI_COMMON_MSIX, 2}, [F_NUM_QUEUES] = {VIRTIO_PCI_COMMON_NUMQ, 2},
	[F_STATUS] = {VIRTIO_PCI_COMMON_STATUS, 1},
	[F_GENERATION] = {VIRTIO_PCI_COMMON_CFGGENERATION, 1},
	[F_Q_SELECT] = {VIRTIO_PCI_COMMON_Q_SELECT, 2}, [F_Q_SIZE] = {VIRTIO_PCI_COMMON_Q_SIZE, 2},
	[F_Q_MSIX] = {VIRTIO_PCI_COMMON_Q_MSIX, 2}, [F_Q_ENABLE] = {VIRTIO_PCI_COMMON_Q_ENABLE, 2},
	[F_Q_NOTIFY_OFF] = {VIRTIO_PCI_COMMON_Q_NOFF, 2},
	[F_Q_DESC] = {VIRTIO_PCI_COMMON_Q_DESCLO, 8}, [F_Q_DRIVER] = {VIRTIO_PCI_COMMON_Q_AVAILLO, 8},
	[F_Q_DEVICE] = {VIRTIO_PCI_COMMON_Q_USEDLO, 8},
};

static struct virtq *selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->nqueues ? &vp->vq[vp->queue_select] : NULL;
}

static void common_image(struct virtio_pci *vp, uint8_t img[COMMON_LEN])
{
	struct virtq *q = selected(vp);
	unsigned qs = vp->queue_select;

	memset(img, 0, COMMON_LEN);
	uint64_t f[F_COUNT] = {
		[F_DFSELECT] = vp->dfselect,
		[F_DF] = vp->dfselect < 2 ? vp->device_features >> (32 * vp->dfselect) : 0,
		[F_GFSELECT] = vp->gfselect,
		[F_GF] = vp->gfselect < 2 ? vp->driver_features >> (32 * vp->gfselect) : 0,
		[F_MSIX_CONFIG] = vp->config_vector, [F_NUM_QUEUES] = vp->nqueues,
		[F_STATUS] = vp->status, [F_GENERATION] = vp->config_generation,
		[F_Q_SELECT] = vp->queue_select, [F_Q_MSIX] = VIRTIO_MSI_NO_VECTOR,
	};

	if (q) {
		f[F_Q_SIZE] = q->size;
		f[F_Q_MSIX] = vp->queue_vector[qs];
		f[F_Q_ENABLE] = q->ready;
		f[F_Q_NOTIFY_OFF] = qs;   /* notify at NOTIFY + 4 * queue */
		f[F_Q_DESC] = q->desc_gpa;
		f[F_Q_DRIVER] = q->avail_gpa;
		f[F_Q_DEVICE] = q->used_gpa;
	}
	for (unsigned i = 0; i < F_COUNT; i++)
		le_put(img + fields[i].off, fields[i].len, f[i]);
}

/* ---- MSI-X ---------------------------------------------------------------- */

static uint16_t msix_ctrl(const struct virtio_pci *vp)
{
	return vp->msix_control;
}

static bool msix_enabled(const struct virtio_pci *vp)
{
	return msix_ctrl(vp) & PCI_MSIX_FLAGS_ENABLE;
}

static void msix_fire(struct virtio_pci *vp, unsigned v)
{
	const struct msix_entry *e;

	if (v >= VIRTIO_PCI_MSIX_VECTORS || !msix_enabled(vp))
		return;
	e = &vp->msix[v];
	if ((msix_ctrl(vp) & PCI_MSIX_FLAGS_MASKALL) || (e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT)) {
		vp->msix_pending[v] = true;   /* sent when unmasked */
		return;
	}
	vp->msix_pending[v] = false;
	if (vp->hooks.msi)
		vp->hooks.msi(vp, v, (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
}

static void msix_fire_pending(struct virtio_pci *vp)
{
	for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++)
		if (vp->msix_pending[v])
			msix_fire(vp, v);
}

void virtio_pci_notify_queue(struct virtio_pci *vp, unsigned q)
{
	vp->isr |= ISR_QUEUE;
	if (q < vp->nqueues && vp->queue_vector[q] != VIRTIO_MSI_NO_VECTOR)
		msix_fire(vp, vp->queue_vector[q]);
}

void virtio_pci_set_broken(struct virtio_pci *vp, const char *why)
{
	if (!vp->broken)
		vmm_error("%s: %s; the device stops until the driver resets it",
			  vp->func.name, why);
	vp->broken = true;
	vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	vp->isr |= ISR_CONFIG;
	if (vp->config_vector != VIRTIO_MSI_NO_VECTOR)
		msix_fire(vp, vp->config_vector);
}

bool virtio_pci_queue_live(const struct virtio_pci *vp, unsigned q)
{
	return q < vp->nqueues && vp->vq[q].ready && !vp->broken && !vp->draining &&
	       (vp->status & VIRTIO_CONFIG_S_DRIVER_OK);
}

void virtio_pci_drain(struct virtio_pci *vp)
{
	vp->draining = true;
	while (vp->busy)
		pthread_cond_wait(&vp->idle, &vp->lock);
	vp->draining = false;
}

/* ---- common configuration -------------------------------------------------- */

static void reset(struct virtio_pci *vp)
{
	virtio_pci_drain(vp);
	vp->driver_features = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->status = 0;
	vp->isr = 0;
	vp->queue_select = 0;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	vp->broken = false;
	for (unsigned q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++) {
		memset(&vp->vq[q], 0, sizeof(vp->vq[q]));
		vp->vq[q].size = vp->max_queue_size;
		vp->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
	}
	if (vp->hooks.reset)
		vp->hooks.reset(vp);
}

static uint16_t checked_vector(uint64_t v)
{
	return v < VIRTIO_PCI_MSIX_VECTORS ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static void write_status(struct virtio_pci *vp, uint8_t v)
{
	uint8_t old = vp->status;

	if (v == 0) {
		reset(vp);
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		bool ok = !(vp->driver_features & ~vp->device_features) &&
			  (vp->driver_features & (1ull << VIRTIO_F_VERSION_1));

		if (!ok)
			v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(v & VIRTIO_CONFIG_S_FEATURES_OK))
		v &= (uint8_t)~VIRTIO_CONFIG_S_DRIVER_OK;
	v = (uint8_t)((v & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (old & VIRTIO_CONFIG_S_NEEDS_RESET));
	vp->status = v;
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		for (unsigned q = 0; q < vp->nqueues; q++) {
			vp->vq[q].event_idx =
				vp->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX);
			/* Requests queued before DRIVER_OK are served now. */
			if (vp->vq[q].ready && vp->hooks.kick)
				vp->hooks.kick(vp, q);
		}
	}
}

static void enable_queue(struct virtio_pci *vp, struct virtq *q)
{
	unsigned qi = (unsigned)(q - vp->vq);

	const char *problem;
	char why[192];

	if (q->ready)
		return;
	problem = q->size > vp->max_queue_size ? "its size is above the maximum" :
						 virtq_layout_problem(vp->mem, q);
	if (problem) {
		snprintf(why, sizeof(why), "queue %u enabled but %s (size %u, descriptors 0x%llx, "
			 "driver 0x%llx, device 0x%llx)", qi, problem, q->size,
			 (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
			 (unsigned long long)q->used_gpa);
		virtio_pci_set_broken(vp, why);
		return;
	}
	q->last_avail = q->used_idx = 0;
	q->signalled_valid = false;
	q->ready = true;
	if (vp->hooks.queue_enabled)
		vp->hooks.queue_enabled(vp, qi);
}

static void apply_field(struct virtio_pci *vp, enum common_field f, uint64_t v)
{
	struct virtq *q = selected(vp);
	bool features_fixed = vp->status & VIRTIO_CONFIG_S_FEATURES_OK;

	switch (f) {
	case F_DFSELECT: vp->dfselect = (uint32_t)v; break;
	case F_GFSELECT: vp->gfselect = (uint32_t)v; break;
	case F_GF:
		if (vp->gfselect < 2 && !features_fixed) {
			unsigned sh = 32 * vp->gfselect;

			vp->driver_features = (vp->driver_features & ~(0xffffffffull << sh)) |
					      (v & 0xffffffffull) << sh;
		}
		break;
	case F_MSIX_CONFIG: vp->config_vector = checked_vector(v); break;
	case F_STATUS: write_status(vp, (uint8_t)v); break;
	case F_Q_SELECT: vp->queue_select = (uint16_t)v; break;
	case F_Q_SIZE:
		/* Kept as written, and checked when the queue is enabled: split
		 * rings need a power of two no larger than our maximum, and a
		 * driver that wrote another size laid its rings out for that
		 * size, so ignoring the write would have the device read
		 * whatever follows them as ring entries. */
		if (q && !q->ready)
			q->size = (uint16_t)v;
		break;
	case F_Q_MSIX:
		if (q)
			vp->queue_vector[vp->queue_select] = checked_vector(v);
		break;
	case F_Q_ENABLE:
		if (q && v == 1)
			enable_queue(vp, q);
		break;
	case F_Q_DESC: if (q && !q->ready) q->desc_gpa = v; break;
	case F_Q_DRIVER: if (q && !q->ready) q->avail_gpa = v; break;
	case F_Q_DEVICE: if (q && !q->ready) q->used_gpa = v; break;
	default: break;   /* read-only */
	}
}

static void common_access(struct virtio_pci *vp, uint64_t off, bool is_write, uint8_t *data,
			  unsigned size)
{
	uint8_t img[COMMON_LEN];

	common_image(vp, img);
	if (!is_write) {
		for (unsigned i = 0; i < size; i++)
			data[i] = off + i < COMMON_LEN ? img[off + i] : 0;
		return;
	}
	for (unsigned i = 0; i < size; i++)
		if (off + i < COMMON_LEN)
			img[off + i] = data[i];
	for (unsigned f = 0; f < F_COUNT; f++) {
		uint64_t fo = fields[f].off, fl = fields[f].len;

		if (off < fo + fl && fo < off + size)
			apply_field(vp, f, le_get(img + fo, (unsigned)fl));
	}
}

/* ---- BAR 0 ------------------------------------------------------------------ */

static void msix_access(struct virtio_pci *vp, uint64_t off, bool is_write, uint8_t *data,
			unsigned size)
{
	uint8_t img[sizeof(vp->msix)];

	if (off >= VIRTIO_PCI_MSIX_PBA - VIRTIO_PCI_MSIX_TABLE) {
		uint64_t o = off - (VIRTIO_PCI_MSIX_PBA - VIRTIO_PCI_MSIX_TABLE);

		if (!is_write)
			for (unsigned i = 0; i < size; i++) {
				uint8_t byte = 0;

				for (unsigned b = 0; b < 8; b++) {
					uint64_t v = (o + i) * 8 + b;

					if (v < VIRTIO_PCI_MSIX_VECTORS && vp->msix_pending[v])
						byte |= (uint8_t)(1u << b);
				}
				data[i] = byte;
			}
		return;
	}
	for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++) {
		le_put(img + 16 * v, 4, vp->msix[v].addr_lo);
		le_put(img + 16 * v + 4, 4, vp->msix[v].addr_hi);
		le_put(img + 16 * v + 8, 4, vp->msix[v].data);
		le_put(img + 16 * v + 12, 4, vp->msix[v].ctrl);
	}
	if (!is_write) {
		for (unsigned i = 0; i < size; i++)
			data[i] = off + i < sizeof(img) ? img[off + i] : 0;
		return;
	}
	for (unsigned i = 0; i < size; i++)
		if (off + i < sizeof(img))
			img[off + i] = data[i];
	for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++) {
		vp->msix[v].addr_lo = le_get(img + 16 * v, 4) & ~3u;
		vp->msix[v].addr_hi = le_get(img + 16 * v + 4, 4);
		vp->msix[v].data = le_get(img + 16 * v + 8, 4);
		vp->msix[v].ctrl = le_get(img + 16 * v + 12, 4) & PCI_MSIX_ENTRY_CTRL_MASKBIT;
	}
	msix_fire_pending(vp);   /* an entry unmasked with a message waiting */
}

static void bar_access_locked(struct virtio_pci *vp, uint64_t off, bool is_write,
			      uint8_t *data, unsigned size)
{
	if (off < VIRTIO_PCI_COMMON + COMMON_LEN) {
		common_access(vp, off, is_write, data, size);
	} else if (off >= VIRTIO_PCI_ISR && off < VIRTIO_PCI_ISR + 4) {
		if (!is_write) {
			memset(data, 0, size);
			if (off == VIRTIO_PCI_ISR) {
				data[0] = vp->isr;   /* reading clears it */
				vp->isr = 0;
			}
		}
	} else if (off >= VIRTIO_PCI_DEVICE && off < VIRTIO_PCI_DEVICE + VIRTIO_PCI_DEVCFG_MAX) {
		uint64_t o = off - VIRTIO_PCI_DEVICE;

		if (!is_write)   /* no writable device configuration is offered */
			for (unsigned i = 0; i < size; i++)
				data[i] = o + i < vp->devcfg_len ? vp->devcfg[o + i] : 0;
	} else if (off >= VIRTIO_PCI_NOTIFY &&
		   off < VIRTIO_PCI_NOTIFY + VIRTIO_PCI_NOTIFY_MULT * vp->nqueues) {
		/* Only reached when no ioeventfd sits on the doorbell. */
		if (is_write && vp->hooks.kick)
			vp->hooks.kick(vp, (unsigned)(off - VIRTIO_PCI_NOTIFY) /
					   VIRTIO_PCI_NOTIFY_MULT);
		else if (!is_write)
			memset(data, 0, size);
	} else if (off >= VIRTIO_PCI_MSIX_TABLE && off < VIRTIO_PCI_MSIX_PBA + 0x1000) {
		msix_access(vp, off - VIRTIO_PCI_MSIX_TABLE, is_write, data, size);
	} else if (!is_write) {
		memset(data, 0, size);
	}
}

bool virtio_pci_bar_rw(struct pci_func *f, unsigned bar, uint64_t off, bool is_write,
		       uint8_t *data, unsigned size)
{
	struct virtio_pci *vp = f->opaque;

	if (bar != 0)
		return false;
	pthread_mutex_lock(&vp->lock);
	bar_access_locked(vp, off, is_write, data, size);
	pthread_mutex_unlock(&vp->lock);
	return true;
}

/* ---- PCI configuration space -------------------------------------------- */

static void bar_moved(struct pci_func *f, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct virtio_pci *vp = f->opaque;

	if (bar != 0)
		return;
	pthread_mutex_lock(&vp->lock);
	for (unsigned q = 0; q < vp->nqueues && vp->hooks.ioeventfd; q++) {
		uint64_t doorbell = VIRTIO_PCI_NOTIFY + (uint64_t)VIRTIO_PCI_NOTIFY_MULT * q;

		if (old_addr)
			vp->hooks.ioeventfd(vp, q, old_addr + doorbell, false);
		if (new_addr)
			vp->hooks.ioeventfd(vp, q, new_addr + doorbell, true);
	}
	vp->notify_gpa = new_addr ? new_addr + VIRTIO_PCI_NOTIFY : 0;
	pthread_mutex_unlock(&vp->lock);
}

/* The VIRTIO_PCI_CAP_PCI_CFG window: pci_cfg_data reads or writes
 * `length` bytes at `offset` of BAR `bar`, for drivers that cannot map it. */
static bool window_access(struct virtio_pci *vp, bool is_write, uint8_t *data)
{
	const uint8_t *cap = &vp->func.cfg[vp->cfg_cap];
	uint32_t off = (uint32_t)le_get(cap + VIRTIO_PCI_CAP_OFFSET, 4);
	uint32_t len = (uint32_t)le_get(cap + VIRTIO_PCI_CAP_LENGTH, 4);

	if (cap[VIRTIO_PCI_CAP_BAR] != 0 || (len != 1 && len != 2 && len != 4) ||
	    (uint64_t)off + len > VIRTIO_PCI_BAR_SIZE || off % len)
		return false;
	pthread_mutex_lock(&vp->lock);
	bar_access_locked(vp, off, is_write, data, len);
	pthread_mutex_unlock(&vp->lock);
	return true;
}

static bool cfg_read(struct pci_func *f, unsigned off, unsigned size, uint32_t *val)
{
	struct virtio_pci *vp = f->opaque;
	uint8_t data[4] = {0};

	if (off < vp->cfg_cap + CFG_DATA || off >= vp->cfg_cap + CFG_DATA + 4)
		return false;
	if (!window_access(vp, false, data))
		memset(data, 0, sizeof(data));
	memcpy(&f->cfg[vp->cfg_cap + CFG_DATA], data, 4);
	*val = le_get(&f->cfg[off], size);
	return true;
}

static void cfg_written(struct pci_func *f, unsigned off, unsigned size)
{
	struct virtio_pci *vp = f->opaque;

	if (off < vp->msix_cap + 4 && vp->msix_cap + PCI_MSIX_FLAGS < off + size) {
		pthread_mutex_lock(&vp->lock);
		vp->msix_control = (uint16_t)le_get(&f->cfg[vp->msix_cap + PCI_MSIX_FLAGS], 2);
		msix_fire_pending(vp);   /* enabled or unmasked with one waiting */
		pthread_mutex_unlock(&vp->lock);
	}
	if (off < vp->cfg_cap + CFG_DATA + 4 && vp->cfg_cap + CFG_DATA < off + size)
		window_access(vp, true, &f->cfg[vp->cfg_cap + CFG_DATA]);
}

static unsigned add_virtio_cap(struct pci_func *f, uint8_t type, uint32_t offset,
			       uint32_t length, const uint8_t *extra, unsigned extra_len)
{
	uint8_t body[24] = {0};

	/* body starts at cap_len: offsets are the kernel's minus vndr and next */
	body[VIRTIO_PCI_CAP_LEN - 2] = (uint8_t)(16 + extra_len);
	body[VIRTIO_PCI_CAP_CFG_TYPE - 2] = type;
	body[VIRTIO_PCI_CAP_BAR - 2] = 0;     /* BAR 0 */
	le_put(body + VIRTIO_PCI_CAP_OFFSET - 2, 4, offset);
	le_put(body + VIRTIO_PCI_CAP_LENGTH - 2, 4, length);
	if (extra_len)
		memcpy(body + 14, extra, extra_len);
	return pci_add_cap(f, PCI_CAP_ID_VNDR, body, 16 + extra_len);
}

void virtio_pci_init(struct virtio_pci *vp, const struct guest_memory *mem,
		     unsigned device_id, uint16_t pci_class_code_hi, uint64_t features,
		     unsigned nqueues, uint16_t max_queue_size, unsigned devcfg_len)
{
	uint8_t mult[4], data[4] = {0}, msix[10];

	memset(vp, 0, sizeof(*vp));
	pthread_mutex_init(&vp->lock, NULL);
	pthread_cond_init(&vp->idle, NULL);
	vp->mem = mem;
	vp->device_features = features | (1ull << VIRTIO_F_VERSION_1);
	vp->nqueues = nqueues < VIRTIO_PCI_MAX_QUEUES ? nqueues : VIRTIO_PCI_MAX_QUEUES;
	vp->max_queue_size = max_queue_size <= VIRTQ_MAX_SIZE ? max_queue_size : VIRTQ_MAX_SIZE;
	vp->devcfg_len = devcfg_len <= VIRTIO_PCI_DEVCFG_MAX ? devcfg_len : VIRTIO_PCI_DEVCFG_MAX;
	reset(vp);

	struct pci_func *f = &vp->func;

	/* Modern-only device IDs are 0x1040 + the virtio device type;
	 * subsystem 0x1100 as QEMU's modern devices have it. */
	pci_func_init(f, "virtio-pci", 0x1af4, (uint16_t)(0x1040 + device_id),
		      (uint32_t)pci_class_code_hi << 8, 1, 0x1af4, 0x1100);
	f->opaque = vp;
	f->bar_moved = bar_moved;
	f->cfg_written = cfg_written;
	f->cfg_read = cfg_read;
	pci_func_add_bar(f, 0, VIRTIO_PCI_BAR_SIZE, virtio_pci_bar_rw);

	add_virtio_cap(f, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON, COMMON_LEN, NULL, 0);
	le_put(mult, 4, VIRTIO_PCI_NOTIFY_MULT);
	add_virtio_cap(f, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY,
		       VIRTIO_PCI_NOTIFY_MULT * vp->nqueues, mult, 4);
	add_virtio_cap(f, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR, 1, NULL, 0);
	add_virtio_cap(f, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE, vp->devcfg_len, NULL, 0);
	vp->cfg_cap = add_virtio_cap(f, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, data, 4);
	/* The window's bar, offset, length and data are the driver's to write. */
	f->wmask[vp->cfg_cap + 4] = 0xff;
	memset(&f->wmask[vp->cfg_cap + 8], 0xff, 12);

	le_put(msix, 2, VIRTIO_PCI_MSIX_VECTORS - 1);   /* table size - 1 */
	le_put(msix + 2, 4, VIRTIO_PCI_MSIX_TABLE | 0);  /* BIR 0 */
	le_put(msix + 6, 4, VIRTIO_PCI_MSIX_PBA | 0);
	vp->msix_cap = pci_add_cap(f, PCI_CAP_ID_MSIX, msix, 12);
	f->wmask[vp->msix_cap + 3] = 0xc0;              /* enable, function mask */
	for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++)
		vp->msix[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;       /* masked at reset */
}
