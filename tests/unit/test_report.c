/*
 * test_report.c - json_is_object() (vmm/report.c), the check that decides
 * whether a guest's VMBENCH-RESULT line is embedded in the --json file, and
 * report_write_json()'s promise that the file always parses.
 *
 * Every input is copied into a heap buffer of exactly its length (no NUL
 * after it), so ASan catches any read past the end.
 */
#include "unit.h"

#include "options.h"
#include "vmm.h"

#include <sched.h>

static bool check(const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	bool ok;

	assert_non_null(copy);
	memcpy(copy, s, len);
	ok = json_is_object(copy, len);
	free(copy);
	return ok;
}

#define VALID(lit)                                                             \
	do {                                                                   \
		if (!check(lit, sizeof(lit) - 1))                              \
			fail_msg("refused valid JSON: %s", lit);               \
	} while (0)

#define INVALID(lit)                                                           \
	do {                                                                   \
		if (check(lit, sizeof(lit) - 1))                               \
			fail_msg("accepted invalid JSON: %s", lit);            \
	} while (0)

/* The result line of docs/design.md, verbatim. */
static const char schema_example[] =
	"{\"schema\": \"vmbench.result/1\", \"test\": \"cpu\", \"platform\": \"vmm\", "
	"\"options\": {\"cpu-max-prime\": 20000, \"threads\": 2, \"time\": 10}, "
	"\"threads\": 2, \"total_time_s\": 10.0002, \"events\": 28540, "
	"\"events_per_s\": 2853.9, "
	"\"latency_ms\": {\"min\": 0.69, \"avg\": 0.70, \"max\": 1.31, \"percentile\": 95, "
	"\"pct_value\": 0.72, \"sum\": 19978.2}, "
	"\"fairness\": {\"events_avg\": 14270, \"events_stddev\": 3.0, \"time_avg_s\": 9.99, "
	"\"time_stddev_s\": 0.00}, "
	"\"metrics\": {\"mib_per_s\": 0, \"reads_per_s\": 0, \"writes_per_s\": 0, "
	"\"fsyncs_per_s\": 0, \"read_mib_per_s\": 0, \"written_mib_per_s\": 0}, "
	"\"env\": {\"vcpus\": 2, \"mem_mib\": 2048, \"cpu_vendor\": \"AuthenticAMD\", "
	"\"hypervisor\": \"KVMKVMKVM\", \"tsc_hz\": 2450000000}}";

static void test_accepts_result_schema_example(void **state)
{
	(void)state;
	VALID(schema_example);
}

static void test_accepts_simple_and_nested_objects(void **state)
{
	(void)state;
	VALID("{}");
	VALID("  { }  ");
	VALID("\t\r\n{\"a\":1}\n");
	VALID("{\"a\":{\"b\":{\"c\":[1,[2,[3,{}]]]}}}");
	VALID("{\"a\":[],\"b\":{},\"c\":[{}],\"d\":\"\"}");
	VALID("{\"t\":true,\"f\":false,\"n\":null}");
	VALID("{\"\":0}");
	VALID("{\"dup\":1,\"dup\":2}");   /* duplicates are legal JSON */
}

static void test_accepts_numbers(void **state)
{
	(void)state;
	VALID("{\"n\":0}");
	VALID("{\"n\":-0}");
	VALID("{\"n\":123456789012345678901234567890}");
	VALID("{\"n\":-1.5}");
	VALID("{\"n\":0.000001}");
	VALID("{\"n\":1e10}");
	VALID("{\"n\":1E+10}");
	VALID("{\"n\":2.5e-3}");
	VALID("{\"n\":[1,-2,3.0,4e4]}");
}

static void test_accepts_escapes_and_utf8(void **state)
{
	(void)state;
	VALID("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}");
	VALID("{\"s\":\"\\u00e9\\uD83D\\uDE00\\uabcd\"}");
	VALID("{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");   /* é € 😀 */
	VALID("{\"s\":\"\x7f\"}");   /* DEL is not a control character in JSON */
}

static void test_refuses_trailing_garbage(void **state)
{
	(void)state;
	INVALID("{}x");
	INVALID("{}{}");
	INVALID("{} {}");
	INVALID("{\"a\":1}}");
	INVALID("{\"a\":1},");
}

static void test_refuses_unterminated_input(void **state)
{
	(void)state;
	INVALID("");
	INVALID("   ");
	INVALID("{");
	INVALID("{\"a\"");
	INVALID("{\"a\":");
	INVALID("{\"a\":1");
	INVALID("{\"a\":1,");
	INVALID("{\"a\":\"abc}");
	INVALID("{\"a\":\"abc\\\"}");
	INVALID("{\"a\":\"\\");
	INVALID("{\"a\":\"\\u12");
	INVALID("{\"a\":[1,2}");
	INVALID("{\"a\":tru");
	INVALID("{\"a\":nul}");
}

static void test_refuses_length_cut_short(void **state)
{
	const char *s = "{\"a\":1}";

	(void)state;
	assert_true(check(s, 7));
	for (size_t len = 0; len < 7; len++)
		if (check(s, len))
			fail_msg("accepted the first %zu bytes of %s", len, s);
}

static void test_refuses_control_characters_in_strings(void **state)
{
	(void)state;
	INVALID("{\"s\":\"a\tb\"}");
	INVALID("{\"s\":\"a\nb\"}");
	INVALID("{\"s\":\"\x01\"}");
	INVALID("{\"s\":\"\x1f\"}");
	INVALID("{\"a\tb\":1}");
	assert_false(check("{\"s\":\"\0\"}", 9));
	assert_false(check("{\"s\":1}\0", 8));
}

static void test_refuses_bad_escapes(void **state)
{
	(void)state;
	INVALID("{\"s\":\"\\x41\"}");
	INVALID("{\"s\":\"\\a\"}");
	INVALID("{\"s\":\"\\'\"}");
	INVALID("{\"s\":\"\\U0041\"}");
	INVALID("{\"s\":\"\\u00g0\"}");
	INVALID("{\"s\":\"\\u00\"}");
	/* A backslash before a NUL byte is no escape. */
	assert_false(check("{\"s\":\"\\\0\"}", 10));
}

static void test_refuses_invalid_utf8(void **state)
{
	/* RFC 8259: JSON text is UTF-8.  One stray byte from the guest would
	 * make the whole --json file undecodable. */
	(void)state;
	INVALID("{\"s\":\"\xff\"}");
	INVALID("{\"s\":\"\x80\"}");              /* lone continuation byte */
	INVALID("{\"s\":\"\xc3\"}");              /* truncated sequence */
	INVALID("{\"s\":\"\xc3(\"}");
	INVALID("{\"s\":\"\xc0\xaf\"}");          /* overlong '/' */
	INVALID("{\"s\":\"\xe0\x80\xaf\"}");      /* overlong */
	INVALID("{\"s\":\"\xed\xa0\x80\"}");      /* UTF-16 surrogate */
	INVALID("{\"s\":\"\xf4\x90\x80\x80\"}");  /* above U+10FFFF */
	INVALID("{\"s\":\"\xf8\x88\x80\x80\x80\"}");
	INVALID("{\"\xe9t\xe9\":1}");             /* Latin-1 key */
}

static void test_refuses_malformed_syntax(void **state)
{
	(void)state;
	INVALID("{,}");
	INVALID("{\"a\":1,}");
	INVALID("{\"a\" 1}");
	INVALID("{\"a\"::1}");
	INVALID("{a:1}");
	INVALID("{'a':1}");
	INVALID("{1:1}");
	INVALID("{\"a\":[1,]}");
	INVALID("{\"a\":[,1]}");
	INVALID("{\"a\":undefined}");
	INVALID("{\"a\":True}");
	INVALID("{\"a\":1 2}");
	INVALID("{\"a\":1}// comment");
}

static void test_refuses_bad_numbers(void **state)
{
	(void)state;
	INVALID("{\"n\":01}");
	INVALID("{\"n\":+1}");
	INVALID("{\"n\":-}");
	INVALID("{\"n\":1.}");
	INVALID("{\"n\":.5}");
	INVALID("{\"n\":1e}");
	INVALID("{\"n\":1e+}");
	INVALID("{\"n\":0x10}");
	INVALID("{\"n\":NaN}");
	INVALID("{\"n\":Infinity}");
	INVALID("{\"n\":-Infinity}");
	INVALID("{\"n\":1.5.5}");
}

static void test_refuses_values_other_than_object_at_top_level(void **state)
{
	(void)state;
	INVALID("[]");
	INVALID("[{}]");
	INVALID("\"{}\"");
	INVALID("1");
	INVALID("null");
	INVALID("true");
}

/* "{"a":" repeated `depth` times, then "1", then the closing braces. */
static char *nested(size_t depth, size_t *len)
{
	char *s = malloc(depth * 6 + 2);
	char *p = s;

	assert_non_null(s);
	for (size_t i = 0; i < depth; i++) {
		memcpy(p, "{\"a\":", 5);
		p += 5;
	}
	*p++ = '1';
	memset(p, '}', depth);
	*len = (size_t)(p - s) + depth;
	return s;
}

static void test_depth_limit(void **state)
{
	size_t len;
	char *s;

	(void)state;
	s = nested(32, &len);   /* far deeper than any result line */
	assert_true(check(s, len));
	free(s);
	s = nested(100, &len);
	assert_false(check(s, len));
	free(s);
}

static void test_deep_nesting_does_not_overflow_the_stack(void **state)
{
	enum { DEPTH = 100000 };
	char *s = malloc(DEPTH * 6);
	size_t len;

	(void)state;
	assert_non_null(s);
	/* 100000 '{': refused at the second one (a key must come first). */
	memset(s, '{', DEPTH);
	assert_false(check(s, DEPTH));
	/* 100000 '[' inside an object. */
	memcpy(s, "{\"a\":", 5);
	memset(s + 5, '[', DEPTH - 5);
	assert_false(check(s, DEPTH));
	/* Well-formed and balanced, 100000 objects deep. */
	free(s);
	s = nested(DEPTH, &len);
	assert_false(check(s, len));
	free(s);
}

/* ---- the --json file ---------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_json_file_parses_whatever_the_guest_printed(void **state)
{
	static char *lines[] = {
		"{\"test\":\"cpu\",\"events\":1}",
		"not json at all",
		"{\"s\":\"\xff\xfe\"}",                 /* invalid UTF-8 */
		"{\"s\":\"caf\xc3\xa9\"}",              /* valid UTF-8 */
		"{\"unterminated\":",
		"[1,2]",
	};
	struct vmm_config cfg;
	struct vm vm;
	char path[] = "/tmp/vmbench-report-XXXXXX";
	char err[256];
	size_t len;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	memset(&cfg, 0, sizeof(cfg));
	memset(&vm, 0, sizeof(vm));
	cfg.guest_path = "guest.elf";
	cfg.guest_cmdline = "guest.elf cpu \"quoted\" back\\slash";
	cfg.mem_bytes = 64 * MIB;
	vm.cfg = &cfg;
	vm.results = lines;
	vm.nresults = sizeof(lines) / sizeof(lines[0]);

	if (report_write_json(&vm, path, 1.5, err, sizeof(err)))
		fail_msg("report_write_json: %s", err);
	char *doc = read_file(path, &len);
	unlink(path);
	assert_true(len > 0 && doc[len - 1] == '\n');
	if (!json_is_object(doc, len))
		fail_msg("the --json file is not one JSON object:\n%s", doc);
	assert_contains(doc, "\"results\":[{\"test\":\"cpu\",\"events\":1},"
			"{\"s\":\"caf\xc3\xa9\"}]");
	assert_contains(doc, "\"invalid_results\":[\"not json at all\",");
	assert_contains(doc, "\"cmdline\":\"guest.elf cpu \\\"quoted\\\" back\\\\slash\"");
	assert_not_contains(doc, "\xff");   /* escaped, never copied raw */
	/* A VM that never reached kvm_create_vm: the kind is unknown, null module. */
	assert_contains(doc, "\"kernel\":");
	assert_contains(doc, "\"kvm_kind\":\"unknown\",\"kvm_module\":null,\"hypervisor\":null},");
	free(doc);
}

/* The host block names the kind of KVM (vmm/kvm_kind.c), beside the
 * fields it always had. */
static void test_json_host_block_names_the_kind_of_kvm(void **state)
{
	static const struct {
		enum kvm_kind kind;
		const char *module, *hypervisor, *want;
	} cases[] = {
		{KVM_KIND_PVM, "kvm_pvm", "KVMKVMKVM",
		 "\"kvm_kind\":\"pvm\",\"kvm_module\":\"kvm_pvm\",\"hypervisor\":\"KVMKVMKVM\"}"},
		{KVM_KIND_HARDWARE, "kvm_intel", "",
		 "\"kvm_kind\":\"hardware\",\"kvm_module\":\"kvm_intel\",\"hypervisor\":null}"},
		{KVM_KIND_NESTED_TCG, "kvm_amd", "TCGTCGTCGTCG",
		 "\"kvm_kind\":\"nested-tcg\",\"kvm_module\":\"kvm_amd\","
		 "\"hypervisor\":\"TCGTCGTCGTCG\"}"},
		{KVM_KIND_NESTED, "kvm_intel", "Microsoft Hv",
		 "\"kvm_kind\":\"nested\",\"kvm_module\":\"kvm_intel\","
		 "\"hypervisor\":\"Microsoft Hv\"}"},
	};
	struct vmm_config cfg;
	struct vm vm;
	char path[] = "/tmp/vmbench-report-XXXXXX";
	char err[256];
	size_t len;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	memset(&cfg, 0, sizeof(cfg));
	cfg.guest_path = "guest.elf";
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&vm, 0, sizeof(vm));
		vm.cfg = &cfg;
		vm.kvm_kind.kind = cases[i].kind;
		snprintf(vm.kvm_kind.module, sizeof(vm.kvm_kind.module), "%s", cases[i].module);
		snprintf(vm.kvm_kind.hypervisor, sizeof(vm.kvm_kind.hypervisor), "%s",
			 cases[i].hypervisor);
		if (report_write_json(&vm, path, 0.5, err, sizeof(err)))
			fail_msg("report_write_json: %s", err);
		char *doc = read_file(path, &len);
		if (!json_is_object(doc, len))
			fail_msg("the --json file is not one JSON object:\n%s", doc);
		assert_contains(doc, "\"host\":{\"cpu\":");
		assert_contains(doc, ",\"cpus_online\":");
		assert_contains(doc, ",\"kernel\":");
		assert_contains(doc, cases[i].want);
		free(doc);
	}
	unlink(path);
}

/* report_write_json of `vm` into a temporary file: the document, checked
 * to be one JSON object (free it). */
static char *write_report(const struct vm *vm)
{
	char path[] = "/tmp/vmbench-report-XXXXXX";
	char err[256];
	size_t len;
	int fd = mkstemp(path);
	char *doc;

	assert_true(fd >= 0);
	close(fd);
	if (report_write_json(vm, path, 0.5, err, sizeof(err)))
		fail_msg("report_write_json: %s", err);
	doc = read_file(path, &len);
	unlink(path);
	if (!json_is_object(doc, len))
		fail_msg("the --json file is not one JSON object:\n%s", doc);
	return doc;
}

/* What the kernel gave each thread (placement.c), per vCPU and per I/O
 * thread, the placement asked for, and locked memory. */
static void test_json_threads_and_placement(void **state)
{
	static int pin[] = {1, 0}, io_pin[] = {1};
	struct vcpu vcpus[2];
	struct io_thread io;
	struct vmm_config cfg;
	struct vm vm;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&vm, 0, sizeof(vm));
	memset(vcpus, 0, sizeof(vcpus));
	memset(&io, 0, sizeof(io));
	cfg.guest_path = "guest.elf";
	cfg.pin_cpus = pin;
	cfg.pin_count = 2;
	cfg.io_pin_cpus = io_pin;
	cfg.io_pin_count = 1;
	cfg.rt_priority = 10;
	cfg.mlock = true;
	vm.cfg = &cfg;
	vm.nvcpus = 2;
	vm.vcpus = vcpus;
	vcpus[0].state = (struct thread_state){.known = true, .tid = 101, .policy = SCHED_FIFO,
					       .rt_priority = 10};
	cpuset_add(&vcpus[0].state.affinity, 1);
	/* vCPU 1 never ran: its members are null. */
	snprintf(io.name, sizeof(io.name), "blk \"0\"");
	io.state = (struct thread_state){.known = true, .tid = 103, .policy = SCHED_OTHER};
	cpuset_add(&io.state.affinity, 0);
	cpuset_add(&io.state.affinity, 1);
	vm.io_threads[0] = &io;
	vm.nio_threads = 1;

	char *doc = write_report(&vm);
	assert_contains(doc, "\"pin\":[1,0],\"io_pin\":[1],\"rt_priority\":10}");
	assert_contains(doc, "{\"vcpu\":0,\"host_cpu\":1,\"affinity\":\"1\",\"policy\":"
			"\"SCHED_FIFO\",\"rt_priority\":10,\"tid\":101,\"run_ms\":");
	assert_contains(doc, "{\"vcpu\":1,\"host_cpu\":-1,\"affinity\":null,\"policy\":null,"
			"\"rt_priority\":null,\"tid\":null,\"run_ms\":");
	assert_contains(doc, ",\"io_threads\":[{\"name\":\"blk \\\"0\\\"\",\"host_cpu\":-1,"
			"\"affinity\":\"0-1\",\"policy\":\"SCHED_OTHER\",\"rt_priority\":0,"
			"\"tid\":103}],\"mlock\":{\"requested\":true,\"locked_kib\":");
	free(doc);
}

/* Without the options: nulls, no I/O threads, mlock not requested. */
static void test_json_placement_defaults(void **state)
{
	struct vmm_config cfg;
	struct vm vm;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&vm, 0, sizeof(vm));
	cfg.guest_path = "guest.elf";
	vm.cfg = &cfg;
	char *doc = write_report(&vm);
	assert_contains(doc, "\"pin\":null,\"io_pin\":null,\"rt_priority\":null}");
	assert_contains(doc, ",\"io_threads\":[],\"mlock\":{\"requested\":false,\"locked_kib\":");
	free(doc);
}

static void test_json_file_error_names_the_path(void **state)
{
	struct vmm_config cfg;
	struct vm vm;
	char err[256] = "";

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	assert_int_equal(report_write_json(&vm, "/no/such/dir/out.json", 0, err, sizeof(err)), -1);
	assert_contains(err, "cannot write --json file '/no/such/dir/out.json'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_result_schema_example),
		cmocka_unit_test(test_accepts_simple_and_nested_objects),
		cmocka_unit_test(test_accepts_numbers),
		cmocka_unit_test(test_accepts_escapes_and_utf8),
		cmocka_unit_test(test_refuses_trailing_garbage),
		cmocka_unit_test(test_refuses_unterminated_input),
		cmocka_unit_test(test_refuses_length_cut_short),
		cmocka_unit_test(test_refuses_control_characters_in_strings),
		cmocka_unit_test(test_refuses_bad_escapes),
		cmocka_unit_test(test_refuses_invalid_utf8),
		cmocka_unit_test(test_refuses_malformed_syntax),
		cmocka_unit_test(test_refuses_bad_numbers),
		cmocka_unit_test(test_refuses_values_other_than_object_at_top_level),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_deep_nesting_does_not_overflow_the_stack),
		cmocka_unit_test(test_json_file_parses_whatever_the_guest_printed),
		cmocka_unit_test(test_json_file_error_names_the_path),
		cmocka_unit_test(test_json_host_block_names_the_kind_of_kvm),
		cmocka_unit_test(test_json_threads_and_placement),
		cmocka_unit_test(test_json_placement_defaults),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
