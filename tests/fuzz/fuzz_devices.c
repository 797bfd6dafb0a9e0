/*
 * fuzz_devices.c - a hostile guest against vmm's whole device table: each
 * input builds a VM's devices as vmm does by default (devices_setup: the
 * serial port, debug-exit, the PCI bus, pci-testdev) plus a virtio-blk
 * disk on a memfd, then replays a list of 12-byte operations through the
 * real exit handler (vcpu_handle_exit, on a fake kvm_run page): port
 * exits of 1, 2 or 4 bytes, `rep ins/outs` bursts, MMIO exits of 1 to 8
 * bytes (KVM splits page-crossing accesses into any length), aimed at a
 * registered region, at a BAR wherever the guest moved it, or anywhere;
 * writes to guest RAM; PCI configuration accesses (latch, then data); and
 * the disk's I/O thread's turns.  It ends where vmm would: when the vCPU
 * stops (debug-exit, an access no device handles) or the input does;
 * then the devices are stopped and torn down as at vmm's exit.
 *
 * No /dev/kvm: the four calls devices make into KVM (kvm.h) are wrapped
 * at link time (unit.mk: -Wl,--wrap) by a fake KVM that behaves as KVM
 * does - ioeventfds with KVM's collision and removal rules, which take
 * matching writes before they reach vmm; irqfds and MSI routes only for
 * allocated GSIs and open descriptors.  The I/O threads are started as
 * usual, then stopped and stood in for by the fuzzer (read the doorbell
 * eventfd, call the device's queue handler), so a run is deterministic.
 *
 * Besides the sanitizers, checks: a freshly built VM's UART reads its
 * power-on values (one VM built after another in a process starts clean);
 * an exit stops the vCPU exactly when vmm must (debug-exit: the guest's
 * status, clamped to 119; an unhandled access: 122), else it leaves the VM
 * running; read-only bits of every PCI header never change; every
 * ioeventfd KVM holds lies inside a decoding BAR of its kind and names an
 * open descriptor; after the teardown no descriptor is left open (and
 * LeakSanitizer sees no memory left).
 */
#include "fuzz.h"
#include "options.h"
#include "virtio_blk.h"
#include "vmm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>

#define OP_BYTES 12
#define RAM (64 * KIB)
#define PAGE 4096
#define DISK_BYTES (64 * KIB)
#define COM1 0x3f8
#define DEBUG_EXIT 0xf4
#define MAX_COUNT 64                 /* items in one rep ins/outs exit */

static struct vmm_config cfg;
static struct guest_memory mem;
static int disk_fd;
static uint8_t *run_page;            /* kvm_run, then the port I/O data page */
static struct vm vm;

/* ---- the fake KVM ------------------------------------------------------------------ */

struct ioeventfd {
	int fd;
	bool pio, datamatch;
	uint64_t addr, data;
	unsigned len;                /* 0: any length */
};

#define MAX_IOEVENTFDS 64
static struct ioeventfd ioeventfds[MAX_IOEVENTFDS];
static unsigned nioeventfds;

int __wrap_kvm_ioeventfd_match(struct vm *v, int fd, bool pio, uint64_t addr, unsigned len,
			       bool datamatch, uint64_t data, bool assign);
int __wrap_kvm_ioeventfd(struct vm *v, int fd, uint64_t gpa, bool assign);
int __wrap_kvm_irqfd(struct vm *v, int fd, unsigned gsi, bool assign);
int __wrap_kvm_set_msi_route(struct vm *v, unsigned gsi, uint64_t addr, uint32_t data);

static bool fd_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

/* KVM_IOEVENTFD: kvm_assign_ioeventfd / kvm_deassign_ioeventfd's rules. */
int __wrap_kvm_ioeventfd_match(struct vm *v, int fd, bool pio, uint64_t addr, unsigned len,
			       bool datamatch, uint64_t data, bool assign)
{
	struct ioeventfd e = {fd, pio, datamatch, addr, datamatch ? data : 0, len};

	FUZZ_CHECK(v == &vm, "ioeventfd for another VM");
	if ((len != 0 && len != 1 && len != 2 && len != 4 && len != 8) || addr + len < addr) {
		errno = EINVAL;
		return -1;
	}
	for (unsigned i = 0; i < nioeventfds; i++) {
		struct ioeventfd *o = &ioeventfds[i];

		if (!assign) {
			if (o->fd == fd && o->pio == pio && o->addr == addr && o->len == len &&
			    o->datamatch == datamatch && (!datamatch || o->data == e.data)) {
				*o = ioeventfds[--nioeventfds];
				return 0;
			}
			continue;
		}
		if (o->pio == pio && o->addr == addr &&
		    (!o->len || !len || (o->len == len &&
		     (!o->datamatch || !datamatch || o->data == e.data)))) {
			errno = EEXIST;
			return -1;
		}
	}
	if (!assign) {
		errno = ENOENT;
		return -1;
	}
	if (!fd_open(fd)) {
		errno = EBADF;
		return -1;
	}
	if (nioeventfds == MAX_IOEVENTFDS) {
		errno = ENOSPC;
		return -1;
	}
	ioeventfds[nioeventfds++] = e;
	return 0;
}

int __wrap_kvm_ioeventfd(struct vm *v, int fd, uint64_t gpa, bool assign)
{
	return __wrap_kvm_ioeventfd_match(v, fd, false, gpa, 0, false, 0, assign);
}

static bool gsi_allocated(const struct vm *v, unsigned gsi)
{
	return gsi >= KVM_FIRST_MSI_GSI && gsi < v->next_gsi;
}

int __wrap_kvm_irqfd(struct vm *v, int fd, unsigned gsi, bool assign)
{
	FUZZ_CHECK(v == &vm && gsi_allocated(v, gsi) && (!assign || fd_open(fd)),
		   "irqfd %d on GSI %u, not allocated or not open", fd, gsi);
	return 0;
}

int __wrap_kvm_set_msi_route(struct vm *v, unsigned gsi, uint64_t addr, uint32_t data)
{
	(void)addr;
	(void)data;
	FUZZ_CHECK(v == &vm && gsi_allocated(v, gsi), "MSI route for GSI %u, not allocated", gsi);
	return 0;
}

/* KVM takes a write that an ioeventfd matches: it signals the eventfd and
 * the vCPU never exits. */
static bool kvm_takes(bool pio, uint64_t addr, const uint8_t *data, unsigned size)
{
	for (unsigned i = 0; i < nioeventfds; i++) {
		const struct ioeventfd *e = &ioeventfds[i];
		uint64_t one = 1;

		if (e->pio != pio || e->addr != addr || (e->len && e->len != size) ||
		    (e->len && e->datamatch && le_get(data, size) != e->data))
			continue;
		FUZZ_CHECK(write(e->fd, &one, sizeof(one)) == sizeof(one),
			   "ioeventfd %d cannot be signalled", e->fd);
		return true;
	}
	return false;
}

/* ---- set-up ------------------------------------------------------------------------ */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64], err[256];

	(void)argc;
	(void)argv;
	fuzz_keep_stderr();
	disk_fd = fuzz_memory_disk(DISK_BYTES, path);
	char *args[] = {"vmm", "--disk", path, "guest.elf", NULL};

	if (options_parse(4, args, &cfg, err, sizeof(err), stderr) != OPTIONS_RUN) {
		dprintf(fuzz_stderr, "options: %s\n", err);
		abort();
	}
	fuzz_guest_ram(RAM, &mem);
	run_page = aligned_alloc(PAGE, 2 * PAGE);
	return run_page ? 0 : -1;
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- one exit through vmm's exit handler -------------------------------------------- */

static struct kvm_run *run(void)
{
	return (struct kvm_run *)run_page;
}

/* Returns false when the vCPU stopped (vmm's exit loop ends there). */
static bool exit_to_vmm(void)
{
	bool debug_exit_write = false, handled;
	uint32_t status = 0;
	struct kvm_run *r = run();

	if (r->exit_reason == KVM_EXIT_IO) {
		handled = io_lookup(&vm.io, IO_PORT, r->io.port, r->io.size) >= 0;
		if (handled && r->io.direction == KVM_EXIT_IO_OUT && r->io.port >= DEBUG_EXIT &&
		    r->io.port < DEBUG_EXIT + 4) {
			debug_exit_write = true;
			status = (uint32_t)le_get(run_page + r->io.data_offset, r->io.size);
		}
	} else {
		handled = io_lookup(&vm.io, IO_MMIO, r->mmio.phys_addr, r->mmio.len) >= 0;
	}
	bool going_on = vcpu_handle_exit(&vm.vcpus[0]);

	if (debug_exit_write) {
		FUZZ_CHECK(!going_on && vm.stop_reason == STOP_GUEST_EXIT &&
			   vm.exit_status == (int)(status > VMM_STATUS_GUEST_MAX ?
						   VMM_STATUS_GUEST_MAX : status),
			   "debug-exit wrote %u, vmm stops with %d", status, vm.exit_status);
	} else if (!handled) {
		FUZZ_CHECK(!going_on && vm.stop_reason == STOP_BAD_ACCESS &&
			   vm.exit_status == VMM_STATUS_BAD_ACCESS,
			   "an access no device handles did not stop the vCPU");
	} else {
		FUZZ_CHECK(going_on && !atomic_load(&vm.stopping),
			   "a handled access stopped the vCPU (reason %d)", vm.stop_reason);
	}
	return going_on;
}

static bool port_exit(uint16_t port, bool write, unsigned size, unsigned count,
		      const uint8_t *value)
{
	struct kvm_run *r = run();
	uint8_t *data = run_page + PAGE;

	for (unsigned i = 0; i < count * size; i++)
		data[i] = write ? value[i % 8] : 0xa5;
	if (write && count == 1 && kvm_takes(true, port, data, size))
		return true;
	r->exit_reason = KVM_EXIT_IO;
	r->io.direction = write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
	r->io.size = (uint8_t)size;
	r->io.port = port;
	r->io.count = count;
	r->io.data_offset = PAGE;
	return exit_to_vmm();
}

static bool mmio_exit(uint64_t addr, bool write, unsigned size, const uint8_t *value)
{
	struct kvm_run *r = run();

	memcpy(r->mmio.data, value, 8);
	if (write && kvm_takes(false, addr, r->mmio.data, size))
		return true;
	r->exit_reason = KVM_EXIT_MMIO;
	r->mmio.phys_addr = addr;
	r->mmio.len = size;
	r->mmio.is_write = write;
	return exit_to_vmm();
}

/* ---- what the fuzzer stands in for: the disks' I/O threads ---------------------------- */

#define MAX_VIRTIO 8
static struct virtio_kvm *virtio[MAX_VIRTIO];
static unsigned nvirtio;

static void find_virtio_devices(void)
{
	nvirtio = 0;
	for (unsigned n = 0; n < vm.pci->nfuncs; n++) {
		struct pci_func *f = vm.pci->funcs[n];

		/* A virtio-pci function's opaque is its transport, whose
		 * `transport` is its KVM side (virtio_pci.h, virtio_kvm.h). */
		if (le_get(&f->cfg[PCI_VENDOR_ID], 2) != 0x1af4 || nvirtio == MAX_VIRTIO)
			continue;
		struct virtio_pci *vp = f->opaque;

		virtio[nvirtio++] = vp->transport;
	}
}

/* The I/O thread's loop body (virtio_kvm.c): after a doorbell, serve; a
 * polling thread serves without one. */
static void io_thread_turn(unsigned which, bool polling)
{
	struct virtio_kvm *k;
	struct pollfd p;
	uint64_t n;

	if (!nvirtio)
		return;
	k = virtio[which % nvirtio];
	p = (struct pollfd){k->notify_fd, POLLIN, 0};
	if (poll(&p, 1, 0) == 1 && read(k->notify_fd, &n, sizeof(n)) == sizeof(n)) {
		k->notifies++;
		k->serve(k->vp, false);
	} else if (polling) {
		k->serve(k->vp, true);
		k->serve(k->vp, false);
	}
}

/* ---- invariants ---------------------------------------------------------------------- */

static uint8_t pristine[PCI_MAX_DEVICES][256];

static bool inside_bar(bool pio, uint64_t addr)
{
	for (unsigned n = 0; n < vm.pci->nfuncs; n++)
		for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
			const struct pci_bar *b = &vm.pci->funcs[n]->bars[i];

			if (b->active && b->io == pio && addr >= b->active &&
			    addr < b->active + b->size)
				return true;
		}
	return false;
}

static void check(void)
{
	for (unsigned n = 0; n < vm.pci->nfuncs; n++) {
		const struct pci_func *f = vm.pci->funcs[n];

		for (unsigned o = 0; o < 256; o++)
			FUZZ_CHECK(!((f->cfg[o] ^ pristine[n][o]) & ~f->wmask[o]),
				   "%s: read-only bits of config byte 0x%x changed", f->name, o);
	}
	for (unsigned i = 0; i < nioeventfds; i++) {
		const struct ioeventfd *e = &ioeventfds[i];

		FUZZ_CHECK(inside_bar(e->pio, e->addr), "an ioeventfd at %s 0x%llx, where no "
			   "BAR decodes", e->pio ? "port" : "address",
			   (unsigned long long)e->addr);
		FUZZ_CHECK(fd_open(e->fd), "an ioeventfd on closed descriptor %d", e->fd);
	}
}

/* The UART of a new VM: divisor latch off, no interrupts, FIFO off,
 * transmitter empty, modem lines up. */
static void check_uart_power_on(void)
{
	static const uint8_t expect[8] = {0, 0, 0x01, 0, 0, 0x60, 0xb0, 0};
	uint8_t *data = run_page + PAGE;

	for (unsigned reg = 1; reg < 8; reg++) {
		if (!port_exit((uint16_t)(COM1 + reg), false, 1, 1, NULL))
			abort();
		FUZZ_CHECK(data[0] == expect[reg], "a new VM's UART register %u reads 0x%x, "
			   "not 0x%x", reg, data[0], expect[reg]);
	}
}

/* ---- operations ------------------------------------------------------------------------ */

static const unsigned port_sizes[4] = {1, 2, 4, 4};

/* A port: in a registered port region, in an I/O BAR, or anywhere. */
static uint16_t pick_port(uint8_t sel, uint16_t off)
{
	if (sel < 0xc0) {
		unsigned n = 0, want;

		for (unsigned i = 0; i < vm.io.count; i++)
			n += vm.io.regions[i].space == IO_PORT;
		want = sel % n;
		for (unsigned i = 0; i < vm.io.count; i++) {
			const struct io_region *r = &vm.io.regions[i];

			if (r->space == IO_PORT && !want--)
				return (uint16_t)(r->base + off % (r->len + 4));
		}
	}
	if (sel < 0xe0)
		for (unsigned n = 0; n < vm.pci->nfuncs; n++)
			for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
				const struct pci_bar *b = &vm.pci->funcs[n]->bars[i];

				if (b->io && b->active)
					return (uint16_t)(b->active + off % (2 * b->size));
			}
	return off;
}

/* An address: in a memory BAR (where it decodes), or anywhere in 4 GiB. */
static uint64_t pick_address(uint8_t sel, uint16_t off)
{
	const struct pci_bar *bars[PCI_MAX_DEVICES * PCI_STD_NUM_BARS];
	unsigned k = 0;

	for (unsigned n = 0; n < vm.pci->nfuncs; n++)
		for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
			const struct pci_bar *b = &vm.pci->funcs[n]->bars[i];

			if (!b->io && b->active)
				bars[k++] = b;
		}
	if (sel < 0x80 && k)
		return bars[sel % k]->active + off % (2 * bars[sel % k]->size);
	return PCI_MMIO_START + (uint64_t)off * 0x100 * (sel & 0x3f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	unsigned fds;

	if (ftruncate(disk_fd, 0) || ftruncate(disk_fd, DISK_BYTES))
		abort();
	memset(mem.base, 0, RAM);
	memset(run_page, 0, 2 * PAGE);
	nioeventfds = 0;
	fds = open_fds();

	memset(&vm, 0, sizeof(vm));
	vm_init(&vm, &cfg);
	vm.mem = mem;
	vm.stop_fd = eventfd(0, EFD_CLOEXEC);
	vm.nvcpus = 1;
	vm.vcpus = calloc(1, sizeof(*vm.vcpus));
	if (vm.stop_fd < 0 || !vm.vcpus)
		abort();
	vm.vcpus[0] = (struct vcpu){.vm = &vm, .fd = -1, .run = run(), .host_cpu = -1};
	if (devices_setup(&vm, err, sizeof(err))) {
		dprintf(fuzz_stderr, "device set-up failed: %s\n", err);
		abort();
	}
	find_virtio_devices();
	for (unsigned i = 0; i < nvirtio; i++)
		virtio_kvm_stop(virtio[i]);   /* the fuzzer plays its I/O thread */
	for (unsigned n = 0; n < vm.pci->nfuncs; n++)
		memcpy(pristine[n], vm.pci->funcs[n]->cfg, 256);
	check_uart_power_on();
	check();

	bool running = true;

	for (size_t at = 0; running && at + OP_BYTES <= size; at += OP_BYTES) {
		const uint8_t *op = data + at;
		bool write = op[0] & 8;
		unsigned code = (op[0] >> 4) & 7;
		uint16_t off = (uint16_t)le_get(op + 2, 2);

		switch (op[0] & 7) {
		case 0:
		case 1:
			running = port_exit(pick_port(op[1], off), write, port_sizes[code & 3], 1,
					    op + 4);
			break;
		case 2: {   /* rep ins/outs: one exit, many items */
			unsigned width = port_sizes[code & 3];
			unsigned count = 2 + op[11] % (MAX_COUNT - 1);
			uint16_t port = pick_port(op[1], off);

			running = port_exit(port, write, width, count, op + 4);
			break;
		}
		case 3:
		case 4:
			running = mmio_exit(pick_address(op[1], off), write, code + 1, op + 4);
			break;
		case 5:     /* guest RAM: rings, requests, buffers */
			memcpy(mem.base + off % (RAM - 8), op + 4, 8);
			break;
		case 6: {   /* a configuration access: the latch, then the data */
			uint8_t latch[8];

			le_put(latch, 8, 0x80000000u | (uint32_t)op[1] << 8 | (op[2] & 0xfc));
			running = port_exit(PCI_CONFIG_PORT, true, 4, 1, latch) &&
				  port_exit((uint16_t)(0xcfc + (op[2] & 3)), write,
					    port_sizes[code & 3] > 4u - (op[2] & 3) ? 1 :
					    port_sizes[code & 3], 1, op + 4);
			break;
		}
		default:    /* a disk's I/O thread gets its turn */
			io_thread_turn(op[1], op[2] & 1);
			break;
		}
		check();
	}

	/* vmm's end: stop the devices (vm_run), then tear everything down. */
	devices_stop(&vm);
	vm.mem.base = NULL;          /* the fuzzer's RAM, kept for the next run */
	vm.vcpus[0].run = NULL;      /* not an mmap of KVM's */
	vm_destroy(&vm);
	FUZZ_CHECK(open_fds() == fds, "%u descriptors open after the teardown, %u before",
		   open_fds(), fds);
	return 0;
}
