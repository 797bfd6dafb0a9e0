/*
 * report.c - the --json document: the guest's VMBENCH-RESULT objects plus
 * what only the host knows (vmm version, host CPU and kernel, the kind of
 * KVM, pinning, wall time, exit counts), and the CPUs and policy each of
 * vmm's threads really ran with (placement.c).
 *
 * Result lines come from the guest, so they are untrusted: each is
 * embedded only if it is one valid JSON object (json_is_object, a small
 * depth-limited syntax check); anything else is kept as an escaped string
 * under "invalid_results" so the file always parses.
 */
#include "stats.h"

#include "options.h"
#include "vmm.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* ---- validation ----------------------------------------------------------- */

#define JSON_MAX_DEPTH 32

struct json_cursor {
	const char *p, *end;
};

static void skip_ws(struct json_cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' ||
				 *c->p == '\r'))
		c->p++;
}

static bool take(struct json_cursor *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool parse_value(struct json_cursor *c, int depth);

/* The rest of a UTF-8 sequence that starts with `lead` (>= 0x80): JSON
 * text is UTF-8 (RFC 8259), and one stray byte would make the whole --json
 * file undecodable.  Overlong forms, surrogates and > U+10FFFF refused. */
static bool take_utf8_tail(struct json_cursor *c, unsigned char lead)
{
	unsigned n;
	uint32_t cp, min;

	if ((lead & 0xe0) == 0xc0) {
		n = 1, cp = lead & 0x1fu, min = 0x80;
	} else if ((lead & 0xf0) == 0xe0) {
		n = 2, cp = lead & 0x0fu, min = 0x800;
	} else if ((lead & 0xf8) == 0xf0) {
		n = 3, cp = lead & 0x07u, min = 0x10000;
	} else {
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		if (c->p >= c->end || ((unsigned char)*c->p & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | ((unsigned char)*c->p++ & 0x3fu);
	}
	return cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
}

static bool parse_string(struct json_cursor *c)
{
	if (!take(c, '"'))
		return false;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p++;

		if (ch == '"')
			return true;
		if (ch < 0x20)
			return false;
		if (ch >= 0x80 && !take_utf8_tail(c, ch))
			return false;
		if (ch == '\\') {
			if (c->p >= c->end)
				return false;
			ch = (unsigned char)*c->p++;
			if (ch == 'u') {
				for (int i = 0; i < 4; i++)
					if (c->p >= c->end || !isxdigit((unsigned char)*c->p++))
						return false;
			} else if (!ch || !strchr("\"\\/bfnrt", ch)) {   /* strchr finds NUL */
				return false;
			}
		}
	}
	return false;
}

static bool parse_number(struct json_cursor *c)
{
	const char *start = c->p;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end || !isdigit((unsigned char)*c->p))
		return false;
	if (*c->p == '0')
		c->p++;
	else
		while (c->p < c->end && isdigit((unsigned char)*c->p))
			c->p++;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (c->p >= c->end || !isdigit((unsigned char)*c->p))
			return false;
		while (c->p < c->end && isdigit((unsigned char)*c->p))
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || !isdigit((unsigned char)*c->p))
			return false;
		while (c->p < c->end && isdigit((unsigned char)*c->p))
			c->p++;
	}
	return c->p > start;
}

static bool parse_word(struct json_cursor *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n))
		return false;
	c->p += n;
	return true;
}

static bool parse_container(struct json_cursor *c, int depth, bool object)
{
	char close = object ? '}' : ']';

	if (depth > JSON_MAX_DEPTH)
		return false;
	if (take(c, close))
		return true;
	do {
		if (object) {
			skip_ws(c);
			if (!parse_string(c) || !take(c, ':'))
				return false;
		}
		if (!parse_value(c, depth + 1))
			return false;
	} while (take(c, ','));
	return take(c, close);
}

static bool parse_value(struct json_cursor *c, int depth)
{
	skip_ws(c);
	if (c->p >= c->end)
		return false;
	switch (*c->p) {
	case '{': c->p++; return parse_container(c, depth, true);
	case '[': c->p++; return parse_container(c, depth, false);
	case '"': return parse_string(c);
	case 't': return parse_word(c, "true");
	case 'f': return parse_word(c, "false");
	case 'n': return parse_word(c, "null");
	default: return parse_number(c);
	}
}

bool json_is_object(const char *s, size_t len)
{
	struct json_cursor c = {s, s + len};

	skip_ws(&c);
	if (c.p >= c.end || *c.p != '{' || !parse_value(&c, 0))
		return false;
	skip_ws(&c);
	return c.p == c.end;
}

/* ---- writing -------------------------------------------------------------- */

static void put_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void json_put_string(FILE *f, const char *s)
{
	if (s)
		put_string(f, s, strlen(s));
	else
		fputs("null", f);
}

static void host_cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10)) {
			char *v = strchr(line, ':');

			if (v) {
				v += 1 + strspn(v + 1, " \t");
				v[strcspn(v, "\n")] = 0;
				snprintf(buf, len, "%s", v);
			}
			break;
		}
	}
	fclose(f);
}

static const char *stop_reason_name(enum stop_reason r)
{
	switch (r) {
	case STOP_GUEST_EXIT: return "guest-exit";
	case STOP_TRIPLE_FAULT: return "triple-fault";
	case STOP_KVM_ERROR: return "kvm-error";
	case STOP_BAD_ACCESS: return "unhandled-access";
	case STOP_TIMEOUT: return "timeout";
	case STOP_SIGNAL: return "signal";
	case STOP_SYSTEM_EVENT: return "system-event";
	case STOP_NONE: break;
	}
	return "none";
}

static void put_counters(FILE *f, const struct vm *vm, const struct exit_counter *slots)
{
	bool first = true;

	fputc('{', f);
	for (unsigned s = 0; s < STATS_SLOTS; s++) {
		if (!slots[s].count)
			continue;
		fprintf(f, "%s", first ? "" : ",");
		json_put_string(f, stats_slot_name(vm, s));
		fprintf(f, ":{\"count\":%llu,\"total_us\":%.1f,\"max_us\":%.1f}",
			(unsigned long long)slots[s].count, slots[s].ns_total / 1e3,
			slots[s].ns_max / 1e3);
		first = false;
	}
	fputc('}', f);
}

static void put_cpus(FILE *f, const int *cpus, unsigned n)
{
	if (!cpus) {
		fputs("null", f);
		return;
	}
	fputc('[', f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? "," : "", cpus[i]);
	fputc(']', f);
}

/* vmm's other threads (the disks' I/O threads ...) and its locked memory,
 * as the kernel reports them. */
static void put_placement(FILE *f, const struct vm *vm)
{
	fputs(",\"io_threads\":[", f);
	for (unsigned i = 0; i < vm->nio_threads; i++) {
		fprintf(f, "%s{\"name\":", i ? "," : "");
		json_put_string(f, vm->io_threads[i]->name);
		fputc(',', f);
		thread_state_json(f, &vm->io_threads[i]->state);
		fputc('}', f);
	}
	fprintf(f, "],\"mlock\":{\"requested\":%s,\"locked_kib\":%llu}",
		vm->cfg->mlock ? "true" : "false",
		(unsigned long long)vm->locked_kib);
}

static void put_exits(FILE *f, const struct vm *vm)
{
	struct exit_counter total[STATS_SLOTS];
	uint64_t count = 0;

	memset(total, 0, sizeof(total));
	for (unsigned v = 0; v < vm->nvcpus; v++)
		for (unsigned s = 0; s < STATS_SLOTS; s++) {
			const struct exit_counter *c = &vm->vcpus[v].stats.slot[s];

			total[s].count += c->count;
			total[s].ns_total += c->ns_total;
			if (c->ns_max > total[s].ns_max)
				total[s].ns_max = c->ns_max;
			count += c->count;
		}
	fprintf(f, "{\"total\":%llu,\"by_kind\":", (unsigned long long)count);
	put_counters(f, vm, total);
	fputs(",\"per_vcpu\":[", f);
	for (unsigned v = 0; v < vm->nvcpus; v++) {
		const struct vcpu_stats *st = &vm->vcpus[v].stats;

		fprintf(f, "%s{\"vcpu\":%u,", v ? "," : "", v);
		thread_state_json(f, &vm->vcpus[v].state);
		fprintf(f, ",\"run_ms\":%.3f,\"exits\":", st->run_ns / 1e6);
		put_counters(f, vm, st->slot);
		fputc('}', f);
	}
	fputs("]}", f);
}

/* What the document says of the host, read before the sandbox closes
 * /proc and /sys to vmm. */
static struct {
	bool known;
	char cpu[256];
	struct utsname uts;
	long cpus_online;
	FILE *file;             /* the prepared --json file, or NULL */
	const char *path;
} host;

static void read_host(void)
{
	host_cpu_model(host.cpu, sizeof(host.cpu));
	if (uname(&host.uts))
		snprintf(host.uts.release, sizeof(host.uts.release), "unknown");
	host.cpus_online = sysconf(_SC_NPROCESSORS_ONLN);
	host.known = true;
}

int report_prepare(const char *path, char *errbuf, size_t errlen)
{
	if (!path)
		return 0;
	read_host();
	host.file = fopen(path, "w");
	if (!host.file) {
		snprintf(errbuf, errlen, "cannot write --json file '%s': %s", path,
			 strerror(errno));
		return -1;
	}
	host.path = path;
	return 0;
}

void report_discard(void)
{
	if (!host.file)
		return;
	fclose(host.file);
	unlink(host.path);
	host.file = NULL;
}

int report_write_json(const struct vm *vm, const char *path, double wall_s,
		      char *errbuf, size_t errlen)
{
	const struct vmm_config *cfg = vm->cfg;
	FILE *f = host.file && !strcmp(path, host.path) ? host.file : fopen(path, "w");

	if (f == host.file)
		host.file = NULL;
	if (!f) {
		snprintf(errbuf, errlen, "cannot write --json file '%s': %s", path,
			 strerror(errno));
		return -1;
	}
	if (!host.known)
		read_host();

	fputs("{\"schema\":\"vmbench.vmm/1\",\"vmm_version\":\"" VMM_VERSION "\",\"guest\":", f);
	json_put_string(f, cfg->guest_path);
	fputs(",\"cmdline\":", f);
	json_put_string(f, cfg->guest_cmdline);
	fputs(",\"host\":{\"cpu\":", f);
	json_put_string(f, host.cpu);
	fprintf(f, ",\"cpus_online\":%ld,\"kernel\":", host.cpus_online);
	json_put_string(f, host.uts.release);
	/* Which kind of KVM ran the guest (kvm_kind.c), the module behind
	 * /dev/kvm and the hypervisor the host itself runs under. */
	fprintf(f, ",\"kvm_kind\":\"%s\",\"kvm_module\":", kvm_kind_name(vm->kvm_kind.kind));
	json_put_string(f, vm->kvm_kind.module[0] ? vm->kvm_kind.module : NULL);
	fputs(",\"hypervisor\":", f);
	json_put_string(f, vm->kvm_kind.hypervisor[0] ? vm->kvm_kind.hypervisor : NULL);
	/* How many hypervisors lie below vmm (kvm_kind.c says how it is told). */
	fprintf(f, "},\"virt_level\":%u,\"hypervisor_below\":{\"cpuid_signature\":",
		vm->kvm_kind.virt_level);
	json_put_string(f, vm->kvm_kind.hypervisor[0] ? vm->kvm_kind.hypervisor : NULL);
	fprintf(f, ",\"vmbench_vmm\":%s,\"kvm_kind\":\"%s\"}",
		vm->kvm_kind.below_vmbench_vmm ? "true" : "false",
		kvm_kind_name(vm->kvm_kind.kind));
	fprintf(f, ",\"config\":{\"vcpus\":%u,\"mem_mib\":%llu,\"hugepages\":%s,"
		"\"nested\":\"%s\",\"timeout_s\":%g,\"pin\":",
		vm->nvcpus, (unsigned long long)(cfg->mem_bytes / MIB),
		cfg->hugepages ? "true" : "false", nested_virt_name(vm->nested), cfg->timeout_s);
	put_cpus(f, cfg->pin_cpus, vm->nvcpus);
	fputs(",\"io_pin\":", f);
	put_cpus(f, cfg->io_pin_cpus, cfg->io_pin_count);
	if (cfg->rt_priority)
		fprintf(f, ",\"rt_priority\":%d", cfg->rt_priority);
	else
		fputs(",\"rt_priority\":null", f);
	fprintf(f, "},\"tsc_khz\":%u,\"wall_time_s\":%.6f,\"exit_status\":%d,\"stop_reason\":\"%s\","
		"\"exits\":", vm->tsc_khz, wall_s, vm->exit_status,
		stop_reason_name(vm->stop_reason));
	put_exits(f, vm);
	fprintf(f, ",\"coalesced_io\":{\"enabled\":%s,\"off_why\":",
		vm->coalesced.ring ? "true" : "false");
	json_put_string(f, vm->coalesced.ring ? NULL : vm->coalesced.off_why);
	fprintf(f, ",\"ring_entries\":%u,\"replayed\":%llu,\"drains\":%llu}",
		vm->coalesced.max, (unsigned long long)vm->coalesced.replayed,
		(unsigned long long)vm->coalesced.drains);
	put_placement(f, vm);
	const struct boot_timeline *t = &vm->timeline;
#define MS_SINCE_START(x) ((x) ? ((x) - t->start) / 1e6 : 0.0)
	fprintf(f, ",\"timeline_ms\":{\"guest_loaded\":%.3f,\"kvm_open\":%.3f,\"vm_ready\":%.3f,"
		"\"vcpus_started\":%.3f,\"first_output\":%.3f,\"stopped\":%.3f,"
		"\"reports_started\":%.3f}",
		MS_SINCE_START(t->guest_loaded), MS_SINCE_START(t->kvm_open),
		MS_SINCE_START(t->vm_ready), MS_SINCE_START(t->vcpus_started),
		MS_SINCE_START(t->first_output), MS_SINCE_START(t->stopped),
		MS_SINCE_START(t->reporting));
#undef MS_SINCE_START
	/* Written before the teardown: says who will release the VM. */
	if (vm->reaper.sock >= 0 && !vm->reaper.gone) {
		fprintf(f, ",\"vm_release\":{\"by\":\"reaper\",\"pid\":%d}", (int)vm->reaper.pid);
	} else {
		/* A reaper that stopped answering (a crash dump's request) is
		 * not handed the VM: vm_destroy() releases it here. */
		fprintf(f, ",\"vm_release\":{\"by\":\"vmm\",\"why\":");
		json_put_string(f, vm->reaper.gone ? "the reaper stopped answering" : vm->reaper_off);
		fputc('}', f);
	}
	struct rss_figures rss;
	rss_measure(vm, &rss);
	fprintf(f, ",\"rss_kib\":{\"peak\":%llu,\"guest\":%llu,\"vmm\":%llu}",
		(unsigned long long)rss.peak_kib, (unsigned long long)rss.guest_kib,
		(unsigned long long)(rss.peak_kib - rss.guest_kib));

	devices_write_json(vm, f);   /* "disks" ... */

	fputs(",\"results\":[", f);
	bool first = true;
	for (unsigned i = 0; i < vm->nresults; i++) {
		if (!json_is_object(vm->results[i], strlen(vm->results[i])))
			continue;
		fprintf(f, "%s%s", first ? "" : ",", vm->results[i]);
		first = false;
	}
	fputs("],\"invalid_results\":[", f);
	first = true;
	for (unsigned i = 0; i < vm->nresults; i++) {
		if (json_is_object(vm->results[i], strlen(vm->results[i])))
			continue;
		fputs(first ? "" : ",", f);
		json_put_string(f, vm->results[i]);
		first = false;
	}
	fputs("]}\n", f);
	if (fclose(f)) {
		snprintf(errbuf, errlen, "cannot write --json file '%s': %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}
