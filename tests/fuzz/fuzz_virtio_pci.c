/*
 * fuzz_virtio_pci.c - a hostile virtio driver on the virtio-pci transport
 * of a real virtio-blk disk (a memfd): the input is a list of 12-byte
 * operations, each an access of 1 to 8 bytes to BAR 0 (common
 * configuration, ISR, device configuration, notify doorbells, MSI-X table
 * and PBA), a write to guest RAM (rings, requests), a write to PCI
 * configuration space (MSI-X enable and mask, decoding), the I/O thread's
 * turn (serve the queue, polling or not), a device event (used-buffer
 * interrupt, NEEDS_RESET), or a driver's set-up sequence with fuzzed
 * choices.  Doorbells go where KVM would send them: to the I/O thread when
 * an ioeventfd sits there, to vmm otherwise.
 *
 * Besides the sanitizers, checks after every operation: FEATURES_OK only
 * with a subset of the device's features that has VERSION_1, and the
 * driver's features frozen from then until a reset; DRIVER_OK only with
 * FEATURES_OK; NEEDS_RESET exactly when the device stopped serving; an
 * enabled queue's rings lie in RAM, aligned, and do not move; vectors are
 * valid or NO_VECTOR; num_queues and the device's features read back as
 * offered; the ISR clears when read; device configuration reads back as
 * the device built it; MSI-X messages only while enabled and unmasked,
 * with the table's address and data; the doorbells follow BAR 0.  After a
 * reset (status 0 written), every register of the common configuration,
 * for every queue, and the ISR read back their reset values.
 */
#include "fuzz.h"
#include "virtio_blk.h"

#include <string.h>

#define OP_BYTES 12
#define RAM (64 * KIB)
#define PAGE 4096
#define DISK_BYTES (64 * KIB)

static struct guest_memory mem;
static char disk_path[64];
static struct blk_dev blk;
static struct pci_bus bus;
static struct virtio_pci *vp = &blk.vp;

static uint64_t doorbell[VIRTIO_PCI_MAX_QUEUES];   /* the fake KVM's ioeventfds */
static unsigned resets;
static bool kicked;
static uint64_t frozen_features;                    /* at FEATURES_OK, */
static unsigned frozen_resets;                      /* after this many resets */
static bool frozen_valid;
static struct virtq enabled[VIRTIO_PCI_MAX_QUEUES]; /* each queue as enabled */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_keep_stderr();
	fuzz_guest_ram(RAM, &mem);
	fuzz_memory_disk(DISK_BYTES, disk_path);
	return 0;
}

/* ---- the fake KVM and the device's hooks ------------------------------------ */

static void hook_ioeventfd(struct virtio_pci *v, unsigned q, uint64_t gpa, bool assign)
{
	FUZZ_CHECK(q < v->nqueues, "doorbell for queue %u", q);
	FUZZ_CHECK(assign ? !doorbell[q] : doorbell[q] == gpa,
		   "doorbell of queue %u %s at 0x%llx", q, assign ? "given twice" :
		   "removed where it was not", (unsigned long long)gpa);
	doorbell[q] = assign ? gpa : 0;
}

static void hook_kick(struct virtio_pci *v, unsigned q)
{
	(void)v;
	(void)q;
	kicked = true;   /* the I/O thread would wake up */
}

static void hook_reset(struct virtio_pci *v)
{
	(void)v;
	resets++;
}

static void hook_queue_enabled(struct virtio_pci *v, unsigned q)
{
	FUZZ_CHECK(q < v->nqueues && v->vq[q].ready, "queue %u reported enabled", q);
	enabled[q] = v->vq[q];
}

static void hook_msi(struct virtio_pci *v, unsigned vec, uint64_t addr, uint32_t data)
{
	FUZZ_CHECK(vec < VIRTIO_PCI_MSIX_VECTORS, "MSI-X vector %u", vec);
	const struct msix_entry *e = &v->msix[vec];

	FUZZ_CHECK((v->msix_control & PCI_MSIX_FLAGS_ENABLE) &&
		   !(v->msix_control & PCI_MSIX_FLAGS_MASKALL) &&
		   !(e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT),
		   "MSI-X vector %u sent while disabled or masked", vec);
	FUZZ_CHECK(addr == ((uint64_t)e->addr_hi << 32 | e->addr_lo) && data == e->data,
		   "MSI-X vector %u sent with another message than its entry's", vec);
}

/* ---- the driver's side ---------------------------------------------------------- */

static uint64_t bar0(void)
{
	return vp->func.bars[0].active;
}

/* The I/O thread's turn, as after a wake-up (blk_serve). */
static void serve(unsigned budget, bool polling)
{
	blk.polling = polling;
	for (unsigned i = 0; i < 4 && blk_process_queue(&blk, budget) >= (int)budget; i++)
		;
	kicked = false;
}

/* An access to BAR 0 at `off`, as KVM delivers it: a write on a doorbell
 * with an ioeventfd wakes the I/O thread without reaching vmm. */
static void bar0_access(uint64_t off, bool write, uint8_t *buf, unsigned size)
{
	uint64_t base = bar0();

	if (!base)
		return;   /* the guest turned decoding off: nothing answers */
	for (unsigned q = 0; write && q < vp->nqueues; q++)
		if (doorbell[q] && doorbell[q] == base + off) {
			serve(VIRTIO_BLK_QUEUE_SIZE, false);
			return;
		}
	pci_mmio_access(&bus, base + off, write, buf, size);
	if (kicked)
		serve(VIRTIO_BLK_QUEUE_SIZE, false);
}

static uint64_t rd(uint64_t off, unsigned size)
{
	uint8_t buf[8] = {0};

	bar0_access(off, false, buf, size);
	return le_get(buf, size);
}

static void wr(uint64_t off, unsigned size, uint64_t v)
{
	uint8_t buf[8];

	le_put(buf, 8, v);
	bar0_access(off, true, buf, size);
}

#define COMMON(field) (VIRTIO_PCI_COMMON + offsetof(struct virtio_pci_common_cfg, field))

/* A driver's set-up (VIRTIO 1.x 3.1.1) with the fuzzer's choices: which
 * features, where the rings go, and where it stops. */
static void driver_setup(const uint8_t *op)
{
	unsigned stop = op[1] % 8, qsize = 1u << (op[2] % 9);
	uint64_t desc = (uint64_t)(op[3] % 16) * PAGE;

	wr(COMMON(device_status), 1, 0);
	wr(COMMON(device_status), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	if (stop == 0)
		return;
	wr(COMMON(device_status), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	for (unsigned sel = 0; sel < 2; sel++) {
		wr(COMMON(device_feature_select), 4, sel);
		uint32_t offered = (uint32_t)rd(COMMON(device_feature), 4);

		wr(COMMON(guest_feature_select), 4, sel);
		wr(COMMON(guest_feature), 4, offered & (uint32_t)le_get(op + 4 + 4 * sel, 4));
	}
	if (stop == 1)
		return;
	wr(COMMON(device_status), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	   VIRTIO_CONFIG_S_FEATURES_OK);
	if (stop == 2)
		return;
	wr(COMMON(queue_select), 2, 0);
	wr(COMMON(queue_size), 2, qsize);
	wr(COMMON(queue_msix_vector), 2, op[1] >> 7);
	wr(COMMON(msix_config), 2, (op[1] >> 6) & 1);
	wr(COMMON(queue_desc_lo), 8, desc);
	wr(COMMON(queue_avail_lo), 8, desc + 16 * qsize);
	wr(COMMON(queue_used_lo), 8, (desc + 16 * qsize + 6 + 2 * qsize + 3) & ~3ull);
	if (stop == 3)
		return;
	wr(COMMON(queue_enable), 2, 1);
	if (stop == 4)
		return;
	wr(COMMON(device_status), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* ---- invariants ------------------------------------------------------------------- */

static bool ring_ok(uint64_t gpa, uint64_t len, uint64_t align)
{
	return !(gpa % align) && gpa <= RAM && len <= RAM - gpa;
}

static void check(void)
{
	uint8_t st = vp->status;
	uint64_t base = bar0();

	if (st & VIRTIO_CONFIG_S_FEATURES_OK) {
		FUZZ_CHECK(!(vp->driver_features & ~vp->device_features) &&
			   (vp->driver_features >> VIRTIO_F_VERSION_1 & 1),
			   "FEATURES_OK with features 0x%llx",
			   (unsigned long long)vp->driver_features);
		FUZZ_CHECK(!frozen_valid || frozen_resets != resets ||
			   vp->driver_features == frozen_features,
			   "features changed after FEATURES_OK");
		frozen_features = vp->driver_features;
		frozen_resets = resets;
		frozen_valid = true;
	} else {
		frozen_valid = false;
	}
	FUZZ_CHECK(!(st & VIRTIO_CONFIG_S_DRIVER_OK) || (st & VIRTIO_CONFIG_S_FEATURES_OK),
		   "DRIVER_OK without FEATURES_OK");
	FUZZ_CHECK(!(st & VIRTIO_CONFIG_S_NEEDS_RESET) == !vp->broken,
		   "NEEDS_RESET %d but broken %d", !!(st & VIRTIO_CONFIG_S_NEEDS_RESET),
		   vp->broken);
	FUZZ_CHECK(vp->config_vector < VIRTIO_PCI_MSIX_VECTORS ||
		   vp->config_vector == VIRTIO_MSI_NO_VECTOR, "config vector %u",
		   vp->config_vector);
	for (unsigned q = 0; q < vp->nqueues; q++) {
		const struct virtq *v = &vp->vq[q];
		uint64_t n = v->size;

		FUZZ_CHECK(vp->queue_vector[q] < VIRTIO_PCI_MSIX_VECTORS ||
			   vp->queue_vector[q] == VIRTIO_MSI_NO_VECTOR, "queue vector");
		FUZZ_CHECK(doorbell[q] == (base ? base + VIRTIO_PCI_NOTIFY +
					   VIRTIO_PCI_NOTIFY_MULT * q : 0),
			   "doorbell %u at 0x%llx with BAR 0 at 0x%llx", q,
			   (unsigned long long)doorbell[q], (unsigned long long)base);
		if (!v->ready)
			continue;
		/* The driver may write any size (the register keeps it); only an
		 * enabled queue must have one the device can serve. */
		FUZZ_CHECK(n && n <= vp->max_queue_size && !(n & (n - 1)),
			   "queue %u enabled with size %llu", q, (unsigned long long)n);
		FUZZ_CHECK(ring_ok(v->desc_gpa, 16 * n, 16) && ring_ok(v->avail_gpa, 6 + 2 * n, 2) &&
			   ring_ok(v->used_gpa, 6 + 8 * n, 4), "queue %u enabled with rings "
			   "outside RAM or misaligned", q);
		FUZZ_CHECK(v->size == enabled[q].size && v->desc_gpa == enabled[q].desc_gpa &&
			   v->avail_gpa == enabled[q].avail_gpa &&
			   v->used_gpa == enabled[q].used_gpa, "queue %u changed while enabled", q);
	}
}

/* The driver reads back every register after a reset. */
static void check_reset_values(void)
{
	static const struct { uint8_t off, len; uint64_t value; } regs[] = {
		{COMMON(device_feature_select), 4, 0}, {COMMON(guest_feature_select), 4, 0},
		{COMMON(guest_feature), 4, 0}, {COMMON(msix_config), 2, VIRTIO_MSI_NO_VECTOR},
		{COMMON(device_status), 1, 0}, {COMMON(queue_msix_vector), 2, VIRTIO_MSI_NO_VECTOR},
		{COMMON(queue_size), 2, VIRTIO_BLK_QUEUE_SIZE}, {COMMON(queue_enable), 2, 0},
		{COMMON(queue_desc_lo), 8, 0}, {COMMON(queue_avail_lo), 8, 0},
		{COMMON(queue_used_lo), 8, 0},
	};

	if (!bar0())
		return;
	FUZZ_CHECK(rd(VIRTIO_PCI_ISR, 1) == 0, "ISR set after a reset");
	FUZZ_CHECK(rd(COMMON(queue_select), 2) == 0, "queue_select after a reset");
	FUZZ_CHECK(rd(COMMON(device_feature), 4) == (uint32_t)vp->device_features,
		   "device features after a reset");
	for (unsigned q = vp->nqueues; q-- > 0;) {
		wr(COMMON(queue_select), 2, q);
		for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
			uint64_t got = rd(regs[i].off, regs[i].len);

			FUZZ_CHECK(got == regs[i].value, "register at 0x%x of queue %u reads 0x%llx "
				   "after a reset, not 0x%llx", regs[i].off, q,
				   (unsigned long long)got, (unsigned long long)regs[i].value);
		}
	}
}

/* ---- operations ------------------------------------------------------------------- */

static const uint64_t regions[6] = {
	VIRTIO_PCI_COMMON, VIRTIO_PCI_ISR, VIRTIO_PCI_DEVICE, VIRTIO_PCI_NOTIFY,
	VIRTIO_PCI_MSIX_TABLE, VIRTIO_PCI_MSIX_PBA,
};

static void bar_op(const uint8_t *op, bool anywhere)
{
	bool write = op[0] & 8;
	unsigned size = 1 + (op[0] >> 5);
	uint64_t off = (uint64_t)le_get(op + 2, 2);
	unsigned resets_before = resets;
	uint8_t buf[8];

	off = anywhere ? off % VIRTIO_PCI_BAR_SIZE : regions[op[1] % 6] + off % 0x40;
	if (off + size > VIRTIO_PCI_BAR_SIZE)
		return;
	memcpy(buf, op + 4, 8);
	bar0_access(off, write, buf, size);
	if (!bar0())
		return;
	if (!write && off == VIRTIO_PCI_ISR)
		FUZZ_CHECK(vp->isr == 0, "the ISR did not clear when read");
	if (!write && off >= VIRTIO_PCI_DEVICE && off < VIRTIO_PCI_DEVICE + 0x40)
		for (unsigned i = 0; i < size; i++) {
			uint64_t o = off - VIRTIO_PCI_DEVICE + i;

			FUZZ_CHECK(buf[i] == (o < vp->devcfg_len ? vp->devcfg[o] : 0),
				   "device configuration byte %llu", (unsigned long long)o);
		}
	if (!write && off <= COMMON(num_queues) && off + size > COMMON(num_queues))
		FUZZ_CHECK(buf[COMMON(num_queues) - off] == vp->nqueues, "num_queues");
	/* A reset by a write that ends at the status byte: nothing after it
	 * was written, so everything reads back its reset value. */
	if (write && resets != resets_before && off + size <= COMMON(config_generation))
		check_reset_values();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disk_config disk = {.path = disk_path};
	char err[256];

	memset(mem.base, 0, RAM);
	memset(doorbell, 0, sizeof(doorbell));
	memset(enabled, 0, sizeof(enabled));
	resets = 0;
	kicked = false;
	frozen_valid = false;
	if (blk_open(&blk, &disk, &mem, NULL, err, sizeof(err)))
		abort();
	vp->hooks = (struct virtio_pci_hooks){
		.reset = hook_reset, .queue_enabled = hook_queue_enabled,
		.ioeventfd = hook_ioeventfd, .kick = hook_kick, .msi = hook_msi,
	};
	pci_bus_init(&bus);
	if (pci_plug(&bus, &vp->func, err, sizeof(err)))
		abort();
	check();

	for (size_t at = 0; at + OP_BYTES <= size; at += OP_BYTES) {
		const uint8_t *op = data + at;

		switch (op[0] & 7) {
		case 0:
		case 1:
			bar_op(op, false);
			break;
		case 2:
			bar_op(op, true);
			break;
		case 3:     /* guest RAM: rings, headers, buffers */
			memcpy(mem.base + le_get(op + 2, 2) % (RAM - 8), op + 4, 8);
			break;
		case 4: {   /* configuration space: MSI-X control, command, anything */
			static const unsigned widths[4] = {1, 2, 4, 4};
			unsigned w = widths[(op[0] >> 3) & 3];
			unsigned off = op[1] & 1 ? vp->msix_cap + PCI_MSIX_FLAGS :
				       op[1] & 2 ? PCI_COMMAND : op[2];

			pci_config_write(&bus, vp->func.devfn, off & ~(w - 1), w,
					 (uint32_t)le_get(op + 4, 4));
			break;
		}
		case 5:     /* the I/O thread's turn */
			serve(1 + op[1] % 64, op[1] & 0x80);
			break;
		case 6:     /* the device: a used buffer, or a failure */
			pthread_mutex_lock(&vp->lock);
			if (op[1] & 1)
				virtio_pci_set_broken(vp, "fuzzed failure");
			else
				virtio_pci_notify_queue(vp, op[2] % (vp->nqueues + 1));
			pthread_mutex_unlock(&vp->lock);
			break;
		default:
			driver_setup(op);
			break;
		}
		check();
	}
	/* The driver goes away: a reset leaves the registers at their reset
	 * values. */
	unsigned before = resets;

	wr(COMMON(device_status), 1, 0);
	if (resets != before)
		check_reset_values();
	check();
	blk_close(&blk);
	pthread_mutex_destroy(&vp->lock);
	pthread_cond_destroy(&vp->idle);
	pthread_mutex_destroy(&bus.lock);
	return 0;
}
