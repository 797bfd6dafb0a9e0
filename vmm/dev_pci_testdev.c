/*
 * dev_pci_testdev.c - QEMU's pci-testdev (see pci_testdev.h for the
 * registers): a port and an MMIO register served by vmm, and the same
 * writes taken by KVM itself through an ioeventfd, so the guest's vmexit
 * test measures both paths, under vmm and under QEMU alike.
 *
 * The first half is the register protocol, with no KVM calls (unit-tested
 * through the hooks); the second is the device: one eventfd per eventfd
 * test, KVM_IOEVENTFD at the test's address while it is current (moved
 * with its BAR), option --no-testdev, and the counters for --stats and
 * --json.  The device is plugged after the disks (VMM_INIT_LATE), so their
 * slots and BARs are the same with or without it.
 *
 * Locking: every access reaches the device through the PCI bus, whose lock
 * is held (pci_mmio_access, pci_io_access, bar_moved), so the state needs
 * no lock of its own; --stats and --json read it after the vCPUs stopped.
 */
#include "pci_testdev.h"

#include "vmm.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define HALF_MEM (PCI_TESTDEV_MEM_SIZE / 2)   /* IOTEST_MEMSIZE in QEMU */
#define HALF_IO (PCI_TESTDEV_IO_SIZE / 2)     /* IOTEST_IOSIZE */
#define QEMU_SUBSYS_VENDOR 0x1af4             /* QEMU's default subsystem */
#define QEMU_SUBSYS_ID 0x1100

static const char *const type_names[PCI_TESTDEV_TYPES] = {"mmio", "portio"};
static const char *const kind_names[PCI_TESTDEV_KINDS] = {
	"no-eventfd", "wildcard-eventfd", "datamatch-eventfd",
};

/* ---- the registers (no KVM) ---------------------------------------------- */

static unsigned bar_of(enum pci_testdev_type type)
{
	return type == PCI_TESTDEV_MMIO ? PCI_TESTDEV_MEM_BAR : PCI_TESTDEV_IO_BAR;
}

static uint32_t test_offset(const struct pci_testdev_test *t)
{
	return (uint32_t)le_get(&t->hdr[PCI_TESTDEV_HDR_OFFSET], 4);
}

static void bar_moved(struct pci_func *f, unsigned bar, uint64_t old_addr,
		      uint64_t new_addr);

void pci_testdev_init(struct pci_testdev *d)
{
	memset(d, 0, sizeof(*d));
	pci_func_init(&d->func, "pci-testdev", PCI_TESTDEV_VENDOR, PCI_TESTDEV_DEVICE,
		      PCI_TESTDEV_CLASS, 0, QEMU_SUBSYS_VENDOR, QEMU_SUBSYS_ID);
	pci_func_add_bar(&d->func, PCI_TESTDEV_MEM_BAR, PCI_TESTDEV_MEM_SIZE, pci_testdev_bar_rw);
	pci_func_add_io_bar(&d->func, PCI_TESTDEV_IO_BAR, PCI_TESTDEV_IO_SIZE,
			    pci_testdev_bar_rw);
	d->func.bar_moved = bar_moved;
	d->func.opaque = d;
	d->current = -1;
	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++) {
		struct pci_testdev_test *t = &d->tests[i];
		enum pci_testdev_kind kind = i % PCI_TESTDEV_KINDS;
		int n;

		t->type = i / PCI_TESTDEV_KINDS;
		t->eventfd = kind != PCI_TESTDEV_NO_EVENTFD;
		t->match_data = kind != PCI_TESTDEV_WILDCARD;
		t->hdr[PCI_TESTDEV_HDR_TEST] = (uint8_t)i;
		t->hdr[PCI_TESTDEV_HDR_WIDTH] = 1;
		/* Each test's register sits in the second half of its BAR, one
		 * byte per test, at the test's global index (as QEMU has it). */
		le_put(&t->hdr[PCI_TESTDEV_HDR_OFFSET], 4,
		       (t->type == PCI_TESTDEV_MMIO ? HALF_MEM : HALF_IO) + i);
		t->hdr[PCI_TESTDEV_HDR_DATA] = t->match_data ? PCI_TESTDEV_DATAMATCH :
							       PCI_TESTDEV_NOMATCH;
		n = snprintf((char *)&t->hdr[PCI_TESTDEV_HDR_NAME],
			     PCI_TESTDEV_HDR_MAX - PCI_TESTDEV_HDR_NAME, "%s-%s",
			     type_names[t->type], kind_names[kind]);
		t->len = PCI_TESTDEV_HDR_NAME + (unsigned)n + 1;
	}
}

const char *pci_testdev_test_name(const struct pci_testdev *d, unsigned test)
{
	return (const char *)&d->tests[test].hdr[PCI_TESTDEV_HDR_NAME];
}

/* What KVM counted for test i since the last look. */
static void collect(struct pci_testdev *d, unsigned i)
{
	struct pci_testdev_test *t = &d->tests[i];
	uint64_t n;

	if (!t->eventfd || !d->hooks.drain)
		return;
	n = d->hooks.drain(d, i);
	t->kernel_writes += n;
	d->kernel_doorbells += n;
}

/* Asks KVM to take test i's writes at its place in its BAR, if the BAR
 * decodes; a refusal leaves them to vmm, which counts them as QEMU does
 * without an eventfd. */
static void register_eventfd(struct pci_testdev *d, unsigned i)
{
	struct pci_testdev_test *t = &d->tests[i];
	uint64_t base = d->func.bars[bar_of(t->type)].active;
	uint64_t addr = base + test_offset(t);

	if (!t->eventfd || !base || !d->hooks.ioeventfd || t->registered_at)
		return;
	if (d->hooks.ioeventfd(d, i, t->type == PCI_TESTDEV_PORTIO, addr, t->match_data,
			       t->hdr[PCI_TESTDEV_HDR_DATA], true) == 0) {
		t->registered_at = addr;
		return;
	}
	if (!d->ioeventfd_refusals++)
		d->ioeventfd_errno = errno;
}

static void unregister_eventfd(struct pci_testdev *d, unsigned i)
{
	struct pci_testdev_test *t = &d->tests[i];

	if (!t->registered_at)
		return;
	d->hooks.ioeventfd(d, i, t->type == PCI_TESTDEV_PORTIO, t->registered_at,
			   t->match_data, t->hdr[PCI_TESTDEV_HDR_DATA], false);
	t->registered_at = 0;
}

void pci_testdev_reset(struct pci_testdev *d)
{
	if (d->current < 0)
		return;
	unregister_eventfd(d, (unsigned)d->current);
	collect(d, (unsigned)d->current);   /* writes since the guest's last read */
	d->current = -1;
}

static void start(struct pci_testdev *d, unsigned i)
{
	struct pci_testdev_test *t = &d->tests[i];

	le_put(&t->hdr[PCI_TESTDEV_HDR_COUNT], 4, 0);
	t->runs++;
	d->current = (int)i;
	register_eventfd(d, i);
}

static void write_byte(struct pci_testdev *d, enum pci_testdev_type type, uint64_t addr,
		       uint8_t val)
{
	struct pci_testdev_test *t;

	if (addr == PCI_TESTDEV_HDR_TEST) {
		pci_testdev_reset(d);
		if (val < PCI_TESTDEV_KINDS)
			start(d, type * PCI_TESTDEV_KINDS + val);
		return;
	}
	if (d->current < 0)
		return;
	t = &d->tests[d->current];
	/* As in QEMU, the offset is compared whichever BAR the write came
	 * through. */
	if (addr != test_offset(t))
		return;
	if (t->match_data && val != t->hdr[PCI_TESTDEV_HDR_DATA])
		return;
	le_put(&t->hdr[PCI_TESTDEV_HDR_COUNT], 4,
	       (uint32_t)(le_get(&t->hdr[PCI_TESTDEV_HDR_COUNT], 4) + 1));
	t->user_writes++;
}

static uint8_t read_byte(struct pci_testdev *d, uint64_t addr)
{
	struct pci_testdev_test *t;

	if (d->current < 0)
		return 0;
	t = &d->tests[d->current];
	/* QEMU answers 0 from the name's NUL on, without looking at KVM. */
	if (addr + 1 >= t->len)
		return 0;
	collect(d, (unsigned)d->current);
	return t->hdr[addr];
}

bool pci_testdev_bar_rw(struct pci_func *f, unsigned bar, uint64_t off, bool is_write,
			uint8_t *data, unsigned size)
{
	struct pci_testdev *d = f->opaque;
	enum pci_testdev_type type = bar == PCI_TESTDEV_IO_BAR ? PCI_TESTDEV_PORTIO :
							       PCI_TESTDEV_MMIO;

	if (is_write)
		d->writes++;
	else
		d->reads++;
	/* A byte at a time, low address first, as QEMU splits a wide access
	 * for ops whose largest access is one byte. */
	for (unsigned i = 0; i < size; i++) {
		if (is_write)
			write_byte(d, type, off + i, data[i]);
		else
			data[i] = read_byte(d, off + i);
	}
	return true;
}

/* The current test's ioeventfd follows its BAR (or waits while the BAR
 * does not decode). */
static void bar_moved(struct pci_func *f, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct pci_testdev *d = f->opaque;

	(void)old_addr;
	(void)new_addr;   /* f->bars[bar].active already says where */
	if (d->current < 0 || bar_of(d->tests[d->current].type) != bar)
		return;
	unregister_eventfd(d, (unsigned)d->current);
	register_eventfd(d, (unsigned)d->current);
}

/* ---- the device: KVM, options, counters ------------------------------------ */

struct testdev_kvm {
	struct vm *vm;
	int fd[PCI_TESTDEV_TESTS];   /* eventfds of the eventfd tests, else -1 */
};

static struct pci_testdev testdev;
static struct testdev_kvm testdev_kvm = {
	.fd = {-1, -1, -1, -1, -1, -1},
};
static bool testdev_disabled;     /* --no-testdev */
static bool testdev_plugged;

static int hook_ioeventfd(struct pci_testdev *d, unsigned test, bool pio, uint64_t addr,
			  bool datamatch, uint8_t data, bool assign)
{
	struct testdev_kvm *k = d->transport;
	int ret = kvm_ioeventfd_match(k->vm, k->fd[test], pio, addr, 1, datamatch, data, assign);

	if (ret < 0 && (!assign || !d->ioeventfd_refusals)) {
		int err = errno;

		vmm_error("pci-testdev: KVM refused to %s the ioeventfd of %s at %s 0x%llx: "
			  "%s%s", assign ? "add" : "remove", pci_testdev_test_name(d, test),
			  pio ? "port" : "address", (unsigned long long)addr, strerror(err),
			  assign ? " (its writes are handled in vmm)" : "");
		errno = err;
	}
	return ret;
}

static uint64_t hook_drain(struct pci_testdev *d, unsigned test)
{
	struct testdev_kvm *k = d->transport;
	uint64_t n;

	/* Non-blocking: EAGAIN when KVM took nothing since the last read. */
	if (k->fd[test] < 0 || read(k->fd[test], &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static int testdev_setup(struct vm *vm, const struct vmm_config *cfg, char *errbuf,
			 size_t errlen)
{
	struct pci_bus *bus;

	(void)cfg;
	if (testdev_disabled)
		return 0;
	bus = pci_bus_get(vm, errbuf, errlen);
	if (!bus)
		return -1;
	pci_testdev_init(&testdev);
	testdev.hooks.ioeventfd = hook_ioeventfd;
	testdev.hooks.drain = hook_drain;
	testdev.transport = &testdev_kvm;
	testdev_kvm.vm = vm;
	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++) {
		if (!testdev.tests[i].eventfd)
			continue;
		testdev_kvm.fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (testdev_kvm.fd[i] < 0) {
			snprintf(errbuf, errlen, "pci-testdev: eventfd: %s", strerror(errno));
			return -1;
		}
	}
	if (pci_plug(bus, &testdev.func, errbuf, errlen))
		return -1;
	testdev_plugged = true;
	return 0;
}

/* The vCPUs have stopped: the current test ends, so what KVM counted since
 * the guest's last read is in the counters. */
static void testdev_stop(struct vm *vm)
{
	(void)vm;
	if (testdev_plugged)
		pci_testdev_reset(&testdev);
}

static void testdev_teardown(struct vm *vm)
{
	testdev_stop(vm);
	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++) {
		if (testdev_kvm.fd[i] >= 0)
			close(testdev_kvm.fd[i]);
		testdev_kvm.fd[i] = -1;
	}
	/* The bus keeps pointing at testdev.func, which is static. */
}

static void testdev_print_stats(const struct vm *vm, FILE *out)
{
	const struct pci_testdev *d = &testdev;

	(void)vm;
	if (!testdev_plugged)
		return;
	fprintf(out, "vmm: pci-testdev 00:%02x.%u (memory 0x%llx, ports 0x%llx): %llu reads, "
		"%llu writes reached vmm, %llu writes taken by KVM (ioeventfd); runs/counted in "
		"vmm/taken by KVM:", d->func.devfn >> 3, d->func.devfn & 7,
		(unsigned long long)d->func.bars[PCI_TESTDEV_MEM_BAR].active,
		(unsigned long long)d->func.bars[PCI_TESTDEV_IO_BAR].active,
		(unsigned long long)d->reads, (unsigned long long)d->writes,
		(unsigned long long)d->kernel_doorbells);
	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++) {
		const struct pci_testdev_test *t = &d->tests[i];

		fprintf(out, "%s %s %llu/%llu/%llu", i ? "," : "", pci_testdev_test_name(d, i),
			(unsigned long long)t->runs, (unsigned long long)t->user_writes,
			(unsigned long long)t->kernel_writes);
	}
	if (d->ioeventfd_refusals)
		fprintf(out, "; KVM refused %u ioeventfds (%s): those writes were handled "
			"in vmm", d->ioeventfd_refusals, strerror(d->ioeventfd_errno));
	fputc('\n', out);
}

static void testdev_write_json(const struct vm *vm, FILE *f)
{
	const struct pci_testdev *d = &testdev;

	(void)vm;
	if (!testdev_plugged)
		return;
	fprintf(f, ",\"pci_testdev\":{\"devfn\":%u,\"mem_bar\":%llu,\"io_bar\":%llu,"
		"\"reads\":%llu,\"writes\":%llu,\"kernel_doorbells\":%llu,"
		"\"ioeventfd_refusals\":%u,\"ioeventfd_error\":", d->func.devfn,
		(unsigned long long)d->func.bars[PCI_TESTDEV_MEM_BAR].active,
		(unsigned long long)d->func.bars[PCI_TESTDEV_IO_BAR].active,
		(unsigned long long)d->reads, (unsigned long long)d->writes,
		(unsigned long long)d->kernel_doorbells, d->ioeventfd_refusals);
	json_put_string(f, d->ioeventfd_refusals ? strerror(d->ioeventfd_errno) : NULL);
	fputs(",\"tests\":{", f);
	for (unsigned i = 0; i < PCI_TESTDEV_TESTS; i++) {
		const struct pci_testdev_test *t = &d->tests[i];

		fprintf(f, "%s\"%s\":{\"runs\":%llu,\"user_writes\":%llu,\"kernel_writes\":%llu}",
			i ? "," : "", pci_testdev_test_name(d, i), (unsigned long long)t->runs,
			(unsigned long long)t->user_writes, (unsigned long long)t->kernel_writes);
	}
	fputs("}}", f);
}

/* Long-only, so a code above the core's (options.c numbers its own from
 * 256); a clash would be reported by options.c. */
#define OPT_NO_TESTDEV 0x7400

static const struct option testdev_options[] = {
	{"no-testdev", no_argument, NULL, OPT_NO_TESTDEV},
	{NULL, 0, NULL, 0},
};

static int testdev_option(int code, const char *arg, char *errbuf, size_t errlen)
{
	(void)code;
	(void)arg;
	(void)errbuf;
	(void)errlen;
	testdev_disabled = true;
	return 0;
}

static void testdev_free_options(void)
{
	testdev_disabled = false;
}

bool pci_testdev_wanted(void)
{
	return !testdev_disabled;
}

VMM_DEVICE(pci_testdev, .name = "pci-testdev", .level = VMM_INIT_LATE,
	   .options = testdev_options,
	   .usage =
	"      --no-testdev     leave out the pci-testdev (1b36:0005, QEMU's): the\n"
	"                       PCI function the guest's vmexit test times port and\n"
	"                       MMIO exits with (present by default)\n",
	   .parse_option = testdev_option, .free_options = testdev_free_options,
	   .setup = testdev_setup, .stop = testdev_stop, .teardown = testdev_teardown,
	   .print_stats = testdev_print_stats, .write_json = testdev_write_json);
