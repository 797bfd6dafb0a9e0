/*
 * printf.c - vsnprintf for the guest: %d %i %u %x %X %o %p %s %c %%, with
 * flags (- + space 0 #), width, precision and the length modifiers hh h l
 * ll z t j.  In ring 3's build, %f %F %e %E %g %G are handed to the
 * printf_float() hook (user/printf_float.c); ring 0's build has no floating
 * point and prints them as unknown conversions, unformatted (libc.h).
 */
#include "libc.h"

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, const struct format_spec *sp)
{
	size_t pad = sp->width > 0 && (size_t)sp->width > n ? (size_t)sp->width - n : 0;

	if (!sp->left)
		while (pad--)
			put(o, ' ');
	for (size_t i = 0; i < n; i++)
		put(o, s[i]);
	if (sp->left)
		while (pad--)
			put(o, ' ');
}

static void put_number(struct out *o, uint64_t v, bool negative, unsigned base,
		       bool upper, const struct format_spec *sp)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24], prefix[3] = "";
	int n = 0, plen = 0, zeros = 0, pad;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (sp->precision == 0 && n == 1 && tmp[0] == '0')
		n = 0;
	if (negative)
		prefix[plen++] = '-';
	else if (sp->plus)
		prefix[plen++] = '+';
	else if (sp->space)
		prefix[plen++] = ' ';
	if (sp->alt && base == 16 && n) {
		prefix[plen++] = '0';
		prefix[plen++] = upper ? 'X' : 'x';
	}
	if (sp->precision > n)
		zeros = sp->precision - n;
	pad = sp->width - plen - zeros - n;
	if (sp->zero && !sp->left && sp->precision < 0 && pad > 0) {
		zeros += pad;
		pad = 0;
	}
	if (!sp->left)
		while (pad-- > 0)
			put(o, ' ');
	for (int i = 0; i < plen; i++)
		put(o, prefix[i]);
	while (zeros-- > 0)
		put(o, '0');
	while (n)
		put(o, tmp[--n]);
	if (sp->left)
		while (pad-- > 0)
			put(o, ' ');
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
	struct out o = {buf, size, 0};
	va_list ap;

	va_copy(ap, ap_in);
	for (; *fmt; fmt++) {
		struct format_spec sp = {.precision = -1};
		int lng = 0;   /* -2 hh, -1 h, 0 int, 1 long, 2 long long */

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		for (;;) {
			char f = *++fmt;

			if (f == '-') sp.left = true;
			else if (f == '+') sp.plus = true;
			else if (f == ' ') sp.space = true;
			else if (f == '0') sp.zero = true;
			else if (f == '#') sp.alt = true;
			else break;
		}
		if (*fmt == '*') {
			sp.width = va_arg(ap, int);
			if (sp.width < 0) {
				sp.left = true;
				sp.width = -sp.width;
			}
			fmt++;
		} else {
			while (isdigit(*fmt))
				sp.width = sp.width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			fmt++;
			sp.precision = 0;
			if (*fmt == '*') {
				sp.precision = va_arg(ap, int);
				fmt++;
			} else {
				while (isdigit(*fmt))
					sp.precision = sp.precision * 10 + (*fmt++ - '0');
			}
		}
		for (;; fmt++) {
			if (*fmt == 'h') lng--;
			else if (*fmt == 'l') lng++;
			else if (*fmt == 'z' || *fmt == 't' || *fmt == 'j') lng = 1;
			else break;
		}
		sp.conv = *fmt;
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng >= 1 ? va_arg(ap, int64_t) : va_arg(ap, int);

			if (lng == -1) v = (short)v;
			if (lng == -2) v = (signed char)v;
			put_number(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, false, &sp);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			uint64_t v = lng >= 1 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);

			if (lng == -1) v = (unsigned short)v;
			if (lng == -2) v = (unsigned char)v;
			put_number(&o, v, false, *fmt == 'o' ? 8 : *fmt == 'u' ? 10 : 16,
				   *fmt == 'X', &sp);
			break;
		}
		case 'p':
			sp.alt = true;
			put_number(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, &sp);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t n;

			if (!s)
				s = "(null)";
			n = strlen(s);
			if (sp.precision >= 0 && (size_t)sp.precision < n)
				n = (size_t)sp.precision;
			put_padded(&o, s, n, &sp);
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);

			put_padded(&o, &c, 1, &sp);
			break;
		}
#if GUEST_RING == 3
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G': {
			char tmp[64];
			int n = printf_float(tmp, sizeof(tmp), &sp, &ap);

			for (int i = 0; i < n && i < (int)sizeof(tmp) - 1; i++)
				put(&o, tmp[i]);
			break;
		}
#endif
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
		}
	}
	va_end(ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
