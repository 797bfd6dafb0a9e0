/*
 * stdio.c - printf for ring 3: format into a buffer here (natively) and
 * append it to stdout's buffer, which reaches the console in as few
 * system calls as the order of output allows.  Where ring 0 is emulated
 * (the PVM-style KVM) each system call costs 100 us or more, so `info`,
 * which prints twenty lines, is written in one.
 *
 * When the buffer goes out (user.h says it for users):
 *   - when the next text does not fit (text larger than the whole buffer
 *     goes out directly, after what was buffered);
 *   - before every other system call ring 3 makes (syscall.c), so the
 *     output precedes whatever that call prints, waits for or ends with:
 *     exit, a crash on purpose, a join that waits for a long run;
 *   - on stdout_flush(), for a test that then runs long natively;
 *   - from ring 0, before it reports an exception that ends the run
 *     (SYS_SYSINFO was given stdout_output, kernel/syscall.c).
 */
#include "user.h"

#define PRINTF_MAX 4096
#define STDOUT_BYTES 16384

static char stdout_bytes[STDOUT_BYTES];
struct user_output stdout_output = {(uintptr_t)stdout_bytes, STDOUT_BYTES, 0};
static volatile int stdout_lock;

static void lock(void)
{
	while (__atomic_exchange_n(&stdout_lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void unlock(void)
{
	__atomic_store_n(&stdout_lock, 0, __ATOMIC_RELEASE);
}

/* Called with the lock held.  The length is cleared only after the write,
 * so ring 0 never drops bytes it would have to report. */
static void flush_locked(void)
{
	if (stdout_output.len) {
		sys_write_unbuffered(stdout_bytes, stdout_output.len);
		stdout_output.len = 0;
	}
}

void stdout_flush(void)
{
	/* Unlocked peek: a thread sees its own earlier appends, and the
	 * order between threads' texts is set by who appends first. */
	if (!__atomic_load_n(&stdout_output.len, __ATOMIC_RELAXED))
		return;
	lock();
	flush_locked();
	unlock();
}

void stdout_write(const void *buf, size_t len)
{
	lock();
	if (len > STDOUT_BYTES - stdout_output.len)
		flush_locked();
	if (len > STDOUT_BYTES) {
		sys_write_unbuffered(buf, len);
	} else {
		memcpy(stdout_bytes + stdout_output.len, buf, len);
		stdout_output.len += (uint32_t)len;
	}
	unlock();
}

static int vprintf_(const char *fmt, va_list ap)
{
	char buf[PRINTF_MAX];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	stdout_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf_(fmt, ap);
	va_end(ap);
	return n;
}

int puts(const char *s)
{
	return printf("%s\n", s);
}

void die(int status, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "vmbench: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	stdout_write(buf, (size_t)n);
	sys_exit(status);      /* which writes the buffer out first */
}
