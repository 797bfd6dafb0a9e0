/*
 * reaper.c - the process that releases the VM after vmm exits (reaper.h
 * says why).
 *
 * The child does four things only, all async-signal-safe, because vmm may
 * have threads by the time it forks: it drops every descriptor it
 * inherited, leaves vmm's session (a harness that kills vmm's process
 * group after vmm exited should not find it), installs its own seccomp
 * filter (sandbox.h: recvmsg, close, exit), and waits on its socket.
 * A descriptor arriving there is the VM: closing it - by exiting - runs
 * the kernel's VM destruction.  End-of-file (vmm exited or was killed
 * without handing anything over) ends it as well, so it never outlives
 * vmm by more than the VM's release.
 */
#include "reaper.h"

#include "error.h"
#include "sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* One byte and room for one descriptor (SCM_RIGHTS): the only message
 * between vmm and its reaper. */
struct fd_message {
	char byte;
	struct iovec iov;
	struct msghdr msg;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;   /* last: clang counts CMSG_SPACE as a variable size */
};

static void fd_message_init(struct fd_message *m)
{
	memset(m, 0, sizeof(*m));
	m->iov = (struct iovec){.iov_base = &m->byte, .iov_len = 1};
	m->msg = (struct msghdr){
		.msg_iov = &m->iov, .msg_iovlen = 1,
		.msg_control = m->control.buf, .msg_controllen = sizeof(m->control.buf),
	};
}

__attribute__((noreturn)) static void reaper_main(int sock)
{
	struct fd_message m;
	char why[128];

	if (sock > 0)
		close_range(0, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0U, 0);
	setsid();
	prctl(PR_SET_NAME, "vmm-reaper", 0, 0, 0);
	/* Its own seccomp filter (sandbox.c's reaper list), if the sandbox
	 * is on; a failure leaves nothing to report to (stderr is closed). */
	if (sandbox_enter(SANDBOX_REAPER, "vmm-reaper", why, sizeof(why)))
		_exit(VMM_STATUS_SANDBOX);
	/* The VM's descriptor, then the socket's end: vmm closes its own copy
	 * of the descriptor before its end of the socket, so when this one
	 * closes, by exiting, it is the last and the kernel destroys the VM
	 * here.  (Exiting as soon as the descriptor came would race vmm's
	 * close, and whichever came second would pay for the destruction.) */
	for (int got = 1; got != 0;) {
		fd_message_init(&m);
		got = (int)recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
		if (got < 0 && errno != EINTR)
			break;
	}
	_exit(0);
}

int reaper_start(struct reaper *r, char *errbuf, size_t errlen)
{
	int sv[2];

	r->sock = -1;
	r->pid = 0;
	r->handed_over = false;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		snprintf(errbuf, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(errbuf, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		reaper_main(sv[1]);
	close(sv[1]);
	r->sock = sv[0];
	r->pid = pid;
	return 0;
}

int reaper_hand_over(struct reaper *r, int vm_fd)
{
	struct fd_message m;

	if (r->sock < 0 || vm_fd < 0)
		return -1;
	fd_message_init(&m);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &vm_fd, sizeof(int));
	/* MSG_NOSIGNAL: a reaper that died must not take vmm with it. */
	if (sendmsg(r->sock, &m.msg, MSG_NOSIGNAL) != 1)
		return -1;
	r->handed_over = true;
	return 0;
}

void reaper_stop(struct reaper *r)
{
	if (r->sock >= 0)
		close(r->sock);
	r->sock = -1;
}
