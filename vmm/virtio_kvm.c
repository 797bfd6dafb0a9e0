/*
 * virtio_kvm.c - the KVM side of every virtio-pci device (see
 * virtio_kvm.h).  No request is served on a vCPU thread: the device's I/O
 * thread sleeps in poll() on an eventfd which KVM signals itself when the
 * guest writes a queue's doorbell (KVM_IOEVENTFD on the notify address,
 * moved with the BAR), so a notify costs the guest no exit to vmm.  On each
 * wake-up it calls the device's queue handler, which sends at most one
 * interrupt per batch: an MSI-X message through KVM_IRQFD on a GSI whose
 * MSI route follows the guest's MSI-X table.
 */
#include "virtio_kvm.h"

#include "error.h"
#include "kvm.h"
#include "options.h"
#include "pci.h"
#include "stats.h"
#include "vmm.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void hook_ioeventfd(struct virtio_pci *vp, unsigned q, uint64_t gpa, bool assign)
{
	struct virtio_kvm *k = vp->transport;

	(void)q;   /* one eventfd serves every queue of the device */
	if (kvm_ioeventfd(k->vm, k->notify_fd, gpa, assign) < 0)
		vmm_error("%s: cannot %s the doorbell at 0x%llx: %s (notifies now exit "
			  "to vmm)", vp->func.name, assign ? "register" : "remove",
			  (unsigned long long)gpa, strerror(errno));
}

static void hook_kick(struct virtio_pci *vp, unsigned q)
{
	struct virtio_kvm *k = vp->transport;
	uint64_t one = 1;

	(void)q;
	if (write(k->notify_fd, &one, sizeof(one)) < 0)
		vmm_error("%s: cannot wake its I/O thread: %s", vp->func.name, strerror(errno));
}

static void hook_msi(struct virtio_pci *vp, unsigned v, uint64_t addr, uint32_t data)
{
	struct virtio_kvm *k = vp->transport;
	uint64_t one = 1;

	/* Re-route only when the guest changed the message. */
	if (!k->route_valid[v] || k->routed[v].addr_lo != (uint32_t)addr ||
	    k->routed[v].addr_hi != (uint32_t)(addr >> 32) || k->routed[v].data != data) {
		if (kvm_set_msi_route(k->vm, k->gsi[v], addr, data) < 0) {
			vmm_error("%s: cannot route MSI-X vector %u: %s", vp->func.name, v,
				  strerror(errno));
			return;
		}
		k->routed[v] = (struct msix_entry){(uint32_t)addr, (uint32_t)(addr >> 32), data, 0};
		k->route_valid[v] = true;
	}
	k->interrupts++;
	if (write(k->irq_fd[v], &one, sizeof(one)) < 0)
		vmm_error("%s: cannot raise MSI-X vector %u: %s", vp->func.name, v,
			  strerror(errno));
}

/* Polling pays only while the poller has a CPU of its own.  When it
 * has not, the vCPU that would post the next request waits for the poller's
 * CPU (the windows run out empty, the request comes by doorbell after
 * them), or a request posted without a doorbell waits for the poller's
 * next time slice (a long gap between two looks).  Either way polling then
 * stops for POLL_BACKOFF_NS: requests come by doorbell, as without it.
 * (An adaptive window needs no count of empty windows: each one shrinks
 * or grows it, poll_window.c.) */
#define POLL_WASTED_MAX 8                  /* empty fixed windows in a row */
#define POLL_PREEMPTED_NS 500000ull        /* a gap between two looks */
#define POLL_BACKOFF_NS 50000000ull

static void poll_backoff(struct virtio_kvm *k, uint64_t now)
{
	k->poll_off_until = now + POLL_BACKOFF_NS;
	k->poll_backoffs++;
	k->poll_wasted = 0;
}

/* Serves the queues without sleeping (the driver told not to notify)
 * until they have been empty for the window, then asks for notifies
 * again; *idle_since: when they were last found empty after serving.
 * false when vmm is stopping. */
static bool poll_queues(struct virtio_kvm *k, uint64_t *idle_since)
{
	uint64_t now = now_ns(), last = now, found = 0;

	for (;;) {
		uint64_t looked = now;     /* the look starts (a pause after the last) */
		int n = k->serve(k->vp, true);

		now = now_ns();
		if (n > 0) {
			/* The wait ended at the look, not once it was served. */
			k->polled += (uint64_t)n;
			found += (uint64_t)n;
			k->polled_waits++;
			k->polled_wait_ns += looked > *idle_since ? looked - *idle_since : 0;
			*idle_since = last = now;
			continue;
		}
		/* A look at an empty ring takes well under a microsecond:
		 * a long one (with the pause before it) means the poller was
		 * off its CPU, not serving. */
		if (now - last > POLL_PREEMPTED_NS) {
			poll_backoff(k, now);
			break;
		}
		last = now;
		if (atomic_load_explicit(&k->stopping, memory_order_relaxed))
			return false;
		if (n < 0 || now - *idle_since >= k->window.ns)
			break;
		/* pause, not sched_yield(): under EEVDF a yielding poller
		 * loses its place and the request it was to catch waits
		 * for its next time slice (measured on a busy host: up to
		 * 1.5x slower). */
		__builtin_ia32_pause();
	}
	if (found || k->window.mode != POLL_FIXED)
		k->poll_wasted = 0;
	else if (++k->poll_wasted >= POLL_WASTED_MAX)
		poll_backoff(k, now);
	/* Notifies on, and one more look: what came meanwhile is served. */
	int n = k->serve(k->vp, false);

	if (n > 0) {
		k->polled += (uint64_t)n;
		*idle_since = now_ns();
	}
	return true;
}

/* Whether this thread polls at all: a fixed window because it was asked
 * for, an adaptive one where the thread has a CPU of its own. */
static bool may_poll(const struct virtio_kvm *k)
{
	const struct vmm_config *cfg = k->vm->cfg;

	if (k->window.mode == POLL_FIXED)
		return true;
	return k->window.mode == POLL_ADAPTIVE && k->io.state.known &&
	       poll_has_own_cpu(&k->io.state.affinity, cfg->pin_cpus,
				cfg->pin_cpus ? cfg->pin_count : 0);
}

static void *io_thread(void *arg)
{
	struct virtio_kvm *k = arg;
	uint64_t idle_since = now_ns();

	k->polls = may_poll(k);
	for (;;) {
		if (k->polls && k->window.ns && now_ns() >= k->poll_off_until &&
		    !poll_queues(k, &idle_since))
			break;
		struct pollfd fds[2] = {{k->notify_fd, POLLIN, 0}, {k->stop_fd, POLLIN, 0}};
		uint64_t n;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		if (!(fds[0].revents & POLLIN) || read(k->notify_fd, &n, sizeof(n)) != sizeof(n))
			continue;
		uint64_t waited = now_ns() - idle_since;

		k->notifies++;
		k->woken_wait_ns += waited;
		if (k->polls)
			poll_window_after_block(&k->window, waited);
		k->serve(k->vp, false);
		idle_since = now_ns();
	}
	return NULL;
}

void virtio_kvm_init(struct virtio_kvm *k)
{
	memset(k, 0, sizeof(*k));
	k->notify_fd = k->stop_fd = -1;
	for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++)
		k->irq_fd[v] = -1;
}

int virtio_kvm_start(struct virtio_kvm *k, struct vm *vm, struct virtio_pci *vp,
		     virtio_serve_fn serve, const char *thread_name,
		     char *errbuf, size_t errlen)
{
	struct pci_bus *bus = pci_bus_get(vm, errbuf, errlen);
	const char *name = vp->func.name;

	if (!bus)
		return -1;
	k->vm = vm;
	k->vp = vp;
	k->serve = serve;
	vp->transport = k;
	vp->hooks.ioeventfd = hook_ioeventfd;
	vp->hooks.kick = hook_kick;
	vp->hooks.msi = hook_msi;
	k->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	k->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (k->notify_fd < 0 || k->stop_fd < 0) {
		snprintf(errbuf, errlen, "%s: eventfd: %s", name, strerror(errno));
		return -1;
	}
	for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++) {
		int gsi = kvm_alloc_msi_gsi(vm);

		k->irq_fd[v] = eventfd(0, EFD_CLOEXEC);
		if (gsi < 0 || k->irq_fd[v] < 0) {
			snprintf(errbuf, errlen, "%s: no interrupt line left for MSI-X", name);
			return -1;
		}
		k->gsi[v] = (unsigned)gsi;
		if (kvm_irqfd(vm, k->irq_fd[v], k->gsi[v], true) < 0) {
			snprintf(errbuf, errlen, "%s: KVM_IRQFD failed: %s", name,
				 strerror(errno));
			return -1;
		}
	}
	if (pci_plug(bus, &vp->func, errbuf, errlen))
		return -1;
	return io_thread_start(vm, &k->io, thread_name, io_thread, k, errbuf, errlen);
}

void virtio_kvm_stop(struct virtio_kvm *k)
{
	uint64_t one = 1;

	if (!k->io.started)
		return;
	atomic_store(&k->stopping, true);
	if (write(k->stop_fd, &one, sizeof(one)) < 0)
		vmm_error("%s: cannot stop its I/O thread", k->vp->func.name);
	io_thread_join(&k->io);
}

void virtio_kvm_close(struct virtio_kvm *k)
{
	for (unsigned v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++) {
		if (k->irq_fd[v] >= 0)
			close(k->irq_fd[v]);
		k->irq_fd[v] = -1;
	}
	if (k->notify_fd >= 0)
		close(k->notify_fd);
	if (k->stop_fd >= 0)
		close(k->stop_fd);
	k->notify_fd = k->stop_fd = -1;
}
