/*
 * poll_window.c - the I/O thread's polling window (poll_window.h).
 */
#include "poll_window.h"

void poll_window_init(struct poll_window *w, enum poll_mode mode, uint64_t max_ns)
{
	*w = (struct poll_window){.mode = mode, .max_ns = max_ns ? max_ns : POLL_WINDOW_MAX_NS};
	if (mode == POLL_FIXED)
		w->ns = w->max_ns;
}

void poll_window_after_block(struct poll_window *w, uint64_t block_ns)
{
	if (w->mode != POLL_ADAPTIVE || block_ns <= w->ns)
		return;                       /* fixed, off, or the window caught it */
	if (block_ns > w->max_ns) {
		/* Polling could not have caught it: poll less. */
		if (w->ns) {
			w->ns = w->ns / 2 < POLL_WINDOW_START_NS ? 0 : w->ns / 2;
			w->shrunk++;
		}
	} else if (w->ns < w->max_ns) {
		/* A longer window would have: poll longer. */
		w->ns = w->ns ? w->ns * 2 : POLL_WINDOW_START_NS;
		if (w->ns > w->max_ns)
			w->ns = w->max_ns;
		w->grown++;
	}
}

bool poll_has_own_cpu(const struct cpuset *io, const int *vcpu_pins, unsigned npins)
{
	int n = cpuset_count(io);

	if (n >= 2)
		return true;
	if (n < 1 || npins == 0)
		return false;                 /* unpinned vCPUs may run on it too */
	for (unsigned i = 0; i < npins; i++)
		if (cpuset_has(io, vcpu_pins[i]))
			return false;
	return true;
}
