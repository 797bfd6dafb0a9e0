/*
 * main.c - ring 3's first thread: read the command line, find the test,
 * check its options, run its commands, exit with its status.
 */
#include "user.h"

extern const struct guest_test *const __start_guest_tests[];
extern const struct guest_test *const __stop_guest_tests[];

const struct sysinfo *sys;

/* sysbench's general options, shared by every test. */
static const struct option_def general_options[] = {
	{"threads", OPT_INT, "1", "number of threads to use", NULL},
	{"time", OPT_INT, "10", "limit for total execution time in seconds", NULL},
	{"events", OPT_INT, "0", "limit for total number of events", NULL},
	{"percentile", OPT_INT, "95",
	 "percentile to calculate in latency statistics (1-100), 0 to disable", NULL},
	{"histogram", OPT_BOOL, "off", "print latency histogram in report", NULL},
	{"rand-seed", OPT_INT, "0",
	 "seed for the random number generators; 0 to seed from the TSC", NULL},
	{"syscall-gate", OPT_STRING, "open",
	 "open: int $0x80 through its ring-3 gate where the CPU delivers it; closed: "
	 "every system call takes the #GP fallback (read by the kernel at boot)", "open,closed"},
	{"apic", OPT_STRING, "auto",
	 "auto: xAPIC unless an APIC ID needs x2APIC; x2apic: x2APIC where the CPU has it "
	 "(read by the kernel at boot)", "auto,x2apic"},
	{"console", OPT_STRING, "auto",
	 "auto: vmm's buffer console where CPUID 0x40000101 offers it, else COM1; com1: "
	 "COM1 always (read by the kernel at boot)", "auto,com1"},
	{NULL, 0, NULL, NULL, NULL},
};

static const struct guest_test *find_test(const char *name)
{
	for (const struct guest_test *const *t = __start_guest_tests; t < __stop_guest_tests; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	return NULL;
}

static void list_tests(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (const struct guest_test *const *t = __start_guest_tests; t < __stop_guest_tests; t++)
		if (!(*t)->hidden)
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? " " : "",
					      (*t)->name);
}

static void print_options(const struct option_def *d)
{
	for (; d->name; d++)
		printf("  --%s=%-*s %s [%s]\n", d->name, (int)(24 - strlen(d->name)),
		       d->type == OPT_BOOL ? "[on|off]" : d->type == OPT_STRING ? "STRING" : "N",
		       d->help, d->default_value);
}

static int usage(void)
{
	printf("Usage: vmm [vmm options] guest.elf TEST [options] [command]\n\nTests:\n");
	for (const struct guest_test *const *t = __start_guest_tests; t < __stop_guest_tests; t++)
		if (!(*t)->hidden)
			printf("  %-10s %s\n", (*t)->name, (*t)->summary);
	printf("\nGeneral options:\n");
	print_options(general_options);
	printf("\nSee 'TEST help' for a test's own options.\n");
	return STATUS_OK;
}

static int run_test(unsigned nwords, const char **words)
{
	static struct test_args args;
	const struct guest_test *t = find_test(words[0]);
	char names[256];
	int status = STATUS_OK;

	if (!strcmp(words[0], "help") || !strcmp(words[0], "--help"))
		return usage();
	if (!t) {
		list_tests(names, sizeof(names));
		printf("vmbench: unknown test '%s' (tests: %s)\n", words[0], names);
		return STATUS_USAGE;
	}
	const struct option_def *const defs[] = {general_options, t->options, NULL};
	if (!cmdline_parse(nwords, words, defs, &args))
		return STATUS_USAGE;
	if (sys->x2apic_asked && !sys->x2apic) {
		printf("vmbench: --apic=x2apic: this CPU has no x2APIC (CPUID.1:ECX[21])\n");
		return STATUS_UNAVAILABLE;
	}
	if (args.ncommands == 0)
		args.commands[args.ncommands++] = "run";
	for (unsigned i = 0; i < args.ncommands; i++) {
		if (!strcmp(args.commands[i], "help"))
			continue;
		if (!word_in_list(args.commands[i], t->commands, ' ')) {
			printf("vmbench: test '%s' has no command '%s' (commands: %s)\n", t->name,
			       args.commands[i], t->commands);
			return STATUS_USAGE;
		}
	}
	for (unsigned i = 0; i < args.ncommands && status == STATUS_OK; i++) {
		if (!strcmp(args.commands[i], "help")) {
			printf("%s options:\n", t->name);
			print_options(t->options);
			continue;
		}
		status = t->run(&args, args.commands[i]);
	}
	return status;
}

void user_main(void *arg);

void user_main(void *arg)
{
	static char storage[SYSINFO_CMDLINE_MAX];
	const char *words[MAX_ARGS + 1];
	unsigned nwords;

	(void)arg;
	sys = sys_sysinfo(&stdout_output);
	time_init(sys->tsc_hz);
	heap_init();
	if (!cmdline_split(sys->cmdline, storage, sizeof(storage), words, &nwords))
		sys_exit(STATUS_USAGE);
	if (nwords == 0) {
		/* No test named: show what the guest sees, the safest default. */
		words[0] = "info";
		nwords = 1;
	}
	sys_exit(run_test(nwords, words));
}
