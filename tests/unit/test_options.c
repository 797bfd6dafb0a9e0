/*
 * test_options.c - options_parse() and parse_size() (vmm/options.c): the
 * defaults, every option in its long, short and --opt=value forms, the
 * guest's command line, and each error with its message.
 */
#include "unit.h"

#include <sched.h>

#include "boot.h"
#include "error.h"
#include "options.h"
#include "pci_testdev.h"
#include "sandbox.h"
#include "virtio_blk.h"

#define MAX_WORDS 4200

/* One parse: argv copies (cfg points into them), the result, the error
 * and whatever was printed to `out`.  Freed by the teardown, so a failed
 * assertion leaks nothing. */
struct parsed {
	struct vmm_config cfg;
	enum options_result r;
	char err[512];
	char *out;
	size_t outlen;
	int argc;
	char *argv[MAX_WORDS + 2];
};

static void parsed_clear(struct parsed *p)
{
	options_free(&p->cfg);
	for (int i = 0; i < p->argc; i++)
		free(p->argv[i]);
	free(p->out);
	memset(p, 0, sizeof(*p));
}

static void parse_words(struct parsed *p, const char *const *words, int n)
{
	FILE *out;

	parsed_clear(p);
	p->argv[p->argc++] = strdup("vmm");
	for (int i = 0; i < n; i++)
		p->argv[p->argc++] = strdup(words[i]);
	p->argv[p->argc] = NULL;
	out = open_memstream(&p->out, &p->outlen);
	assert_non_null(out);
	strcpy(p->err, "(untouched)");
	p->r = options_parse(p->argc, p->argv, &p->cfg, p->err, sizeof(p->err), out);
	fclose(out);
}

#define PARSE(p, ...)                                                          \
	parse_words((p), (const char *const[]){__VA_ARGS__},                   \
		    (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)))

#define assert_parse_ok(p)                                                     \
	do {                                                                   \
		if ((p)->r != OPTIONS_RUN)                                     \
			fail_msg("parse failed (%d): %s", (p)->r, (p)->err);   \
	} while (0)

#define assert_parse_error(p, phrase)                                          \
	do {                                                                   \
		assert_int_equal((p)->r, OPTIONS_ERROR);                       \
		assert_contains((p)->err, phrase);                             \
		assert_null(strchr((p)->err, '\n'));                           \
	} while (0)

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct parsed));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	parsed_clear(*state);
	free(*state);
	return 0;
}

/* ---- defaults and each option ------------------------------------------------------ */

static void test_defaults_with_only_a_guest(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "guest.elf");
	assert_parse_ok(p);
	assert_string_equal(p->cfg.guest_path, "guest.elf");
	assert_string_equal(p->cfg.guest_cmdline, "guest.elf");
	assert_int_equal(p->cfg.vcpus, 1);
	assert_int_equal(p->cfg.mem_bytes, 512 * MIB);
	assert_null(p->cfg.pin_cpus);
	assert_int_equal(p->cfg.pin_count, 0);
	assert_null(p->cfg.io_pin_cpus);
	assert_int_equal(p->cfg.io_pin_count, 0);
	assert_int_equal(p->cfg.rt_priority, 0);
	assert_false(p->cfg.mlock);
	assert_false(p->cfg.nested);
	assert_false(p->cfg.stats);
	assert_false(p->cfg.trace);
	assert_false(p->cfg.hugepages);
	assert_null(p->cfg.json_path);
	assert_true(p->cfg.timeout_s == 0.0);
	assert_int_equal(p->outlen, 0);   /* nothing printed */
}

static void test_smp_long_short_and_equals_forms(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--smp", "4", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.vcpus, 4);
	PARSE(p, "-c", "3", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.vcpus, 3);
	PARSE(p, "--smp=2", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.vcpus, 2);
	PARSE(p, "-c8", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.vcpus, 8);
	PARSE(p, "--smp", "4096", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.vcpus, 4096);
	PARSE(p, "--smp", "2", "--smp", "5", "g");   /* the last one wins */
	assert_parse_ok(p);
	assert_int_equal(p->cfg.vcpus, 5);
}

static void test_smp_bad_values(void **state)
{
	static const char *const bad[] = {"0", "4097", "two", "-1", "2x", "", "1.5", " 2",
					  "99999999999999999999999"};
	struct parsed *p = *state;
	char want[64];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(p, "--smp", bad[i], "g");
		snprintf(want, sizeof(want), "--smp '%s': expected a number of vCPUs from 1 to 4096",
			 bad[i]);
		assert_parse_error(p, want);
	}
}

static void test_mem_suffixes_and_bare_mib(void **state)
{
	static const struct {
		const char *arg;
		uint64_t bytes;
	} cases[] = {
		{"64", 64 * MIB},          /* bare numbers are MiB, as QEMU -m */
		{"4096", 4 * GIB},
		{"65536K", 64 * MIB}, {"65536k", 64 * MIB},
		{"512M", 512 * MIB}, {"512m", 512 * MIB},
		{"2G", 2 * GIB}, {"2g", 2 * GIB},
		{"2GiB", 2 * GIB}, {"2GB", 2 * GIB},
		{"512MiB", 512 * MIB}, {"512MB", 512 * MIB},
		{"1T", 1024 * GIB}, {"1TiB", 1024 * GIB},
		{"2M", 2 * MIB},           /* the smallest guest */
		{"2052K", 2052 * KIB},     /* any multiple of 4K */
	};
	struct parsed *p = *state;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		PARSE(p, "--mem", cases[i].arg, "g");
		assert_parse_ok(p);
		if (p->cfg.mem_bytes != cases[i].bytes)
			fail_msg("--mem %s gave %llu bytes, expected %llu", cases[i].arg,
				 (unsigned long long)p->cfg.mem_bytes,
				 (unsigned long long)cases[i].bytes);
	}
	PARSE(p, "-m", "1G", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.mem_bytes, GIB);
	PARSE(p, "--mem=3G", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.mem_bytes, 3 * GIB);
}

static void test_mem_bad_values(void **state)
{
	static const char *const garbage[] = {"abc", "1.5G", "-1", "2X", "", "G", "2 G",
					      "0x100", "2Gi", "2GBB", "2iB", "1e3",
					      "99999999999999999999G", "16777216T"};
	struct parsed *p = *state;
	char want[80];

	for (unsigned i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		PARSE(p, "--mem", garbage[i], "g");
		snprintf(want, sizeof(want), "--mem '%s': expected a size such as 512M or 2G",
			 garbage[i]);
		assert_parse_error(p, want);
	}
	PARSE(p, "--mem", "1M", "g");
	assert_parse_error(p, "--mem '1M': the guest needs at least 2M of RAM");
	PARSE(p, "--mem", "0", "g");
	assert_parse_error(p, "at least 2M");
	PARSE(p, "--mem", "4097K", "g");
	assert_parse_error(p, "--mem '4097K': must be a multiple of 4K");
}

static void test_parse_size_units_and_edges(void **state)
{
	uint64_t b;

	(void)state;
	assert_true(parse_size("0", MIB, &b));
	assert_int_equal(b, 0);
	assert_true(parse_size("7", 1, &b));
	assert_int_equal(b, 7);
	assert_true(parse_size("3K", 1, &b));
	assert_int_equal(b, 3 * KIB);
	assert_true(parse_size("3KiB", 1, &b));
	assert_int_equal(b, 3 * KIB);
	assert_true(parse_size("18446744073709551615", 1, &b));
	assert_int_equal(b, UINT64_MAX);
	assert_true(parse_size("16777215T", MIB, &b));      /* 2^64 - 2^40 */
	assert_int_equal(b, UINT64_MAX - (1024 * GIB) + 1);
	assert_true(parse_size("17592186044415", MIB, &b)); /* 2^44 - 1 MiB */
	assert_int_equal(b, UINT64_MAX - MIB + 1);
}

static void test_parse_size_refuses_overflow_junk_and_empty(void **state)
{
	static const char *const bad[] = {
		"", " 1", "+1", "-1", "1 ", "1KK", "1iB", "1B", "1Gi", "1GBB", "1G ",
		"1.0", "0x10", "1e3", "G", "K1", "1KiBB",
		"18446744073709551616",          /* 2^64: strtoull range error */
		"16777216T",                     /* 2^64 after the unit */
		"17592186044416",                /* 2^44 MiB = 2^64 bytes */
		"99999999999999999999999999999G",
	};
	uint64_t b = 12345;

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_size(bad[i], MIB, &b))
			fail_msg("parse_size accepted '%s' as %llu", bad[i], (unsigned long long)b);
	assert_int_equal(b, 12345);   /* untouched on failure */
	assert_false(parse_size(NULL, MIB, &b));
}

static void test_pin_cpulist_in_order(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--smp", "4", "--pin", "0-3", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.pin_count, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(p->cfg.pin_cpus[i], i);
	/* Order as written; option order does not matter. */
	PARSE(p, "-p", "6,2", "-c", "2", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.pin_cpus[0], 6);
	assert_int_equal(p->cfg.pin_cpus[1], 2);
	/* More host CPUs than vCPUs is fine. */
	PARSE(p, "--pin=1,3,5", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.pin_count, 3);
	assert_int_equal(p->cfg.vcpus, 1);
	assert_int_equal(p->cfg.pin_cpus[0], 1);
}

static void test_pin_needs_one_cpu_per_vcpu(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--smp", "3", "--pin", "0-1", "g");
	assert_parse_error(p, "--pin '0-1' names 2 host CPUs for 3 vCPUs; give one per vCPU");
}

static void test_pin_bad_lists(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--pin", "0-", "g");
	assert_parse_error(p, "--pin: bad CPU list '0-'");
	PARSE(p, "--pin", "", "g");
	assert_parse_error(p, "--pin: empty CPU list");
	PARSE(p, "--pin", "1,1", "g");
	assert_parse_error(p, "--pin: bad CPU list '1,1': CPU 1 listed twice");
	PARSE(p, "--pin", "3-1", "g");
	assert_parse_error(p, "--pin: bad CPU list '3-1': bad range");
	PARSE(p, "--pin", "4096", "g");
	assert_parse_error(p, "expected a CPU number (0-4095)");
}

/* Whether the CPUs exist and may be used is checked against the host when
 * the VM is built (test_placement.c): any syntactically good list parses. */
static void test_io_pin_cpulist(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--io-pin", "1", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.io_pin_count, 1);
	assert_int_equal(p->cfg.io_pin_cpus[0], 1);
	PARSE(p, "--io-pin=6,2-3", "--smp", "8", "g");   /* any length, any --smp */
	assert_parse_ok(p);
	assert_int_equal(p->cfg.io_pin_count, 3);
	assert_int_equal(p->cfg.io_pin_cpus[0], 6);
	assert_int_equal(p->cfg.io_pin_cpus[2], 3);
	assert_null(p->cfg.pin_cpus);
	PARSE(p, "--io-pin", "1,1", "g");
	assert_parse_error(p, "--io-pin: bad CPU list '1,1': CPU 1 listed twice");
	PARSE(p, "--io-pin", "", "g");
	assert_parse_error(p, "--io-pin: empty CPU list");
	PARSE(p, "--io-pin", "4096", "g");
	assert_parse_error(p, "--io-pin: bad CPU list '4096': expected a CPU number (0-4095)");
}

static void test_rt_priority(void **state)
{
	struct parsed *p = *state;
	char want[96];
	int max = sched_get_priority_max(SCHED_FIFO);

	PARSE(p, "--rt", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.rt_priority, DEFAULT_RT_PRIORITY);
	assert_string_equal(p->cfg.guest_path, "g");
	PARSE(p, "--rt=1", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.rt_priority, 1);
	snprintf(want, sizeof(want), "--rt=%d", max);
	PARSE(p, want, "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.rt_priority, max);
	/* The value is optional, so it can only be given with '=': a
	 * following word is not it. */
	PARSE(p, "--rt", "5", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.rt_priority, DEFAULT_RT_PRIORITY);
	assert_string_equal(p->cfg.guest_path, "5");

	snprintf(want, sizeof(want), "expected a SCHED_FIFO priority from 1 to %d", max);
	static const char *const bad[] = {"--rt=0", "--rt=1000", "--rt=-1", "--rt=", "--rt=ten",
					  "--rt=5x", "--rt=99999999999999999999"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(p, bad[i], "g");
		assert_parse_error(p, want);
		assert_contains(p->err, bad[i]);
	}
	snprintf(want, sizeof(want), "--rt=%d", max + 1);
	PARSE(p, want, "g");
	assert_parse_error(p, "expected a SCHED_FIFO priority");
}

/* The sandbox's options: on by default, --no-seccomp, --user, and the
 * test-only --debug-seccomp-violate (sandbox_kind_parse). */
static void test_sandbox_options(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "g");
	assert_parse_ok(p);
	assert_false(p->cfg.no_seccomp);
	assert_null(p->cfg.user);
	assert_int_equal(p->cfg.seccomp_violate, SANDBOX_NONE);
	PARSE(p, "--no-seccomp", "--user", "nobody:nogroup", "--debug-seccomp-violate=io", "g");
	assert_parse_ok(p);
	assert_true(p->cfg.no_seccomp);
	assert_string_equal(p->cfg.user, "nobody:nogroup");
	assert_int_equal(p->cfg.seccomp_violate, SANDBOX_IO);
	PARSE(p, "--debug-seccomp-violate", "main", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.seccomp_violate, SANDBOX_MAIN);
	PARSE(p, "--debug-seccomp-violate=disk", "g");
	assert_parse_error(p, "--debug-seccomp-violate 'disk': expected main, vcpu, io, reaper "
			   "or disas");
	PARSE(p, "--user=", "g");
	assert_parse_error(p, "--user '': expected USER or USER:GROUP");
	PARSE(p, "--user", ":wheel", "g");
	assert_parse_error(p, "--user ':wheel': expected USER or USER:GROUP");
	PARSE(p, "--no-seccomp=1", "g");
	assert_parse_error(p, "option '--no-seccomp' takes no value");
}

static void test_mlock_flag(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--mlock", "g");
	assert_parse_ok(p);
	assert_true(p->cfg.mlock);
	PARSE(p, "--mlock=yes", "g");
	assert_parse_error(p, "option '--mlock' takes no value");
}

static void test_nested_flag(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--nested", "g", "nested");
	assert_parse_ok(p);
	assert_true(p->cfg.nested);
	assert_string_equal(p->cfg.guest_cmdline, "g nested");
	PARSE(p, "--nested=svm", "g");
	assert_parse_error(p, "option '--nested' takes no value");
	/* After the guest file it is the guest's. */
	PARSE(p, "g", "--nested");
	assert_parse_ok(p);
	assert_false(p->cfg.nested);
}

static void test_timeout_values(void **state)
{
	static const struct {
		const char *arg;
		double s;
	} ok[] = {{"10", 10}, {"1.5", 1.5}, {"0.001", 0.001}, {"2e1", 20}, {"86400", 86400}};
	struct parsed *p = *state;

	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		PARSE(p, "--timeout", ok[i].arg, "g");
		assert_parse_ok(p);
		assert_true(p->cfg.timeout_s == ok[i].s);
	}
	PARSE(p, "-t", "3", "g");
	assert_parse_ok(p);
	assert_true(p->cfg.timeout_s == 3.0);
}

static void test_timeout_bad_values(void **state)
{
	/* 1e300 s would overflow the nanosecond deadline vm.c computes. */
	static const char *const bad[] = {"0", "-1", "-0.5", "soon", "1s", "", "nan", "inf",
					  "1e400", "1e300", "0x", " "};
	struct parsed *p = *state;
	char want[80];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(p, "--timeout", bad[i], "g");
		snprintf(want, sizeof(want), "--timeout '%s': expected a positive number of seconds",
			 bad[i]);
		assert_parse_error(p, want);
	}
}

static void test_flags_and_json(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--json", "out.json", "--stats", "--trace", "--hugepages", "g");
	assert_parse_ok(p);
	assert_string_equal(p->cfg.json_path, "out.json");
	assert_true(p->cfg.stats);
	assert_true(p->cfg.trace);
	assert_true(p->cfg.hugepages);
	PARSE(p, "-j", "r.json", "-s", "g");
	assert_parse_ok(p);
	assert_string_equal(p->cfg.json_path, "r.json");
	assert_true(p->cfg.stats);
	assert_false(p->cfg.trace);
	PARSE(p, "--json=x.json", "g");
	assert_parse_ok(p);
	assert_string_equal(p->cfg.json_path, "x.json");
}

static void test_check_option(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--check");
	assert_int_equal(p->r, OPTIONS_CHECK);
}

/* ---- the guest's command line ------------------------------------------------------- */

static void test_guest_args_are_joined_after_guest_path(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--smp", "2", "build/guest.elf", "cpu", "--cpu-max-prime=20000",
	      "--threads=2", "run");
	assert_parse_ok(p);
	assert_string_equal(p->cfg.guest_path, "build/guest.elf");
	assert_string_equal(p->cfg.guest_cmdline,
			    "build/guest.elf cpu --cpu-max-prime=20000 --threads=2 run");
}

static void test_options_after_guest_path_belong_to_guest(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "g.elf", "--smp", "4", "-m", "1G", "--help", "--bogus");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.vcpus, 1);
	assert_int_equal(p->cfg.mem_bytes, 512 * MIB);
	assert_int_equal(p->outlen, 0);   /* --help went to the guest */
	assert_string_equal(p->cfg.guest_cmdline, "g.elf --smp 4 -m 1G --help --bogus");
}

static void test_double_dash_ends_vmm_options(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "-c", "2", "--", "-weird-name.elf", "info");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.vcpus, 2);
	assert_string_equal(p->cfg.guest_path, "-weird-name.elf");
	assert_string_equal(p->cfg.guest_cmdline, "-weird-name.elf info");
}

static void test_guest_args_are_passed_untouched(void **state)
{
	struct parsed *p = *state;

	/* Quotes, '=', UTF-8, shell metacharacters: bytes pass as they are. */
	PARSE(p, "g", "--x=\"a\"", "k=v=w", "\xc3\xa9t\xc3\xa9", "$HOME;|&");
	assert_parse_ok(p);
	assert_string_equal(p->cfg.guest_cmdline,
			    "g --x=\"a\" k=v=w \xc3\xa9t\xc3\xa9 $HOME;|&");
}

static void test_refuses_whitespace_inside_guest_arg(void **state)
{
	static const char *const bad[] = {"a b", "a\tb", "a\nb", "a\rb", " "};
	struct parsed *p = *state;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(p, "g", "info", bad[i]);
		assert_int_equal(p->r, OPTIONS_ERROR);
		assert_contains(p->err, "contains white space, which the multiboot command "
				"line cannot carry");
	}
	PARSE(p, "g", "--x=a b");
	assert_parse_error(p, "guest argument '--x=a b' contains white space");
}

/* Builds "g" plus `n` one-character args: the line is 1 + 2n bytes. */
static void parse_n_args(struct parsed *p, int n)
{
	static const char *words[MAX_WORDS];

	words[0] = "g";
	for (int i = 1; i <= n; i++)
		words[i] = "x";
	parse_words(p, words, n + 1);
}

static void test_command_line_length_limit(void **state)
{
	struct parsed *p = *state;

	parse_n_args(p, (GUEST_CMDLINE_MAX - 1) / 2);   /* exactly 4095 bytes */
	assert_parse_ok(p);
	assert_int_equal(strlen(p->cfg.guest_cmdline), GUEST_CMDLINE_MAX);
	parse_n_args(p, (GUEST_CMDLINE_MAX - 1) / 2 + 1);   /* 4097 bytes */
	assert_parse_error(p, "guest command line is 4097 bytes; the limit is 4095");
}

/* ---- errors --------------------------------------------------------------------------- */

static void test_refuses_missing_guest(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--smp", "2");
	assert_parse_error(p, "no guest kernel given (see --help)");
	parse_words(p, NULL, 0);
	assert_parse_error(p, "no guest kernel given");
	PARSE(p, "--");
	assert_parse_error(p, "no guest kernel given");
}

static void test_refuses_unknown_options(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--bogus", "g");
	assert_parse_error(p, "unknown option '--bogus' (see --help)");
	PARSE(p, "-q", "g");
	assert_parse_error(p, "unknown option '-q' (see --help)");
	PARSE(p, "-sq", "g");   /* in a bundle */
	assert_parse_error(p, "unknown option '-q'");
	PARSE(p, "--s", "g");   /* ambiguous: --smp or --stats */
	assert_parse_error(p, "unknown option '--s'");
}

static void test_refuses_value_for_flag_option(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--stats=1", "g");
	assert_parse_error(p, "option '--stats' takes no value");
	PARSE(p, "--hugepages=yes", "g");
	assert_parse_error(p, "option '--hugepages' takes no value");
	PARSE(p, "--trace=", "g");
	assert_parse_error(p, "option '--trace' takes no value");
	PARSE(p, "--help=x");
	assert_parse_error(p, "option '--help' takes no value");
}

static void test_refuses_missing_values(void **state)
{
	static const char *const opts[] = {"--smp", "-c", "--mem", "-m", "--pin", "-p",
					   "--io-pin", "--timeout", "-t", "--json", "-j"};
	struct parsed *p = *state;
	char want[64];

	for (unsigned i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		PARSE(p, opts[i]);
		snprintf(want, sizeof(want), "option '%s' needs a value (see --help)", opts[i]);
		assert_parse_error(p, want);
	}
}

static void test_help_prints_usage_to_given_file(void **state)
{
	static const char *const mentioned[] = {"Usage: vmm [options] GUEST.elf", "--smp",
						"--mem", "--pin", "--io-pin", "--rt[=PRIO]",
						"--mlock", "--nested", "--hugepages", "--timeout",
						"--stats", "--trace", "--json", "--check",
						"--help", "--version", "124 timeout",
						"--no-testdev"};
	struct parsed *p = *state;

	PARSE(p, "--help");
	assert_int_equal(p->r, OPTIONS_EXIT_OK);
	for (unsigned i = 0; i < sizeof(mentioned) / sizeof(mentioned[0]); i++)
		assert_contains(p->out, mentioned[i]);
	/* -h wins over a following error, and needs no guest. */
	PARSE(p, "-h", "--bogus");
	assert_int_equal(p->r, OPTIONS_EXIT_OK);
	assert_contains(p->out, "Usage:");
}

static void test_version_prints_one_line_to_given_file(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--version");
	assert_int_equal(p->r, OPTIONS_EXIT_OK);
	assert_string_equal(p->out, "vmm " VMM_VERSION " (vmbench)\n");
	PARSE(p, "-V", "g");
	assert_int_equal(p->r, OPTIONS_EXIT_OK);
	assert_string_equal(p->out, "vmm " VMM_VERSION " (vmbench)\n");
}

static void test_parse_after_error_starts_afresh(void **state)
{
	struct parsed *p = *state;

	/* getopt keeps global state; a parse that stopped half-way (inside a
	 * bundle) must not leak into the next one. */
	PARSE(p, "-sqc", "4", "g");
	assert_parse_error(p, "unknown option '-q'");
	PARSE(p, "-c", "2", "g");
	assert_parse_ok(p);
	assert_int_equal(p->cfg.vcpus, 2);
	assert_false(p->cfg.stats);
}


/* ---- --no-testdev -------------------------------------------------------------------- */

static void test_no_testdev_option(void **state)
{
	struct parsed *p = *state;

	/* The pci-testdev is there by default; the option, the device's own,
	 * leaves it out, and a new parse forgets it. */
	PARSE(p, "g.elf");
	assert_parse_ok(p);
	assert_true(pci_testdev_wanted());
	PARSE(p, "--no-testdev", "g.elf", "--no-testdev");
	assert_parse_ok(p);
	assert_false(pci_testdev_wanted());
	assert_string_equal(p->cfg.guest_cmdline, "g.elf --no-testdev");
	PARSE(p, "g.elf");
	assert_true(pci_testdev_wanted());
	PARSE(p, "--no-testdev=1", "g.elf");
	assert_parse_error(p, "option '--no-testdev' takes no value");
}

/* ---- --disk -------------------------------------------------------------------------- */

static void test_disk_options(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--disk", "a.img", "-d", "/dev/sdb,readonly,direct", "--disk=c.raw,format=raw",
	      "g");
	const struct disk_config *disks;

	assert_parse_ok(p);
	/* --disk is the virtio-blk device's own option: it keeps the disks. */
	assert_int_equal(blk_disk_configs(&disks), 3);
	assert_string_equal(disks[0].path, "a.img");
	assert_false(disks[0].readonly);
	assert_false(disks[0].direct);
	assert_string_equal(disks[1].path, "/dev/sdb");
	assert_true(disks[1].readonly);
	assert_true(disks[1].direct);
	assert_string_equal(disks[2].path, "c.raw");
	assert_false(disks[2].readonly);
	/* No poll word: an adaptive window (poll_window.h). */
	assert_int_equal(disks[2].poll, POLL_ADAPTIVE);
	assert_int_equal(disks[2].poll_us, 0);
	/* ,poll: a fixed window, by default DISK_POLL_US_DEFAULT; poll=off:
	 * none, the last word winning. */
	PARSE(p, "--disk", "a.img,poll", "--disk", "b.img,direct,poll=1", "--disk",
	      "c.img,poll=1000000", "--disk", "d.img,poll=off", "--disk", "e.img,poll=off,poll",
	      "g");
	assert_parse_ok(p);
	assert_int_equal(blk_disk_configs(&disks), 5);
	assert_int_equal(disks[0].poll, POLL_FIXED);
	assert_int_equal(disks[0].poll_us, DISK_POLL_US_DEFAULT);
	assert_int_equal(disks[1].poll_us, 1);
	assert_true(disks[1].direct);
	assert_int_equal(disks[2].poll_us, 1000000);
	assert_int_equal(disks[3].poll, POLL_OFF);
	assert_int_equal(disks[3].poll_us, 0);
	assert_int_equal(disks[4].poll, POLL_FIXED);
	assert_false(disks[0].nolock);
	/* ,locking=off: no image lock (QEMU's word); locking=on is the default. */
	PARSE(p, "--disk", "a.img,locking=off", "--disk", "b.img,locking=off,locking=on", "g");
	assert_parse_ok(p);
	assert_int_equal(blk_disk_configs(&disks), 2);
	assert_true(disks[0].nolock);
	assert_false(disks[1].nolock);
	PARSE(p, "g");
	assert_int_equal(blk_disk_configs(&disks), 0);
}

static void test_disk_bad_values(void **state)
{
	struct parsed *p = *state;

	PARSE(p, "--disk", "x.qcow2,format=qcow2", "g");
	assert_parse_error(p, "qcow2 images are not supported");
	assert_contains(p->err, "qemu-img convert -O raw x.qcow2");
	PARSE(p, "--disk", "x,format=vmdk", "g");
	assert_parse_error(p, "unknown format 'vmdk'");
	PARSE(p, "--disk", "x,readonyl", "g");
	assert_parse_error(p, "unknown disk option 'readonyl'");
	PARSE(p, "--disk", "x,", "g");
	assert_parse_error(p, "unknown disk option ''");
	PARSE(p, "--disk", ",readonly", "g");
	assert_parse_error(p, "no file name");
	static const char *const bad_polls[] = {"x,poll=", "x,poll=0", "x,poll=1000001",
						"x,poll=-5", "x,poll=10us", "x,poll=99999999",
						"x,poll=of", "x,poll=offf"};
	for (unsigned i = 0; i < sizeof(bad_polls) / sizeof(bad_polls[0]); i++) {
		PARSE(p, "--disk", bad_polls[i], "g");
		assert_parse_error(p, "expected off or a number of microseconds from 1 to 1000000");
	}
	PARSE(p, "--disk", "x,locking=maybe", "g");
	assert_parse_error(p, "unknown disk option 'locking=maybe' (expected direct, readonly, "
			   "poll[=USEC|off], locking=off or format=raw)");
	PARSE(p, "--disk", "x,polling", "g");
	assert_parse_error(p, "unknown disk option 'polling'");
	PARSE(p, "--disk", "", "g");
	assert_parse_error(p, "no file name");
	PARSE(p, "-d", "1", "-d", "2", "-d", "3", "-d", "4", "-d", "5", "-d", "6", "-d", "7",
	      "-d", "8", "-d", "9", "g");
	assert_parse_error(p, "at most 8 disks");
	PARSE(p, "--disk");
	assert_parse_error(p, "needs a value");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults_with_only_a_guest),
		T(test_smp_long_short_and_equals_forms),
		T(test_smp_bad_values),
		T(test_mem_suffixes_and_bare_mib),
		T(test_mem_bad_values),
		T(test_parse_size_units_and_edges),
		T(test_parse_size_refuses_overflow_junk_and_empty),
		T(test_pin_cpulist_in_order),
		T(test_pin_needs_one_cpu_per_vcpu),
		T(test_pin_bad_lists),
		T(test_io_pin_cpulist),
		T(test_sandbox_options),
		T(test_rt_priority),
		T(test_mlock_flag),
		T(test_nested_flag),
		T(test_timeout_values),
		T(test_timeout_bad_values),
		T(test_flags_and_json),
		T(test_check_option),
		T(test_guest_args_are_joined_after_guest_path),
		T(test_options_after_guest_path_belong_to_guest),
		T(test_double_dash_ends_vmm_options),
		T(test_guest_args_are_passed_untouched),
		T(test_refuses_whitespace_inside_guest_arg),
		T(test_command_line_length_limit),
		T(test_refuses_missing_guest),
		T(test_refuses_unknown_options),
		T(test_refuses_value_for_flag_option),
		T(test_refuses_missing_values),
		T(test_help_prints_usage_to_given_file),
		T(test_version_prints_one_line_to_given_file),
		T(test_parse_after_error_starts_afresh),
		T(test_no_testdev_option),
		T(test_disk_options),
		T(test_disk_bad_values),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
