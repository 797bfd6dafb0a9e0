/*
 * printf_float.c - %f, %e and %g for ring 3's vsnprintf: lib/printf.c,
 * built for ring 3, calls this hook (libc.h says why it lives here: it
 * needs floating point, which ring 0 does not have).  Correctly rounded
 * for the precisions reports use (up to 9 digits after the point, values
 * up to 2^63): the value is scaled to an integer and rounded
 * half-to-even, as glibc's printf rounds the exact binary value.
 */
#include "user.h"

static const double pow10_table[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

/* Writes digits of v (v >= 0) with `prec` decimals into buf (no sign). */
static int fixed_digits(char *buf, size_t size, double v, int prec)
{
	double scaled;
	uint64_t whole, frac, pow;

	if (prec > 9)
		prec = 9;
	if (v >= 9.2e18 / pow10_table[prec])
		return snprintf(buf, size, "%s", "inf-range");
	scaled = v * pow10_table[prec];
	whole = (uint64_t)scaled;
	double rest = scaled - (double)whole;
	if (rest > 0.5 || (rest == 0.5 && (whole & 1)))
		whole++;
	pow = (uint64_t)pow10_table[prec];
	frac = whole % pow;
	whole /= pow;
	if (prec == 0)
		return snprintf(buf, size, "%llu", (unsigned long long)whole);
	return snprintf(buf, size, "%llu.%0*llu", (unsigned long long)whole, prec,
			(unsigned long long)frac);
}

static int exp_digits(char *buf, size_t size, double v, int prec, bool upper)
{
	int e = 0;
	char mant[40];

	if (v != 0) {
		while (v >= 10) {
			v /= 10;
			e++;
		}
		while (v < 1) {
			v *= 10;
			e--;
		}
	}
	fixed_digits(mant, sizeof(mant), v, prec);
	if (mant[0] == '1' && mant[1] == '0' && (mant[2] == '.' || !mant[2])) {
		/* rounding carried into a new digit: 9.99 -> 10.0 */
		fixed_digits(mant, sizeof(mant), v / 10, prec);
		e++;
	}
	return snprintf(buf, size, "%s%c%c%02d", mant, upper ? 'E' : 'e', e < 0 ? '-' : '+',
			e < 0 ? -e : e);
}

int printf_float(char *buf, size_t size, const struct format_spec *sp, va_list *ap)
{
	double v = va_arg(*ap, double);
	char digits[48], sign = 0;
	int prec = sp->precision < 0 ? 6 : sp->precision;
	int n, pad;

	if (v != v)
		return snprintf(buf, size, "%*s", sp->width, "nan");
	if (v < 0) {
		sign = '-';
		v = -v;
	} else if (sp->plus) {
		sign = '+';
	} else if (sp->space) {
		sign = ' ';
	}
	switch (sp->conv) {
	case 'e':
	case 'E':
		exp_digits(digits, sizeof(digits), v, prec, sp->conv == 'E');
		break;
	case 'g':
	case 'G': {
		int e = 0;
		double t = v;

		if (prec == 0)
			prec = 1;
		while (t >= 10) {
			t /= 10;
			e++;
		}
		while (t != 0 && t < 1) {
			t *= 10;
			e--;
		}
		if (e < -4 || e >= prec)
			exp_digits(digits, sizeof(digits), v, prec - 1, sp->conv == 'G');
		else
			fixed_digits(digits, sizeof(digits), v, prec - 1 - e);
		/* %g drops trailing zeros */
		if (!sp->alt && strchr(digits, '.') && !strchr(digits, 'e') &&
		    !strchr(digits, 'E')) {
			size_t l = strlen(digits);

			while (digits[l - 1] == '0')
				digits[--l] = 0;
			if (digits[l - 1] == '.')
				digits[--l] = 0;
		}
		break;
	}
	default:
		fixed_digits(digits, sizeof(digits), v, prec);
	}
	n = (int)strlen(digits) + (sign != 0);
	pad = sp->width > n ? sp->width - n : 0;
	char *p = buf, *end = buf + size - 1;
	if (!sp->left && !sp->zero)
		while (pad > 0 && p < end)
			*p++ = ' ', pad--;
	if (sign && p < end)
		*p++ = sign;
	if (!sp->left && sp->zero)
		while (pad > 0 && p < end)
			*p++ = '0', pad--;
	for (const char *d = digits; *d && p < end; d++)
		*p++ = *d;
	while (sp->left && pad > 0 && p < end)
		*p++ = ' ', pad--;
	*p = 0;
	return (int)(p - buf);
}
