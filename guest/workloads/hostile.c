/*
 * hostile.c - a guest that misbehaves on purpose, one way per --case, so
 * the test suites can check that the monitor reports each misdeed clearly
 * and exits cleanly instead of crashing, looping or exiting silently
 * (tests/integration/test_hostile_guest.py, docs/reliability.md).
 *
 * Each case prints what the guest observed ("hostile: ..." lines) and a
 * VMBENCH-RESULT line, and exits 0 when the platform behaved as a device
 * should (a broken request failed, a broken queue set NEEDS_RESET, the
 * device still works after a reset), 1 when it did not.  A case that the
 * monitor is expected to end itself (`spin`; `ports` or `mmio` over an
 * address no device handles) never gets to print its end.
 *
 * The virtio cases drive the disk's queue by hand, through the driver's
 * state (guest/drivers/virtio_blk.h) but not its request path: they write
 * descriptor chains no driver would.  Every wait has a deadline.
 */
#include "user.h"
#include "virtio_blk.h"

#include "apic.h"
#include "boot.h"

#define WAIT_S 10                  /* for a completion, NEEDS_RESET, a reset */
#define DEBUG_EXIT_PORT 0xf4       /* the platform's exit port: never swept */
#define COM1 0x3f8
#define IOAPIC_BASE 0xfec00000UL
#define IOAPIC_WINDOW 0x100        /* index and data registers, as KVM decodes them */
#define DATA_BYTES 4096

static const struct option_def hostile_options[] = {
	{"case", OPT_STRING, "", "what to do wrong",
	 "desc-loop,desc-index,bad-buffers,avail-ahead,used-outside,queue-size,reset-inflight,"
	 "doorbell-storm,ipi-storm,timer-storm,ports,mmio,console,spin"},
	{"seconds", OPT_INT, "2", "how long a storm lasts", NULL},
	{"rounds", OPT_INT, "10", "reset-inflight: resets with requests in flight", NULL},
	{"ports", OPT_STRING, "0-0xffff",
	 "ports: ranges to sweep, FIRST-LAST[,FIRST-LAST...] (0x for hex)", NULL},
	{"mmio", OPT_STRING, "",
	 "mmio: ranges to sweep (default: every memory BAR, the IOAPIC, the LAPIC page)", NULL},
	{NULL, 0, NULL, NULL, NULL},
};

/* What a case found, for the report. */
struct outcome {
	bool ok;
	char what[160];
	uint64_t count;               /* accesses, doorbells, interrupts ... */
	uint64_t ticks;               /* how long the case's main part took */
};

static void observed(struct outcome *o, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void observed(struct outcome *o, bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->what, sizeof(o->what), fmt, ap);
	va_end(ap);
	o->ok = ok;
}

/* ---- the disk's queue, by hand ------------------------------------------------ */

struct raw_req {
	struct virtio_blk_outhdr hdr;
	volatile uint8_t status;
} __attribute__((aligned(64)));

static struct vblk disk;
static uint8_t *data;              /* DATA_BYTES, for good requests */
static struct raw_req *reqs;       /* one per possible request */

static int open_disk(struct outcome *o)
{
	char why[160];
	int st = vblk_open(&disk, VBLK_POLL, why, sizeof(why));

	if (st) {
		observed(o, false, "%s", why[0] ? why : "no virtio-blk disk (vmm: --disk FILE)");
		return STATUS_UNAVAILABLE;
	}
	if (!data)
		data = heap_alloc(DATA_BYTES, 4096);
	if (!reqs)
		reqs = heap_alloc(sizeof(*reqs) * VBLK_QUEUE_MAX, 64);
	if (!data || !reqs) {
		observed(o, false, "out of memory");
		return STATUS_FAILED;
	}
	return STATUS_OK;
}

static uint8_t dev_status(void)
{
	return disk.common[VIRTIO_PCI_COMMON_STATUS];
}

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	disk.desc[i] = (struct vring_desc){addr, len, flags, next};
}

/* Offers chain `head` and rings the doorbell (always: no suppression). */
static void offer(uint16_t head)
{
	disk.avail[2 + (disk.avail_idx & (disk.qsize - 1))] = head;
	__atomic_store_n(&disk.avail[1], ++disk.avail_idx, __ATOMIC_RELEASE);
	*disk.notify = 0;
}

/* Three descriptors from `first`: header, DATA_BYTES at `addr`, status. */
static uint16_t build_request(uint16_t first, struct raw_req *r, uint32_t type, uint64_t sector,
			      uint64_t addr, uint32_t len)
{
	uint16_t dflags = VRING_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0);

	r->hdr = (struct virtio_blk_outhdr){.type = type, .sector = sector};
	r->status = 0xff;
	set_desc(first, (uintptr_t)&r->hdr, sizeof(r->hdr), VRING_DESC_F_NEXT, first + 1);
	set_desc(first + 1, addr, len, dflags, first + 2);
	set_desc(first + 2, (uintptr_t)&r->status, 1, VRING_DESC_F_WRITE, 0);
	return first;
}

static uint16_t used_idx(void)
{
	return __atomic_load_n(&disk.used[1], __ATOMIC_ACQUIRE);
}

/* Until used->idx reaches `want`, NEEDS_RESET shows, or WAIT_S pass:
 * 1 completed, 0 NEEDS_RESET, -1 nothing. */
static int wait_event(uint16_t want)
{
	uint64_t deadline = rdtsc() + WAIT_S * sys->tsc_hz;

	while (rdtsc() < deadline) {
		if ((uint16_t)(used_idx() - want) < 0x8000)
			return 1;
		if (dev_status() & VIRTIO_CONFIG_S_NEEDS_RESET)
			return 0;
		__builtin_ia32_pause();
	}
	return -1;
}

/* One request from `first`, waited for: its status byte, or -1 (none), -2
 * (the device went NEEDS_RESET instead). */
static int request(uint16_t first, uint32_t type, uint64_t addr, uint32_t len)
{
	struct raw_req *r = &reqs[first];
	int e;

	offer(build_request(first, r, type, 0, addr, len));
	e = wait_event(disk.avail_idx);
	return e == 1 ? r->status : e == 0 ? -2 : -1;
}

static int good_read(void)
{
	return request(0, VIRTIO_BLK_T_IN, (uintptr_t)data, DATA_BYTES);
}

/* Offers a chain no device can complete and expects NEEDS_RESET. */
static void expect_needs_reset(struct outcome *o, uint16_t head, const char *what)
{
	uint64_t t0 = rdtsc();
	int e;

	offer(head);
	e = wait_event(disk.avail_idx);
	o->ticks = rdtsc() - t0;
	if (e == 0)
		observed(o, true, "%s: the device set NEEDS_RESET (status 0x%x) after %llu us",
			 what, dev_status(), (unsigned long long)(tsc_to_ns(o->ticks) / 1000));
	else if (e == 1)
		observed(o, false, "%s: the device completed it (status byte 0x%x)", what,
			 reqs[head].status);
	else
		observed(o, false, "%s: neither a completion nor NEEDS_RESET within %d s", what,
			 WAIT_S);
}

static void case_desc_loop(struct outcome *o)
{
	struct raw_req *r = &reqs[0];

	r->hdr = (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_IN};
	set_desc(0, (uintptr_t)&r->hdr, sizeof(r->hdr), VRING_DESC_F_NEXT, 1);
	set_desc(1, (uintptr_t)data, DATA_BYTES, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set_desc(2, (uintptr_t)&r->status, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	expect_needs_reset(o, 0, "a chain 0 -> 1 -> 2 -> 1 ... that loops");
}

static void case_desc_index(struct outcome *o)
{
	build_request(0, &reqs[0], VIRTIO_BLK_T_IN, 0, (uintptr_t)data, DATA_BYTES);
	set_desc(1, (uintptr_t)data, DATA_BYTES, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
		 (uint16_t)(disk.qsize + 7));
	expect_needs_reset(o, 0, "a chain whose next index is beyond the queue");
}

static void case_avail_ahead(struct outcome *o)
{
	uint64_t t0 = rdtsc();
	int e;

	/* Claims more buffers than the ring holds. */
	disk.avail_idx = (uint16_t)(disk.avail_idx + disk.qsize + 5);
	__atomic_store_n(&disk.avail[1], disk.avail_idx, __ATOMIC_RELEASE);
	*disk.notify = 0;
	e = wait_event((uint16_t)(used_idx() + 0x7fff));   /* only NEEDS_RESET ends it */
	o->ticks = rdtsc() - t0;
	observed(o, e == 0, "avail->idx %u ahead of the device: %s", disk.qsize + 5,
		 e == 0 ? "the device set NEEDS_RESET" : "no NEEDS_RESET within the deadline");
}

/* Data buffers no device may touch: each read must fail with IOERR and
 * leave the device working. */
static void case_bad_buffers(struct outcome *o)
{
	const struct { const char *what; uint64_t addr; uint32_t len; } bad[] = {
		{"beyond the end of RAM", sys->ram[sys->nram - 1].base +
			sys->ram[sys->nram - 1].size, DATA_BYTES},
		{"across the end of RAM", sys->ram[sys->nram - 1].base +
			sys->ram[sys->nram - 1].size - 512, DATA_BYTES},
		{"on the LAPIC page (MMIO hole)", LAPIC_BASE, DATA_BYTES},
		{"on the IOAPIC (MMIO hole)", IOAPIC_BASE, DATA_BYTES},
		{"on the disk's own registers", (uint64_t)(uintptr_t)disk.common, DATA_BYTES},
		{"whose address + length wraps", 0xfffffffffffff000ull, 0x2000},
		{"of length 0xffffffff", (uintptr_t)data, 0xffffffffu},
	};
	unsigned failed_ok = 0;

	uint64_t t0 = rdtsc();
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		int st = request(0, VIRTIO_BLK_T_IN, bad[i].addr, bad[i].len);

		printf("hostile: a read into a buffer %s (0x%llx, %u bytes): %s\n", bad[i].what,
		       (unsigned long long)bad[i].addr, bad[i].len,
		       st == VIRTIO_BLK_S_IOERR ? "I/O error, as it should" :
		       st == -2 ? "the device set NEEDS_RESET" :
		       st < 0 ? "no completion" : "completed, status not IOERR");
		failed_ok += st == VIRTIO_BLK_S_IOERR;
		if (st < 0)
			break;
	}
	int st = good_read();
	o->ticks = rdtsc() - t0;
	observed(o, failed_ok == ARRAY_SIZE(bad) && st == VIRTIO_BLK_S_OK,
		 "%u of %u bad buffers failed with IOERR; a good read then: %s", failed_ok,
		 (unsigned)ARRAY_SIZE(bad), st == VIRTIO_BLK_S_OK ? "OK" : "failed");
}

/* Resets the device: false if its status did not read back 0 within
 * WAIT_S (the driver must wait for that, VIRTIO 1.x 4.1.4.3.2). */
static bool reset_device(void)
{
	uint64_t deadline = rdtsc() + WAIT_S * sys->tsc_hz;

	disk.common[VIRTIO_PCI_COMMON_STATUS] = 0;
	while (disk.common[VIRTIO_PCI_COMMON_STATUS])
		if (rdtsc() > deadline)
			return false;
	return true;
}

/* Sets queue 0 up again after a reset, with the given size and used ring,
 * and enables it: returns the device status after (0xff: no reset). */
static uint8_t reenable(uint16_t size, uint64_t used)
{
	volatile uint8_t *c = disk.common;

	if (!reset_device())
		return 0xff;
	c[VIRTIO_PCI_COMMON_STATUS] = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	*(volatile uint32_t *)(c + VIRTIO_PCI_COMMON_GFSELECT) = 1;
	*(volatile uint32_t *)(c + VIRTIO_PCI_COMMON_GF) = 1;   /* VERSION_1 */
	c[VIRTIO_PCI_COMMON_STATUS] |= VIRTIO_CONFIG_S_FEATURES_OK;
	*(volatile uint16_t *)(c + VIRTIO_PCI_COMMON_Q_SELECT) = 0;
	*(volatile uint16_t *)(c + VIRTIO_PCI_COMMON_Q_SIZE) = size;
	*(volatile uint64_t *)(c + VIRTIO_PCI_COMMON_Q_DESCLO) = (uintptr_t)disk.desc;
	*(volatile uint64_t *)(c + VIRTIO_PCI_COMMON_Q_AVAILLO) = (uintptr_t)disk.avail;
	*(volatile uint64_t *)(c + VIRTIO_PCI_COMMON_Q_USEDLO) = used;
	*(volatile uint16_t *)(c + VIRTIO_PCI_COMMON_Q_ENABLE) = 1;
	return c[VIRTIO_PCI_COMMON_STATUS];
}

static void expect_refused(struct outcome *o, uint8_t status, const char *what)
{
	uint16_t enabled = *(volatile uint16_t *)(disk.common + VIRTIO_PCI_COMMON_Q_ENABLE);
	bool refused = (status & VIRTIO_CONFIG_S_NEEDS_RESET) || !enabled;

	if (status == 0xff) {
		observed(o, false, "%s: the reset before it never completed", what);
		return;
	}
	observed(o, refused, "%s: queue_enable reads %u, device status 0x%x (%s)", what,
		 enabled, status, status & VIRTIO_CONFIG_S_NEEDS_RESET ? "NEEDS_RESET" :
		 refused ? "not enabled" : "accepted");
	if (refused) {
		char why[160];

		/* A reset brings it back. */
		int st = vblk_open(&disk, VBLK_POLL, why, sizeof(why)) ? -1 : good_read();
		printf("hostile: after a reset, a good read: %s\n",
		       st == VIRTIO_BLK_S_OK ? "OK" : "failed");
		o->ok = st == VIRTIO_BLK_S_OK;
	}
}

static void case_used_outside(struct outcome *o)
{
	const struct sysinfo_ram *top = &sys->ram[sys->nram - 1];
	uint64_t end = top->base + top->size;

	expect_refused(o, reenable(disk.qsize, end - 8), "a used ring across the end of RAM");
}

static void case_queue_size(struct outcome *o)
{
	expect_refused(o, reenable(3, (uintptr_t)disk.used), "queue size 3, not a power of two");
}

/* Fills the queue with reads and writes, rings, and resets the device at
 * once, `rounds` times; after each reset, the old used ring must stay
 * still and the device must work again. */
static void case_reset_inflight(struct outcome *o, uint64_t rounds)
{
	uint64_t completed = 0, posted = 0, late = 0, bad = 0;
	uint64_t t0 = rdtsc();
	uint8_t *buf = heap_alloc((uint64_t)(VBLK_QUEUE_MAX / 3) * DATA_BYTES, 4096);

	if (!buf) {
		observed(o, false, "out of memory");
		return;
	}
	for (uint64_t round = 0; round < rounds; round++) {
		uint16_t n = disk.qsize / 3;
		char why[160];

		uint16_t before = disk.used[1];

		for (uint16_t k = 0; k < n; k++) {
			uint32_t type = k & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;

			build_request((uint16_t)(3 * k), &reqs[k], type, 8ull * k,
				      (uintptr_t)(buf + (uint64_t)k * DATA_BYTES), DATA_BYTES);
			disk.avail[2 + ((disk.avail_idx + k) & (disk.qsize - 1))] = (uint16_t)(3 * k);
		}
		disk.avail_idx = (uint16_t)(disk.avail_idx + n);
		__atomic_store_n(&disk.avail[1], disk.avail_idx, __ATOMIC_RELEASE);
		*disk.notify = 0;
		if (!reset_device()) {                                /* at once */
			observed(o, false, "the reset never completed (status stays 0x%x)",
				 dev_status());
			return;
		}
		volatile uint16_t *old_used = disk.used;
		uint16_t at_reset = old_used[1];

		posted += n;
		completed += (uint16_t)(at_reset - before);
		if (vblk_open(&disk, VBLK_POLL, why, sizeof(why)) || good_read() != VIRTIO_BLK_S_OK)
			bad++;
		if (old_used[1] != at_reset)
			late++;               /* written after the reset was over */
	}
	o->ticks = rdtsc() - t0;
	o->count = rounds;
	observed(o, !bad && !late, "%llu resets with %llu requests in flight: %llu completed "
		 "before each reset was over, %llu completions after it, %llu rounds the device "
		 "failed to work again", (unsigned long long)rounds, (unsigned long long)posted,
		 (unsigned long long)completed, (unsigned long long)late, (unsigned long long)bad);
}

static void case_doorbell_storm(struct outcome *o, uint64_t seconds)
{
	uint64_t t0 = rdtsc(), end = t0 + seconds * sys->tsc_hz, n = 0;

	while (rdtsc() < end) {
		for (unsigned i = 0; i < 64; i++)
			*disk.notify = 0;     /* nothing offered */
		n += 64;
	}
	o->ticks = rdtsc() - t0;
	o->count = n;
	int st = good_read();
	observed(o, st == VIRTIO_BLK_S_OK, "%llu doorbells in %llu s with nothing offered; "
		 "a good read then: %s", (unsigned long long)n, (unsigned long long)seconds,
		 st == VIRTIO_BLK_S_OK ? "OK" : "failed");
}

/* ---- interrupt storms: ring 3 drives the LAPIC (SYS_EXIT_BENCH) ---------------- */

static void lapic_storm(struct outcome *o, enum exit_bench_op op, uint64_t seconds)
{
	struct exit_bench rq = {.op = EXIT_BENCH_RING3_BEGIN, .arg = op};
	long err = sys_exit_bench(&rq);

	if (err < 0) {
		observed(o, false, "ring 3 cannot drive the LAPIC here (x2APIC mode or the "
			 "timer in use): error %ld", err);
		return;
	}
	volatile uint32_t *lapic = (volatile uint32_t *)(uintptr_t)rq.lapic;
	volatile const uint64_t *hits = (volatile const uint64_t *)(uintptr_t)rq.hits;
	uint64_t h0 = *hits, t0 = rdtsc(), end = t0 + seconds * sys->tsc_hz, writes = 0;
	uint64_t periodic_hits = 0;

	if (op == EXIT_BENCH_SELF_IPI) {
		while (rdtsc() < end) {
			lapic[LAPIC_ICR_LOW / 4] = ICR_DEST_SELF | ICR_FIXED | VEC_EXIT_BENCH;
			writes++;
		}
	} else {
		/* First half: the one-shot timer re-armed with a count of 1
		 * as fast as ring 3 can; second half: periodic, count 1, the
		 * fastest rate the host's LAPIC allows. */
		uint64_t mid = t0 + (end - t0) / 2;

		while (rdtsc() < mid) {
			lapic[LAPIC_TIMER_INIT / 4] = 1;
			writes++;
		}
		uint64_t before = *hits;
		lapic[LAPIC_LVT_TIMER / 4] = (1u << 17) | VEC_EXIT_BENCH;   /* periodic */
		lapic[LAPIC_TIMER_INIT / 4] = 1;
		while (rdtsc() < end)
			__builtin_ia32_pause();
		lapic[LAPIC_TIMER_INIT / 4] = 0;
		lapic[LAPIC_LVT_TIMER / 4] = LVT_MASKED | VEC_EXIT_BENCH;
		periodic_hits = *hits - before;
	}
	o->ticks = rdtsc() - t0;
	o->count = *hits - h0;
	rq.op = EXIT_BENCH_RING3_END;
	sys_exit_bench(&rq);
	if (op == EXIT_BENCH_SELF_IPI)
		observed(o, o->count > 0, "%llu self-IPIs sent in %llu s, %llu taken",
			 (unsigned long long)writes, (unsigned long long)seconds,
			 (unsigned long long)o->count);
	else
		observed(o, o->count > 0, "%llu one-shot timer arms, then periodic at count 1: "
			 "%llu timer interrupts in %llu s (%llu periodic)",
			 (unsigned long long)writes, (unsigned long long)o->count,
			 (unsigned long long)seconds, (unsigned long long)periodic_hits);
}

/* ---- sweeps ---------------------------------------------------------------------- */

/* Parses "A-B[,A-B...]" (decimal or 0x hex) into at most n ranges. */
static unsigned parse_ranges(const char *s, uint64_t (*r)[2], unsigned n)
{
	unsigned count = 0;

	while (*s && count < n) {
		for (unsigned k = 0; k < 2; k++) {
			const char *end;
			bool ok;

			r[count][k] = strtou64(s, &end, 0, &ok);   /* 0x... or decimal */
			if (!ok || end == s || (k == 0 && *end != '-') ||
			    (k == 1 && *end && *end != ','))
				return 0;
			s = end + (*end ? 1 : 0);
		}
		if (r[count][0] > r[count][1])
			return 0;
		count++;
	}
	return *s ? 0 : count;
}

static void port_access(uint16_t port, unsigned width, bool write)
{
	struct exit_bench rq = {.op = write ? EXIT_BENCH_PIO_WRITE : EXIT_BENCH_PIO_READ,
				.width = width, .iterations = 1, .arg = port,
				.data = 0xffffffffu};

	sys_exit_bench(&rq);
}

/* Puts COM1 back as the kernel set it up (console.c), so the report that
 * follows a sweep of its registers can be read. */
static void console_restore(void)
{
	static const uint8_t regs[][2] = {
		{1, 0x00}, {3, 0x80}, {0, 0x01}, {1, 0x00}, {3, 0x03}, {2, 0x07}, {4, 0x00},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(regs); i++) {
		struct exit_bench rq = {.op = EXIT_BENCH_PIO_WRITE, .width = 1, .iterations = 1,
					.arg = COM1 + regs[i][0], .data = regs[i][1]};

		sys_exit_bench(&rq);
	}
}

/* Every port of the ranges, every width that fits in the range: a read,
 * then a write of all ones (ring 0 does them: ring 3 cannot everywhere). */
static int case_ports(struct outcome *o, const char *spec)
{
	uint64_t r[16][2], n = 0, t0 = rdtsc();
	unsigned nr = parse_ranges(spec, r, 16);

	bool in_range = nr > 0;

	for (unsigned i = 0; i < nr; i++)
		in_range = in_range && r[i][1] <= 0xffff;   /* every range: a port is 16 bits */
	if (!in_range) {
		observed(o, false, "--ports=%s: expected FIRST-LAST[,...] within 0-0xffff", spec);
		return STATUS_USAGE;
	}
	for (unsigned i = 0; i < nr; i++) {
		printf("hostile: sweeping ports 0x%llx-0x%llx, widths 1, 2, 4 (0x%x-0x%x skipped: "
		       "the exit port)\n", (unsigned long long)r[i][0], (unsigned long long)r[i][1],
		       DEBUG_EXIT_PORT, DEBUG_EXIT_PORT + 3);
		for (uint64_t p = r[i][0]; p <= r[i][1]; p++) {
			for (unsigned w = 1; w <= 4; w *= 2) {
				if (p + w - 1 > r[i][1])
					break;
				/* No access that reaches the exit port, whatever its width. */
				if (p < DEBUG_EXIT_PORT + 4 && p + w > DEBUG_EXIT_PORT)
					continue;
				port_access((uint16_t)p, w, false);
				port_access((uint16_t)p, w, true);
				n += 2;
			}
		}
		console_restore();
	}
	o->ticks = rdtsc() - t0;
	o->count = n;
	observed(o, true, "%llu port accesses in %u ranges, the guest still running",
		 (unsigned long long)n, nr);
	return STATUS_OK;
}

struct bar_list {
	uint64_t r[16][2];
	unsigned n;
};

static bool add_bars(const struct pci_dev *d, void *ctx)
{
	struct bar_list *l = ctx;

	for (unsigned bar = 0; bar < 6 && l->n < ARRAY_SIZE(l->r); bar++) {
		bool is64 = false;
		uint64_t addr = pci_bar_address(d, bar, &is64);
		unsigned off = PCI_BASE_ADDRESS_0 + 4 * bar;

		if (addr) {
			/* Its size, the PCI way: all ones, read back, restore. */
			uint32_t old = pci_read(d, off, 4);

			pci_write(d, off, 4, 0xffffffffu);
			uint32_t mask = pci_read(d, off, 4) & ~0xfu;
			pci_write(d, off, 4, old);
			if (mask) {
				l->r[l->n][0] = addr;
				l->r[l->n][1] = addr + (~mask + 1ull) - 1;
				l->n++;
			}
		}
		if (is64)
			bar++;
	}
	return false;     /* every function */
}

/* Every byte of the ranges, widths 1, 2, 4 and 8 where they fit: a read,
 * then a write of all ones, from ring 3 (MMIO exits from any ring). */
static int case_mmio(struct outcome *o, const char *spec)
{
	struct bar_list l = {.n = 0};
	uint64_t n = 0, t0;

	if (spec[0]) {
		l.n = parse_ranges(spec, l.r, ARRAY_SIZE(l.r));
		if (!l.n) {
			observed(o, false, "--mmio=%s: expected FIRST-LAST[,...]", spec);
			return STATUS_USAGE;
		}
		/* Writes of all ones into RAM would wreck the guest itself. */
		for (unsigned i = 0; i < l.n; i++)
			for (unsigned k = 0; k < sys->nram; k++)
				if (l.r[i][0] < sys->ram[k].base + sys->ram[k].size &&
				    sys->ram[k].base <= l.r[i][1]) {
					observed(o, false, "--mmio=%s: 0x%llx-0x%llx is RAM, not "
						 "device memory", spec,
						 (unsigned long long)l.r[i][0],
						 (unsigned long long)l.r[i][1]);
					return STATUS_USAGE;
				}
	} else {
		pci_scan(add_bars, &l);
		if (l.n + 2 <= ARRAY_SIZE(l.r)) {
			l.r[l.n][0] = IOAPIC_BASE;
			l.r[l.n++][1] = IOAPIC_BASE + IOAPIC_WINDOW - 1;
			if (!sys->x2apic) {
				l.r[l.n][0] = LAPIC_BASE;
				l.r[l.n++][1] = LAPIC_BASE + 4095;
			}
		}
	}
	t0 = rdtsc();
	for (unsigned i = 0; i < l.n; i++) {
		printf("hostile: sweeping MMIO 0x%llx-0x%llx, widths 1, 2, 4, 8\n",
		       (unsigned long long)l.r[i][0], (unsigned long long)l.r[i][1]);
		for (uint64_t a = l.r[i][0]; a <= l.r[i][1]; a++) {
			volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)a;

			(void)*p;
			*p = 0xff;
			n += 2;
			if (a + 1 <= l.r[i][1]) {
				(void)*(volatile uint16_t *)p;
				*(volatile uint16_t *)p = 0xffff;
				n += 2;
			}
			if (a + 3 <= l.r[i][1]) {
				(void)*(volatile uint32_t *)p;
				*(volatile uint32_t *)p = 0xffffffffu;
				n += 2;
			}
			if (a + 7 <= l.r[i][1]) {
				(void)*(volatile uint64_t *)p;
				*(volatile uint64_t *)p = ~0ull;
				n += 2;
			}
		}
	}
	o->ticks = rdtsc() - t0;
	o->count = n;
	observed(o, true, "%llu MMIO accesses in %u ranges, the guest still running",
		 (unsigned long long)n, l.n);
	return STATUS_OK;
}

/* ---- vmm's buffer console (docs/design.md) ---------------------------------------- */

#define BUFFER_CONSOLE_MAX 65536

/* A descriptor the port reads; ring 3's memory is identity-mapped, so its
 * address is guest-physical. */
static struct {
	uint64_t addr, len;
} console_desc __attribute__((aligned(16)));

static void pio_write(uint16_t port, unsigned width, uint32_t value)
{
	struct exit_bench rq = {.op = EXIT_BENCH_PIO_WRITE, .width = width, .iterations = 1,
				.arg = port, .data = value};

	sys_exit_bench(&rq);
}

static void console_put(uint16_t port, uint64_t addr, uint64_t len)
{
	console_desc.addr = addr;
	console_desc.len = len;
	pio_write(port, 4, (uint32_t)(uintptr_t)&console_desc);
}

/* --case=console: COM1 bytes (ring 0's `outb`, which KVM may keep in its
 * coalesced ring without an exit) and buffer-console writes interleaved
 * must come out in the order written; then descriptors no driver would
 * write, each of which vmm must ignore; then the port must still work. */
static int case_console(struct outcome *o)
{
	static const char order[] = "abcdefghij", head[] = "hostile: order ";
	static const char after[] = "hostile: the buffer console still writes\n";
	const struct sysinfo_ram *top = &sys->ram[sys->nram - 1];
	uint64_t ram_end = top->base + top->size, t0 = rdtsc();
	uint32_t kind[4];
	uint16_t port;
	unsigned bad = 0;

	if (!vmm_cpuid_leaf(kind) || !(port = (uint16_t)kind[3])) {
		observed(o, false, "no buffer console here (CPUID 0x40000101 EDX is 0)");
		return STATUS_UNAVAILABLE;
	}
	stdout_flush();   /* printf's bytes before the port's */
	console_put(port, (uintptr_t)head, sizeof(head) - 1);
	for (unsigned i = 0; i < sizeof(order) - 1; i++) {
		pio_write(COM1, 1, '0' + i);
		console_put(port, (uintptr_t)&order[i], 1);
	}
	pio_write(COM1, 1, '\n');

	/* Widths the port does not take. */
	console_desc.addr = (uintptr_t)after;
	console_desc.len = sizeof(after) - 1;
	pio_write(port, 1, (uint32_t)(uintptr_t)&console_desc), bad++;
	pio_write(port, 2, (uint32_t)(uintptr_t)&console_desc), bad++;
	pio_write(port + 1, 1, 0), bad++;
	/* Descriptors outside RAM: past its end, the LAPIC, the last bytes of 4 GiB. */
	pio_write(port, 4, (uint32_t)ram_end < ram_end ? 0xfffffff0u : (uint32_t)ram_end), bad++;
	pio_write(port, 4, 0xfee00000u), bad++;
	pio_write(port, 4, 0xfffffff8u), bad++;
	/* Lengths: one past the limit, 2^40, 2^64 - 1. */
	console_put(port, (uintptr_t)after, BUFFER_CONSOLE_MAX + 1), bad++;
	console_put(port, (uintptr_t)after, 1ULL << 40), bad++;
	console_put(port, (uintptr_t)after, ~0ULL), bad++;
	/* Buffers: across the end of RAM, in the hole, wrapping past 2^64. */
	console_put(port, ram_end - 2, 4), bad++;
	console_put(port, 0xc0000000u, 16), bad++;
	console_put(port, ~0ULL - 7, 16), bad++;

	console_put(port, (uintptr_t)after, sizeof(after) - 1);
	o->ticks = rdtsc() - t0;
	o->count = bad;
	observed(o, true, "%u bad writes to port 0x%x, the guest still running", bad, port);
	return STATUS_OK;
}

/* ---- the run ---------------------------------------------------------------------- */

static int hostile_run(const struct test_args *args, const char *command)
{
	const char *name = opt_str(args, "case");
	struct outcome o = {.ok = false};
	int st = STATUS_OK;
	struct json j;
	char buf[1024];

	(void)command;
	if (!name[0]) {
		printf("hostile: --case=NAME is required (see help hostile)\n");
		return STATUS_USAGE;
	}
	printf("vmbench: hostile guest, case %s\n", name);
	if (!strcmp(name, "spin")) {
		printf("hostile: spinning forever in ring 3; only the monitor can end this\n");
		stdout_flush();
		for (;;)
			__asm__ volatile("pause");
	}
	if (!strcmp(name, "ipi-storm")) {
		lapic_storm(&o, EXIT_BENCH_SELF_IPI, opt_u64(args, "seconds"));
	} else if (!strcmp(name, "timer-storm")) {
		lapic_storm(&o, EXIT_BENCH_TIMER, opt_u64(args, "seconds"));
	} else if (!strcmp(name, "ports")) {
		st = case_ports(&o, opt_str(args, "ports"));
	} else if (!strcmp(name, "mmio")) {
		st = case_mmio(&o, opt_str(args, "mmio"));
	} else if (!strcmp(name, "console")) {
		st = case_console(&o);
	} else if ((st = open_disk(&o)) == STATUS_OK) {
		if (!strcmp(name, "desc-loop"))
			case_desc_loop(&o);
		else if (!strcmp(name, "desc-index"))
			case_desc_index(&o);
		else if (!strcmp(name, "avail-ahead"))
			case_avail_ahead(&o);
		else if (!strcmp(name, "bad-buffers"))
			case_bad_buffers(&o);
		else if (!strcmp(name, "used-outside"))
			case_used_outside(&o);
		else if (!strcmp(name, "queue-size"))
			case_queue_size(&o);
		else if (!strcmp(name, "reset-inflight"))
			case_reset_inflight(&o, opt_u64(args, "rounds"));
		else
			case_doorbell_storm(&o, opt_u64(args, "seconds"));
	}
	if (st == STATUS_OK)
		st = o.ok ? STATUS_OK : STATUS_FAILED;
	if (st == STATUS_USAGE) {
		printf("vmbench: %s\n", o.what);
		return st;
	}
	printf("hostile: %s: %s\n", o.ok ? "OK" : st == STATUS_UNAVAILABLE ? "SKIP" : "FAIL",
	       o.what);
	json_init(&j, buf, sizeof(buf));
	result_begin(&j, args);
	json_begin(&j, "hostile");
	json_str(&j, "case", name);
	json_bool(&j, "ok", o.ok);
	json_str(&j, "observed", o.what);
	json_u64(&j, "count", o.count);
	json_double(&j, "seconds", tsc_to_seconds(o.ticks));
	json_end(&j);
	result_emit(&j);
	return st;
}

GUEST_TEST(hostile, .name = "hostile",
	   .summary = "misbehave on purpose, one way per --case, to test the monitor",
	   .options = hostile_options, .commands = "run", .run = hostile_run);
