/*
 * pit_calibrate.c - the TSC measured against PIT channel 0 (see the header).
 * No port I/O here: the clocks come from the caller.
 */
#include "pit_calibrate.h"

#define PIT_PERIOD 0xffff             /* mode 2 with count 0xffff: 0xffff..1, reload */
#define PIT_NO_TICK_POLLS 100000UL
#define PIT_MAX_POLLS 20000000UL

/* A gap between polls that could hide a wrap is one longer than a
 * quarter of the PIT's period at the rate measured so far (14 ms); before
 * enough is measured to know the rate, one this many times the shortest. */
#define EARLY_LONG_FACTOR 1000
#define RATE_KNOWN_TICKS 1000
#define MAX_LONG_GAPS 64
/* An endpoint's count must be read within this many times the quickest
 * read's TSC span, or the TSC there may be stale. */
#define TIGHT_FACTOR 4
/* Prompt polls needed to estimate the rate that unwraps long gaps: about
 * 1.7 ms of PIT time gives the rate well within the 30% that counting
 * whole periods needs. */
#define MIN_PROMPT_TICKS 2000

struct gap {
	uint64_t tsc;     /* TSC ticks between two polls */
	uint64_t pit;     /* PIT ticks they counted, modulo the period */
};

/* One read of the counter, bracketed by the TSC: the midpoint and the
 * bracket's width tell when it happened, and how surely. */
struct reading {
	int count;
	uint64_t tsc, width;
};

static struct reading read_pit(const struct pit_clocks *c)
{
	struct reading r;
	uint64_t before = c->tsc(c->ctx);

	r.count = c->count(c->ctx);
	r.width = c->tsc(c->ctx) - before;
	r.tsc = before + r.width / 2;
	return r;
}

static uint64_t ticks_between(int last, int now)
{
	return now <= last ? (uint64_t)(last - now) : (uint64_t)(last + PIT_PERIOD - now);
}

/* The PIT ticks that really passed in a long gap: the TSC says how long
 * it was, at the rate the prompt polls measured; the count read says where
 * in the period it ended. */
static uint64_t unwrap(const struct gap *g, uint64_t prompt_tsc, uint64_t prompt_pit)
{
	uint64_t ticks = g->tsc * prompt_pit / prompt_tsc;
	uint64_t periods = ticks > g->pit ? (ticks - g->pit + PIT_PERIOD / 2) / PIT_PERIOD : 0;

	return g->pit + periods * PIT_PERIOD;
}

bool pit_measure(const struct pit_clocks *c, uint64_t *hz)
{
	uint64_t want = PIT_HZ * PIT_CALIBRATION_MS / 1000, counted = 0;
	uint64_t shortest = UINT64_MAX, quickest = UINT64_MAX, prompt_tsc = 0, prompt_pit = 0;
	struct gap longs[MAX_LONG_GAPS];
	struct reading first, prev, r;
	unsigned nlong = 0;
	unsigned long polls = 0;

	*hz = 0;
	c->start(c->ctx);
	/* Begin on a count change read promptly: a tick edge, at a known time. */
	prev = read_pit(c);
	for (;;) {
		r = read_pit(c);
		if (++polls > PIT_NO_TICK_POLLS && r.count == prev.count)
			return false;              /* a PIT ticks every 838 ns: none here */
		if (r.width < quickest)
			quickest = r.width;
		if (r.count != prev.count && polls > 8 && r.width <= quickest * TIGHT_FACTOR)
			break;
		prev = r;
		if (polls > PIT_MAX_POLLS)
			return true;               /* never a prompt read: try again */
	}
	first = prev = r;
	/* Count ticks until the time is up, then until a prompt read ends it. */
	for (;;) {
		struct gap g;

		r = read_pit(c);
		if (++polls > PIT_MAX_POLLS)
			return true;
		if (r.width < quickest)
			quickest = r.width;
		g.tsc = r.tsc - prev.tsc;
		g.pit = ticks_between(prev.count, r.count);
		prev = r;
		if (g.tsc && g.tsc < shortest)
			shortest = g.tsc;
		/* At the prompt polls' rate: a long gap's own count is reduced
		 * modulo the period, and would skew the rate it is judged by. */
		bool could_hide_a_wrap = prompt_pit >= RATE_KNOWN_TICKS ?
			g.tsc * prompt_pit > prompt_tsc * (PIT_PERIOD / 4) :
			g.tsc > shortest * EARLY_LONG_FACTOR;
		if (could_hide_a_wrap) {
			if (nlong == MAX_LONG_GAPS)
				return true;       /* too disturbed to trust: try again */
			longs[nlong++] = g;
		} else {
			prompt_tsc += g.tsc;
			prompt_pit += g.pit;
		}
		counted += g.pit;
		if (counted >= want && r.width <= quickest * TIGHT_FACTOR)
			break;
	}
	if (prompt_pit < MIN_PROMPT_TICKS)
		return true;                   /* too little prompt polling: try again */
	uint64_t elapsed = prompt_pit;
	for (unsigned i = 0; i < nlong; i++)
		elapsed += unwrap(&longs[i], prompt_tsc, prompt_pit);
	*hz = (r.tsc - first.tsc) * PIT_HZ / elapsed;
	return true;
}

uint64_t pit_calibrate(const struct pit_clocks *c, bool *agreed)
{
	uint64_t seen[PIT_ATTEMPTS];
	unsigned n = 0;

	*agreed = false;
	for (unsigned attempt = 0; attempt < PIT_ATTEMPTS; attempt++) {
		if (!pit_measure(c, &seen[n]))
			return 0;
		if (!seen[n])
			continue;                  /* disturbed: not counted */
		for (unsigned k = 0; k < n; k++) {
			uint64_t lo = seen[k] < seen[n] ? seen[k] : seen[n];
			uint64_t hi = seen[k] < seen[n] ? seen[n] : seen[k];

			if (hi - lo <= lo / 1000) {
				*agreed = true;
				return (lo + hi) / 2;
			}
		}
		n++;
	}
	if (n < 3)
		return 0;
	/* No two agreed, but there are measurements: their median beats no
	 * clock at all (the caller says it is unsteady). */
	for (unsigned i = 1; i < n; i++)
		for (unsigned k = i; k > 0 && seen[k - 1] > seen[k]; k--) {
			uint64_t t = seen[k];

			seen[k] = seen[k - 1];
			seen[k - 1] = t;
		}
	return seen[n / 2];
}
