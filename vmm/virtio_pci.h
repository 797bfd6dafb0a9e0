/*
 * virtio_pci.h - the modern virtio-pci transport (virtio_pci.c), pure: no
 * KVM here, so its unit tests run anywhere.  The KVM side of a virtio
 * device (doorbells, interrupts, its I/O thread) is virtio_kvm.h.  Spec
 * constants are the kernel's: <linux/virtio_pci.h> (modern only),
 * <linux/virtio_config.h>, <linux/virtio_ring.h>.
 */
#ifndef VMM_VIRTIO_PCI_H
#define VMM_VIRTIO_PCI_H

#define VIRTIO_PCI_NO_LEGACY      /* our VIRTIO_PCI_ISR is the BAR offset */
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <pthread.h>

#include "pci.h"
#include "virtqueue.h"

/* * BAR 0, 32 KiB:  0x0000 common config   0x1000 ISR   0x2000 device config
 *                 0x3000 notify (4 bytes per queue)   0x4000 MSI-X table
 *                 0x5000 MSI-X PBA
 * Capabilities: virtio common, notify, ISR, device, PCI-config window,
 * and MSI-X (VIRTIO_PCI_MSIX_VECTORS vectors). */
#define VIRTIO_PCI_MAX_QUEUES 4
#define VIRTIO_PCI_MSIX_VECTORS 2
#define VIRTIO_PCI_BAR_SIZE 0x8000
#define VIRTIO_PCI_COMMON 0x0000
#define VIRTIO_PCI_ISR 0x1000
#define VIRTIO_PCI_DEVICE 0x2000
#define VIRTIO_PCI_NOTIFY 0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_MSIX_TABLE 0x4000
#define VIRTIO_PCI_MSIX_PBA 0x5000
#define VIRTIO_PCI_DEVCFG_MAX 64

struct virtio_pci;

/* What the transport asks of the device and of KVM (virtio_kvm.c sets the
 * last three).  Any hook may be NULL (unit tests); the transport calls them
 * with its lock held. */
struct virtio_pci_hooks {
	/* The driver reset the device (status 0): forget in-flight state. */
	void (*reset)(struct virtio_pci *vp);
	/* Queue `q` was enabled (its rings are checked to lie in RAM). */
	void (*queue_enabled)(struct virtio_pci *vp, unsigned q);
	/* Add (assign) or remove a notify doorbell at gpa for queue q. */
	void (*ioeventfd)(struct virtio_pci *vp, unsigned q, uint64_t gpa, bool assign);
	/* A notify write that reached vmm (no ioeventfd there): kick queue q. */
	void (*kick)(struct virtio_pci *vp, unsigned q);
	/* Deliver MSI-X vector v as message (addr, data). */
	void (*msi)(struct virtio_pci *vp, unsigned v, uint64_t addr, uint32_t data);
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;   /* ctrl bit 0: masked */
};

struct virtio_pci {
	pthread_mutex_t lock;
	pthread_cond_t idle;       /* signalled when busy drops to 0 */
	unsigned busy;             /* requests the device has taken, not yet done */
	const struct guest_memory *mem;
	struct pci_func func;
	struct virtio_pci_hooks hooks;
	void *opaque;              /* the device */
	void *transport;           /* what the hooks need (virtio_kvm.c's state) */
	uint64_t device_features, driver_features;
	uint32_t dfselect, gfselect;
	uint8_t status;
	uint8_t config_generation;
	uint8_t isr;
	uint16_t queue_select;
	uint16_t config_vector;
	unsigned nqueues;
	uint16_t max_queue_size;
	struct virtq vq[VIRTIO_PCI_MAX_QUEUES];
	uint16_t queue_vector[VIRTIO_PCI_MAX_QUEUES];
	uint8_t devcfg[VIRTIO_PCI_DEVCFG_MAX];
	unsigned devcfg_len;
	unsigned msix_cap, cfg_cap;   /* capability offsets in config space */
	uint16_t msix_control;     /* copy of the MSI-X message control word */
	struct msix_entry msix[VIRTIO_PCI_MSIX_VECTORS];
	bool msix_pending[VIRTIO_PCI_MSIX_VECTORS];
	uint64_t notify_gpa;       /* where doorbells are registered, 0 = none */
	bool broken;               /* NEEDS_RESET set; no more requests served */
	bool draining;             /* a reset waits for the device to finish */
};

/* Builds the PCI function (IDs, BAR 0, capabilities) of a modern virtio
 * device of type `device_id` (2 = block).  The device then fills devcfg. */
void virtio_pci_init(struct virtio_pci *vp, const struct guest_memory *mem,
		     unsigned device_id, uint16_t pci_class_code_hi, uint64_t features,
		     unsigned nqueues, uint16_t max_queue_size, unsigned devcfg_len);
/* BAR 0 access (the pci_bar rw function). */
bool virtio_pci_bar_rw(struct pci_func *f, unsigned bar, uint64_t off, bool is_write,
		       uint8_t *data, unsigned size);
/* True when queue q may be served (DRIVER_OK, enabled, not broken). */
bool virtio_pci_queue_live(const struct virtio_pci *vp, unsigned q);
/* Raises the used-buffer interrupt of queue q (ISR bit 0, then its MSI-X
 * vector unless masked, in which case it is left pending).  Lock held. */
void virtio_pci_notify_queue(struct virtio_pci *vp, unsigned q);
/* Sets NEEDS_RESET, stops serving, and sends a config-change interrupt. */
void virtio_pci_set_broken(struct virtio_pci *vp, const char *why);
/* Waits (lock held) until the device has finished what it took. */
void virtio_pci_drain(struct virtio_pci *vp);


#endif /* VMM_VIRTIO_PCI_H */
