/*
 * test_cpulist.c - cpulist_parse(), struct cpuset and cpulist_format()
 * (isolation/cpulist.c): the Linux CPU list syntax shared by vmm --pin,
 * --io-pin and the isolation tools, both ways.
 */
#include "unit.h"
#include "cpulist.h"

#define CANARY 0x5a5a5a5a

struct result {
	int n;
	int cpus[CPULIST_MAX_CPU + 2];
	char err[256];
};

/* Parses with room for `max` CPUs; cpus[max] is a canary that must stay. */
static void parse(struct result *r, const char *s, int max)
{
	for (int i = 0; i < CPULIST_MAX_CPU + 2; i++)
		r->cpus[i] = CANARY;
	strcpy(r->err, "(untouched)");
	r->n = cpulist_parse(s, r->cpus, max, r->err, sizeof(r->err));
	assert_int_equal(r->cpus[max], CANARY);
}

static void assert_cpus(const struct result *r, const int *want, int n)
{
	if (r->n != n)
		fail_msg("got %d CPUs (%s), expected %d", r->n, r->n < 0 ? r->err : "", n);
	for (int i = 0; i < n; i++)
		if (r->cpus[i] != want[i])
			fail_msg("cpus[%d] = %d, expected %d", i, r->cpus[i], want[i]);
}

#define ASSERT_CPUS(r, ...)                                                    \
	assert_cpus((r), (const int[]){__VA_ARGS__},                           \
		    (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))

static void refused(const char *s, int max, const char *phrase)
{
	struct result r;

	parse(&r, s, max);
	if (r.n != -1)
		fail_msg("'%s' accepted (%d CPUs); expected \"%s\"", s, r.n, phrase);
	assert_contains(r.err, phrase);
}

static void test_single_cpu(void **state)
{
	struct result r;

	(void)state;
	parse(&r, "5", 8);
	ASSERT_CPUS(&r, 5);
	parse(&r, "0", 8);
	ASSERT_CPUS(&r, 0);
}

static void test_ranges_and_lists_in_written_order(void **state)
{
	struct result r;

	(void)state;
	parse(&r, "0-3", 8);
	ASSERT_CPUS(&r, 0, 1, 2, 3);
	parse(&r, "0-2,6,8-9", 8);
	ASSERT_CPUS(&r, 0, 1, 2, 6, 8, 9);
	parse(&r, "7,1-2,0", 8);
	ASSERT_CPUS(&r, 7, 1, 2, 0);
	parse(&r, "3-3", 8);   /* a one-CPU range */
	ASSERT_CPUS(&r, 3);
	parse(&r, "010", 8);   /* decimal, leading zero allowed */
	ASSERT_CPUS(&r, 10);
}

static void test_highest_cpu_number(void **state)
{
	struct result r;

	(void)state;
	parse(&r, "4095", 8);
	ASSERT_CPUS(&r, CPULIST_MAX_CPU);
	parse(&r, "4094-4095", 8);
	ASSERT_CPUS(&r, 4094, 4095);
	refused("4096", 8, "bad CPU list '4096': expected a CPU number (0-4095) at '4096'");
	refused("1-4096", 8, "bad range ending at");
	refused("99999999999999999999", 8, "expected a CPU number");
}

static void test_every_cpu_fits_exactly(void **state)
{
	struct result r;

	(void)state;
	parse(&r, "0-4095", CPULIST_MAX_CPU + 1);
	assert_int_equal(r.n, CPULIST_MAX_CPU + 1);
	for (int i = 0; i <= CPULIST_MAX_CPU; i++)
		assert_int_equal(r.cpus[i], i);
}

static void test_refuses_duplicates(void **state)
{
	(void)state;
	refused("1,1", 8, "bad CPU list '1,1': CPU 1 listed twice");
	refused("0-3,2", 8, "CPU 2 listed twice");
	refused("5,3-6", 8, "CPU 5 listed twice");
	refused("0-2,1-3", 8, "CPU 1 listed twice");
}

static void test_refuses_reversed_range(void **state)
{
	(void)state;
	refused("3-1", 8, "bad CPU list '3-1': bad range ending at ''");
	refused("0,5-4", 8, "bad range");
}

static void test_refuses_junk(void **state)
{
	static const struct {
		const char *s, *phrase;
	} cases[] = {
		{"", "empty CPU list"},
		{"a", "expected a CPU number (0-4095) at 'a'"},
		{",", "expected a CPU number"},
		{"1,", "expected a CPU number (0-4095) at ''"},
		{",1", "expected a CPU number"},
		{"1-", "bad range"},
		{"-1", "expected a CPU number"},
		{"1--2", "bad range"},
		{"1-a", "bad range"},
		{"1 ,2", "unexpected ' '"},
		{" 1", "expected a CPU number"},
		{"1;2", "unexpected ';'"},
		{"0x1", "unexpected 'x'"},
		{"1,,2", "expected a CPU number"},
		{"1-2-3", "unexpected '-'"},
		{"+1", "expected a CPU number"},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(cases[i].s, 8, cases[i].phrase);
}

static void test_refuses_more_cpus_than_room(void **state)
{
	struct result r;

	(void)state;
	parse(&r, "0-3", 4);   /* exactly full */
	ASSERT_CPUS(&r, 0, 1, 2, 3);
	refused("0-4", 4, "CPU list '0-4' names more than 4 CPUs");
	refused("0,1,2,3,9", 4, "names more than 4 CPUs");
	refused("0", 0, "names more than 0 CPUs");
}

/* ---- sets and writing them ------------------------------------------------------- */

static void test_cpuset_members(void **state)
{
	struct cpuset s;

	(void)state;
	cpuset_clear(&s);
	assert_int_equal(cpuset_count(&s), 0);
	assert_int_equal(cpuset_first(&s), -1);
	cpuset_add(&s, 63);
	cpuset_add(&s, 64);
	cpuset_add(&s, CPULIST_MAX_CPU);
	cpuset_add(&s, CPULIST_MAX_CPU + 1);   /* out of range: ignored */
	cpuset_add(&s, -1);
	assert_int_equal(cpuset_count(&s), 3);
	assert_int_equal(cpuset_first(&s), 63);
	assert_true(cpuset_has(&s, 64));
	assert_false(cpuset_has(&s, 65));
	assert_false(cpuset_has(&s, -1));
	assert_false(cpuset_has(&s, CPULIST_MAX_CPU + 1));
	/* The kernel's bitmap layout: CPU 64 is bit 0 of the second long on
	 * 64-bit hosts (what sched_getaffinity reads and writes). */
	assert_int_equal(sizeof(s.bits) * 8, CPULIST_MAX_CPU + 1);
}

static void assert_formats(const char *list, const char *want)
{
	struct cpuset s = cpuset_of(list);
	char buf[CPULIST_TEXT_MAX];
	size_t n = cpulist_format(&s, buf, sizeof(buf));

	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void test_format_as_the_kernel_writes(void **state)
{
	struct cpuset empty;
	char buf[8] = "junk";

	(void)state;
	assert_formats("0", "0");
	assert_formats("0-1", "0-1");          /* /sys/devices/system/cpu/online on 2 CPUs */
	assert_formats("3,0-1", "0-1,3");      /* sorted, ranges merged */
	assert_formats("6,2,4", "2,4,6");
	assert_formats("0-3,4-7,9", "0-7,9");
	assert_formats("4094-4095", "4094-4095");
	assert_formats("0-4095", "0-4095");
	cpuset_clear(&empty);
	assert_int_equal(cpulist_format(&empty, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_format_round_trips(void **state)
{
	static const char *const lists[] = {"0", "1-2,5", "0,2,4,6,8,10", "63-65,127-128",
					    "0-4095", "4095"};
	char buf[CPULIST_TEXT_MAX];

	(void)state;
	for (unsigned i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct cpuset a = cpuset_of(lists[i]), b;

		cpulist_format(&a, buf, sizeof(buf));
		b = cpuset_of(buf);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void test_format_worst_case_fits_the_maximum(void **state)
{
	struct cpuset s;
	char *buf = malloc(CPULIST_TEXT_MAX);
	size_t n;

	(void)state;
	assert_non_null(buf);
	/* Pairs with gaps ("0-1,3-4,...") and lone CPUs ("0,2,...") are the
	 * longest lists; both fit CPULIST_TEXT_MAX. */
	for (int pairs = 0; pairs <= 1; pairs++) {
		cpuset_clear(&s);
		for (int c = 0; c <= CPULIST_MAX_CPU; c++)
			if (pairs ? c % 3 != 2 : c % 2 == 0)
				cpuset_add(&s, c);
		n = cpulist_format(&s, buf, CPULIST_TEXT_MAX);
		assert_true(n < CPULIST_TEXT_MAX);
		assert_int_equal(strlen(buf), n);
	}
	free(buf);
}

static void test_format_truncates_at_whole_items(void **state)
{
	struct cpuset s = cpuset_of("0-3,10,12,100-200");
	char buf[12];

	(void)state;
	/* "0-3,10,12,100-200" is 17 characters: only whole items are kept. */
	assert_int_equal(cpulist_format(&s, buf, sizeof(buf)), 17);
	assert_string_equal(buf, "0-3,10,12");
	assert_int_equal(cpulist_format(&s, buf, 4), 17);
	assert_string_equal(buf, "0-3");
	assert_int_equal(cpulist_format(&s, buf, 3), 17);
	assert_string_equal(buf, "");
	assert_int_equal(cpulist_format(&s, NULL, 0), 17);   /* only the length */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_cpu),
		cmocka_unit_test(test_ranges_and_lists_in_written_order),
		cmocka_unit_test(test_highest_cpu_number),
		cmocka_unit_test(test_every_cpu_fits_exactly),
		cmocka_unit_test(test_refuses_duplicates),
		cmocka_unit_test(test_refuses_reversed_range),
		cmocka_unit_test(test_refuses_junk),
		cmocka_unit_test(test_refuses_more_cpus_than_room),
		cmocka_unit_test(test_cpuset_members),
		cmocka_unit_test(test_format_as_the_kernel_writes),
		cmocka_unit_test(test_format_round_trips),
		cmocka_unit_test(test_format_worst_case_fits_the_maximum),
		cmocka_unit_test(test_format_truncates_at_whole_items),
	};

	return cmocka_run_group_tests_name("cpulist", tests, NULL, NULL);
}
