/*
 * placement.h - where and how vmm's threads run on the host, and whether
 * guest RAM may be paged out (placement.c): --pin, --io-pin, --rt, --mlock.
 *
 * Everything is checked before the first thread starts (placement_check),
 * and every thread is created with its CPUs and its policy already set
 * (pthread attributes), so no vCPU ever runs a single instruction unpinned
 * or below its real-time priority.  What the kernel then really gives each
 * thread is read back by the thread itself (thread_state_read) for
 * --stats and --json.
 */
#ifndef VMM_PLACEMENT_H
#define VMM_PLACEMENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../isolation/cpulist.h"
#include "memory.h"

struct vm;
struct vmm_config;

/* ---- checking the command line against this host ------------------------------ */

/* Pure: every CPU of cpus[0..n) must be online and in `allowed` (this
 * process's affinity).  -1 with one line naming the first CPU that is not,
 * and the host's CPUs, in errbuf ("--pin: host CPU 99 does not exist (this
 * host has CPUs 0-1)"). */
int placement_check_cpus(const char *option, const int *cpus, unsigned n,
			 const struct cpuset *online, const struct cpuset *allowed,
			 char *errbuf, size_t errlen);

/* The host's online CPUs (/sys/devices/system/cpu/online) and the ones
 * this process may run on (sched_getaffinity). */
int placement_host_cpus(struct cpuset *online, struct cpuset *allowed,
			char *errbuf, size_t errlen);

/* Checks --pin and --io-pin against the host, and --rt by starting (and
 * joining) one throwaway thread with the vCPUs' policy: the kernel's own
 * answer (EPERM without CAP_SYS_NICE or RLIMIT_RTPRIO, a cgroup without
 * real-time runtime ...).  Call before any thread starts. */
int placement_check(const struct vmm_config *cfg, char *errbuf, size_t errlen);

/* ---- threads ------------------------------------------------------------------- */

/* What the kernel says one thread runs with, read by the thread itself as
 * it starts (and kept after it ended, for the reports). */
struct thread_state {
	bool known;                /* the thread started and read it */
	int tid;
	struct cpuset affinity;
	int policy;                /* SCHED_OTHER, SCHED_FIFO ... */
	int rt_priority;           /* 0 unless real-time */
};

/* Fills *st from the kernel for the calling thread. */
void thread_state_read(struct thread_state *st);
/* The one CPU the thread may use, or -1 (several, or unknown). */
int thread_state_host_cpu(const struct thread_state *st);

/* Starts fn(arg) on a thread that runs only on `cpus` (NULL: wherever the
 * process may) and, if rt_priority > 0, SCHED_FIFO at that priority, both
 * set before it runs.  Returns 0 or an errno value, as pthread_create. */
int thread_start_placed(pthread_t *thread, const struct cpuset *cpus, int rt_priority,
			void *(*fn)(void *), void *arg);

/* A thread of vmm's other than a vCPU (a disk's I/O thread ...): it runs
 * on --io-pin's CPUs, is named as given, and is listed in the reports. */
#define VMM_MAX_IO_THREADS 16
struct io_thread {
	char name[16];             /* as in top -H (the kernel's limit) */
	void *(*fn)(void *);
	void *arg;
	struct vm *vm;             /* stopped if the thread cannot be sandboxed */
	pthread_t thread;
	bool started;
	struct thread_state state;
};

/* Starts t running fn(arg); errbuf says why not. */
int io_thread_start(struct vm *vm, struct io_thread *t, const char *name,
		    void *(*fn)(void *), void *arg, char *errbuf, size_t errlen);
/* Joins it, if it was started. */
void io_thread_join(struct io_thread *t);

/* ---- memory -------------------------------------------------------------------- */

/* --mlock: locks guest RAM, faulting all of it in; errbuf says why not
 * (RLIMIT_MEMLOCK, not enough host RAM). */
int placement_lock_memory(const struct guest_memory *mem, char *errbuf, size_t errlen);
/* How much of this process is locked (VmLck of /proc/self/status), KiB. */
uint64_t placement_locked_kib(void);

/* ---- reports ------------------------------------------------------------------- */

/* The JSON members "tid", "host_cpu", "affinity", "policy", "rt_priority"
 * (no braces, no leading comma); null where the thread never ran. */
void thread_state_json(FILE *f, const struct thread_state *st);
/* --stats: the header, then one row per thread. */
void thread_state_header(FILE *out);
void thread_state_row(FILE *out, const char *name, const struct thread_state *st);

#endif /* VMM_PLACEMENT_H */
