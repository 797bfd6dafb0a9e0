/*
 * test_virtio_pci.c - the modern virtio-pci transport (vmm/virtio_pci.c):
 * the capability layout a driver discovers, feature negotiation (FEATURES_OK
 * refused for features we never offered or without VERSION_1), the status
 * state machine and reset, queue setup and its checks, ISR, MSI-X masking
 * and pending bits, doorbells following the BAR, and the PCI-config window.
 * The KVM side is replaced by recording hooks.
 */
#include "unit.h"

#include "virtio_pci.h"

#define RAM (16 * MIB)
#define FEATURES ((1ull << 9) | (1ull << 6))

struct record {
	unsigned resets, enabled, kicks, last_kick;
	unsigned msis, last_vector;
	uint64_t msi_addr;
	uint32_t msi_data;
	unsigned assigns, deassigns;
	uint64_t last_assign, last_deassign;
};

struct rig {
	struct guest_memory mem;
	struct pci_bus bus;
	struct virtio_pci vp;
	struct record rec;
	unsigned devfn;
};

static struct record *rec_of(struct virtio_pci *vp)
{
	return &((struct rig *)vp->opaque)->rec;
}

static void h_reset(struct virtio_pci *vp) { rec_of(vp)->resets++; }
static void h_enabled(struct virtio_pci *vp, unsigned q) { (void)q; rec_of(vp)->enabled++; }

static void h_kick(struct virtio_pci *vp, unsigned q)
{
	rec_of(vp)->kicks++;
	rec_of(vp)->last_kick = q;
}

static void h_msi(struct virtio_pci *vp, unsigned v, uint64_t addr, uint32_t data)
{
	struct record *r = rec_of(vp);

	r->msis++;
	r->last_vector = v;
	r->msi_addr = addr;
	r->msi_data = data;
}

static void h_ioeventfd(struct virtio_pci *vp, unsigned q, uint64_t gpa, bool assign)
{
	struct record *r = rec_of(vp);

	(void)q;
	if (assign) {
		r->assigns++;
		r->last_assign = gpa;
	} else {
		r->deassigns++;
		r->last_deassign = gpa;
	}
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	char err[256];

	assert_non_null(r);
	assert_int_equal(guest_map_noreserve(RAM, &r->mem), 0);
	pci_bus_init(&r->bus);
	virtio_pci_init(&r->vp, &r->mem, 2, 0x0180, FEATURES, 1, 256, 0x24);
	r->vp.opaque = r;
	r->vp.hooks = (struct virtio_pci_hooks){
		.reset = h_reset, .queue_enabled = h_enabled, .kick = h_kick, .msi = h_msi,
		.ioeventfd = h_ioeventfd,
	};
	le_put(&r->vp.devcfg[0], 8, 0x123456789ull);
	assert_int_equal(pci_plug(&r->bus, &r->vp.func, err, sizeof(err)), 0);
	r->devfn = r->vp.func.devfn;
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

static uint64_t rd(struct rig *r, uint64_t off, unsigned size)
{
	uint8_t data[8] = {0};
	uint64_t v = 0;

	assert_true(virtio_pci_bar_rw(&r->vp.func, 0, off, false, data, size));
	for (unsigned i = size; i-- > 0;)
		v = v << 8 | data[i];
	return v;
}

static void wr(struct rig *r, uint64_t off, unsigned size, uint64_t v)
{
	uint8_t data[8];

	le_put(data, size, v);
	assert_true(virtio_pci_bar_rw(&r->vp.func, 0, off, true, data, size));
}

#define STATUS 0x14

static uint64_t device_features(struct rig *r)
{
	wr(r, 0x00, 4, 0);
	uint64_t lo = rd(r, 0x04, 4);
	wr(r, 0x00, 4, 1);
	return lo | rd(r, 0x04, 4) << 32;
}

static void set_driver_features(struct rig *r, uint64_t f)
{
	wr(r, 0x08, 4, 0);
	wr(r, 0x0c, 4, (uint32_t)f);
	wr(r, 0x08, 4, 1);
	wr(r, 0x0c, 4, f >> 32);
}

static void negotiate(struct rig *r)
{
	wr(r, STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	set_driver_features(r, device_features(r));
	wr(r, STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	   VIRTIO_CONFIG_S_FEATURES_OK);
	assert_true(rd(r, STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
}

static void setup_queue(struct rig *r, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(r, 0x16, 2, 0);
	wr(r, 0x18, 2, 16);
	wr(r, 0x20, 4, (uint32_t)desc);     /* 64-bit fields as two dwords */
	wr(r, 0x24, 4, desc >> 32);
	wr(r, 0x28, 8, avail);              /* or one qword */
	wr(r, 0x30, 4, (uint32_t)used);
	wr(r, 0x34, 4, used >> 32);
	wr(r, 0x1c, 2, 1);
}

static void test_capabilities(void **state)
{
	struct rig *r = *state;
	unsigned p, seen = 0, msix = 0;

	(void)state;
	assert_int_equal(pci_config_read(&r->bus, r->devfn, 0, 4), 0x10421af4);
	assert_int_equal(pci_config_read(&r->bus, r->devfn, 0x08, 4), 0x01800001);
	for (p = pci_config_read(&r->bus, r->devfn, PCI_CAPABILITY_LIST, 1); p;
	     p = pci_config_read(&r->bus, r->devfn, p + 1, 1)) {
		unsigned id = pci_config_read(&r->bus, r->devfn, p, 1);

		if (id == PCI_CAP_ID_MSIX) {
			msix = p;
			continue;
		}
		assert_int_equal(id, PCI_CAP_ID_VNDR);
		unsigned type = pci_config_read(&r->bus, r->devfn, p + 3, 1);
		unsigned bar = pci_config_read(&r->bus, r->devfn, p + 4, 1);
		uint32_t off = pci_config_read(&r->bus, r->devfn, p + 8, 4);
		uint32_t len = pci_config_read(&r->bus, r->devfn, p + 12, 4);

		assert_int_equal(bar, 0);
		seen |= 1u << type;
		switch (type) {
		case 1: assert_int_equal(off, VIRTIO_PCI_COMMON); assert_int_equal(len, 0x38); break;
		case 2:
			assert_int_equal(off, VIRTIO_PCI_NOTIFY);
			assert_int_equal(pci_config_read(&r->bus, r->devfn, p + 2, 1), 20);
			assert_int_equal(pci_config_read(&r->bus, r->devfn, p + 16, 4),
					 VIRTIO_PCI_NOTIFY_MULT);
			break;
		case 3: assert_int_equal(off, VIRTIO_PCI_ISR); break;
		case 4: assert_int_equal(off, VIRTIO_PCI_DEVICE); assert_int_equal(len, 0x24); break;
		case 5: break;
		default: fail_msg("unexpected virtio capability type %u", type);
		}
	}
	assert_int_equal(seen, 0x3e);   /* types 1..5 */
	assert_true(msix != 0);
	assert_int_equal(pci_config_read(&r->bus, r->devfn, msix + 2, 2) & 0x7ff,
			 VIRTIO_PCI_MSIX_VECTORS - 1);
	assert_int_equal(pci_config_read(&r->bus, r->devfn, msix + 4, 4), VIRTIO_PCI_MSIX_TABLE);
	assert_int_equal(pci_config_read(&r->bus, r->devfn, msix + 8, 4), VIRTIO_PCI_MSIX_PBA);
	assert_int_equal(rd(r, 0x12, 2), 1);   /* num_queues */
	assert_int_equal(rd(r, VIRTIO_PCI_DEVICE, 8), 0x123456789ull);
	assert_int_equal(rd(r, VIRTIO_PCI_DEVICE + 0x40, 4), 0);   /* past devcfg */
}

static void test_feature_negotiation(void **state)
{
	struct rig *r = *state;
	uint64_t f = device_features(r);

	assert_int_equal(f, FEATURES | 1ull << VIRTIO_F_VERSION_1);
	/* A feature we never offered: FEATURES_OK does not stick. */
	wr(r, STATUS, 1, 3);
	set_driver_features(r, f | 1ull << 28);
	wr(r, STATUS, 1, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
	assert_int_equal(rd(r, STATUS, 1), 3);
	/* Without VERSION_1 (a legacy driver): refused too. */
	set_driver_features(r, FEATURES);
	wr(r, STATUS, 1, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
	assert_int_equal(rd(r, STATUS, 1), 3);
	/* DRIVER_OK before FEATURES_OK is not accepted. */
	wr(r, STATUS, 1, 3 | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_false(rd(r, STATUS, 1) & VIRTIO_CONFIG_S_DRIVER_OK);
	/* A subset with VERSION_1 is fine, and then features are fixed. */
	set_driver_features(r, 1ull << VIRTIO_F_VERSION_1 | 1ull << 9);
	wr(r, STATUS, 1, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
	assert_int_equal(rd(r, STATUS, 1), 3 | VIRTIO_CONFIG_S_FEATURES_OK);
	set_driver_features(r, f);
	assert_int_equal(r->vp.driver_features, 1ull << VIRTIO_F_VERSION_1 | 1ull << 9);
	wr(r, 0x08, 4, 1);
	assert_int_equal(rd(r, 0x0c, 4), 1);
	/* Selects past the two feature words read 0. */
	wr(r, 0x00, 4, 2);
	assert_int_equal(rd(r, 0x04, 4), 0);
}

static void test_queue_setup_and_reset(void **state)
{
	struct rig *r = *state;

	negotiate(r);
	wr(r, 0x16, 2, 0);
	assert_int_equal(rd(r, 0x18, 2), 256);      /* maximum offered */
	/* Sizes are kept as written; enabling checks them (below). */
	wr(r, 0x18, 2, 100);                        /* not a power of two */
	assert_int_equal(rd(r, 0x18, 2), 100);
	assert_int_equal(rd(r, 0x1e, 2), 0);        /* notify offset */
	setup_queue(r, 0x1000, 0x2000, 0x3000);
	assert_int_equal(rd(r, 0x1c, 2), 1);
	assert_int_equal(r->rec.enabled, 1);
	assert_int_equal(r->vp.vq[0].size, 16);
	assert_int_equal(rd(r, 0x28, 8), 0x2000);
	/* Addresses are frozen while the queue is enabled. */
	wr(r, 0x20, 4, 0x5000);
	assert_int_equal(rd(r, 0x20, 8), 0x1000);
	/* A queue that does not exist. */
	wr(r, 0x16, 2, 1);
	assert_int_equal(rd(r, 0x18, 2), 0);
	assert_int_equal(rd(r, 0x1a, 2), VIRTIO_MSI_NO_VECTOR);
	wr(r, 0x1c, 2, 1);                           /* ignored */
	wr(r, 0x16, 2, 0);

	wr(r, STATUS, 1, rd(r, STATUS, 1) | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(virtio_pci_queue_live(&r->vp, 0));
	assert_int_equal(r->rec.kicks, 1);   /* requests queued early are looked at */

	/* Reset. */
	wr(r, STATUS, 1, 0);
	assert_int_equal(rd(r, STATUS, 1), 0);
	assert_int_equal(r->rec.resets, 1);
	assert_int_equal(rd(r, 0x1c, 2), 0);
	assert_int_equal(rd(r, 0x18, 2), 256);
	assert_int_equal(rd(r, 0x20, 8), 0);
	assert_int_equal(r->vp.driver_features, 0);
	assert_false(virtio_pci_queue_live(&r->vp, 0));
}

static void test_bad_rings_need_reset(void **state)
{
	struct rig *r = *state;

	negotiate(r);
	setup_queue(r, 0x1000, RAM - 2, 0x3000);    /* avail ring leaves RAM */
	assert_int_equal(rd(r, 0x1c, 2), 0);
	assert_true(rd(r, STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(r->rec.enabled, 0);
	/* The driver cannot clear NEEDS_RESET except by resetting. */
	wr(r, STATUS, 1, 0x0b);
	assert_true(rd(r, STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(rd(r, VIRTIO_PCI_ISR, 1), 2);   /* config change */
	wr(r, STATUS, 1, 0);
	assert_int_equal(rd(r, STATUS, 1), 0);
	negotiate(r);
	setup_queue(r, 0x1008, 0x2000, 0x3000);     /* misaligned descriptors */
	assert_true(rd(r, STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* A queue size that is not a power of two, 0, or above the maximum is
 * refused when the queue is enabled: the driver laid its rings out for that
 * size, so the device must not serve them as if it were another (it used
 * to ignore the size write and serve 256 entries). */
static void test_bad_queue_size_needs_reset(void **state)
{
	struct rig *r = *state;
	static const uint16_t bad[] = {3, 100, 0, 512};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wr(r, STATUS, 1, 0);
		negotiate(r);
		wr(r, 0x16, 2, 0);
		wr(r, 0x18, 2, bad[i]);
		assert_int_equal(rd(r, 0x18, 2), bad[i]);
		wr(r, 0x20, 8, 0x1000);
		wr(r, 0x28, 8, 0x2000);
		wr(r, 0x30, 8, 0x3000);
		wr(r, 0x1c, 2, 1);
		assert_int_equal(rd(r, 0x1c, 2), 0);
		assert_true(rd(r, STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
		assert_int_equal(r->rec.enabled, 0);
	}
	/* After a reset, a good size works again. */
	wr(r, STATUS, 1, 0);
	negotiate(r);
	setup_queue(r, 0x1000, 0x2000, 0x3000);
	assert_int_equal(rd(r, 0x1c, 2), 1);
	assert_false(rd(r, STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void msix_enable(struct rig *r, bool maskall)
{
	pci_config_write(&r->bus, r->devfn, r->vp.msix_cap + 2, 2,
			 0x8000 | (maskall ? 0x4000 : 0));
}

static void test_isr_and_msix(void **state)
{
	struct rig *r = *state;
	uint64_t t = VIRTIO_PCI_MSIX_TABLE;

	negotiate(r);
	setup_queue(r, 0x1000, 0x2000, 0x3000);
	wr(r, 0x1a, 2, 1);                          /* queue 0 -> vector 1 */
	assert_int_equal(rd(r, 0x1a, 2), 1);
	wr(r, 0x10, 2, 7);                          /* no such vector */
	assert_int_equal(rd(r, 0x10, 2), VIRTIO_MSI_NO_VECTOR);

	/* MSI-X off: only the ISR says so. */
	virtio_pci_notify_queue(&r->vp, 0);
	assert_int_equal(r->rec.msis, 0);
	assert_int_equal(rd(r, VIRTIO_PCI_ISR, 1), 1);
	assert_int_equal(rd(r, VIRTIO_PCI_ISR, 1), 0);   /* read clears */

	/* Vectors start masked: the message waits in the PBA. */
	msix_enable(r, false);
	wr(r, t + 16, 4, 0xfee00000);
	wr(r, t + 20, 4, 0);
	wr(r, t + 24, 4, 0x41);
	virtio_pci_notify_queue(&r->vp, 0);
	assert_int_equal(r->rec.msis, 0);
	assert_int_equal(rd(r, VIRTIO_PCI_MSIX_PBA, 1), 2);
	wr(r, t + 28, 4, 0);                        /* unmask: delivered now */
	assert_int_equal(r->rec.msis, 1);
	assert_int_equal(r->rec.last_vector, 1);
	assert_int_equal(r->rec.msi_addr, 0xfee00000);
	assert_int_equal(r->rec.msi_data, 0x41);
	assert_int_equal(rd(r, VIRTIO_PCI_MSIX_PBA, 1), 0);
	assert_int_equal(rd(r, t + 24, 4), 0x41);

	/* Function mask holds everything back until cleared. */
	msix_enable(r, true);
	virtio_pci_notify_queue(&r->vp, 0);
	assert_int_equal(r->rec.msis, 1);
	msix_enable(r, false);
	assert_int_equal(r->rec.msis, 2);
	virtio_pci_notify_queue(&r->vp, 0);
	assert_int_equal(r->rec.msis, 3);
}

static void test_doorbells_follow_the_bar(void **state)
{
	struct rig *r = *state;
	unsigned d = r->devfn;

	assert_int_equal(r->rec.assigns, 1);   /* at plug time */
	assert_int_equal(r->rec.last_assign, PCI_MMIO_START + VIRTIO_PCI_NOTIFY);
	pci_config_write(&r->bus, d, PCI_BASE_ADDRESS_0, 4, 0xe0000000u);
	assert_int_equal(r->rec.deassigns, 1);
	assert_int_equal(r->rec.last_deassign, PCI_MMIO_START + VIRTIO_PCI_NOTIFY);
	assert_int_equal(r->rec.last_assign, 0xe0000000u + VIRTIO_PCI_NOTIFY);
	pci_config_write(&r->bus, d, PCI_COMMAND, 2, 0);
	assert_int_equal(r->rec.deassigns, 2);
	assert_int_equal(r->vp.notify_gpa, 0);
	/* A notify write that reaches vmm kicks the queue. */
	wr(r, VIRTIO_PCI_NOTIFY, 2, 0);
	assert_int_equal(r->rec.kicks, 1);
	assert_int_equal(r->rec.last_kick, 0);
}

static void test_pci_config_window(void **state)
{
	struct rig *r = *state;
	unsigned c = r->vp.cfg_cap, d = r->devfn;

	pci_config_write(&r->bus, d, c + 4, 1, 0);           /* BAR 0 */
	pci_config_write(&r->bus, d, c + 8, 4, 0x12);        /* num_queues */
	pci_config_write(&r->bus, d, c + 12, 4, 2);
	assert_int_equal(pci_config_read(&r->bus, d, c + 16, 2), 1);
	/* Writes go through too: the device status. */
	pci_config_write(&r->bus, d, c + 8, 4, STATUS);
	pci_config_write(&r->bus, d, c + 12, 4, 1);
	pci_config_write(&r->bus, d, c + 16, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	assert_int_equal(rd(r, STATUS, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	/* A bad length or a BAR that is not ours reads nothing. */
	pci_config_write(&r->bus, d, c + 12, 4, 3);
	assert_int_equal(pci_config_read(&r->bus, d, c + 16, 4), 0);
	pci_config_write(&r->bus, d, c + 12, 4, 4);
	pci_config_write(&r->bus, d, c + 8, 4, 0xfffffffc);
	assert_int_equal(pci_config_read(&r->bus, d, c + 16, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_setup_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rings_need_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_queue_size_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isr_and_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doorbells_follow_the_bar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_config_window, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
