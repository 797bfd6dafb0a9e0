/*
 * setup_watchdog.h - --timeout during set-up (setup_watchdog.c): a thread
 * that ends vmm with the timeout status if set-up outlives the deadline.
 */
#ifndef VMM_SETUP_WATCHDOG_H
#define VMM_SETUP_WATCHDOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct setup_watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, started;
	uint64_t deadline_ns;      /* now_ns() time */
	double timeout_s;          /* for the message */
};

/* Starts the watch; past deadline_ns with set-up not stopped, it prints
 * one line and _exit()s with VMM_STATUS_TIMEOUT.  -1 if no thread. */
int setup_watchdog_start(struct setup_watchdog *w, uint64_t deadline_ns, double timeout_s);
/* Set-up is over (done or failed): the thread ends, joined. */
void setup_watchdog_stop(struct setup_watchdog *w);

#endif /* VMM_SETUP_WATCHDOG_H */
