/*
 * poll_window.h - how long a virtio device's I/O thread polls its queues
 * after serving them, before it sleeps until the next doorbell
 * (poll_window.c; the thread itself is virtio_kvm.c).  Pure: no clock, no
 * thread, so each decision is unit-tested.
 *
 * Adaptive (the default, as QEMU's IOThreads): the window starts at 0 and
 * follows the time the thread then waited for the next request ("block":
 * its window plus its sleep).  A block no longer than the window is the
 * sweet spot, left alone; one longer than the ceiling halves the window (to
 * 0 below POLL_WINDOW_START_NS); one shorter than the ceiling doubles it
 * (from POLL_WINDOW_START_NS), up to the ceiling.  So a disk that is idle,
 * or whose requests come further apart than the ceiling, is not polled at
 * all; one whose next request comes within the ceiling is served without a
 * doorbell and without a wake-up.
 *
 * Fixed (,poll[=USEC]): the window is the ceiling, always.  Off (,poll=off):
 * never polls.
 */
#ifndef VMM_POLL_WINDOW_H
#define VMM_POLL_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "../isolation/cpulist.h"

enum poll_mode { POLL_ADAPTIVE, POLL_FIXED, POLL_OFF };

#define POLL_WINDOW_START_NS 4000ull      /* QEMU's first step too */
#define POLL_WINDOW_MAX_NS 32000ull       /* QEMU's IOThread poll-max-ns */

struct poll_window {
	enum poll_mode mode;
	uint64_t ns;               /* the window now */
	uint64_t max_ns;           /* the ceiling (fixed: the window) */
	uint64_t grown, shrunk;    /* adjustments, for --stats */
};

/* mode with its ceiling (0: POLL_WINDOW_MAX_NS). */
void poll_window_init(struct poll_window *w, enum poll_mode mode, uint64_t max_ns);
/* After the thread waited block_ns for its next request (its window, then
 * a sleep until a doorbell): adapts an adaptive window. */
void poll_window_after_block(struct poll_window *w, uint64_t block_ns);

/* Whether an I/O thread that may run on `io` (its affinity) has a CPU of
 * its own to poll on: a poller that shares its one CPU with a vCPU takes
 * that vCPU's time while it waits for the request the vCPU is to make.
 * So: at least two CPUs, or one that the vCPUs are pinned away from
 * (vcpu_pins: --pin's CPUs, npins of them; 0 when the vCPUs are not
 * pinned, and may run on it too). */
bool poll_has_own_cpu(const struct cpuset *io, const int *vcpu_pins, unsigned npins);

#endif /* VMM_POLL_WINDOW_H */
