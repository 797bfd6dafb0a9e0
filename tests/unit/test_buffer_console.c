/*
 * test_buffer_console.c - vmm's buffer console (vmm/dev_buffer_console.c):
 * buffer_console_check()'s verdicts on what a guest may write, and the
 * device driven as vcpu.c drives it (found in the vmm_devices section, set
 * up after the serial port, fed through its handler): the bytes take
 * COM1's output path, bad writes are counted and ignored.
 */
#include "unit.h"

#include "buffer_console.h"
#include "options.h"
#include "unit_devices.h"
#include "vmm.h"

#define COM1 0x3f8
#define RAM (4 * MIB)
#define DESC 0x2000
#define BUF 0x3000

static struct vm vm;
static struct vcpu vcpu0;
static const struct io_region *port;

static int setup(void **state)
{
	static const char *const names[] = {"serial", "buffer-console"};
	char err[256];
	int idx;

	(void)state;
	memset(&vm, 0, sizeof(vm));
	vm_init(&vm, NULL);
	vm.nvcpus = 1;
	vm.vcpus = &vcpu0;
	vcpu0 = (struct vcpu){.vm = &vm, .index = 0, .fd = -1, .host_cpu = -1};
	if (guest_map_noreserve(RAM, &vm.mem))
		return -1;
	for (unsigned i = 0; i < 2; i++) {
		const struct vmm_device *d = unit_find_device(names[i]);

		if (!d || d->setup(&vm, NULL, err, sizeof(err))) {
			fprintf(stderr, "%s setup: %s\n", names[i], d ? err : "not found");
			return -1;
		}
	}
	idx = io_lookup(&vm.io, IO_PORT, BUFFER_CONSOLE_PORT, 4);
	if (idx < 0)
		return -1;
	port = &vm.io.regions[idx];
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unit_find_device("serial")->stop(&vm);
	for (unsigned i = 0; i < vm.nresults; i++)
		free(vm.results[i]);
	free(vm.results);
	munmap(vm.mem.base, RAM);
	pthread_mutex_destroy(&vm.irq_lock);
	pthread_mutex_destroy(&vm.results_lock);
	pthread_mutex_destroy(&vm.stop_lock);
	return 0;
}

static void put_desc(uint64_t at, uint64_t addr, uint64_t len)
{
	uint8_t *d = guest_ptr(&vm.mem, at, 16);

	assert_non_null(d);
	for (unsigned i = 0; i < 8; i++) {
		d[i] = (uint8_t)(addr >> (8 * i));
		d[8 + i] = (uint8_t)(len >> (8 * i));
	}
}

static enum buffer_console_verdict check(uint64_t offset, unsigned size, uint32_t value,
					 const uint8_t **bytes, uint64_t *len)
{
	uint8_t v[4] = {(uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16),
			(uint8_t)(value >> 24)};
	uint64_t desc_gpa, addr;

	return buffer_console_check(&vm.mem, offset, size, v, bytes, &desc_gpa, &addr, len);
}

static void out32(uint16_t p, uint32_t value)
{
	uint8_t v[4] = {(uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16),
			(uint8_t)(value >> 24)};

	assert_true(port->fn(&vcpu0, p, true, v, 4, port->opaque));
}

static char *stats_line(void)
{
	static char line[256];
	FILE *f = fmemopen(line, sizeof(line), "w");

	assert_non_null(f);
	unit_find_device("buffer-console")->print_stats(&vm, f);
	fclose(f);
	return line;
}

/* ---- buffer_console_check ------------------------------------------------------------ */

static void test_a_good_descriptor_names_its_bytes(void **state)
{
	const uint8_t *bytes;
	uint64_t len;

	(void)state;
	memcpy(guest_ptr(&vm.mem, BUF, 5), "hello", 5);
	put_desc(DESC, BUF, 5);
	assert_int_equal(check(0, 4, DESC, &bytes, &len), BUFFER_CONSOLE_OK);
	assert_int_equal(len, 5);
	assert_ptr_equal(bytes, vm.mem.base + BUF);
	/* Up to the limit, and to the last byte of RAM. */
	put_desc(DESC, RAM - BUFFER_CONSOLE_MAX_BYTES, BUFFER_CONSOLE_MAX_BYTES);
	assert_int_equal(check(0, 4, DESC, &bytes, &len), BUFFER_CONSOLE_OK);
	/* Nothing to write is fine, wherever it points. */
	put_desc(DESC, ~0ull, 0);
	assert_int_equal(check(0, 4, DESC, &bytes, &len), BUFFER_CONSOLE_OK);
	assert_int_equal(len, 0);
	/* The descriptor in the last 16 bytes of RAM. */
	put_desc(RAM - 16, BUF, 1);
	assert_int_equal(check(0, 4, RAM - 16, &bytes, &len), BUFFER_CONSOLE_OK);
}

static void test_bad_writes_are_named(void **state)
{
	const uint8_t *bytes;
	uint64_t len;

	(void)state;
	put_desc(DESC, BUF, 5);
	assert_int_equal(check(0, 1, DESC, &bytes, &len), BUFFER_CONSOLE_BAD_WIDTH);
	assert_int_equal(check(0, 2, DESC, &bytes, &len), BUFFER_CONSOLE_BAD_WIDTH);
	assert_int_equal(check(1, 4, DESC, &bytes, &len), BUFFER_CONSOLE_BAD_WIDTH);
	assert_null(bytes);
	/* The descriptor outside RAM, across its end, in the hole. */
	assert_int_equal(check(0, 4, RAM, &bytes, &len), BUFFER_CONSOLE_DESC_OUTSIDE);
	assert_int_equal(check(0, 4, RAM - 8, &bytes, &len), BUFFER_CONSOLE_DESC_OUTSIDE);
	assert_int_equal(check(0, 4, 0xfee00000u, &bytes, &len), BUFFER_CONSOLE_DESC_OUTSIDE);
	assert_int_equal(check(0, 4, 0xfffffff8u, &bytes, &len), BUFFER_CONSOLE_DESC_OUTSIDE);
	/* Too long, however it would end. */
	put_desc(DESC, BUF, BUFFER_CONSOLE_MAX_BYTES + 1);
	assert_int_equal(check(0, 4, DESC, &bytes, &len), BUFFER_CONSOLE_TOO_LONG);
	put_desc(DESC, BUF, ~0ull);
	assert_int_equal(check(0, 4, DESC, &bytes, &len), BUFFER_CONSOLE_TOO_LONG);
	/* The buffer outside RAM, across its end, wrapping around. */
	put_desc(DESC, RAM, 1);
	assert_int_equal(check(0, 4, DESC, &bytes, &len), BUFFER_CONSOLE_BUFFER_OUTSIDE);
	put_desc(DESC, RAM - 4, 5);
	assert_int_equal(check(0, 4, DESC, &bytes, &len), BUFFER_CONSOLE_BUFFER_OUTSIDE);
	put_desc(DESC, ~0ull - 2, 16);
	assert_int_equal(check(0, 4, DESC, &bytes, &len), BUFFER_CONSOLE_BUFFER_OUTSIDE);
	assert_null(bytes);
	for (int v = BUFFER_CONSOLE_OK; v <= BUFFER_CONSOLE_BUFFER_OUTSIDE; v++)
		assert_string_not_equal(buffer_console_why((enum buffer_console_verdict)v), "?");
}

/* ---- the device ----------------------------------------------------------------------- */

static void test_bytes_take_com1s_output_path(void **state)
{
	static const char text[] = "first line\nVMBENCH-RESULT {\"test\":\"x\"}\npartial";
	uint8_t b;
	struct capture c;
	size_t n;
	char *out;
	int com1 = io_lookup(&vm.io, IO_PORT, COM1, 1);

	(void)state;
	assert_true(com1 >= 0);
	memcpy(guest_ptr(&vm.mem, BUF, sizeof(text) - 1), text, sizeof(text) - 1);
	put_desc(DESC, BUF, sizeof(text) - 1);
	capture_start(&c);
	out32(BUFFER_CONSOLE_PORT, DESC);
	/* A COM1 byte after it continues the same line. */
	b = '!';
	assert_true(vm.io.regions[com1].fn(&vcpu0, COM1, true, &b, 1, vm.io.regions[com1].opaque));
	b = '\n';
	assert_true(vm.io.regions[com1].fn(&vcpu0, COM1, true, &b, 1, vm.io.regions[com1].opaque));
	out = capture_end(&c, &n);
	assert_string_equal(out, "first line\nVMBENCH-RESULT {\"test\":\"x\"}\npartial!\n");
	assert_int_equal(vm.nresults, 1);
	assert_string_equal(vm.results[0], "{\"test\":\"x\"}");
	assert_true(vm.timeline.first_output > 0);
	assert_contains(stats_line(), "1 writes, 46 bytes, 0 bad writes ignored");
	free(out);
}

static void test_bad_writes_are_counted_and_ignored(void **state)
{
	uint8_t one = 1, v[4] = {0};
	struct capture c;
	size_t n;
	char *out;

	(void)state;
	capture_start(&c);
	put_desc(DESC, BUF, ~0ull);
	out32(BUFFER_CONSOLE_PORT, DESC);
	out32(BUFFER_CONSOLE_PORT, RAM + 4096);
	assert_true(port->fn(&vcpu0, BUFFER_CONSOLE_PORT, true, &one, 1, port->opaque));
	/* Reads give 0 and change nothing. */
	memset(v, 0xee, sizeof(v));
	assert_true(port->fn(&vcpu0, BUFFER_CONSOLE_PORT + 2, false, v, 2, port->opaque));
	assert_int_equal(v[0] | v[1], 0);
	unit_find_device("serial")->stop(&vm);
	out = capture_end(&c, &n);
	assert_int_equal(n, 0);
	assert_contains(stats_line(), "0 writes, 0 bytes, 3 bad writes ignored");
	assert_false(atomic_load(&vm.stopping));
	free(out);
}

static void test_json_members(void **state)
{
	char buf[256] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	assert_non_null(f);
	unit_find_device("buffer-console")->write_json(&vm, f);
	fclose(f);
	assert_string_equal(buf, ",\"buffer_console\":{\"writes\":0,\"bytes\":0,\"rejected\":0}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_good_descriptor_names_its_bytes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_writes_are_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_take_com1s_output_path, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_writes_are_counted_and_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_members, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
