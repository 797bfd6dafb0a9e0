/*
 * sandbox.h - vmm's sandbox (sandbox.c): PR_SET_NO_NEW_PRIVS, a seccomp-BPF
 * allow-list per kind of thread (main, vCPU, I/O), installed once set-up
 * is over, and --user's privilege drop.  docs/sandbox.md has the lists and
 * the reasons.
 *
 * The order, in main() and vm.c:
 *
 *   sandbox_prepare()          before any thread: checks --user, sets
 *                              NO_NEW_PRIVS, compiles the filters,
 *                              installs the SIGSYS reporter
 *   vm_build()                 /dev/kvm, RAM, disks; I/O threads start and
 *                              each installs the I/O filter (sandbox_enter)
 *   sandbox_drop_privileges()  --user: setgroups, setgid, setuid
 *   vm_run()                   vCPU threads start, each installs the vCPU
 *                              filter and waits; the main thread installs
 *                              its own (sandbox_seal), then lets them run
 *
 * A system call outside a thread's list is not executed: the thread gets
 * SIGSYS, whose handler writes one line naming the thread and the call and
 * ends vmm with VMM_STATUS_SANDBOX (126).
 */
#ifndef VMM_SANDBOX_H
#define VMM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

struct vmm_config;

enum sandbox_kind {
	SANDBOX_MAIN,     /* waits for the stop, reports, tears down */
	SANDBOX_VCPU,     /* KVM_RUN and the device handlers of the exit loop */
	SANDBOX_IO,       /* a device's I/O thread (a disk's "blk N") */
	SANDBOX_REAPER,   /* the reaper process (reaper.c): receives the VM, releases it,
			     loads Capstone at the first disassembly request */
	SANDBOX_DISAS,    /* the reaper from then on, stacked on its first filter:
			     decodes guest code, opens and maps nothing */
	SANDBOX_KINDS,
	SANDBOX_NONE = -1,
};

/* "main", "vcpu", "io", "reaper", "disas" -> the kind, or SANDBOX_NONE. */
enum sandbox_kind sandbox_kind_parse(const char *name);
const char *sandbox_kind_name(enum sandbox_kind kind);

/* First thing in main, before any thread exists: what every thread must
 * inherit (no_new_privs; one malloc arena for the filters). */
void sandbox_before_threads(void);
/* Before any thread but KVM's set-up lane (vm_start_kvm), which ends
 * before the filters go on.  -1 with one line in errbuf (--user not root,
 * no such user, libseccomp failing). */
int sandbox_prepare(const struct vmm_config *cfg, char *errbuf, size_t errlen);

/* The calling thread installs its kind's filter (nothing when the sandbox
 * is off); `name` is the thread as the report names it.  -1 with errbuf. */
int sandbox_enter(enum sandbox_kind kind, const char *name, char *errbuf, size_t errlen);

/* --user: drops to its user and group (every thread: glibc applies the
 * change to all of them).  Call after every file vmm needs is open. */
int sandbox_drop_privileges(char *errbuf, size_t errlen);

/* --user, for a forked child process of its own (the reaper), which
 * glibc's drop in the parent does not reach: the same user and group,
 * with raw system calls (async-signal-safe).  -1 if the kernel refused. */
int sandbox_drop_privileges_here(void);

/* The main thread installs its filter, then lets the vCPU threads waiting
 * in sandbox_wait_sealed() run.  -1 with errbuf (the gate opens anyway, so
 * the vCPUs see the stop and end). */
int sandbox_seal(char *errbuf, size_t errlen);
/* A vCPU thread waits here, filtered, until the main thread is too. */
void sandbox_wait_sealed(void);

/* Whether the filters are on (false with --no-seccomp or before prepare). */
bool sandbox_active(void);

#endif /* VMM_SANDBOX_H */
