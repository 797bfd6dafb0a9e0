/*
 * test_serial.c - the 16550 UART at COM1 (vmm/dev_serial.c), driven the
 * way vcpu.c drives it: the device is found in the vmm_devices section,
 * set up on a struct vm, and fed through the handler it registered.
 * Output is checked on file descriptor 1, result lines in vm->results.
 */
#include "unit.h"

#include "options.h"
#include "unit_devices.h"
#include "vmm.h"

#define COM1 0x3f8
#define THR (COM1 + 0)
#define IER (COM1 + 1)
#define IIR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

static struct vm vm;
static struct vcpu vcpu0;
static const struct vmm_device *serial;
static const struct io_region *uart;

static int setup(void **state)
{
	char err[256];
	int idx;

	(void)state;
	memset(&vm, 0, sizeof(vm));
	pthread_mutex_init(&vm.stop_lock, NULL);
	pthread_mutex_init(&vm.results_lock, NULL);
	vm.stop_fd = vm.kvm_fd = vm.vm_fd = -1;
	vm.nvcpus = 1;
	vm.vcpus = &vcpu0;
	vcpu0 = (struct vcpu){.vm = &vm, .index = 0, .fd = -1, .host_cpu = -1};
	serial = unit_find_device("serial");
	if (!serial || !serial->setup)
		return -1;
	if (serial->setup(&vm, NULL, err, sizeof(err))) {
		fprintf(stderr, "serial setup: %s\n", err);
		return -1;
	}
	idx = io_lookup(&vm.io, IO_PORT, COM1, 1);
	if (idx < 0)
		return -1;
	uart = &vm.io.regions[idx];
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < vm.nresults; i++)
		free(vm.results[i]);
	free(vm.results);
	pthread_mutex_destroy(&vm.results_lock);
	pthread_mutex_destroy(&vm.stop_lock);
	return 0;
}

static void out8(uint16_t port, uint8_t v)
{
	assert_true(uart->fn(&vcpu0, port, true, &v, 1, uart->opaque));
}

static uint8_t in8(uint16_t port)
{
	uint8_t v = 0xee;

	assert_true(uart->fn(&vcpu0, port, false, &v, 1, uart->opaque));
	return v;
}

static void out_bytes(const char *s)
{
	while (*s)
		out8(THR, (uint8_t)*s++);
}

/* `rep outsb` to the data register: one exit, many bytes. */
static void out_burst(const char *s, size_t n)
{
	uint8_t *copy = malloc(n);

	assert_non_null(copy);
	memcpy(copy, s, n);
	assert_non_null(uart->burst_fn);
	assert_true(uart->burst_fn(&vcpu0, THR, true, copy, 1, (unsigned)n, uart->opaque));
	free(copy);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_devices_are_found_in_the_section(void **state)
{
	unsigned n = 0;
	const struct vmm_device *const *devs = vmm_devices(&n);

	(void)state;
	for (unsigned d = 0; d < n; d++) {
		assert_non_null(devs[d]);
		assert_non_null(devs[d]->name);
		for (unsigned e = 0; e < d; e++)
			if (!strcmp(devs[e]->name, devs[d]->name))
				fail_msg("device '%s' is registered twice", devs[d]->name);
		if (d && devs[d]->level < devs[d - 1]->level)
			fail_msg("device '%s' comes before one of a lower init level",
				 devs[d - 1]->name);
	}
	assert_true(n >= 2);
	assert_non_null(unit_find_device("serial"));
	assert_non_null(unit_find_device("debug-exit"));
}

static void test_setup_registers_com1_with_burst_handler(void **state)
{
	(void)state;
	assert_string_equal(uart->name, "serial");
	assert_int_equal(uart->space, IO_PORT);
	assert_int_equal(uart->base, COM1);
	assert_int_equal(uart->len, 8);
	assert_non_null(uart->burst_fn);
	assert_int_equal(io_lookup(&vm.io, IO_PORT, SCR, 1), io_lookup(&vm.io, IO_PORT, COM1, 1));
	assert_int_equal(io_lookup(&vm.io, IO_PORT, COM1 + 8, 1), -1);
}

static void test_single_bytes_reach_stdout_a_line_at_a_time(void **state)
{
	struct capture c;
	size_t len;
	char *out;

	(void)state;
	capture_start(&c);
	out_bytes("hello");
	assert_int_equal(lseek(STDOUT_FILENO, 0, SEEK_CUR), 0);   /* held until '\n' */
	out_bytes(", world\n");
	out = capture_end(&c, &len);
	assert_string_equal(out, "hello, world\n");
	assert_int_equal(vm.nresults, 0);
	assert_true(vm.timeline.first_output > 0);
	free(out);
}

static void test_result_line_is_captured(void **state)
{
	struct capture c;
	size_t len;
	char *out;

	(void)state;
	capture_start(&c);
	out_bytes("cpu speed: 2853.9 events/s\r\n");
	out_bytes("VMBENCH-RESULT {\"test\":\"cpu\",\"events\":28540}\r\n");
	out_bytes("VMBENCH-RESULT {\"test\":\"memory\"}\n");
	out = capture_end(&c, &len);
	assert_int_equal(vm.nresults, 2);
	assert_string_equal(vm.results[0], "{\"test\":\"cpu\",\"events\":28540}");
	assert_string_equal(vm.results[1], "{\"test\":\"memory\"}");
	/* The console shows everything, result lines included. */
	assert_string_equal(out, "cpu speed: 2853.9 events/s\r\n"
			    "VMBENCH-RESULT {\"test\":\"cpu\",\"events\":28540}\r\n"
			    "VMBENCH-RESULT {\"test\":\"memory\"}\n");
	free(out);
}

static void test_burst_output_and_result(void **state)
{
	static const char text[] = "Running the test with following options:\n"
				   "VMBENCH-RESULT {\"test\":\"info\",\"vcpus\":2}\n"
				   "partial ";
	struct capture c;
	size_t len;
	char *out;

	(void)state;
	capture_start(&c);
	out_burst(text, sizeof(text) - 1);
	out_burst("line end\n", 9);
	out = capture_end(&c, &len);
	assert_string_equal(out, "Running the test with following options:\n"
			    "VMBENCH-RESULT {\"test\":\"info\",\"vcpus\":2}\n"
			    "partial line end\n");
	assert_int_equal(vm.nresults, 1);
	assert_string_equal(vm.results[0], "{\"test\":\"info\",\"vcpus\":2}");
	free(out);
}

static void test_only_lines_starting_with_the_prefix_are_results(void **state)
{
	struct capture c;
	size_t len;
	char *out;

	(void)state;
	capture_start(&c);
	out_bytes("note: VMBENCH-RESULT {\"a\":1}\n");
	out_bytes("VMBENCH-RESULT{\"a\":2}\n");
	out_bytes("vmbench-result {\"a\":3}\n");
	out_bytes("VMBENCH-RESULT {\"a\":4}");   /* no newline yet */
	out = capture_end(&c, &len);
	assert_int_equal(vm.nresults, 0);
	free(out);
	capture_start(&c);
	out8(THR, '\n');
	out = capture_end(&c, &len);
	assert_int_equal(vm.nresults, 1);
	assert_string_equal(vm.results[0], "{\"a\":4}");
	free(out);
}

static void test_overlong_line_reaches_stdout_but_is_no_result(void **state)
{
	enum { LONG = 70000 };
	char *line = malloc(LONG + 1);
	struct capture c;
	size_t len;
	char *out;

	(void)state;
	assert_non_null(line);
	memcpy(line, "VMBENCH-RESULT {\"s\":\"", 21);
	memset(line + 21, 'x', LONG - 21 - 3);
	memcpy(line + LONG - 3, "\"}\n", 3);
	capture_start(&c);
	out_burst(line, LONG);
	out_bytes("VMBENCH-RESULT {\"after\":1}\n");
	out = capture_end(&c, &len);
	assert_int_equal(len, LONG + 27);
	assert_memory_equal(out, line, LONG);
	assert_int_equal(vm.nresults, 1);   /* the long one is cut, so not kept */
	assert_string_equal(vm.results[0], "{\"after\":1}");
	free(out);
	free(line);
}

static void test_stop_flushes_a_partial_line(void **state)
{
	struct capture c;
	size_t len;
	char *out;

	(void)state;
	capture_start(&c);
	out_bytes("no newline at the end");
	serial->stop(&vm);
	out = capture_end(&c, &len);
	assert_string_equal(out, "no newline at the end");
	free(out);
	capture_start(&c);
	out8(THR, '\n');   /* end that line: the UART outlives this test */
	out = capture_end(&c, &len);
	assert_string_equal(out, "\n");
	free(out);
}

static void test_transmitter_always_ready(void **state)
{
	struct capture c;
	size_t len;
	char *out;
	uint8_t lsr[4] = {0};

	(void)state;
	assert_int_equal(in8(LSR), LSR_THRE | LSR_TEMT);
	capture_start(&c);
	out_bytes("abc");
	assert_int_equal(in8(LSR), LSR_THRE | LSR_TEMT);   /* mid-line too */
	out_bytes("\n");
	out = capture_end(&c, &len);
	free(out);
	/* `rep insb` from LSR. */
	assert_true(uart->burst_fn(&vcpu0, LSR, false, lsr, 1, 4, uart->opaque));
	for (int i = 0; i < 4; i++)
		assert_int_equal(lsr[i], LSR_THRE | LSR_TEMT);
	assert_int_equal(in8(IIR) & 0x0f, 0x01);   /* no interrupt pending */
	assert_int_equal(in8(MSR) & 0xb0, 0xb0);   /* CTS, DSR, DCD: a cable is there */
}

static void test_dlab_selects_divisor_latch(void **state)
{
	struct capture c;
	size_t len;
	char *out;

	(void)state;
	capture_start(&c);
	out8(LCR, 0x80 | 0x03);   /* DLAB, 8N1 */
	out8(THR, 0x0c);          /* divisor 12: 9600 baud */
	out8(IER, 0x00);
	assert_int_equal(in8(THR), 0x0c);
	assert_int_equal(in8(IER), 0x00);
	assert_int_equal(in8(LCR), 0x83);
	out8(LCR, 0x03);
	out8(IER, 0x0f);
	assert_int_equal(in8(IER), 0x0f);       /* IER, not the latch */
	out8(LCR, 0x83);
	assert_int_equal(in8(THR), 0x0c);       /* latch kept */
	assert_int_equal(in8(IER), 0x00);
	out8(LCR, 0x03);
	out8(IER, 0x00);
	out = capture_end(&c, &len);
	assert_int_equal(len, 0);               /* divisor writes are not output */
	free(out);
	capture_start(&c);
	out_bytes("after DLAB\n");
	out = capture_end(&c, &len);
	assert_string_equal(out, "after DLAB\n");
	free(out);
}

static void test_registers_read_back(void **state)
{
	uint8_t two[2] = {0x1b, 0xff};

	(void)state;
	out8(SCR, 0x5a);
	assert_int_equal(in8(SCR), 0x5a);
	out8(IER, 0xff);
	assert_int_equal(in8(IER), 0x0f);       /* only 4 IER bits exist */
	out8(IER, 0);
	out8(MCR, 0xff);
	assert_int_equal(in8(MCR), 0x1f);
	out8(LSR, 0);                           /* read-only: ignored */
	assert_int_equal(in8(LSR), LSR_THRE | LSR_TEMT);
	/* A 2-byte access covers two consecutive registers (LCR, MCR). */
	assert_true(uart->fn(&vcpu0, LCR, true, two, 2, uart->opaque));
	assert_int_equal(in8(LCR), 0x1b);
	assert_int_equal(in8(MCR), 0x1f);
	memset(two, 0, sizeof(two));
	assert_true(uart->fn(&vcpu0, LCR, false, two, 2, uart->opaque));
	assert_int_equal(two[0], 0x1b);
	assert_int_equal(two[1], 0x1f);
	out8(LCR, 0x03);
	out8(MCR, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_devices_are_found_in_the_section),
		T(test_setup_registers_com1_with_burst_handler),
		T(test_single_bytes_reach_stdout_a_line_at_a_time),
		T(test_result_line_is_captured),
		T(test_burst_output_and_result),
		T(test_only_lines_starting_with_the_prefix_are_results),
		T(test_overlong_line_reaches_stdout_but_is_no_result),
		T(test_stop_flushes_a_partial_line),
		T(test_transmitter_always_ready),
		T(test_dlab_selects_divisor_latch),
		T(test_registers_read_back),
	};

	return cmocka_run_group_tests_name("serial", tests, NULL, NULL);
}
