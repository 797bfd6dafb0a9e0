/*
 * cmdline.c - the guest's command line, in sysbench's grammar:
 *
 *     TEST [--name=value | --name ...] [command ...]
 *
 * Values are checked here once, against each option's type, so tests
 * read plain numbers.  Sizes take sysbench's suffixes (K, M, G, T, powers
 * of 1024); booleans take on/off, yes/no, true/false, 1/0 ("--name" alone
 * means on).  QEMU's -kernel, vmm and GRUB Legacy start the Multiboot
 * command line with the kernel's own path; GRUB 2 passes only what follows
 * it.  So a first word that names a file (it has a '/' or a '.', which no
 * test name or option has) is dropped, and any other first word is the
 * test.
 */
#include "user.h"

static bool names_a_file(const char *word, size_t len)
{
	if (word[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (word[i] == '/' || word[i] == '.')
			return true;
	return false;
}

bool cmdline_split(const char *line, char *storage, size_t storage_len,
		   const char **words, unsigned *nwords)
{
	char *p = storage;
	bool first = true;

	*nwords = 0;
	if (strlcpy(storage, line, storage_len) >= storage_len) {
		printf("vmbench: command line too long\n");
		return false;
	}
	for (;;) {
		while (isspace(*p))
			*p++ = 0;
		if (!*p)
			return true;
		size_t len = 0;

		while (p[len] && !isspace(p[len]))
			len++;
		if (first && names_a_file(p, len)) {
			first = false;
		} else if (*nwords == MAX_ARGS) {
			printf("vmbench: more than %d words on the command line\n", MAX_ARGS);
			return false;
		} else {
			first = false;
			words[(*nwords)++] = p;
		}
		p += len;
	}
}

static bool parse_bool(const char *s, uint64_t *out)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};

	for (unsigned i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i]))
			return *out = 1, true;
		if (!strcmp(s, no[i]))
			return *out = 0, true;
	}
	return false;
}

static bool parse_size(const char *s, uint64_t *out)
{
	const char *end;
	bool ok;
	uint64_t v = strtou64(s, &end, 10, &ok), unit = 1;

	if (!ok)
		return false;
	switch (tolower(*end)) {
	case 0: break;
	case 'k': unit = 1ULL << 10; end++; break;
	case 'm': unit = 1ULL << 20; end++; break;
	case 'g': unit = 1ULL << 30; end++; break;
	case 't': unit = 1ULL << 40; end++; break;
	default: return false;
	}
	if (*end || v > UINT64_MAX / unit)
		return false;
	*out = v * unit;
	return true;
}

static bool parse_double(const char *s, double *out)
{
	const char *end;
	bool ok;
	double v = (double)strtou64(s, &end, 10, &ok);

	if (!ok)
		return false;
	if (*end == '.') {
		double scale = 0.1;

		end++;
		if (!isdigit(*end))
			return false;
		while (isdigit(*end)) {
			v += (*end++ - '0') * scale;
			scale /= 10;
		}
	}
	*out = v;
	return *end == 0;
}

static bool set_value(struct option_value *o, const char *text)
{
	const struct option_def *d = o->def;
	bool ok = true;

	o->text = text;
	switch (d->type) {
	case OPT_INT: {
		const char *end;

		o->u = strtou64(text, &end, 10, &ok);
		ok = ok && !*end;
		break;
	}
	case OPT_SIZE:
		ok = parse_size(text, &o->u);
		break;
	case OPT_BOOL:
		ok = parse_bool(text, &o->u);
		break;
	case OPT_DOUBLE:
		ok = parse_double(text, &o->d);
		break;
	case OPT_STRING:
		ok = !d->choices || word_in_list(text, d->choices, ',');
		break;
	}
	return ok;
}

static void describe_expected(const struct option_def *d, char *buf, size_t len)
{
	switch (d->type) {
	case OPT_INT: snprintf(buf, len, "a whole number"); break;
	case OPT_SIZE: snprintf(buf, len, "a size such as 16K, 1M or 2G"); break;
	case OPT_BOOL: snprintf(buf, len, "on or off"); break;
	case OPT_DOUBLE: snprintf(buf, len, "a number"); break;
	case OPT_STRING: snprintf(buf, len, "one of %s", d->choices ? d->choices : "?"); break;
	}
}

bool cmdline_parse(unsigned nwords, const char **words, const struct option_def *const *defs,
		   struct test_args *args)
{
	memset(args, 0, sizeof(*args));
	args->test = words[0];
	for (unsigned s = 0; defs[s]; s++) {
		for (const struct option_def *d = defs[s]; d->name; d++) {
			struct option_value *o = &args->opts[args->nopts++];

			o->def = d;
			set_value(o, d->default_value);
		}
	}
	for (unsigned i = 1; i < nwords; i++) {
		const char *w = words[i];

		if (w[0] != '-' || w[1] != '-') {
			if (args->ncommands == MAX_ARGS)
				return false;
			args->commands[args->ncommands++] = w;
			continue;
		}
		/* --name=value, or --name alone for a boolean */
		char name[64];
		const char *eq = strchr(w + 2, '=');
		size_t len = eq ? (size_t)(eq - (w + 2)) : strlen(w + 2);
		struct option_value *o = NULL;

		if (len >= sizeof(name)) {
			printf("vmbench: unknown option '%s' for test '%s'\n", w, args->test);
			return false;
		}
		memcpy(name, w + 2, len);
		name[len] = 0;
		for (unsigned k = 0; k < args->nopts; k++)
			if (!strcmp(args->opts[k].def->name, name))
				o = &args->opts[k];
		if (!o) {
			printf("vmbench: unknown option '--%s' for test '%s' (see: %s help)\n",
			       name, args->test, args->test);
			return false;
		}
		const char *value = eq ? eq + 1 : (o->def->type == OPT_BOOL ? "on" : NULL);
		if (!value || !set_value(o, value)) {
			char expected[256];   /* room for a long choices list */

			describe_expected(o->def, expected, sizeof(expected));
			printf("vmbench: invalid value '%s' for option '--%s': expected %s\n",
			       value ? value : "", name, expected);
			return false;
		}
		o->given = true;
	}
	return true;
}

const struct option_value *opt_get(const struct test_args *args, const char *name)
{
	for (unsigned k = 0; k < args->nopts; k++)
		if (!strcmp(args->opts[k].def->name, name))
			return &args->opts[k];
	die(STATUS_FAILED, "internal error: no option '%s'", name);
}

uint64_t opt_u64(const struct test_args *args, const char *name)
{
	return opt_get(args, name)->u;
}

bool opt_bool(const struct test_args *args, const char *name)
{
	return opt_get(args, name)->u != 0;
}

const char *opt_str(const struct test_args *args, const char *name)
{
	return opt_get(args, name)->text;
}

double opt_double(const struct test_args *args, const char *name)
{
	return opt_get(args, name)->d;
}
