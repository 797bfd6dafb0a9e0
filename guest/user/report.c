/*
 * report.c - the VMBENCH-RESULT line: one JSON object in the shape of
 * DESIGN's result schema (vmbench.result/1), built without allocation.
 */
#include "user.h"

#define RESULT_PREFIX "VMBENCH-RESULT "

void json_init(struct json *j, char *buf, size_t size)
{
	j->buf = buf;
	j->size = size;
	j->len = 0;
	j->depth = 0;
	j->need_comma[0] = false;
	buf[0] = 0;
}

static void append(struct json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct json *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (j->len < j->size)
		j->len += (size_t)vsnprintf(j->buf + j->len, j->size - j->len, fmt, ap);
	va_end(ap);
}

static void append_string(struct json *j, const char *s)
{
	append(j, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			append(j, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			append(j, "\\u%04x", c);
		else
			append(j, "%c", c);
	}
	append(j, "\"");
}

static void key(struct json *j, const char *k)
{
	if (j->need_comma[j->depth])
		append(j, ",");
	j->need_comma[j->depth] = true;
	if (k) {
		append_string(j, k);
		append(j, ":");
	}
}

/* An object or array: its opening character, and a fresh level. */
static void open_level(struct json *j, const char *k, const char *bracket)
{
	key(j, k);
	append(j, "%s", bracket);
	if (j->depth + 1 < (int)ARRAY_SIZE(j->need_comma))
		j->need_comma[++j->depth] = false;
}

static void close_level(struct json *j, const char *bracket)
{
	append(j, "%s", bracket);
	if (j->depth > 0)
		j->depth--;
}

void json_begin(struct json *j, const char *k)
{
	open_level(j, k, "{");
}

void json_end(struct json *j)
{
	close_level(j, "}");
}

void json_array_begin(struct json *j, const char *k)
{
	open_level(j, k, "[");
}

void json_array_end(struct json *j)
{
	close_level(j, "]");
}

void json_str(struct json *j, const char *k, const char *value)
{
	key(j, k);
	append_string(j, value);
}

void json_u64(struct json *j, const char *k, uint64_t value)
{
	key(j, k);
	append(j, "%llu", (unsigned long long)value);
}

void json_double(struct json *j, const char *k, double value)
{
	key(j, k);
	if (value != value || value > 1e300 || value < -1e300)
		append(j, "null");    /* JSON has no NaN or infinity */
	else
		append(j, "%.10g", value);
}

void json_bool(struct json *j, const char *k, bool value)
{
	key(j, k);
	append(j, value ? "true" : "false");
}

const char *platform_name(void)
{
	if (!strncmp(sys->loader, "vmbench vmm", 11))
		return "vmm";
	if (!strncmp(sys->loader, "qemu", 4))
		return "qemu-guest";
	return "bare-metal";
}

void result_begin(struct json *j, const struct test_args *args)
{
	json_begin(j, NULL);
	json_str(j, "schema", "vmbench.result/1");
	json_str(j, "test", args->test);
	json_str(j, "platform", platform_name());
	json_begin(j, "options");
	for (unsigned i = 0; i < args->nopts; i++) {
		const struct option_value *o = &args->opts[i];

		switch (o->def->type) {
		case OPT_INT:
		case OPT_SIZE: json_u64(j, o->def->name, o->u); break;
		case OPT_BOOL: json_bool(j, o->def->name, o->u); break;
		case OPT_DOUBLE: json_double(j, o->def->name, o->d); break;
		case OPT_STRING: json_str(j, o->def->name, o->text); break;
		}
	}
	json_end(j);
}

void result_emit(struct json *j)
{
	struct cpu_identity id;

	cpu_identify(&id);
	json_begin(j, "env");
	json_u64(j, "vcpus", sys->cpus_online);
	json_u64(j, "mem_mib", (sys->ram_bytes + (1 << 20) - 1) >> 20);
	json_str(j, "cpu_vendor", id.vendor);
	json_str(j, "cpu_brand", id.brand);
	json_str(j, "hypervisor", id.hypervisor);
	json_u64(j, "tsc_hz", sys->tsc_hz);
	json_str(j, "tsc_source", sys->tsc_source);
	json_str(j, "boot_loader", sys->loader);
	/* How this boot's system calls entered ring 0 so far: which kind of
	 * host this was shows here (docs/guest.md, "System calls"). */
	json_begin(j, "syscalls");
	json_u64(j, "gate", sys->syscalls[SYSCALL_VIA_GATE]);
	json_u64(j, "ud", sys->syscalls[SYSCALL_VIA_UD]);
	json_u64(j, "gp", sys->syscalls[SYSCALL_VIA_GP]);
	json_end(j);
	json_end(j);
	json_end(j);
	if (j->len >= j->size)
		die(STATUS_FAILED, "internal error: result line longer than %zu bytes", j->size);
	/* Appended as it is, not through printf, whose buffer would cut a
	 * line longer than 4 KiB (jitter's, with many vCPUs).  Three appends:
	 * only one thread is left when a test reports. */
	stdout_write(RESULT_PREFIX, strlen(RESULT_PREFIX));
	stdout_write(j->buf, j->len);
	stdout_write("\n", 1);
}
