/*
 * fileio.c - sysbench's fileio test (src/tests/fileio/sb_fileio.c in
 * 1.0.20) on the guest's virtio-blk disk (guest/drivers/virtio_blk.c).
 *
 * The guest has no file system: "file" i is the fixed region of the raw
 * disk at byte i * stride, where file_size = total / num as sysbench
 * computes it and stride is file_size rounded up to --file-block-size (the
 * prepare step writes whole blocks, as sysbench's does, so a file may run
 * past file_size by less than a block).  The last 4 KiB of the disk hold a
 * layout block (below) that prepare writes, run checks and cleanup clears.
 * fsync() of a file is one FLUSH of the whole device.  Every request goes to
 * the device: there is no page cache, so --file-extra-flags=direct changes
 * nothing, and sync/dsync add a FLUSH after each write (what O_SYNC costs
 * on a block device), which sysbench does not count as an fsync.
 *
 * What sysbench does, this does: the request generator under one lock
 * (sequential: one position shared by all threads, wrapping over the files;
 * random: uniform block-aligned offsets over the total size, reads and
 * writes chosen by --file-rw-ratio from the completed counts, and with
 * --validate no two threads on the same block), periodic fsync requests
 * (after every --file-fsync-freq requests with writes pending, one fsync
 * event per file), --file-fsync-all (a FLUSH inside each write event: those
 * are counted as fsyncs, not as events), --file-fsync-end (every thread
 * syncs every file after its last event), --file-merged-requests (sequential
 * requests of N blocks), and --validate's block format: random bytes, then
 * the crc32 of them (4 bytes, little-endian) and the block's offset in its
 * file (8 bytes), written by prepare and by writes, checked by reads.
 *
 * The layout block (little-endian; the rest of its 4 KiB is zero):
 *   0  "VMBENCH-FILEIO\0\0"   16  u32 version (1)   20  u32 file-num
 *   24 u64 file_size          32  u64 stride        40  u64 block size
 *   48 u32 flags (1: prepared with --validate, 2: with --file-flush-log)
 *   52 u32 crc32 of 0..51
 *
 * --file-flush-log=on (vmbench's, for the durability test; needs
 * --validate and 1 thread): every block written carries its generation in
 * its first 8 bytes (inside the checksummed part: 0 from prepare, then 1, 2
 * ... for run's writes in order), and run prints one line per acknowledged
 * write ("wrote generation G: file F offset P") and per completed flush
 * ("flushed generation G": every write up to G had completed when the
 * flush was sent).  A host that kills the monitor can then check the image
 * against what the guest was told (tools/vmbench/fileio_image.py).
 */
#include "user.h"
#include "virtio_blk.h"

enum mode { MODE_SEQWR, MODE_SEQREWR, MODE_SEQRD, MODE_RNDRD, MODE_RNDWR, MODE_RNDRW };
enum op { OP_READ, OP_WRITE, OP_FSYNC };

#define LAYOUT_SIZE 4096u
#define LAYOUT_VERSION 1u
#define CHECK_LEN 12u                /* crc32 (4) + offset (8) */
#define PREPARE_CHUNK (1u << 20)     /* bytes per write while preparing */
#define LOCK_SPINS 256

static const char *const mode_names[] = {"seqwr", "seqrewr", "seqrd", "rndrd", "rndwr", "rndrw"};
static const char *const mode_text[] = {
	"sequential write (creation)", "sequential rewrite", "sequential read",
	"random read", "random write", "random r/w",
};

struct fio_req {
	enum op op;
	unsigned file;
	uint64_t pos, size;
};

struct fio_thread {
	uint8_t *buf;
	struct vblk_req *req;
	struct fio_req cur;
};

struct fio {
	/* options */
	unsigned num, threads;
	uint64_t total, file_size, stride, block, req_size;
	int mode;                     /* -1: none given */
	unsigned merged;
	uint64_t fsync_freq;
	bool fsync_all, fsync_end, validate, sync_writes;
	bool flush_log;               /* --file-flush-log: generations, and lines */
	uint64_t generation;          /* the last write's (--file-flush-log) */
	unsigned extra;               /* 1 sync, 2 dsync, 4 direct */
	char extra_text[32];          /* canonical: "sync,dsync,direct" */
	double rw_ratio;
	enum vblk_mode completion;
	/* the device */
	struct vblk dev;
	uint64_t layout_offset;
	uint8_t *layout;              /* LAYOUT_SIZE bytes, DMA-able */
	/* the request generator and the counters, under lock */
	volatile int lock;
	uint64_t position, req_performed;
	unsigned current_file, fsynced_file;
	bool is_dirty;
	struct fio_req prev_req;
	bool have_prev;
	unsigned *slot_file;          /* --validate: each thread's current block */
	uint64_t *slot_pos;
	uint64_t read_ops, write_ops, other_ops, bytes_read, bytes_written;
	struct fio_thread *per_thread;
};

static struct fio F;

/* ---- crc32 (zlib's: reflected 0xEDB88320), in ring 3 ----------------------- */

static uint32_t crc_table[256];

static void crc32_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

static uint32_t crc32(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* sysbench's file_fill_buffer and file_validate_buffer; with
 * --file-flush-log the first 8 random bytes are the write's generation. */
static void fill_buffer(struct bench_thread *t, uint8_t *buf, uint64_t len, uint64_t offset,
			uint64_t generation)
{
	uint64_t n = len - CHECK_LEN, i = 0;
	uint32_t crc;

	for (; i + 8 <= n; i += 8) {
		uint64_t r = bench_rand_u64(t);

		memcpy(buf + i, &r, 8);
	}
	for (; i < n; i++)
		buf[i] = (uint8_t)bench_rand_u64(t);
	if (F.flush_log)
		memcpy(buf, &generation, 8);
	crc = crc32(0, buf, n);
	memcpy(buf + n, &crc, 4);
	memcpy(buf + n + 4, &offset, 8);
}

static bool validate_buffer(const uint8_t *buf, uint64_t len, uint64_t offset)
{
	uint64_t n = len - CHECK_LEN, stored_offset;
	uint32_t crc = crc32(0, buf, n), stored;

	memcpy(&stored, buf + n, 4);
	memcpy(&stored_offset, buf + n + 4, 8);
	if (crc != stored) {
		printf("FATAL: Checksum mismatch in block with offset: %llu\n"
		       "FATAL:     Calculated value: 0x%x    Stored value: 0x%x\n",
		       (unsigned long long)offset, crc, stored);
		return false;
	}
	if (stored_offset != offset) {
		printf("FATAL: Offset mismatch in block:\n"
		       "FATAL:    Actual offset: %llu    Stored offset: %llu\n",
		       (unsigned long long)offset, (unsigned long long)stored_offset);
		return false;
	}
	return true;
}

/* ---- small helpers ----------------------------------------------------------- */

/* snprintf for doubles: lib/printf.c's snprintf is built for ring 0
 * (general registers only), so its own va_start never sees a double. */
static void dsnprintf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void dsnprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* sysbench's sb_print_value_size: "%.5g" of the value in the largest unit. */
static const char *size_str(char *buf, size_t len, double v)
{
	static const char mods[] = "KMGTPEZY";
	unsigned i = 0;

	for (; i < sizeof(mods) - 1 && v >= 1024; i++)
		v /= 1024;
	if (i)
		dsnprintf(buf, len, "%.5g%ci", v, mods[i - 1]);
	else
		dsnprintf(buf, len, "%.5g", v);
	return buf;
}

static void fio_lock(void)
{
	unsigned spins = 0;

	while (__atomic_exchange_n(&F.lock, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&F.lock, __ATOMIC_RELAXED)) {
			__builtin_ia32_pause();
			if (F.dev.share_cpus && ++spins >= LOCK_SPINS) {
				sys_yield();
				spins = 0;
			}
		}
	}
}

static void fio_unlock(void)
{
	__atomic_store_n(&F.lock, 0, __ATOMIC_RELEASE);
}

static uint64_t disk_offset(unsigned file, uint64_t pos)
{
	return (uint64_t)file * F.stride + pos;
}

/* Reads or writes len bytes at a disk offset, in pieces the device takes. */
static int disk_rw(struct vblk_req *r, enum vblk_type type, uint64_t offset, uint8_t *buf,
		   uint64_t len)
{
	uint64_t max = vblk_max_request(&F.dev) & ~(uint64_t)(F.dev.blk_size - 1);

	if (max > (1u << 30))
		max = 1u << 30;
	while (len) {
		uint32_t piece = (uint32_t)(len < max ? len : max);
		int status = vblk_rw(&F.dev, r, type, offset, buf, piece);

		if (status != VBLK_S_OK)
			return status;
		offset += piece;
		buf += piece;
		len -= piece;
	}
	return VBLK_S_OK;
}

/* fsync: a FLUSH, when the device has a write cache to flush. */
static int disk_flush(struct vblk_req *r)
{
	return F.dev.flush ? vblk_rw(&F.dev, r, VBLK_T_FLUSH, 0, NULL, 0) : VBLK_S_OK;
}

static void io_failed(const char *what, unsigned file, uint64_t pos, int status)
{
	printf("FATAL: Failed to %s file! file: %u pos: %llu (disk %s: %s)\n", what, file,
	       (unsigned long long)pos, F.dev.name, vblk_status_name(status));
}

/* ---- options, the device, the layout ------------------------------------------ */

static int parse_options(const struct test_args *args, const char *command)
{
	const char *mode = opt_str(args, "file-test-mode");
	const char *flags = opt_str(args, "file-extra-flags");
	uint64_t num = opt_u64(args, "file-num");

	memset(&F, 0, sizeof(F));
	F.mode = -1;
	if (num == 0 || num > 1u << 20) {
		printf("FATAL: Invalid value for file-num: %s\n", opt_str(args, "file-num"));
		return STATUS_USAGE;
	}
	F.num = (unsigned)num;
	F.total = opt_u64(args, "file-total-size");
	if (F.total == 0) {
		printf("FATAL: Invalid value for file-total-size: 0\n");
		return STATUS_USAGE;
	}
	F.file_size = F.total / F.num;
	if (!strcmp(command, "run")) {
		if (!*mode) {
			printf("FATAL: Missing required argument: --file-test-mode (one of seqwr, "
			       "seqrewr, seqrd, rndrd, rndwr, rndrw)\n");
			return STATUS_USAGE;
		}
		for (int i = 0; i < 6; i++)
			if (!strcmp(mode, mode_names[i]))
				F.mode = i;
		if (F.mode < 0) {
			printf("FATAL: Invalid IO operations mode: %s.\n", mode);
			return STATUS_USAGE;
		}
	}
	if (strcmp(opt_str(args, "file-io-mode"), "sync")) {
		printf("FATAL: --file-io-mode=%s is not available in the guest: it does "
		       "synchronous direct I/O only (--file-io-mode=sync)\n",
		       opt_str(args, "file-io-mode"));
		return STATUS_USAGE;
	}
	F.merged = (unsigned)opt_u64(args, "file-merged-requests");
	F.block = opt_u64(args, "file-block-size");
	if (F.block == 0 || F.block > (1u << 30)) {
		printf("FATAL: Invalid value for file-block-size: %s.\n",
		       opt_str(args, "file-block-size"));
		return STATUS_USAGE;
	}
	F.req_size = F.merged ? F.block * F.merged : F.block;
	if (F.req_size > (1u << 30)) {
		printf("FATAL: Invalid value for file-merged-requests: %u (requests above "
		       "1 GiB)\n", F.merged);
		return STATUS_USAGE;
	}
	/* sync, dsync, direct, comma-separated (sysbench's list option). */
	for (const char *p = flags; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == 4 && !strncmp(p, "sync", 4))
			F.extra |= 1;
		else if (len == 5 && !strncmp(p, "dsync", 5))
			F.extra |= 2;
		else if (len == 6 && !strncmp(p, "direct", 6))
			F.extra |= 4;
		else if (len) {
			printf("FATAL: Invalid value for file-extra-flags: %s\n", flags);
			return STATUS_USAGE;
		}
		p += len + (end ? 1 : 0);
	}
	snprintf(F.extra_text, sizeof(F.extra_text), "%s%s%s%s%s",
		 F.extra & 1 ? "sync" : "", F.extra & 1 && F.extra & 6 ? "," : "",
		 F.extra & 2 ? "dsync" : "", F.extra & 2 && F.extra & 4 ? "," : "",
		 F.extra & 4 ? "direct" : "");
	F.sync_writes = F.extra & 3;
	F.fsync_freq = opt_u64(args, "file-fsync-freq");
	F.fsync_end = opt_bool(args, "file-fsync-end");
	F.fsync_all = opt_bool(args, "file-fsync-all");
	if (F.fsync_all) {           /* it overrides both, as in sysbench */
		F.fsync_end = false;
		F.fsync_freq = 0;
	}
	F.rw_ratio = opt_double(args, "file-rw-ratio");
	F.validate = opt_bool(args, "validate");
	F.flush_log = opt_bool(args, "file-flush-log");
	F.completion = strcmp(opt_str(args, "file-completion"), "irq") ? VBLK_POLL : VBLK_IRQ;
	F.threads = (unsigned)opt_u64(args, "threads");
	F.stride = (F.file_size + F.block - 1) / F.block * F.block;
	/* One generation per block and one order of writes: what the host's
	 * check of the image relies on. */
	if (F.flush_log && (!F.validate || F.threads != 1 || F.merged || F.block < 16)) {
		printf("FATAL: --file-flush-log=on needs --validate=on, --threads=1, no "
		       "--file-merged-requests and blocks of 16 bytes or more\n");
		return STATUS_USAGE;
	}
	return STATUS_OK;
}

/* Finds the disk and checks the layout fits; prints one line and returns a
 * status if not.  Nothing is written. */
static int open_disk(bool writes)
{
	char why[256];
	int status = vblk_open(&F.dev, F.completion, why, sizeof(why));
	uint64_t need;

	if (status) {
		if (!why[0])
			printf("vmbench: fileio needs a disk: no virtio-blk-pci device found "
			       "(vmm --disk FILE, or QEMU -drive file=FILE,format=raw,if=none,id=d0 "
			       "-device virtio-blk-pci,drive=d0)\n");
		else
			printf("vmbench: %s\n", why);
		return status;
	}
	F.dev.share_cpus = F.threads > sys->cpus_online;
	if (writes && F.dev.read_only) {
		printf("vmbench: the disk (virtio-blk at %s) is read-only: fileio's prepare, "
		       "cleanup and write modes need a writable disk\n", F.dev.name);
		return STATUS_UNAVAILABLE;
	}
	if (F.block % F.dev.blk_size || F.file_size % F.dev.blk_size) {
		printf("FATAL: the guest does direct I/O only: --file-block-size (%llu) and the "
		       "file size (%llu = --file-total-size / --file-num) must be multiples of the "
		       "disk's %u-byte block\n", (unsigned long long)F.block,
		       (unsigned long long)F.file_size, F.dev.blk_size);
		return STATUS_USAGE;
	}
	need = (uint64_t)F.num * F.stride + LAYOUT_SIZE;
	if (F.dev.capacity < need) {
		printf("vmbench: the disk (virtio-blk at %s) has %llu bytes; fileio with "
		       "--file-num=%u --file-total-size=%llu needs %llu (%u files of %llu bytes "
		       "and a 4 KiB layout block)\n", F.dev.name,
		       (unsigned long long)F.dev.capacity, F.num, (unsigned long long)F.total,
		       (unsigned long long)need, F.num, (unsigned long long)F.stride);
		return STATUS_UNAVAILABLE;
	}
	F.layout_offset = (F.dev.capacity - LAYOUT_SIZE) & ~(uint64_t)(LAYOUT_SIZE - 1);
	F.layout = heap_alloc(LAYOUT_SIZE, 4096);
	if (!F.layout)
		die(STATUS_FAILED, "out of memory for the layout block");
	return STATUS_OK;
}

static void layout_build(uint8_t *b, bool validate)
{
	uint32_t v;

	memset(b, 0, LAYOUT_SIZE);
	memcpy(b, "VMBENCH-FILEIO\0\0", 16);
	v = LAYOUT_VERSION;
	memcpy(b + 16, &v, 4);
	memcpy(b + 20, &F.num, 4);
	memcpy(b + 24, &F.file_size, 8);
	memcpy(b + 32, &F.stride, 8);
	memcpy(b + 40, &F.block, 8);
	v = (validate ? 1u : 0u) | (validate && F.flush_log ? 2u : 0u);
	memcpy(b + 48, &v, 4);
	v = crc32(0, b, 52);
	memcpy(b + 52, &v, 4);
}

enum layout_state { LAYOUT_NONE, LAYOUT_OTHER, LAYOUT_SAME };

/* After layout_read: whether its blocks carry generations (flag 2). */
static bool layout_has_generations(void)
{
	uint32_t flags;

	memcpy(&flags, F.layout + 48, 4);
	return flags & 2;
}

/* What the disk's layout block says; *other describes a different one. */
static int layout_read(struct vblk_req *r, enum layout_state *state, char *other, size_t len)
{
	uint32_t version, num, crc;
	uint64_t file_size;
	int status = vblk_rw(&F.dev, r, VBLK_T_IN, F.layout_offset, F.layout, LAYOUT_SIZE);

	if (status != VBLK_S_OK)
		return status;
	memcpy(&version, F.layout + 16, 4);
	memcpy(&num, F.layout + 20, 4);
	memcpy(&file_size, F.layout + 24, 8);
	memcpy(&crc, F.layout + 52, 4);
	if (memcmp(F.layout, "VMBENCH-FILEIO\0\0", 16) || version != LAYOUT_VERSION ||
	    crc != crc32(0, F.layout, 52))
		*state = LAYOUT_NONE;
	else if (num != F.num || file_size != F.file_size)
		*state = LAYOUT_OTHER;
	else
		*state = LAYOUT_SAME;
	snprintf(other, len, "--file-num=%u with files of %llu bytes (--file-total-size=%llu)",
		 num, (unsigned long long)file_size, (unsigned long long)file_size * num);
	return VBLK_S_OK;
}

static int layout_write(struct vblk_req *r, bool clear, bool validate)
{
	int status;

	if (clear)
		memset(F.layout, 0, LAYOUT_SIZE);
	else
		layout_build(F.layout, validate);
	status = vblk_rw(&F.dev, r, VBLK_T_OUT, F.layout_offset, F.layout, LAYOUT_SIZE);
	if (status == VBLK_S_OK)
		status = disk_flush(r);
	if (status != VBLK_S_OK)
		printf("FATAL: cannot write the layout block at byte %llu of the disk (%s: %s)\n",
		       (unsigned long long)F.layout_offset, F.dev.name, vblk_status_name(status));
	return status;
}

static struct vblk_req *new_req(void)
{
	struct vblk_req *r = heap_alloc(sizeof(*r), 64);

	if (!r)
		die(STATUS_FAILED, "out of memory for a request");
	memset(r, 0, sizeof(*r));
	return r;
}

static void print_extra_flags(void)
{
	printf("Extra file open flags: %s%s%s%s\n", F.extra == 0 ? "(none)" : "",
	       F.extra & 1 ? "sync " : "", F.extra & 2 ? "dsync " : "",
	       F.extra & 4 ? "directio" : "");
}

/* ---- prepare and cleanup ------------------------------------------------------- */

static int fileio_prepare(const struct test_args *args)
{
	struct vblk_req *r;
	struct bench_thread rng;
	enum layout_state state;
	char other[128];
	uint64_t chunk, written = 0, t0;
	uint8_t *buf;
	int status;

	if ((status = open_disk(true)))
		return status;
	r = new_req();
	chunk = PREPARE_CHUNK / F.block * F.block;
	if (chunk == 0)
		chunk = F.block;
	if (!(buf = heap_alloc(chunk, 4096)))
		die(STATUS_FAILED, "out of memory for a %llu-byte buffer", (unsigned long long)chunk);
	memset(buf, 0, chunk);
	memset(&rng, 0, sizeof(rng));
	bench_rand_seed(&rng, opt_u64(args, "rand-seed") ? opt_u64(args, "rand-seed") : rdtsc());
	if ((status = layout_read(r, &state, other, sizeof(other)))) {
		io_failed("read the layout block of", 0, 0, status);
		return STATUS_FAILED;
	}

	printf("vmbench guest %s (sysbench 1.0.20 compatible)\n\n", GUEST_VERSION);
	printf("%u files, %lluKb each, %lluMb total\n", F.num,
	       (unsigned long long)(F.file_size / 1024),
	       (unsigned long long)(F.file_size * F.num / (1024 * 1024)));
	printf("Creating files for the test...\n");
	print_extra_flags();
	/* Blocks without generations are not reused for --file-flush-log. */
	if (state == LAYOUT_SAME && F.flush_log && !layout_has_generations())
		state = LAYOUT_OTHER;
	/* The files' places change with the layout: an old layout goes first. */
	if (state != LAYOUT_SAME && state != LAYOUT_NONE && layout_write(r, true, false))
		return STATUS_FAILED;
	t0 = rdtsc();
	for (unsigned i = 0; i < F.num; i++) {
		if (state == LAYOUT_SAME) {
			printf("Reusing existing file test_file.%u\n", i);
			continue;
		}
		printf("Creating file test_file.%u\n", i);
		stdout_flush();     /* polled writes make no system call: show it now */
		/* Whole blocks, as sysbench writes them (so up to stride). */
		for (uint64_t off = 0; off < F.file_size;) {
			uint64_t n = F.stride - off < chunk ? F.stride - off : chunk;

			if (F.validate)
				for (uint64_t b = 0; b < n; b += F.block)
					fill_buffer(&rng, buf + b, F.block, off + b, 0);
			status = disk_rw(r, VBLK_T_OUT, disk_offset(i, off), buf, n);
			if (status != VBLK_S_OK) {
				io_failed("write", i, off, status);
				return STATUS_FAILED;
			}
			off += n;
			written += n;
		}
		/* fsync each file, as sysbench does. */
		if ((status = disk_flush(r)) != VBLK_S_OK) {
			io_failed("fsync", i, 0, status);
			return STATUS_FAILED;
		}
	}
	double seconds = tsc_to_seconds(rdtsc() - t0);
	if (state != LAYOUT_SAME && layout_write(r, false, F.validate))
		return STATUS_FAILED;
	if (written > 0)
		printf("%llu bytes written in %.2f seconds (%.2f MiB/sec).\n",
		       (unsigned long long)written, seconds,
		       written / (1024.0 * 1024.0) / seconds);
	else
		printf("No bytes written.\n");
	return STATUS_OK;
}

static int fileio_cleanup(void)
{
	struct vblk_req *r;
	int status;

	if ((status = open_disk(true)))
		return status;
	r = new_req();
	printf("vmbench guest %s (sysbench 1.0.20 compatible)\n\n", GUEST_VERSION);
	printf("Removing test files...\n");
	/* The data stays; the layout block goes, so run needs prepare again. */
	return layout_write(r, true, false) ? STATUS_FAILED : STATUS_OK;
}

/* ---- run: sysbench's request generator ----------------------------------------- */

static void check_seq_req(const struct fio_req *prev, const struct fio_req *r)
{
	if (r->op == OP_FSYNC || !F.have_prev)
		return;
	if (r->file - prev->file > 1 && !(r->file == 0 && prev->file == F.num - 1)) {
		printf("WARNING: Discovered too large file difference in seq requests!\n");
		return;
	}
	if (r->file == prev->file) {
		if (r->pos - prev->pos != prev->size)
			printf("WARNING: Discovered too large position difference in seq request!\n");
	} else if (prev->pos + prev->size != F.file_size || r->pos != 0) {
		printf("WARNING: Invalid file switch found!\n");
	}
}

/* With the lock held: the periodic fsync request, if it is due. */
static bool fsync_due(struct fio_req *q)
{
	if (!(F.fsync_freq && F.is_dirty && F.req_performed % F.fsync_freq == 0))
		return false;
	q->op = OP_FSYNC;
	q->file = F.fsynced_file;
	q->pos = q->size = 0;
	if (++F.fsynced_file == F.num) {
		F.fsynced_file = 0;
		F.is_dirty = false;
	}
	return true;
}

static void seq_request(struct fio_req *q)
{
	q->op = F.mode == MODE_SEQRD ? OP_READ : OP_WRITE;
	if (q->op == OP_WRITE && fsync_due(q))
		return;
	F.req_performed++;
	if (q->op == OP_WRITE)
		F.is_dirty = true;
	if (F.current_file == F.num) {
		F.position = 0;
		F.current_file = 0;
	}
	q->file = F.current_file;
	q->pos = F.position;
	q->size = F.req_size < F.file_size - F.position ? F.req_size : F.file_size - F.position;
	F.position += q->size;
	if (F.position == F.file_size) {
		F.current_file++;
		F.position = 0;
	}
	if (F.validate) {
		check_seq_req(&F.prev_req, q);
		F.prev_req = *q;
		F.have_prev = true;
	}
}

static void rnd_request(struct bench_thread *t, struct fio_req *q)
{
	int mode = F.mode;
	uint64_t pos;

	if (mode == MODE_RNDRW)
		mode = (double)(F.read_ops + 1) / (double)(F.write_ops + 1) < F.rw_ratio
			       ? MODE_RNDRD : MODE_RNDWR;
	if (fsync_due(q))
		return;
	q->op = mode == MODE_RNDWR ? OP_WRITE : OP_READ;
retry:
	pos = (uint64_t)(bench_rand_double(t) * (double)F.total);
	pos -= pos % F.block;
	q->file = (unsigned)(pos / F.file_size);
	q->pos = pos % F.file_size;
	if (q->file >= F.num)    /* total not a multiple of num: sysbench's overflow */
		goto retry;
	q->size = F.block < F.file_size - q->pos ? F.block : F.file_size - q->pos;
	if (F.validate) {
		/* No two threads on one block. */
		for (unsigned i = 0; i < F.threads; i++)
			if (i != t->id && F.slot_file[i] == q->file && F.slot_pos[i] == q->pos)
				goto retry;
	}
	F.slot_file[t->id] = q->file;
	F.slot_pos[t->id] = q->pos;
	F.req_performed++;
	if (q->op == OP_WRITE)
		F.is_dirty = true;
}

static bool fio_next_event(struct bench_thread *t)
{
	struct fio_thread *ft = t->local;

	fio_lock();
	if (F.mode <= MODE_SEQRD)
		seq_request(&ft->cur);
	else
		rnd_request(t, &ft->cur);
	fio_unlock();
	return true;
}

/* --file-flush-log: a completed flush covers every write so far (one
 * thread: each completed before the flush was sent). */
static void log_flush(void)
{
	if (F.flush_log)
		printf("flushed generation %llu\n", (unsigned long long)F.generation);
}

static bool do_fsync(struct bench_thread *t, unsigned file)
{
	struct fio_thread *ft = t->local;
	int status = disk_flush(ft->req);

	if (status != VBLK_S_OK) {
		io_failed("fsync", file, 0, status);
		return false;
	}
	log_flush();
	fio_lock();
	F.other_ops++;
	fio_unlock();
	return true;
}

static void fio_execute_event(struct bench_thread *t)
{
	struct fio_thread *ft = t->local;
	const struct fio_req *q = &ft->cur;
	int status;

	switch (q->op) {
	case OP_WRITE:
		if (F.validate)
			fill_buffer(t, ft->buf, q->size, q->pos, F.generation + 1);
		status = disk_rw(ft->req, VBLK_T_OUT, disk_offset(q->file, q->pos), ft->buf, q->size);
		if (status == VBLK_S_OK && F.flush_log)
			printf("wrote generation %llu: file %u offset %llu\n",
			       (unsigned long long)++F.generation, q->file,
			       (unsigned long long)q->pos);
		if (status == VBLK_S_OK && F.sync_writes) {
			status = disk_flush(ft->req);       /* O_SYNC/O_DSYNC */
			if (status == VBLK_S_OK)
				log_flush();
		}
		if (status != VBLK_S_OK) {
			io_failed("write", q->file, q->pos, status);
			break;
		}
		if (F.fsync_all && !do_fsync(t, q->file))
			break;
		fio_lock();
		F.write_ops++;
		F.bytes_written += q->size;
		fio_unlock();
		return;
	case OP_READ:
		status = disk_rw(ft->req, VBLK_T_IN, disk_offset(q->file, q->pos), ft->buf, q->size);
		if (status != VBLK_S_OK) {
			io_failed("read", q->file, q->pos, status);
			break;
		}
		if (F.validate && !validate_buffer(ft->buf, q->size, q->pos)) {
			printf("FATAL: Validation failed on file %u, block offset %llu, exiting...\n",
			       q->file, (unsigned long long)q->pos);
			break;
		}
		fio_lock();
		F.read_ops++;
		F.bytes_read += q->size;
		fio_unlock();
		return;
	case OP_FSYNC:
		if (F.fsync_all || do_fsync(t, q->file))
			return;
		break;
	}
	__atomic_store_n(&t->bench->failed, 1, __ATOMIC_RELAXED);
}

static void fio_thread_done(struct bench_thread *t)
{
	if (!F.fsync_end || F.mode == MODE_SEQRD || F.mode == MODE_RNDRD)
		return;
	for (unsigned i = 0; i < F.num; i++) {
		if (!do_fsync(t, i)) {
			__atomic_store_n(&t->bench->failed, 1, __ATOMIC_RELAXED);
			return;
		}
	}
}

static bool fio_thread_init(struct bench_thread *t)
{
	struct fio_thread *ft = &F.per_thread[t->id];

	t->local = ft;
	return true;
}

static void print_mode(const struct test_args *args)
{
	char s[32];

	print_extra_flags();
	printf("%u files, %sB each\n", F.num, size_str(s, sizeof(s), (double)F.file_size));
	printf("%sB total file size\n", size_str(s, sizeof(s), (double)(F.file_size * F.num)));
	printf("Block size %sB\n", size_str(s, sizeof(s), (double)F.block));
	if (F.merged)
		printf("Merging requests up to %sB for sequential IO.\n",
		       size_str(s, sizeof(s), (double)F.req_size));
	if (F.mode >= MODE_RNDRD) {
		printf("Number of IO requests: %llu\n", (unsigned long long)opt_u64(args, "events"));
		printf("Read/Write ratio for combined random IO test: %2.2f\n", F.rw_ratio);
	}
	if (F.fsync_freq)
		printf("Periodic FSYNC enabled, calling fsync() each %llu requests.\n",
		       (unsigned long long)F.fsync_freq);
	if (F.fsync_end)
		printf("Calling fsync() at the end of test, Enabled.\n");
	if (F.fsync_all)
		printf("Calling fsync() after each write operation.\n");
	printf("Using synchronous I/O mode\n");
	if (F.validate)
		printf("Using checksums validation.\n");
	printf("Doing %s test\n", mode_text[F.mode]);
}

/* The options as they took effect (what the report shows). */
static void effective_options(const struct test_args *args, struct test_args *eff)
{
	*eff = *args;
	for (unsigned i = 0; i < eff->nopts; i++) {
		struct option_value *o = &eff->opts[i];
		const char *n = o->def->name;

		if (!strcmp(n, "file-fsync-freq"))
			o->u = F.fsync_freq;
		else if (!strcmp(n, "file-fsync-end"))
			o->u = F.fsync_end;
		else if (!strcmp(n, "file-total-size"))
			o->u = F.file_size * F.num;
		else if (!strcmp(n, "file-extra-flags"))
			o->text = F.extra_text;
	}
}

static int fileio_run_cmd(const struct test_args *args)
{
	static struct bench b;
	static struct test_args eff;
	struct vblk_req *r;
	enum layout_state state;
	struct bench_summary s;
	char other[128], buf[4096];
	struct json j;
	int status;

	if ((status = open_disk(F.mode != MODE_SEQRD && F.mode != MODE_RNDRD)))
		return status;
	r = new_req();
	if (F.mode != MODE_SEQWR) {
		if ((status = layout_read(r, &state, other, sizeof(other)))) {
			io_failed("read the layout block of", 0, 0, status);
			return STATUS_FAILED;
		}
		if (state == LAYOUT_NONE) {
			printf("FATAL: Cannot open file 'test_file.0': no prepared files on the disk "
			       "(%s). Did you forget to run the prepare step?\n", F.dev.name);
			return STATUS_USAGE;
		}
		if (state == LAYOUT_OTHER) {
			printf("FATAL: the disk was prepared with %s, not --file-num=%u with files "
			       "of %llu bytes: run 'prepare' with the same --file-num and "
			       "--file-total-size\n", other, F.num,
			       (unsigned long long)F.file_size);
			return STATUS_USAGE;
		}
		if (F.flush_log && !layout_has_generations()) {
			printf("FATAL: --file-flush-log=on needs files prepared with "
			       "--file-flush-log=on --validate=on\n");
			return STATUS_USAGE;
		}
	}
	uint64_t need = F.threads * (F.req_size + 4096);
	if (need > heap_free_bytes()) {
		printf("FATAL: Failed to allocate a memory buffer (%u threads of %llu bytes; the "
		       "guest has %llu MiB free)\n", F.threads, (unsigned long long)F.req_size,
		       (unsigned long long)(heap_free_bytes() >> 20));
		return STATUS_USAGE;
	}
	if ((status = bench_begin(&b, args)))
		return status;
	F.per_thread = heap_alloc(F.threads * sizeof(*F.per_thread), 64);
	F.slot_file = heap_alloc(F.threads * sizeof(*F.slot_file), 64);
	F.slot_pos = heap_alloc(F.threads * sizeof(*F.slot_pos), 64);
	if (!F.per_thread || !F.slot_file || !F.slot_pos)
		die(STATUS_FAILED, "out of memory for %u threads", F.threads);
	for (unsigned i = 0; i < F.threads; i++) {
		F.per_thread[i].buf = heap_alloc(F.req_size, 4096);
		if (!F.per_thread[i].buf)
			die(STATUS_FAILED, "out of memory for %u buffers", F.threads);
		memset(F.per_thread[i].buf, 0, F.req_size);
		F.per_thread[i].req = new_req();
		F.slot_file[i] = ~0u;
		F.slot_pos[i] = ~0ULL;
	}
	print_mode(args);
	/* seqwr creates the files (sysbench's run does): the layout is written
	 * first, so a later run finds it. */
	if (F.mode == MODE_SEQWR && layout_write(r, false, F.validate))
		return STATUS_FAILED;

	struct bench_ops ops = {
		.thread_init = fio_thread_init,
		.next_event = fio_next_event,
		.execute_event = fio_execute_event,
		.thread_done = fio_thread_done,
		.ctx = &F,
	};
	uint64_t irqs = sys->irq_count[F.dev.irq_slot];
	if ((status = bench_execute(&b, &ops)))
		return status;
	bench_summarise(&b, &s);
	irqs = sys->irq_count[F.dev.irq_slot] - irqs;
	if (b.histogram)
		bench_print_histogram(&b);

	const double mib = 1024.0 * 1024.0;
	double reads = bench_per_second(&s, (double)F.read_ops);
	double writes = bench_per_second(&s, (double)F.write_ops);
	double fsyncs = bench_per_second(&s, (double)F.other_ops);
	double read_mib = bench_per_second(&s, F.bytes_read / mib);
	double written_mib = bench_per_second(&s, F.bytes_written / mib);
	printf("\nFile operations:\n"
	       "    reads/s:                      %4.2f\n"
	       "    writes/s:                     %4.2f\n"
	       "    fsyncs/s:                     %4.2f\n"
	       "\n"
	       "Throughput:\n"
	       "    read, MiB/s:                  %4.2f\n"
	       "    written, MiB/s:               %4.2f\n",
	       reads, writes, fsyncs, read_mib, written_mib);
	bench_print_report(&s);

	/* What the I/O path cost, all threads' requests together. */
	uint64_t requests = 0, notifies = 0, skipped = 0, yields = 0, waits = 0, spun = 0, armed = 0;
	for (unsigned i = 0; i < F.threads; i++) {
		const struct vblk_req *q = F.per_thread[i].req;

		requests += q->requests;
		notifies += q->notifies;
		skipped += q->notifies_skipped;
		yields += q->yields;
		waits += q->irq_waits;
		spun += q->irq_spun;
		armed += q->irq_armed;
	}

	effective_options(args, &eff);
	json_init(&j, buf, sizeof(buf));
	result_begin(&j, &eff);
	bench_result_fields(&j, &s);
	json_begin(&j, "metrics");
	json_double(&j, "mib_per_s", read_mib + written_mib);
	json_double(&j, "reads_per_s", reads);
	json_double(&j, "writes_per_s", writes);
	json_double(&j, "fsyncs_per_s", fsyncs);
	json_double(&j, "read_mib_per_s", read_mib);
	json_double(&j, "written_mib_per_s", written_mib);
	json_end(&j);
	json_begin(&j, "io");
	json_str(&j, "device", F.dev.name);
	json_str(&j, "completion", F.completion == VBLK_IRQ ? "irq" : "poll");
	json_u64(&j, "disk_bytes", F.dev.capacity);
	json_u64(&j, "queue_size", F.dev.qsize);
	json_u64(&j, "read_ops", F.read_ops);
	json_u64(&j, "write_ops", F.write_ops);
	json_u64(&j, "fsync_ops", F.other_ops);
	json_u64(&j, "bytes_read", F.bytes_read);
	json_u64(&j, "bytes_written", F.bytes_written);
	json_u64(&j, "requests", requests);
	json_u64(&j, "notifies", notifies);
	json_u64(&j, "notifies_skipped", skipped);
	json_u64(&j, "yields", yields);
	json_u64(&j, "irq_waits", waits);
	json_u64(&j, "irq_spun", spun);
	json_u64(&j, "irq_armed", armed);
	json_u64(&j, "interrupts", irqs);
	json_double(&j, "syscalls_per_request", requests ? (double)(yields + waits) / requests : 0);
	json_end(&j);
	result_emit(&j);
	return STATUS_OK;
}

static int fileio_run(const struct test_args *args, const char *command)
{
	int status;

	crc32_init();
	if ((status = parse_options(args, command)))
		return status;
	if (!strcmp(command, "prepare"))
		return fileio_prepare(args);
	if (!strcmp(command, "cleanup"))
		return fileio_cleanup();
	return fileio_run_cmd(args);
}

static const struct option_def fileio_options[] = {
	{"file-num", OPT_INT, "128", "number of files to create", NULL},
	{"file-block-size", OPT_SIZE, "16384", "block size to use in all IO operations", NULL},
	{"file-total-size", OPT_SIZE, "2G", "total size of files to create", NULL},
	{"file-test-mode", OPT_STRING, "",
	 "test mode {seqwr, seqrewr, seqrd, rndrd, rndwr, rndrw}", NULL},
	{"file-io-mode", OPT_STRING, "sync", "file operations mode {sync} (async, mmap: "
	 "not in the guest)", "sync,async,mmap"},
	{"file-extra-flags", OPT_STRING, "", "list of additional flags to use to open files "
	 "{sync,dsync,direct} (direct: always; sync, dsync: a FLUSH after each write)", NULL},
	{"file-fsync-freq", OPT_INT, "100",
	 "do fsync() after this number of requests (0 - don't use fsync())", NULL},
	{"file-fsync-all", OPT_BOOL, "off", "do fsync() after each write operation", NULL},
	{"file-fsync-end", OPT_BOOL, "on", "do fsync() at the end of test", NULL},
	{"file-fsync-mode", OPT_STRING, "fsync",
	 "which method to use for synchronization {fsync, fdatasync} (both: a FLUSH)",
	 "fsync,fdatasync"},
	{"file-merged-requests", OPT_INT, "0",
	 "merge at most this number of IO requests if possible (0 - don't merge)", NULL},
	{"file-rw-ratio", OPT_DOUBLE, "1.5", "reads/writes ratio for combined test", NULL},
	{"validate", OPT_BOOL, "off", "perform validation checks where possible", NULL},
	{"file-flush-log", OPT_BOOL, "off", "vmbench: blocks carry a write generation; print "
	 "each acknowledged write and flush (needs --validate, 1 thread)", NULL},
	{"file-completion", OPT_STRING, "poll", "vmbench: how the driver learns a request "
	 "completed {poll (ring 3 polls the used ring), irq (MSI-X interrupt)}", "poll,irq"},
	{NULL, 0, NULL, NULL, NULL},
};

GUEST_TEST(fileio, .name = "fileio",
	   .summary = "sysbench's fileio test on the virtio-blk disk (files are disk regions)",
	   .options = fileio_options, .commands = "prepare run cleanup", .run = fileio_run);
