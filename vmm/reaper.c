/*
 * reaper.c - the process that releases the VM after vmm exits (reaper.h
 * says why).
 *
 * The child starts with five things only, all async-signal-safe, because
 * vmm may have threads by the time it forks: it drops every descriptor it
 * inherited, leaves vmm's session (a harness that kills vmm's process
 * group after vmm exited should not find it), drops to --user's user,
 * installs its own seccomp filter (sandbox.h's reaper list), and waits on
 * its socket.  A descriptor
 * arriving there is the VM: closing it - by exiting - runs the kernel's VM
 * destruction.  End-of-file (vmm exited or was killed without handing
 * anything over) ends it as well, so it never outlives vmm by more than
 * the VM's release.
 *
 * A disassembly request (struct disas_request, from a vCPU thread's crash
 * dump or --trace) is answered with one message: a status byte and the
 * text.  The first one loads Capstone (dlopen: files opened, code mapped,
 * which the reaper list allows), then the reaper stacks the disas filter
 * (no file, no executable mapping, no write but to its socket) before it
 * decodes anything; every later request runs under both.
 */
#include "reaper.h"

#include "error.h"
#include "sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* The answer's first byte: text follows, or none (Capstone is missing;
 * or the request was malformed, which vmm never sends). */
enum { ANSWER_TEXT, ANSWER_NO_CAPSTONE };

/* A message to the reaper: one byte with one descriptor (SCM_RIGHTS), the
 * VM; or a disassembly request, told apart by its size. */
struct fd_message {
	union {
		char byte;
		struct disas_request req;
	} body;
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
	m->iov = (struct iovec){.iov_base = &m->body, .iov_len = sizeof(m->body)};
	m->msg = (struct msghdr){
		.msg_iov = &m->iov, .msg_iovlen = 1,
		.msg_control = m->control.buf, .msg_controllen = sizeof(m->control.buf),
	};
}

/* One request: Capstone loaded and the filter narrowed the first time,
 * then the text, or ANSWER_NO_CAPSTONE. */
static void answer(int sock, const struct disas_request *req)
{
	static char out[1 + DISAS_TEXT_MAX];
	static bool narrowed;
	char why[128];
	bool loaded;

	/* A load or decode that never ends (a library constructor, a
	 * Capstone bug) ends the reaper, by SIGALRM's default action: vmm has
	 * stopped waiting by then (REAPER_ANSWER_S) and would not hand it the
	 * VM, and nothing else would end it. */
	alarm(REAPER_ANSWER_S);
	loaded = disas_load() == 0;
	if (!narrowed) {
		/* Before the first guest byte is decoded; a failure ends the
		 * reaper, and vmm, seeing end-of-file, shows raw bytes. */
		if (sandbox_enter(SANDBOX_DISAS, "vmm-reaper", why, sizeof(why)))
			_exit(VMM_STATUS_SANDBOX);
		narrowed = true;
	}
	out[0] = loaded && disas_format(req, out + 1, sizeof(out) - 1) == 0 ?
		 ANSWER_TEXT : ANSWER_NO_CAPSTONE;
	alarm(0);
	if (out[0] != ANSWER_TEXT)
		out[1] = '\0';
	send(sock, out, 1 + strlen(out + 1), MSG_NOSIGNAL);
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
	/* --user holds for the reaper too: it may load Capstone and decode
	 * guest bytes, and vmm's own drop, later, does not reach it. */
	if (sandbox_drop_privileges_here())
		_exit(VMM_STATUS_SANDBOX);
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
		if (got == (int)sizeof(m.body.req) && !CMSG_FIRSTHDR(&m.msg))
			answer(sock, &m.body.req);
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
	/* vmm's end: a reaper that hangs cannot hang a crash dump. */
	struct timeval answer_within = {.tv_sec = REAPER_ANSWER_S};
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &answer_within, sizeof(answer_within)) ||
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &answer_within, sizeof(answer_within))) {
		snprintf(errbuf, errlen, "socket time-out: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
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
	r->gone = false;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

int reaper_disas(struct reaper *r, const struct disas_request *req, char *text, size_t len)
{
	static char in[1 + DISAS_TEXT_MAX];   /* under r->lock */
	ssize_t got = -1;
	int ret = -1;

	if (r->sock < 0 || !len)
		return -1;
	pthread_mutex_lock(&r->lock);
	if (r->gone)
		goto out;
	/* MSG_NOSIGNAL: a dead reaper is EPIPE, not SIGPIPE.  A signal (a
	 * vCPU kick) interrupts the wait; the answer is still to come. */
	if (send(r->sock, req, sizeof(*req), MSG_NOSIGNAL) == (ssize_t)sizeof(*req)) {
		do
			got = read(r->sock, in, sizeof(in));
		while (got < 0 && errno == EINTR);
	}
	if (got <= 0) {
		r->gone = true;   /* end-of-file, EPIPE, or the time-out */
		goto out;
	}
	if (in[0] != ANSWER_TEXT) {
		ret = 1;
		goto out;
	}
	size_t n = (size_t)got - 1 < len - 1 ? (size_t)got - 1 : len - 1;
	memcpy(text, in + 1, n);
	text[n] = '\0';
	ret = 0;
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int reaper_hand_over(struct reaper *r, int vm_fd)
{
	struct fd_message m;

	if (r->sock < 0 || r->gone || vm_fd < 0)
		return -1;
	fd_message_init(&m);
	m.iov.iov_len = 1;
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
