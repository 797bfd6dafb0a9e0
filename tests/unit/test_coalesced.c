/*
 * test_coalesced.c - KVM's coalesced I/O ring (vmm/coalesced.c) and how
 * vcpu.c replays it: a fake ring page stands in for KVM's, the real serial
 * device (found in the device table) and the real exit handler
 * (vcpu_handle_exit) consume it.  What must hold: entries are replayed in
 * order, wrapping round the ring; every exit is handled only after the
 * entries written before it, so a data-port write under LCR.DLAB sets the
 * divisor and nothing is printed out of turn; a full ring (KVM then exits
 * with the next write) loses nothing.
 */
#include "unit.h"

#include "options.h"
#include "vmm.h"

#define COM1 0x3f8
#define LCR (COM1 + 3)
#define LSR (COM1 + 5)
#define PAGE 4096

static struct vm vm;
static struct vcpu vcpu0;
static struct vmm_config cfg;
static const struct vmm_device *serial;
static struct kvm_coalesced_mmio_ring *ring;
/* A kvm_run with room for the PIO data KVM puts after it. */
static union {
	struct kvm_run run;
	uint8_t bytes[PAGE];
} run_page;

static int setup(void **state)
{
	unsigned n;
	const struct vmm_device *const *devs = vmm_devices(&n);
	char err[256];

	(void)state;
	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	pthread_mutex_init(&vm.stop_lock, NULL);
	pthread_mutex_init(&vm.results_lock, NULL);
	vm.cfg = &cfg;
	vm.stop_fd = vm.kvm_fd = vm.vm_fd = -1;
	vm.nvcpus = 1;
	vm.vcpus = &vcpu0;
	vcpu0 = (struct vcpu){.vm = &vm, .index = 0, .fd = -1, .host_cpu = -1,
			      .run = &run_page.run};
	serial = NULL;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(devs[i]->name, "serial"))
			serial = devs[i];
	if (!serial || serial->setup(&vm, &cfg, err, sizeof(err)))
		return -1;
	ring = aligned_alloc(PAGE, PAGE);
	if (!ring)
		return -1;
	memset(ring, 0, PAGE);
	coalesced_init(&vm.coalesced);
	vm.coalesced.ring = ring;
	vm.coalesced.max = coalesced_ring_entries(PAGE);
	vm.coalesced.off_why = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (serial->stop)
		serial->stop(&vm);
	for (unsigned i = 0; i < vm.nresults; i++)
		free(vm.results[i]);
	free(vm.results);
	free(ring);
	pthread_mutex_destroy(&vm.results_lock);
	pthread_mutex_destroy(&vm.stop_lock);
	return 0;
}

/* What KVM does for a write to a coalesced zone; false when the ring is
 * full (KVM would exit with the write instead). */
static bool kvm_append(uint16_t port, uint8_t v)
{
	uint32_t last = ring->last;

	if ((last + 1) % vm.coalesced.max == ring->first)
		return false;
	ring->coalesced_mmio[last] = (struct kvm_coalesced_mmio){
		.phys_addr = port, .len = 1, .pio = 1, .data = {v}};
	ring->last = (last + 1) % vm.coalesced.max;
	return true;
}

static void kvm_append_all(const char *s)
{
	while (*s)
		assert_true(kvm_append(COM1, (uint8_t)*s++));
}

/* A port-I/O exit as KVM reports it, through the real exit handler. */
static uint8_t exit_io(uint16_t port, bool out, uint8_t v)
{
	struct kvm_run *run = &run_page.run;

	memset(&run_page, 0, sizeof(run_page));
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = out ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
	run->io.size = 1;
	run->io.port = port;
	run->io.count = 1;
	run->io.data_offset = sizeof(struct kvm_run);
	run_page.bytes[sizeof(struct kvm_run)] = v;
	assert_true(vcpu_handle_exit(&vcpu0));
	return run_page.bytes[sizeof(struct kvm_run)];
}

static char *serial_stats(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	serial->print_stats(&vm, f);
	fclose(f);
	return text;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_ring_holds_what_kvm_says(void **state)
{
	(void)state;
	/* KVM_COALESCED_MMIO_MAX for 4 KiB pages. */
	assert_int_equal(coalesced_ring_entries(4096), 170);
}

static void test_empty_or_absent_ring_replays_nothing(void **state)
{
	struct coalesced_ring off;

	(void)state;
	assert_int_equal(coalesced_drain(&vm.coalesced, &vm.io), 0);
	coalesced_init(&off);
	assert_int_equal(coalesced_drain(&off, &vm.io), 0);
	assert_int_equal(vm.coalesced.drains, 0);
}

static void test_entries_replay_in_order_across_the_wrap(void **state)
{
	struct capture c;
	size_t len;
	char *out, *stats;

	(void)state;
	/* Start near the end of the ring, so the entries wrap round. */
	ring->first = ring->last = vm.coalesced.max - 3;
	capture_start(&c);
	kvm_append_all("wrap\n");
	assert_int_equal(ring->last, 2);
	assert_int_equal(coalesced_drain(&vm.coalesced, &vm.io), 5);
	out = capture_end(&c, &len);
	assert_string_equal(out, "wrap\n");
	assert_int_equal(ring->first, ring->last);   /* every slot given back */
	assert_int_equal(vm.coalesced.replayed, 5);
	assert_int_equal(vm.coalesced.drains, 1);
	stats = serial_stats();
	assert_contains(stats, "5 bytes out; 5 data-port writes came from the coalesced ring");
	free(stats);
	free(out);
}

static void test_every_exit_comes_after_the_writes_before_it(void **state)
{
	struct capture c;
	size_t len;
	char *out;

	(void)state;
	capture_start(&c);
	kvm_append_all("a");          /* THR: printed */
	exit_io(LCR, true, 0x80);     /* DLAB on: the exit drains 'a' first */
	kvm_append(COM1, 0x05);       /* DLL, not THR: never printed */
	exit_io(LCR, true, 0x03);     /* DLAB off, after the divisor write */
	kvm_append_all("b\n");
	assert_int_equal(exit_io(LSR, false, 0) & 0x60, 0x60);   /* any exit drains */
	out = capture_end(&c, &len);
	assert_string_equal(out, "ab\n");
	/* The divisor got the coalesced write. */
	exit_io(LCR, true, 0x80);
	assert_int_equal(exit_io(COM1, false, 0), 0x05);
	exit_io(LCR, true, 0x03);
	free(out);
}

static void test_full_ring_then_an_exit_loses_nothing(void **state)
{
	char expect[400];
	unsigned n = 0;
	struct capture c;
	size_t len;
	char *out;

	(void)state;
	capture_start(&c);
	/* KVM fills the ring (one slot stays free), then exits with the next
	 * byte: the exit handler must print the ring's bytes before it. */
	while (kvm_append(COM1, (uint8_t)('A' + n % 26))) {
		expect[n] = (char)('A' + n % 26);
		n++;
	}
	assert_int_equal(n, vm.coalesced.max - 1);
	expect[n++] = '!';
	exit_io(COM1, true, '!');
	expect[n++] = '\n';
	exit_io(COM1, true, '\n');
	expect[n] = 0;
	out = capture_end(&c, &len);
	assert_string_equal(out, expect);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_holds_what_kvm_says),
		cmocka_unit_test_setup_teardown(test_empty_or_absent_ring_replays_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_entries_replay_in_order_across_the_wrap,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_exit_comes_after_the_writes_before_it,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_ring_then_an_exit_loses_nothing, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
