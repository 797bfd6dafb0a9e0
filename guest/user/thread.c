/*
 * thread.c - threads for tests: thread_spawn(cpu, fn, arg) and
 * thread_join(tid).  Each thread gets a stack from the heap and starts
 * in thread_entry, which calls fn and passes its result to the joiner.
 */
#include "user.h"

struct thread_start {
	thread_fn fn;
	void *arg;
};

static void thread_entry(void *p)
{
	struct thread_start *s = p;

	sys_thread_exit(s->fn(s->arg));
}

long thread_spawn(unsigned cpu, thread_fn fn, void *arg, size_t stack_size)
{
	uint8_t *stack = heap_alloc(stack_size, 16);
	struct thread_start *s;

	if (!stack || stack_size < 4096)
		return -SYS_ERR_AGAIN;
	/* The start record lives at the top of the thread's own stack. */
	s = (struct thread_start *)(stack + stack_size - 64);
	s->fn = fn;
	s->arg = arg;
	return sys_spawn(cpu, thread_entry, s, s);
}

uint64_t thread_join(long tid)
{
	return (uint64_t)sys_join(tid);
}
