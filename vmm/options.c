/*
 * options.c - vmm's command line.
 *
 *   vmm [options] GUEST.elf [guest command line ...]
 *
 * Parsing stops at the guest file (getopt's "+"), so everything after it -
 * `cpu --threads=2 run` - belongs to the guest untouched.  The getopt_long
 * table is the core options below plus every device's own (struct
 * vmm_device: options, shortopts, usage, parse_option), so a device adds
 * an option without touching this file.  No function here exits or touches
 * KVM, so all of it is unit-tested.
 */
#include "options.h"

#include "boot.h"
#include "sandbox.h"
#include "vmm.h"

#include "../isolation/cpulist.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MEM (512 * MIB)
#define ABSOLUTE_MAX_VCPUS 4096   /* KVM's own limit is checked later */
#define MAX_TIMEOUT_S 1000000     /* 11.6 days */

/* --help: the core options around the devices' lines (print_usage). */
static const char usage_head[] =
	"Usage: vmm [options] GUEST.elf [guest command line ...]\n"
	"\n"
	"Boots a Multiboot 1 kernel (ELF32 or ELF64) on KVM.  Everything after\n"
	"GUEST.elf is the guest's command line, e.g.\n"
	"  vmm --smp 2 --mem 2G build/guest.elf cpu --cpu-max-prime=20000 --threads=2\n"
	"\n"
	"Options:\n"
	"  -c, --smp N          number of vCPUs (default 1; up to KVM's limit)\n"
	"  -m, --mem SIZE       guest RAM, with suffix K, M, G or T; a bare number\n"
	"                       is MiB, as in QEMU (default 512M)\n"
	"  -p, --pin CPULIST    run vCPU i on the i-th host CPU of CPULIST (0-3,6)\n"
	"      --io-pin CPULIST run vmm's I/O threads (one per disk) on the host\n"
	"                       CPUs of CPULIST\n"
	"      --rt[=PRIO]      run the vCPU threads SCHED_FIFO at PRIO (1-99,\n"
	"                       default 10); needs root or CAP_SYS_NICE\n"
	"      --mlock          lock guest RAM into host memory (all of it faulted\n"
	"                       in) before the guest starts\n"
	"      --nested         offer the guest nested virtualization: SVM or VMX,\n"
	"                       whichever this host's KVM offers (else refused)\n";

static const char usage_tail[] =
	"      --hugepages      back guest RAM with hugetlbfs pages (default:\n"
	"                       anonymous memory with MADV_HUGEPAGE)\n"
	"      --sync-teardown  release the VM in vmm itself before exiting (default:\n"
	"                       a helper process does it after vmm has exited)\n"
	"  -t, --timeout SEC    stop the guest after SEC seconds (status 124)\n"
	"  -s, --stats          print exit counts and handling time at exit\n"
	"      --trace          print every userspace exit with the guest\n"
	"                       instruction that caused it (to stderr)\n"
	"      --timestamps     start each line of guest output with the host time\n"
	"                       it arrived, in seconds since vmm started\n"
	"  -j, --json FILE      write the guest's results and host figures as JSON\n"
	"      --user USER[:GROUP]\n"
	"                       drop to USER (and GROUP) once /dev/kvm, the disks\n"
	"                       and --json are open; needs root\n"
	"      --no-seccomp     run without the seccomp filters (for debugging;\n"
	"                       docs/sandbox.md)\n"
	"      --check          tell whether this host can run vmm (and on which\n"
	"                       kind of KVM: hardware, pvm, nested), and why not\n"
	"  -h, --help           show this help\n"
	"  -V, --version        show the version\n"
	"\n"
	"Exit status: the guest's isa-debug-exit value (0-119), or 120 triple\n"
	"fault, 121 KVM error, 122 unhandled I/O, 123 guest stopped without a\n"
	"status, 124 timeout, 125 setup error, 126 forbidden system call (sandbox),\n"
	"128+N killed by signal N.\n";

bool parse_size(const char *s, uint64_t bare_unit, uint64_t *bytes)
{
	uint64_t unit = bare_unit, value;
	bool suffix = true;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	value = strtoull(s, &end, 10);
	if (errno)
		return false;
	switch (*end) {
	case '\0': suffix = false; break;
	case 'k': case 'K': unit = KIB; end++; break;
	case 'm': case 'M': unit = MIB; end++; break;
	case 'g': case 'G': unit = GIB; end++; break;
	case 't': case 'T': unit = 1024 * GIB; end++; break;
	default: return false;
	}
	/* Accept "2GiB" and "2GB" as people write them. */
	if (suffix && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end != '\0')
		return false;
	if (value > UINT64_MAX / unit)
		return false;
	*bytes = value * unit;
	return true;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && *end == '\0' && *out <= max;
}

/* A CPU list option (--pin, --io-pin) into a new array *cpus of *n CPUs.
 * Only the syntax is checked here; whether the CPUs exist and may be used
 * is the host's business (placement_check, when the VM is built). */
static int parse_cpu_option(const char *option, const char *list, int **cpus, unsigned *n,
			    char *errbuf, size_t errlen)
{
	char why[320];
	int count;

	*cpus = calloc(CPULIST_MAX_CPU + 1, sizeof(int));
	if (!*cpus) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	count = cpulist_parse(list, *cpus, CPULIST_MAX_CPU + 1, why, sizeof(why));
	if (count < 0) {
		snprintf(errbuf, errlen, "%s: %s", option, why);
		return -1;
	}
	*n = (unsigned)count;
	return 0;
}

/* --rt[=PRIO]: a SCHED_FIFO priority, 1 to what this kernel allows. */
static int parse_rt_priority(const char *arg, int *prio, char *errbuf, size_t errlen)
{
	int max = sched_get_priority_max(SCHED_FIFO);
	unsigned long ul;

	if (!arg) {
		*prio = DEFAULT_RT_PRIORITY;
		return 0;
	}
	if (!parse_uint(arg, (unsigned long)max, &ul) || ul < 1) {
		snprintf(errbuf, errlen,
			 "--rt=%s: expected a SCHED_FIFO priority from 1 to %d", arg, max);
		return -1;
	}
	*prio = (int)ul;
	return 0;
}

/* Joins the guest's arguments with single spaces.  The multiboot command
 * line is one string that the guest splits at spaces, so an argument that
 * itself contains white space could not survive the trip: refuse it. */
static char *join_guest_args(const char *guest, int argc, char **argv,
			     char *errbuf, size_t errlen)
{
	size_t len = strlen(guest) + 1;
	char *line, *p;

	for (int i = 0; i < argc; i++) {
		if (strpbrk(argv[i], " \t\n\r")) {
			snprintf(errbuf, errlen,
				 "guest argument '%s' contains white space, which the "
				 "multiboot command line cannot carry", argv[i]);
			return NULL;
		}
		len += strlen(argv[i]) + 1;
	}
	/* Like GRUB and QEMU, the first word is the kernel's own path. */
	if (len > GUEST_CMDLINE_MAX + 1) {
		snprintf(errbuf, errlen,
			 "guest command line is %zu bytes; the limit is %d",
			 len - 1, GUEST_CMDLINE_MAX);
		return NULL;
	}
	line = malloc(len);
	if (!line) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	p = stpcpy(line, guest);
	for (int i = 0; i < argc; i++) {
		*p++ = ' ';
		p = stpcpy(p, argv[i]);
	}
	return line;
}

enum { OPT_HUGEPAGES = 256, OPT_TRACE, OPT_CHECK, OPT_TIMESTAMPS, OPT_IO_PIN, OPT_RT,
       OPT_MLOCK, OPT_SYNC_TEARDOWN, OPT_NESTED, OPT_USER, OPT_NO_SECCOMP,
       OPT_SECCOMP_VIOLATE };

#define CORE_SHORTOPTS "c:m:p:t:sj:hV"
#define MAX_LONGOPTS 64
#define MAX_SHORTOPTS 64

static const struct option core_longopts[] = {
	{"smp", required_argument, NULL, 'c'},
	{"mem", required_argument, NULL, 'm'},
	{"pin", required_argument, NULL, 'p'},
	{"io-pin", required_argument, NULL, OPT_IO_PIN},
	{"rt", optional_argument, NULL, OPT_RT},
	{"mlock", no_argument, NULL, OPT_MLOCK},
	{"nested", no_argument, NULL, OPT_NESTED},
	{"hugepages", no_argument, NULL, OPT_HUGEPAGES},
	{"sync-teardown", no_argument, NULL, OPT_SYNC_TEARDOWN},
	{"timeout", required_argument, NULL, 't'},
	{"stats", no_argument, NULL, 's'},
	{"trace", no_argument, NULL, OPT_TRACE},
	{"check", no_argument, NULL, OPT_CHECK},
	{"timestamps", no_argument, NULL, OPT_TIMESTAMPS},
	{"json", required_argument, NULL, 'j'},
	{"user", required_argument, NULL, OPT_USER},
	{"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
	/* Test only, not in --help: that kind of thread makes a forbidden
	 * system call once its filter is on (docs/sandbox.md). */
	{"debug-seccomp-violate", required_argument, NULL, OPT_SECCOMP_VIOLATE},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
};

/* The getopt tables: the core's options, then each device's; a device
 * option that clashes with one already there is an error (of vmm's). */
struct option_tables {
	struct option longopts[MAX_LONGOPTS];
	char shortopts[MAX_SHORTOPTS];   /* "+:" then getopt's letters and colons */
	char letters[MAX_SHORTOPTS];     /* the letters alone */
	const struct vmm_device *owner[MAX_LONGOPTS];   /* NULL: core */
	unsigned nlong;
};

static bool add_long(struct option_tables *t, const struct option *o,
		     const struct vmm_device *owner)
{
	for (unsigned i = 0; i < t->nlong; i++)
		if (!strcmp(t->longopts[i].name, o->name) || t->longopts[i].val == o->val)
			return false;
	if (t->nlong + 1 >= MAX_LONGOPTS)
		return false;
	t->owner[t->nlong] = owner;
	t->longopts[t->nlong++] = *o;
	return true;
}

static int build_tables(struct option_tables *t, char *errbuf, size_t errlen)
{
	const struct vmm_device *const *devs;
	unsigned ndevs = 0;

	memset(t, 0, sizeof(*t));
	snprintf(t->shortopts, sizeof(t->shortopts), "+:%s", CORE_SHORTOPTS);
	for (size_t i = 0; i < sizeof(core_longopts) / sizeof(core_longopts[0]); i++)
		add_long(t, &core_longopts[i], NULL);
	devs = vmm_devices(&ndevs);
	for (unsigned d = 0; d < ndevs; d++) {
		const struct option *o = devs[d]->options;

		for (; o && o->name; o++) {
			if (!add_long(t, o, devs[d])) {
				snprintf(errbuf, errlen, "device %s: option --%s clashes with "
					 "another", devs[d]->name, o->name);
				return -1;
			}
		}
		if (devs[d]->shortopts &&
		    strlen(t->shortopts) + strlen(devs[d]->shortopts) < sizeof(t->shortopts))
			strcat(t->shortopts, devs[d]->shortopts);
	}
	char *e = t->letters;

	for (const char *s = t->shortopts + 2; *s; s++)
		if (*s != ':')
			*e++ = *s;
	return 0;
}

/* The device whose option has code c, or NULL. */
static const struct vmm_device *option_owner(const struct option_tables *t, int c)
{
	for (unsigned i = 0; i < t->nlong; i++)
		if (t->longopts[i].val == c)
			return t->owner[i];
	return NULL;
}

static void print_usage(FILE *out)
{
	const struct vmm_device *const *devs;
	unsigned ndevs = 0;

	fputs(usage_head, out);
	devs = vmm_devices(&ndevs);
	for (unsigned d = 0; d < ndevs; d++)
		if (devs[d]->usage)
			fputs(devs[d]->usage, out);
	fputs(usage_tail, out);
}

static void free_device_options(void)
{
	const struct vmm_device *const *devs;
	unsigned ndevs = 0;

	devs = vmm_devices(&ndevs);
	for (unsigned d = 0; d < ndevs; d++)
		if (devs[d]->free_options)
			devs[d]->free_options();
}

enum options_result options_parse(int argc, char **argv, struct vmm_config *cfg,
				  char *errbuf, size_t errlen, FILE *out)
{
	static struct option_tables tables;
	const struct vmm_device *dev;
	const char *pin_list = NULL, *io_pin_list = NULL;
	unsigned long ul;
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->vcpus = 1;
	cfg->mem_bytes = DEFAULT_MEM;
	cfg->seccomp_violate = SANDBOX_NONE;
	free_device_options();   /* what an earlier parse left */
	if (build_tables(&tables, errbuf, errlen))
		return OPTIONS_ERROR;

	/* getopt keeps global state; reset it so tests can parse repeatedly. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, tables.shortopts, tables.longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!parse_uint(optarg, ABSOLUTE_MAX_VCPUS, &ul) || ul == 0) {
				snprintf(errbuf, errlen,
					 "--smp '%s': expected a number of vCPUs from 1 to %d",
					 optarg, ABSOLUTE_MAX_VCPUS);
				return OPTIONS_ERROR;
			}
			cfg->vcpus = (unsigned)ul;
			break;
		case 'm':
			if (!parse_size(optarg, MIB, &cfg->mem_bytes)) {
				snprintf(errbuf, errlen,
					 "--mem '%s': expected a size such as 512M or 2G", optarg);
				return OPTIONS_ERROR;
			}
			if (cfg->mem_bytes < 2 * MIB) {
				snprintf(errbuf, errlen,
					 "--mem '%s': the guest needs at least 2M of RAM", optarg);
				return OPTIONS_ERROR;
			}
			if (cfg->mem_bytes % (4 * KIB)) {
				snprintf(errbuf, errlen,
					 "--mem '%s': must be a multiple of 4K", optarg);
				return OPTIONS_ERROR;
			}
			break;
		case 'p':
			pin_list = optarg;
			break;
		case OPT_IO_PIN:
			io_pin_list = optarg;
			break;
		case OPT_RT:
			if (parse_rt_priority(optarg, &cfg->rt_priority, errbuf, errlen))
				return OPTIONS_ERROR;
			break;
		case OPT_MLOCK:
			cfg->mlock = true;
			break;
		case OPT_NESTED:
			cfg->nested = true;
			break;
		case OPT_HUGEPAGES:
			cfg->hugepages = true;
			break;
		case OPT_SYNC_TEARDOWN:
			cfg->sync_teardown = true;
			break;
		case 't': {
			char *end;

			errno = 0;
			cfg->timeout_s = strtod(optarg, &end);
			/* Capped so the deadline in ns, and poll()'s int of
			 * milliseconds, cannot overflow (vm.c). */
			if (errno || *end || end == optarg || !isfinite(cfg->timeout_s) ||
			    cfg->timeout_s <= 0 || cfg->timeout_s > MAX_TIMEOUT_S) {
				snprintf(errbuf, errlen,
					 "--timeout '%s': expected a positive number of seconds "
					 "up to %d", optarg, MAX_TIMEOUT_S);
				return OPTIONS_ERROR;
			}
			break;
		}
		case 's':
			cfg->stats = true;
			break;
		case OPT_TRACE:
			cfg->trace = true;
			break;
		case OPT_CHECK:
			return OPTIONS_CHECK;
		case OPT_TIMESTAMPS:
			cfg->timestamps = true;
			break;
		case 'j':
			cfg->json_path = optarg;
			break;
		case OPT_USER:
			if (!*optarg || *optarg == ':') {
				snprintf(errbuf, errlen, "--user '%s': expected USER or USER:GROUP",
					 optarg);
				return OPTIONS_ERROR;
			}
			cfg->user = optarg;
			break;
		case OPT_NO_SECCOMP:
			cfg->no_seccomp = true;
			break;
		case OPT_SECCOMP_VIOLATE:
			cfg->seccomp_violate = sandbox_kind_parse(optarg);
			if (cfg->seccomp_violate == SANDBOX_NONE) {
				snprintf(errbuf, errlen, "--debug-seccomp-violate '%s': expected "
					 "main, vcpu, io, reaper or disas", optarg);
				return OPTIONS_ERROR;
			}
			break;
		case 'h':
			print_usage(out);
			return OPTIONS_EXIT_OK;
		case 'V':
			fprintf(out, "vmm %s (vmbench)\n", VMM_VERSION);
			return OPTIONS_EXIT_OK;
		case ':':
			snprintf(errbuf, errlen, "option '%s' needs a value (see --help)",
				 argv[optind - 1]);
			return OPTIONS_ERROR;
		default:
			dev = c != '?' ? option_owner(&tables, c) : NULL;
			if (dev && dev->parse_option) {
				if (dev->parse_option(c, optarg, errbuf, errlen))
					return OPTIONS_ERROR;
				break;
			}
			/* getopt reports a value given to a long flag ("--stats=1")
			 * as '?' with optopt = that option's code. */
			if (optopt >= 256 || (optopt && strchr(tables.letters, optopt)))
				snprintf(errbuf, errlen, "option '%.*s' takes no value (see --help)",
					 (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
			else if (optopt)
				snprintf(errbuf, errlen, "unknown option '-%c' (see --help)", optopt);
			else
				snprintf(errbuf, errlen, "unknown option '%s' (see --help)",
					 argv[optind - 1]);
			return OPTIONS_ERROR;
		}
	}

	if (optind >= argc) {
		snprintf(errbuf, errlen, "no guest kernel given (see --help)");
		return OPTIONS_ERROR;
	}
	cfg->guest_path = argv[optind];

	if (pin_list) {
		if (parse_cpu_option("--pin", pin_list, &cfg->pin_cpus, &cfg->pin_count,
				     errbuf, errlen))
			return OPTIONS_ERROR;
		if (cfg->pin_count < cfg->vcpus) {
			snprintf(errbuf, errlen,
				 "--pin '%s' names %u host CPUs for %u vCPUs; give one per vCPU",
				 pin_list, cfg->pin_count, cfg->vcpus);
			return OPTIONS_ERROR;
		}
	}
	if (io_pin_list && parse_cpu_option("--io-pin", io_pin_list, &cfg->io_pin_cpus,
					    &cfg->io_pin_count, errbuf, errlen))
		return OPTIONS_ERROR;

	cfg->guest_cmdline = join_guest_args(cfg->guest_path, argc - optind - 1,
					     argv + optind + 1, errbuf, errlen);
	if (!cfg->guest_cmdline)
		return OPTIONS_ERROR;
	return OPTIONS_RUN;
}

void options_free(struct vmm_config *cfg)
{
	free_device_options();
	free(cfg->guest_cmdline);
	free(cfg->pin_cpus);
	free(cfg->io_pin_cpus);
	cfg->guest_cmdline = NULL;
	cfg->pin_cpus = NULL;
	cfg->io_pin_cpus = NULL;
}
