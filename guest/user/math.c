/*
 * math.c - the few libm functions ring 3 needs: sqrt (the cpu test and
 * standard deviations), log and exp (sysbench's logarithmic latency
 * histogram).
 *
 * log and exp reduce their argument by powers of two and use series that
 * converge to double precision; they agree with glibc to within a few
 * ulp, which is what the histogram's bucket boundaries need.
 */
#include "user.h"

#define LN2 0.6931471805599453094172321
#define SQRT2 1.4142135623730950488016887

/* One sqrtsd.  (Code calling __builtin_sqrt gets the instruction inline
 * and calls this only for a negative argument, where libm sets errno.) */
double sqrt(double x)
{
	__asm__("sqrtsd %1, %0" : "=x"(x) : "x"(x));
	return x;
}

double fabs(double x)
{
	return x < 0 ? -x : x;
}

/* x = m * 2^e with m in [1, 2), from the bits of the double. */
static double split_exponent(double x, int *e)
{
	union { double d; uint64_t u; } v = {x};

	*e = (int)((v.u >> 52) & 0x7ff) - 1023;
	v.u = (v.u & ~(0x7ffULL << 52)) | (1023ULL << 52);
	return v.d;
}

double log(double x)
{
	int e;
	double m, s, s2, term, sum;

	if (!(x > 0))
		return x == 0 ? -__builtin_inf() : __builtin_nan("");
	if (x == __builtin_inf())
		return x;
	if (x < 2.2250738585072014e-308) {   /* subnormal: scale into range */
		return log(x * 18014398509481984.0) - 54 * LN2;
	}
	m = split_exponent(x, &e);
	if (m > SQRT2) {
		m /= 2;
		e++;
	}
	/* log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.172: the odd series
	 * gains 3.5 digits per term. */
	s = (m - 1) / (m + 1);
	s2 = s * s;
	term = s;
	sum = 0;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= s2;
		if (term < 1e-20 && term > -1e-20)
			break;
	}
	return e * LN2 + 2 * sum;
}

double exp(double x)
{
	double r, term, sum;
	int k;

	if (x != x)
		return x;
	if (x > 709.8)
		return __builtin_inf();
	if (x < -745.2)
		return 0;
	/* x = k ln2 + r with |r| <= ln2/2, then e^x = 2^k e^r. */
	k = (int)(x / LN2 + (x < 0 ? -0.5 : 0.5));
	r = x - k * LN2;
	term = 1;
	sum = 1;
	for (int n = 1; n < 30; n++) {
		term *= r / n;
		sum += term;
		if (term < 1e-18 * sum && term > -1e-18 * sum)
			break;
	}
	/* 2^k in two steps, so subnormal results do not overflow the exponent */
	while (k > 1000) {
		sum *= 0x1p1000;
		k -= 1000;
	}
	while (k < -1000) {
		sum *= 0x1p-1000;
		k += 1000;
	}
	union { double d; uint64_t u; } p = {.u = (uint64_t)(k + 1023) << 52};
	return sum * p.d;
}
