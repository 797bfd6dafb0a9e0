/*
 * reaper.h - release the VM after vmm has exited.
 *
 * Closing the last descriptor of a KVM VM runs the kernel's VM destruction,
 * which waits for several SRCU grace periods (the in-kernel PIT's I/O bus
 * devices and IRQ notifiers, the MMU notifier): 15-25 ms of sleeping on the
 * PVM-style KVM host this project measures on, more than the whole boot of
 * an `info` guest.  None of it is work the user waits for, so vmm hands
 * its VM descriptor to a small process forked before anything else was
 * opened, and exits; that process closes the descriptor and ends.  Guest
 * RAM is unmapped by vmm itself first (memory_unmap), so the memory is back
 * before vmm's exit status is.  --sync-teardown keeps the old, in-process
 * release (to measure it, or where an extra process is unwelcome).
 *
 * The reaper also disassembles guest code for crash dumps and --trace
 * (reaper_disas), so that vmm never maps Capstone: at the first request it
 * loads the library under its first filter, which allows that, then
 * stacks a second filter that allows no file and no executable mapping,
 * and only then decodes the guest's bytes.  A Capstone bug that guest
 * bytes could exploit runs there: a process holding no descriptor but its
 * socket, able to open nothing.
 */
#ifndef VMM_REAPER_H
#define VMM_REAPER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "disas.h"

/* How long vmm waits for an answer before it stops asking: loading
 * Capstone takes milliseconds; this only guards against a reaper that
 * hangs. */
#define REAPER_ANSWER_S 10

struct reaper {
	int sock;          /* our end of the socket pair, -1 when there is none */
	pid_t pid;         /* the reaper process, 0 when there is none */
	bool handed_over;  /* it holds the VM now */
	bool gone;         /* it stopped answering (dead, or past REAPER_ANSWER_S):
			      it gets no request and no VM */
	pthread_mutex_t lock;   /* one request at a time (vCPU threads) */
};

/* Forks the reaper.  Call before opening anything the reaper must not hold
 * (disks: their locks; guest RAM: fork would copy its page tables); it
 * closes every descriptor it inherited except its socket.  On failure the
 * caller releases the VM itself, so failure is not an error: errbuf says
 * why, for --stats. */
int reaper_start(struct reaper *r, char *errbuf, size_t errlen);

/* Passes vm_fd to the reaper (SCM_RIGHTS).  The caller then closes its own
 * copy and only after that calls reaper_stop(): the reaper holds its copy
 * until the socket ends, so its copy is the last.  Returns 0 when handed
 * over. */
int reaper_hand_over(struct reaper *r, int vm_fd);

/* Asks the reaper for the text of `req` (disas.h): 0 with the text in
 * `text`; 1 when the reaper has no Capstone (not installed); -1 when it is
 * gone - end-of-file, a broken socket or no answer within REAPER_ANSWER_S -
 * and r->gone is set: the caller falls back, and vm_destroy() releases the
 * VM itself.  Safe from several threads. */
int reaper_disas(struct reaper *r, const struct disas_request *req, char *text, size_t len);

/* Lets the reaper go without a VM (a failed build, or after the hand-over):
 * it sees end-of-file and exits. */
void reaper_stop(struct reaper *r);

#endif /* VMM_REAPER_H */
