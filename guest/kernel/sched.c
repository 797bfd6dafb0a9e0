/*
 * sched.c - ring-3 threads on each CPU.
 *
 * A thread is either bound to one CPU (info proves each CPU that way; the
 * benchmark engine binds one worker per vCPU when they are no more than
 * the vCPUs) or free to run on any (when workers outnumber vCPUs, as
 * Linux's scheduler would spread sysbench's threads).  Each CPU takes its
 * bound threads first, then the shared queue; a bound thread that yields
 * or ends its slice lets a shared one go first (give_way), so neither kind
 * starves the other.  A CPU that has something
 * waiting to run arms its LAPIC timer and round-robins every TIMESLICE_NS;
 * one that has not never arms it, so a run with one thread per vCPU takes
 * no timer interrupts at all.  A CPU with nothing to run halts until a
 * wake IPI.
 *
 * A switch rewrites the trap frame at the top of the CPU's ring-0 stack
 * (the one trap_return will pop) and swaps FPU/SSE state with
 * fxsave/fxrstor; ring 0 itself never touches the FPU.
 *
 * One lock guards all scheduler state: it is taken only on spawn, exit,
 * join, yield, timer ticks and device interrupts, never while a benchmark
 * loop runs.
 *
 * Device interrupts are for ring-3 drivers that block instead of polling
 * (virtio-blk's interrupt mode): a thread sleeps in sched_irq_wait until
 * its slot's count moves past the value it last saw, and the handler wakes
 * every sleeper of the slot.  The kernel knows nothing of the device: the
 * woken threads look at their queue themselves.
 */
#include "kernel.h"
#include "syscall.h"

#define MAX_THREADS (4 * MAX_CPUS)   /* bss.sparse: costs nothing until used */
#define TIMESLICE_NS 10000000ULL   /* 10 ms */
#define RFLAGS_IF 0x200
#define RFLAGS_RESERVED 0x2

enum thread_state { T_FREE, T_RUNNABLE, T_RUNNING, T_BLOCKED, T_DONE };

struct thread {
	uint8_t fx[512] __attribute__((aligned(16)));   /* fxsave area */
	bool fx_saved;              /* fx holds its state (else fx_initial is) */
	struct trap_frame frame;    /* user context while not running */
	enum thread_state state;
	int tid;
	unsigned cpu;               /* bound CPU, or SCHED_ANY_CPU */
	uint64_t exit_value;
	struct thread *next;        /* run queue link */
	struct thread *joiner;      /* blocked in join on this thread */
	/* SYS_EXPECT_EXCEPTION: a vector (< 32) this thread provokes on
	 * purpose, and where it resumes; NO_EXPECTED_EXCEPTION when none. */
	unsigned expect_vector;
	uint64_t expect_resume;
};

#define NO_EXPECTED_EXCEPTION 256

static struct thread threads[MAX_THREADS] __attribute__((section(".bss.sparse")));
static struct run_queue shared;     /* threads any CPU may run */
static struct thread *irq_sleepers[SYSINFO_IRQ_SLOTS];   /* linked by next */
static volatile int sched_lock;
/* The FPU state FNINIT would give, as fxrstor reads it: x87 control word
 * 0x37f (bytes 0-1), MXCSR 0x1f80 (bytes 24-27: all exceptions masked,
 * round to nearest).  A new thread starts from it without a copy of its
 * own: where ring 0 is emulated, copying 512 bytes per spawn cost tens of
 * microseconds. */
static const uint8_t fx_initial[512] __attribute__((aligned(16))) = {
	[0] = 0x7f, [1] = 0x03, [24] = 0x80, [25] = 0x1f,
};

static void fxsave(uint8_t *area)
{
	__asm__ volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

static void fxrstor(const uint8_t *area)
{
	__asm__ volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}

static struct trap_frame *cpu_frame(struct cpu *c)
{
	return (struct trap_frame *)(c->kstack_top - sizeof(struct trap_frame));
}

static void rq_push(struct run_queue *q, struct thread *t)
{
	t->state = T_RUNNABLE;
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	q->length++;
}

static struct thread *rq_pop(struct run_queue *q)
{
	struct thread *t = q->head;

	if (t) {
		q->head = t->next;
		if (!q->head)
			q->tail = NULL;
		q->length--;
	}
	return t;
}

/* Does CPU c have another thread waiting for it? */
static bool has_waiting(const struct cpu *c)
{
	return c->pinned.length > 0 || shared.length > 0;
}

/* Arm or stop this CPU's timer: it runs only while threads share it, and
 * never while SYS_EXIT_BENCH has it (sched_lend_timer). */
static void update_timer(struct cpu *c)
{
	bool need = c->current && has_waiting(c) && !c->timer_lent;

	if (need && !c->timer_armed)
		lapic_timer_oneshot(TIMESLICE_NS);
	else if (!need && c->timer_armed)
		lapic_timer_stop();
	c->timer_armed = need;
}

/* Tells CPU c its queues changed (with the lock held): an idle CPU wakes
 * up to run something, a busy one arms its timer to share itself. */
static void notify(struct cpu *c)
{
	if (c == this_cpu())
		update_timer(c);
	else if (c->idle || (c->current && !c->timer_armed))
		lapic_send_ipi(c->apic_id, ICR_FIXED | VEC_WAKE);
}

/* Makes t runnable where it may run, and tells the CPUs concerned. */
static void make_runnable(struct thread *t)
{
	if (t->cpu != SCHED_ANY_CPU) {
		rq_push(&cpus[t->cpu].pinned, t);
		notify(&cpus[t->cpu]);
		return;
	}
	rq_push(&shared, t);
	/* One idle CPU takes it; if none is idle, every CPU starts sharing. */
	for (unsigned i = 0; i < ncpus; i++) {
		if (cpus[i].online_tsc && cpus[i].idle) {
			notify(&cpus[i]);
			return;
		}
	}
	for (unsigned i = 0; i < ncpus; i++)
		if (cpus[i].online_tsc)
			notify(&cpus[i]);
}

/* Makes `next` (or, if NULL, whatever is queued, halting until something
 * is) the running thread of this CPU, by rewriting `tf`.  The caller has
 * saved or discarded the current thread; called and returns with the lock
 * held. */
static void run_next(struct cpu *c, struct trap_frame *tf, struct thread *next)
{
	while (!next && !(next = rq_pop(&c->pinned)) && !(next = rq_pop(&shared))) {
		c->current = NULL;
		c->idle = true;
		update_timer(c);
		spin_unlock(&sched_lock);
		__asm__ volatile("sti; hlt; cli" ::: "memory");
		spin_lock(&sched_lock);
		c->idle = false;
	}
	next->state = T_RUNNING;
	c->current = next;
	__atomic_add_fetch(&sysinfo.context_switches, 1, __ATOMIC_RELAXED);
	*tf = next->frame;
	fxrstor(next->fx_saved ? next->fx : fx_initial);
	update_timer(c);
}

static void save_current(struct cpu *c, const struct trap_frame *tf)
{
	c->current->frame = *tf;
	fxsave(c->current->fx);
	c->current->fx_saved = true;
}

/* The current thread hands the CPU to the next in line (a yield, or the
 * end of its timer slice); called with the lock held.  run_next takes a
 * CPU's bound threads before shared ones, so a bound thread also steps
 * behind the shared queue here: else a shared thread would never run on
 * a CPU whose bound thread keeps yielding or being preempted. */
static void give_way(struct cpu *c, struct trap_frame *tf)
{
	struct thread *t = c->current;

	save_current(c, tf);
	c->current = NULL;
	make_runnable(t);
	run_next(c, tf, t->cpu != SCHED_ANY_CPU ? rq_pop(&shared) : NULL);
}

void sched_start_cpu(void)
{
	struct cpu *c = this_cpu();
	struct trap_frame *tf = cpu_frame(c);

	spin_lock(&sched_lock);
	run_next(c, tf, NULL);
	spin_unlock(&sched_lock);
	trap_resume(tf);
}

int sched_spawn(unsigned cpu, uint64_t entry, uint64_t arg, uint64_t stack_top)
{
	struct thread *t = NULL;

	if ((cpu != SCHED_ANY_CPU && (cpu >= ncpus || !cpus[cpu].online_tsc)) || (stack_top & 15))
		return -SYS_ERR_INVAL;
	spin_lock(&sched_lock);
	for (unsigned i = 0; i < MAX_THREADS; i++) {
		if (threads[i].state == T_FREE) {
			t = &threads[i];
			break;
		}
	}
	if (!t) {
		spin_unlock(&sched_lock);
		return -SYS_ERR_AGAIN;
	}
	memset(&t->frame, 0, sizeof(t->frame));
	t->frame.rip = entry;
	t->frame.rdi = arg;
	t->frame.cs = USER_CS;
	t->frame.ss = USER_DS;
	t->frame.rsp = stack_top - 8;   /* as if called: rsp+8 is 16-aligned */
	t->frame.rflags = RFLAGS_IF | RFLAGS_RESERVED;
	t->fx_saved = false;
	t->tid = (int)(t - threads) + 1;
	t->cpu = cpu;
	t->joiner = NULL;
	t->expect_vector = NO_EXPECTED_EXCEPTION;
	make_runnable(t);
	spin_unlock(&sched_lock);
	return t->tid;
}

void sched_yield(struct trap_frame *tf)
{
	struct cpu *c = this_cpu();

	spin_lock(&sched_lock);
	if (has_waiting(c))
		give_way(c, tf);
	spin_unlock(&sched_lock);
}

void sched_join(struct trap_frame *tf, int tid)
{
	struct cpu *c = this_cpu();
	struct thread *t;

	if (tid < 1 || tid > MAX_THREADS) {
		tf->rax = (uint64_t)-SYS_ERR_SRCH;
		return;
	}
	t = &threads[tid - 1];
	spin_lock(&sched_lock);
	if (t->state == T_FREE || t == c->current || t->joiner) {
		spin_unlock(&sched_lock);
		tf->rax = (uint64_t)-SYS_ERR_SRCH;
		return;
	}
	if (t->state == T_DONE) {
		tf->rax = t->exit_value;
		t->state = T_FREE;
		spin_unlock(&sched_lock);
		return;
	}
	/* Sleep until t exits; sched_exit puts the value in our RAX. */
	save_current(c, tf);
	c->current->state = T_BLOCKED;
	t->joiner = c->current;
	run_next(c, tf, NULL);
	spin_unlock(&sched_lock);
}

void sched_exit(struct trap_frame *tf, uint64_t value)
{
	struct cpu *c = this_cpu();
	struct thread *t = c->current;

	spin_lock(&sched_lock);
	t->exit_value = value;
	if (t->joiner) {
		struct thread *j = t->joiner;

		j->frame.rax = value;
		t->state = T_FREE;
		make_runnable(j);
	} else {
		t->state = T_DONE;
	}
	c->current = NULL;
	run_next(c, tf, NULL);
	spin_unlock(&sched_lock);
}

void sched_irq_wait(struct trap_frame *tf, unsigned slot, uint64_t seen)
{
	struct cpu *c = this_cpu();
	struct thread *t = c->current;

	spin_lock(&sched_lock);
	tf->rax = sysinfo.irq_count[slot];
	if (tf->rax == seen) {
		save_current(c, tf);
		t->state = T_BLOCKED;
		t->next = irq_sleepers[slot];
		irq_sleepers[slot] = t;
		c->current = NULL;
		run_next(c, tf, NULL);
	}
	spin_unlock(&sched_lock);
}

void sched_irq(unsigned slot)
{
	struct thread *t;

	spin_lock(&sched_lock);
	uint64_t count = ++sysinfo.irq_count[slot];
	while ((t = irq_sleepers[slot])) {
		irq_sleepers[slot] = t->next;
		t->frame.rax = count;
		make_runnable(t);
	}
	spin_unlock(&sched_lock);
}

void sched_timer_tick(struct trap_frame *tf)
{
	struct cpu *c = this_cpu();

	__atomic_add_fetch(&sysinfo.timer_interrupts, 1, __ATOMIC_RELAXED);
	spin_lock(&sched_lock);
	c->timer_armed = false;
	/* Preempt only ring-3 threads; an idle CPU's halt loop just goes on. */
	if ((tf->cs & 3) == 3 && c->current && has_waiting(c)) {
		give_way(c, tf);
	} else {
		update_timer(c);
	}
	spin_unlock(&sched_lock);
}

void sched_wake_ipi(void)
{
	struct cpu *c = this_cpu();

	/* An idle CPU re-checks its queue when the halt returns; a busy one
	 * may now share itself and need its timer. */
	spin_lock(&sched_lock);
	if (c->current)
		update_timer(c);
	spin_unlock(&sched_lock);
}

void sched_expect_exception(struct trap_frame *tf, uint64_t vector, uint64_t resume)
{
	struct thread *t = this_cpu()->current;

	t->expect_vector = vector < 32 ? (unsigned)vector : NO_EXPECTED_EXCEPTION;
	t->expect_resume = resume;
	tf->rax = 0;
}

bool sched_catch_exception(struct trap_frame *tf)
{
	struct thread *t = this_cpu()->current;

	if ((tf->cs & 3) != 3 || !t || t->expect_vector != tf->vector)
		return false;
	t->expect_vector = NO_EXPECTED_EXCEPTION;
	tf->rcx = tf->vector == 14 ? read_cr2() : 0;
	tf->rdx = tf->error;
	tf->rax = tf->vector;
	tf->rip = t->expect_resume;
	return true;
}

bool sched_current_bound(void)
{
	struct cpu *c = this_cpu();

	return c->current && c->current->cpu == c->index;
}

bool sched_lend_timer(void)
{
	struct cpu *c = this_cpu();
	bool lent;

	spin_lock(&sched_lock);
	lent = !c->timer_armed;
	if (lent)
		c->timer_lent = true;
	spin_unlock(&sched_lock);
	return lent;
}

/* The lender may have made a thread wait for a slice meanwhile. */
void sched_return_timer(void)
{
	struct cpu *c = this_cpu();

	spin_lock(&sched_lock);
	c->timer_lent = false;
	update_timer(c);
	spin_unlock(&sched_lock);
}

int sched_current_tid(void)
{
	struct thread *t = this_cpu()->current;

	return t ? t->tid : 0;
}
