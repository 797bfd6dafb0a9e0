/*
 * sandbox.c - vmm's sandbox (see sandbox.h and docs/sandbox.md).
 *
 * Each kind of thread gets its own allow-list, as Firecracker gives its
 * vCPU, VMM and API threads theirs: the vCPU threads may run KVM_RUN and
 * what the exit loop's device handlers call, the I/O threads their file
 * I/O, the main thread what waiting, reporting and tearing down need.  No
 * thread may open a file, create a process or a socket, exec, or map
 * memory executable.  A thread installs its list itself (seccomp applies to
 * the calling thread; no TSYNC), so every thread has exactly one filter.
 *
 * Why libseccomp, not hand-written BPF: it writes the architecture check
 * (and refuses x32 system-call numbers on x86-64), resolves system calls by
 * name on whatever architecture vmm is built for, compiles the argument
 * checks (ioctl request numbers, mmap's PROT_EXEC, tgkill's pid) into a
 * correct program, and names a system call by number for the report.  It
 * is only used here, before any thread runs: the programs are
 * compiled once into plain BPF (seccomp_export_bpf), which each thread
 * installs with one prctl, no allocation and no library call.
 *
 * A forbidden call: SECCOMP_RET_TRAP, not RET_KILL_PROCESS.  The kernel
 * never executes the call either way; TRAP lets vmm say which thread made
 * which call (the kill action's only trace is the kernel's audit log) and
 * exit with a status of its own, VMM_STATUS_SANDBOX.  If the SIGSYS handler
 * were gone or SIGSYS blocked, the kernel kills the process instead.
 */
#include "sandbox.h"

#include "error.h"
#include "options.h"
#include "vmm.h"

#include <errno.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The sanitizer build (make's build/san/vmm) reports, unwinds and checks
 * for leaks with system calls of its own; see sanitizer_calls. */
#if defined(__SANITIZE_ADDRESS__)
#define VMM_SANITIZERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMM_SANITIZERS 1
#endif
#endif

#define MAX_SYSCALL_NAMES 512

static const char *const kind_names[SANDBOX_KINDS] = {"main", "vcpu", "io", "reaper", "disas"};

static struct {
	bool active;                       /* filters on */
	int violate;                       /* test hook: kind that misbehaves, or -1 */
	struct sock_fprog prog[SANDBOX_KINDS];
	const char *syscall_names[MAX_SYSCALL_NAMES];
	bool drop;                         /* --user given */
	uid_t uid;
	gid_t gid;
	const char *user;
} sb = {.violate = SANDBOX_NONE};

/* The gate vCPU threads wait at until the main thread is filtered too. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_open = PTHREAD_COND_INITIALIZER;
static bool gate_closed;

/* What the SIGSYS handler says about the thread it runs on. */
static __thread int thread_kind = SANDBOX_NONE;
static __thread char thread_name[16];

enum sandbox_kind sandbox_kind_parse(const char *name)
{
	for (int k = 0; k < SANDBOX_KINDS; k++)
		if (!strcmp(name, kind_names[k]))
			return (enum sandbox_kind)k;
	return SANDBOX_NONE;
}

const char *sandbox_kind_name(enum sandbox_kind kind)
{
	return kind >= 0 && kind < SANDBOX_KINDS ? kind_names[kind] : "unknown";
}

bool sandbox_active(void)
{
	return sb.active;
}

/* ---- the report of a forbidden call (async-signal-safe) ----------------------- */

static size_t put_str(char *buf, size_t at, size_t len, const char *s)
{
	while (*s && at + 1 < len)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t len, long v)
{
	char digits[24];
	int n = 0;
	unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;

	do
		digits[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < (int)sizeof(digits));
	if (v < 0 && at + 1 < len)
		buf[at++] = '-';
	while (n && at + 1 < len)
		buf[at++] = digits[--n];
	return at;
}

static void on_sigsys(int sig, siginfo_t *si, void *ucontext)
{
	char line[256];
	size_t n = 0, len = sizeof(line);
	int nr = si->si_syscall;

	(void)sig;
	(void)ucontext;
	n = put_str(line, n, len, "vmm: sandbox: thread '");
	n = put_str(line, n, len, thread_name[0] ? thread_name : "?");
	n = put_str(line, n, len, "' (");
	n = put_str(line, n, len, sandbox_kind_name((enum sandbox_kind)thread_kind));
	n = put_str(line, n, len, ") made system call ");
	n = put_str(line, n, len, nr >= 0 && nr < MAX_SYSCALL_NAMES && sb.syscall_names[nr] ?
			  sb.syscall_names[nr] : "?");
	n = put_str(line, n, len, " (");
	n = put_num(line, n, len, nr);
	n = put_str(line, n, len, "), which its seccomp filter forbids; vmm stops (status ");
	n = put_num(line, n, len, VMM_STATUS_SANDBOX);
	n = put_str(line, n, len, ")\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing more to try */
	}
	_exit(VMM_STATUS_SANDBOX);
}

/* ---- the allow-lists ------------------------------------------------------------ */

/* Every thread: memory (never executable), futexes, time, output, its own
 * signals and its end.  write is not limited to stdout and stderr: the
 * eventfds (stop, kick, interrupt) are written too. */
static const char *const common_calls[] = {
	"futex", "write", "writev", "clock_gettime", "gettimeofday", "nanosleep",
	"clock_nanosleep", "munmap", "madvise", "brk", "mremap", "rt_sigreturn",
	"rt_sigprocmask", "exit", "exit_group", "getpid", "gettid", "restart_syscall",
	"sched_yield", "fstat", "newfstatat", "getrandom",
};
/* vCPU: the exit loop; read for pci-testdev's eventfd counters and, with
 * sendto, a crash dump's or --trace's disassembly from the reaper. */
static const char *const vcpu_calls[] = {"read", "sendto"};
/* I/O threads: wait for a doorbell, serve requests, flush. */
static const char *const io_calls[] = {
	"read", "poll", "ppoll", "pread64", "preadv", "preadv2", "pwrite64", "pwritev",
	"pwritev2", "fdatasync", "fsync",
};
/* Main: wait for the stop, --stats and --json (opened before), teardown
 * (sendmsg hands the VM to the reaper over the socket it already has). */
static const char *const main_calls[] = {
	"read", "poll", "ppoll", "close", "getrusage", "mincore", "sendmsg",
	"pread64",     /* VmHWM, from /proc/self/status opened before (stats.c) */
};
/* The reaper: wait for the VM's descriptor, then exit (which releases it);
 * answer disassembly requests (sendto), the first of which loads Capstone
 * with dlopen (open, read and map it, executable: add_common). */
static const char *const reaper_calls[] = {
	"recvmsg", "sendto", "close", "openat", "read", "pread64", "lseek",
	"sysinfo", "alarm",   /* below */
};
/* The reaper once Capstone is loaded (stacked on its first filter), while
 * it decodes guest bytes: its socket, memory for malloc, its end.  Not the
 * common list: no write, no futex, no file. */
static const char *const disas_calls[] = {
	"recvmsg", "sendto", "munmap", "madvise", "brk", "mremap", "exit", "exit_group",
	"sysinfo",     /* glibc's qsort asks for the RAM size: Capstone sorts
			  some tables at their first use, while decoding */
	"alarm",       /* a time limit on each decode (reaper.c) */
};
/* --user's calls, which glibc repeats on every thread (its SIGSETXID
 * handler makes the same call there): the I/O threads already run,
 * filtered, when vmm drops privileges.  Once the drop is done they can only
 * set the ids the process already has. */
static const char *const setid_calls[] = {"setuid", "setgid", "setgroups"};
#ifdef VMM_SANITIZERS
/* AddressSanitizer's and UBSan's report (symbolizing reads /proc/self/maps
 * and the binary), their per-thread alternate signal stacks, and
 * LeakSanitizer's check at exit (a tracer task that ptraces the threads).
 * Only in the sanitizer build: the release build has none of these. */
static const char *const sanitizer_calls[] = {
	"sigaltstack", "open", "openat", "stat", "lstat", "readlink", "readlinkat", "close",
	"read", "pread64", "lseek", "getdents", "getdents64", "prctl", "clone", "ptrace", "wait4", "kill", "rt_sigaction",
	"prlimit64", "getppid", "sched_getaffinity", "pipe2", "dup2", "dup3", "execve", "fcntl", "set_robust_list", "rseq",
};
#endif

static const unsigned long vcpu_ioctls[] = {
	KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_TRANSLATE,   /* run, dumps, --trace */
	KVM_IOEVENTFD, KVM_SET_GSI_ROUTING,                    /* BARs moved, MSI-X */
	TCGETS,                                                /* stdio's isatty */
};
static const unsigned long io_ioctls[] = {KVM_SET_GSI_ROUTING, TCGETS};
static const unsigned long main_ioctls[] = {
	KVM_UNREGISTER_COALESCED_MMIO, KVM_IOEVENTFD, KVM_IRQFD, KVM_SET_GSI_ROUTING, TCGETS,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Allows `name` (with the argument checks given); a name this
 * architecture does not have is skipped. */
static int allow(scmp_filter_ctx ctx, const char *name, unsigned nargs,
		 const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, nargs, args);
}

static int allow_list(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (allow(ctx, names[i], 0, NULL))
			return -1;
	return 0;
}

/* One argument check, every field set (libseccomp's SCMP_A* macros leave
 * datum_b out of two-operand checks, which clang's warnings refuse). */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a,
				   scmp_datum_t b)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = op, .datum_a = a, .datum_b = b};
}

/* ioctl with these requests only (the kernel reads the request as 32 bits). */
static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp a = arg_cmp(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, reqs[i]);

		if (allow(ctx, "ioctl", 1, &a))
			return -1;
	}
	return 0;
}

/* mmap and mprotect, never with PROT_EXEC: no code is loaded after
 * set-up (but by the reaper, see add_common). */
static int allow_memory(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp no_exec = arg_cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);

	return allow(ctx, "mmap", 1, &no_exec) || allow(ctx, "mprotect", 1, &no_exec) ? -1 : 0;
}

static int add_common(scmp_filter_ctx ctx, enum sandbox_kind kind, pid_t pid)
{
	/* Signals to this process's own threads only (vCPU kicks, abort). */
	struct scmp_arg_cmp own = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)pid, 0);
	/* The reaper maps Capstone's code (dlopen) before its disas filter,
	 * which forbids that again, is stacked. */
	int mem = kind == SANDBOX_REAPER ?
		allow(ctx, "mmap", 0, NULL) || allow(ctx, "mprotect", 0, NULL) : allow_memory(ctx);

	if (mem || allow_list(ctx, common_calls, COUNT(common_calls)) ||
	    allow(ctx, "tgkill", 1, &own))
		return -1;
#ifdef VMM_SANITIZERS
	if (allow_list(ctx, sanitizer_calls, COUNT(sanitizer_calls)))
		return -1;
#endif
	return 0;
}

static int add_kind(scmp_filter_ctx ctx, enum sandbox_kind kind)
{
	switch (kind) {
	case SANDBOX_VCPU:
		return allow_list(ctx, vcpu_calls, COUNT(vcpu_calls)) ||
		       allow_ioctls(ctx, vcpu_ioctls, COUNT(vcpu_ioctls)) ? -1 : 0;
	case SANDBOX_IO:
		if (sb.drop && allow_list(ctx, setid_calls, COUNT(setid_calls)))
			return -1;
		return allow_list(ctx, io_calls, COUNT(io_calls)) ||
		       allow_ioctls(ctx, io_ioctls, COUNT(io_ioctls)) ? -1 : 0;
	case SANDBOX_MAIN:
		return allow_list(ctx, main_calls, COUNT(main_calls)) ||
		       allow_ioctls(ctx, main_ioctls, COUNT(main_ioctls)) ? -1 : 0;
	case SANDBOX_REAPER: {
		/* Its one prctl: stacking the disas filter. */
		struct scmp_arg_cmp stack = arg_cmp(0, SCMP_CMP_EQ, PR_SET_SECCOMP, 0);
		/* Reading a limit, never setting one: in the static build, dlopen
		 * brings a libc of Capstone's own, whose start asks for the stack
		 * limit. */
		struct scmp_arg_cmp read_only = arg_cmp(2, SCMP_CMP_EQ, 0, 0);

		return allow_list(ctx, reaper_calls, COUNT(reaper_calls)) ||
		       allow(ctx, "prctl", 1, &stack) || allow(ctx, "prlimit64", 1, &read_only) ?
		       -1 : 0;
	}
	case SANDBOX_DISAS:
#ifdef VMM_SANITIZERS
		if (allow_list(ctx, sanitizer_calls, COUNT(sanitizer_calls)))
			return -1;
#endif
		return allow_list(ctx, disas_calls, COUNT(disas_calls)) || allow_memory(ctx) ? -1 : 0;
	default:
		return -1;
	}
}

/* The filter of one kind as plain BPF, in sb.prog[kind]. */
static int compile(enum sandbox_kind kind, pid_t pid, char *errbuf, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	struct sock_filter *insns = NULL;
	struct stat st;
	int fd = -1, ret = -1;

	if (!ctx) {
		snprintf(errbuf, errlen, "sandbox: libseccomp cannot start a filter");
		return -1;
	}
	/* vmm sets NO_NEW_PRIVS itself, once, before any thread exists. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) ||
	    (kind != SANDBOX_DISAS && add_common(ctx, kind, pid)) || add_kind(ctx, kind)) {
		snprintf(errbuf, errlen, "sandbox: cannot build the %s threads' filter",
			 kind_names[kind]);
		goto out;
	}
	fd = memfd_create("vmm-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) || fstat(fd, &st) ||
	    st.st_size <= 0 || st.st_size % (off_t)sizeof(*insns) ||
	    !(insns = malloc((size_t)st.st_size)) ||
	    pread(fd, insns, (size_t)st.st_size, 0) != st.st_size) {
		snprintf(errbuf, errlen, "sandbox: cannot compile the %s threads' filter: %s",
			 kind_names[kind], strerror(errno));
		free(insns);
		goto out;
	}
	sb.prog[kind].filter = insns;
	sb.prog[kind].len = (unsigned short)(st.st_size / (off_t)sizeof(*insns));
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return ret;
}

/* ---- --user ---------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A user or group number: all digits and below (uid_t)-1, which
 * setresuid() reads as "unchanged" (a number that wrapped to 0 would have
 * been root). */
static bool parse_id(const char *s, uint32_t *id)
{
	unsigned long long v;

	if (!all_digits(s))
		return false;
	errno = 0;
	v = strtoull(s, NULL, 10);
	if (errno || v >= (uid_t)-1)
		return false;
	*id = (uint32_t)v;
	return true;
}

/* The passwd entry named `name` (or, name NULL, with uid `uid`), read from
 * /etc/passwd itself; NULL if there is none.  Not getpwnam: the release
 * vmm is a static program (Makefile), into which glibc cannot load NSS
 * modules - systemd's, listed in Debian's nsswitch.conf, crashed it. */
static struct passwd *passwd_entry(const char *name, uid_t uid)
{
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw = NULL;

	while (f && (pw = fgetpwent(f)) && (name ? strcmp(pw->pw_name, name) : pw->pw_uid != uid))
		;
	if (f)
		fclose(f);
	return pw;   /* fgetpwent's buffer outlives the stream */
}

/* The group named `name`, from /etc/group (see passwd_entry). */
static struct group *group_entry(const char *name)
{
	FILE *f = fopen("/etc/group", "re");
	struct group *gr = NULL;

	while (f && (gr = fgetgrent(f)) && strcmp(gr->gr_name, name))
		;
	if (f)
		fclose(f);
	return gr;
}

/* USER[:GROUP], names or numbers, into sb.uid and sb.gid. */
static int resolve_user(const char *spec, char *errbuf, size_t errlen)
{
	char *copy = strdup(spec);
	char *group = copy ? strchr(copy, ':') : NULL;
	struct passwd *pw;
	uint32_t id;
	int ret = -1;

	if (!copy) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	if (group)
		*group++ = '\0';
	pw = *copy ? passwd_entry(copy, 0) : NULL;
	if (pw) {
		sb.uid = pw->pw_uid;
		sb.gid = pw->pw_gid;
	} else if (parse_id(copy, &id)) {
		sb.uid = id;
		pw = passwd_entry(NULL, sb.uid);
		sb.gid = pw ? pw->pw_gid : (gid_t)sb.uid;
	} else {
		snprintf(errbuf, errlen, all_digits(copy) ?
			 "--user '%s': a user number must be below 4294967295" :
			 "--user '%s': no such user in /etc/passwd (give another user by number)",
			 spec);
		goto out;
	}
	if (group) {
		struct group *gr = *group ? group_entry(group) : NULL;

		if (gr)
			sb.gid = gr->gr_gid;
		else if (parse_id(group, &id))
			sb.gid = id;
		else {
			snprintf(errbuf, errlen, all_digits(group) ?
				 "--user '%s': a group number must be below 4294967295 ('%s')" :
				 "--user '%s': no such group '%s' in /etc/group", spec, group);
			goto out;
		}
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

int sandbox_drop_privileges_here(void)
{
	if (!sb.drop)
		return 0;
	/* Raw system calls: the caller is a child forked from a process that
	 * may have threads, where only async-signal-safe calls are safe. */
	if (syscall(SYS_setgroups, 0, NULL) || syscall(SYS_setresgid, sb.gid, sb.gid, sb.gid) ||
	    syscall(SYS_setresuid, sb.uid, sb.uid, sb.uid))
		return -1;
	return 0;
}

int sandbox_drop_privileges(char *errbuf, size_t errlen)
{
	if (!sb.drop)
		return 0;
	/* Groups first: after setuid there is no right left to change them. */
	if (setgroups(0, NULL) || setgid(sb.gid) || setuid(sb.uid)) {
		snprintf(errbuf, errlen, "--user '%s': cannot drop privileges: %s", sb.user,
			 strerror(errno));
		return -1;
	}
	if (sb.uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
		snprintf(errbuf, errlen, "--user '%s': root could be regained after the drop",
			 sb.user);
		return -1;
	}
#ifdef VMM_SANITIZERS
	/* A process that changed user is not dumpable, and LeakSanitizer's
	 * tracer, now unprivileged, could not attach to check for leaks. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	return 0;
}

/* ---- set-up and entry ------------------------------------------------------ */

/* Why PR_SET_NO_NEW_PRIVS failed in sandbox_before_threads (0: it did
 * not), reported by sandbox_prepare with the other set-up errors. */
static int nnp_errno;
static bool before_threads_done;

void sandbox_before_threads(void)
{
	before_threads_done = true;
	/* vmm never executes a program: nothing it starts may gain privileges
	 * (set-user-ID files, file capabilities).  Inherited by every thread
	 * created after it, so first, before KVM's lane. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		nnp_errno = errno;
	/* One malloc arena: when a thread's own arena gives memory back,
	 * glibc reads /proc/sys/vm/overcommit_memory (once), which no filter
	 * allows; found with a ,direct disk's bounce buffer.  vmm's threads
	 * allocate rarely, so sharing the main arena costs nothing.  Set
	 * before the first thread: an arena, once made, stays for later ones. */
	mallopt(M_ARENA_MAX, 1);
}

int sandbox_prepare(const struct vmm_config *cfg, char *errbuf, size_t errlen)
{
	struct sigaction sa;
	pid_t pid = getpid();

	sb.violate = cfg->seccomp_violate;
	if (cfg->user) {
		if (geteuid() != 0) {
			snprintf(errbuf, errlen, "--user '%s' needs vmm to start as root (it runs "
				 "as uid %u); otherwise run vmm as that user", cfg->user,
				 (unsigned)geteuid());
			return -1;
		}
		if (resolve_user(cfg->user, errbuf, errlen))
			return -1;
		sb.drop = true;
		sb.user = cfg->user;
	}
	if (!before_threads_done)
		sandbox_before_threads();   /* callers without a main (tests) */
	if (nnp_errno) {
		snprintf(errbuf, errlen, "sandbox: cannot set no_new_privs: %s",
			 strerror(nnp_errno));
		return -1;
	}
	if (cfg->no_seccomp)
		return 0;
	for (int k = 0; k < SANDBOX_KINDS; k++)
		if (compile((enum sandbox_kind)k, pid, errbuf, errlen))
			return -1;
	/* The report's names, resolved now: the handler may not allocate. */
	for (int nr = 0; nr < MAX_SYSCALL_NAMES; nr++)
		sb.syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		snprintf(errbuf, errlen, "sandbox: cannot handle SIGSYS: %s", strerror(errno));
		return -1;
	}
	gate_closed = true;
	sb.active = true;
	return 0;
}

/* The test hook (--debug-seccomp-violate=KIND): a harmless call (uname)
 * that no list allows, made by the first thread of that kind. */
static void maybe_violate(enum sandbox_kind kind)
{
	static atomic_bool done;
	struct utsname u;

	if (sb.violate != (int)kind || atomic_exchange(&done, true))
		return;
	syscall(SYS_uname, &u);
	vmm_error("sandbox: --debug-seccomp-violate=%s: uname was allowed (no filter)",
		  kind_names[kind]);
}

int sandbox_enter(enum sandbox_kind kind, const char *name, char *errbuf, size_t errlen)
{
	thread_kind = kind;
	snprintf(thread_name, sizeof(thread_name), "%s", name);
	if (sb.active && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sb.prog[kind], 0, 0)) {
		snprintf(errbuf, errlen, "sandbox: thread '%s' cannot install its filter: %s",
			 name, strerror(errno));
		return -1;
	}
	maybe_violate(kind);
	return 0;
}

static void open_gate(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_closed = false;
	pthread_cond_broadcast(&gate_open);
	pthread_mutex_unlock(&gate_lock);
}

int sandbox_seal(char *errbuf, size_t errlen)
{
	int ret = sandbox_enter(SANDBOX_MAIN, "main", errbuf, errlen);

	open_gate();
	return ret;
}

void sandbox_wait_sealed(void)
{
	pthread_mutex_lock(&gate_lock);
	while (gate_closed)
		pthread_cond_wait(&gate_open, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}
