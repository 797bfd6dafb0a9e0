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
 */
#ifndef VMM_REAPER_H
#define VMM_REAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct reaper {
	int sock;          /* our end of the socket pair, -1 when there is none */
	pid_t pid;         /* the reaper process, 0 when there is none */
	bool handed_over;  /* it holds the VM now */
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

/* Lets the reaper go without a VM (a failed build, or after the hand-over):
 * it sees end-of-file and exits. */
void reaper_stop(struct reaper *r);

#endif /* VMM_REAPER_H */
