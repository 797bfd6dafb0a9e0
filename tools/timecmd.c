/*
 * timecmd - run a command, print its wall time and peak RSS as one JSON line:
 *
 *   timecmd [-q] [-n RUNS] -- COMMAND [ARGS ...]
 *   {"run":1,"wall_ns":31415926,"maxrss_kib":2304,"status":0,"others_maxrss_kib":824}
 *
 * Like /usr/bin/time, but with nanosecond wall time measured from just
 * before fork to the moment wait4 returns, and usable where there is no
 * Python (inside the Linux VM that offers nested KVM).  -q sends the
 * command's stdout and stderr to /dev/null; -n repeats it.
 *
 * Processes the command leaves behind (vmm's reaper, which releases the
 * VM after vmm has exited) come to timecmd, a child subreaper: it waits
 * for them after the wall time is taken and reports the largest peak RSS
 * among them, others_maxrss_kib (0 when there were none).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int run_once(char **argv, int quiet, int index)
{
	long long t0 = now_ns(), t1;
	struct rusage ru;
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		fprintf(stderr, "timecmd: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "timecmd: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		fprintf(stderr, "timecmd: wait4: %s\n", strerror(errno));
		return -1;
	}
	t1 = now_ns();
	/* The orphans, now ours: each one's own peak (wait4 of a process
	 * whose children are gone). */
	long others = 0;
	struct rusage oru;
	int ostatus;

	while (wait4(-1, &ostatus, 0, &oru) > 0)
		if (oru.ru_maxrss > others)
			others = oru.ru_maxrss;
	printf("{\"run\":%d,\"wall_ns\":%lld,\"maxrss_kib\":%ld,\"status\":%d,"
	       "\"others_maxrss_kib\":%ld}\n", index, t1 - t0, ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), others);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	int quiet = 0, runs = 1, opt;

	while ((opt = getopt(argc, argv, "+qn:")) != -1) {
		if (opt == 'q') {
			quiet = 1;
		} else if (opt == 'n' && atoi(optarg) > 0) {
			runs = atoi(optarg);
		} else {
			fprintf(stderr, "usage: timecmd [-q] [-n RUNS] -- COMMAND [ARGS ...]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: timecmd [-q] [-n RUNS] -- COMMAND [ARGS ...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		fprintf(stderr, "timecmd: cannot become a child subreaper: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 1; i <= runs; i++)
		if (run_once(argv + optind, quiet, i))
			return 1;
	return 0;
}
