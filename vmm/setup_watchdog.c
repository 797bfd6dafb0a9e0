/*
 * setup_watchdog.c - --timeout while vmm sets up, before vm_run() can
 * watch the clock.
 *
 * Set-up opens files the user names and calls into the kernel (mlock of
 * guest RAM, KVM); none of it should block, but a file on a hung network
 * file system, or a device that makes open() wait, would otherwise hold vmm
 * forever with --timeout given.  A thread waits for the same deadline that
 * vm_run() uses; if set-up has not finished by then, it says so and ends
 * the process with the timeout status.  Nothing has run yet at that point:
 * no guest, no device thread, no data written.
 */
#include "setup_watchdog.h"

#include "error.h"
#include "stats.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *watch(void *arg)
{
	struct setup_watchdog *w = arg;
	struct timespec until = {
		.tv_sec = (time_t)(w->deadline_ns / 1000000000ull),
		.tv_nsec = (long)(w->deadline_ns % 1000000000ull),
	};

	pthread_mutex_lock(&w->lock);
	while (!w->done && now_ns() < w->deadline_ns)
		pthread_cond_timedwait(&w->cond, &w->lock, &until);
	if (!w->done) {
		vmm_error("timeout: vmm still setting up after %g s (blocked opening a file?); "
			  "stopping", w->timeout_s);
		_exit(VMM_STATUS_TIMEOUT);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int setup_watchdog_start(struct setup_watchdog *w, uint64_t deadline_ns, double timeout_s)
{
	pthread_condattr_t attr;

	memset(w, 0, sizeof(*w));
	w->deadline_ns = deadline_ns;
	w->timeout_s = timeout_s;
	pthread_mutex_init(&w->lock, NULL);
	/* now_ns() is CLOCK_MONOTONIC: so is the wait. */
	if (pthread_condattr_init(&attr) || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&w->cond, &attr))
		return -1;
	pthread_condattr_destroy(&attr);
	if (pthread_create(&w->thread, NULL, watch, w))
		return -1;
	w->started = true;
	return 0;
}

void setup_watchdog_stop(struct setup_watchdog *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->started = false;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}
