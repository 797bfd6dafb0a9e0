/*
 * disas.c - guest code as text, with Capstone (disas.h says where it runs).
 *
 * Capstone is loaded with dlopen when first needed, never linked in: its
 * relocated tables cost whoever loads it about 1.5 MiB of RSS and a few
 * milliseconds, for a library most runs never call.  All three handles
 * (16-, 32- and 64-bit) are opened at load time, so that decoding, which
 * the reaper does under a filter that allows no file and no executable
 * mapping, needs nothing but memory.
 */
#include "disas.h"

#include <capstone/capstone.h>
#include <dlfcn.h>
#include <link.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct {
	cs_err (*open)(cs_arch, cs_mode, csh *);
	size_t (*disasm)(csh, const uint8_t *, size_t, uint64_t, size_t, cs_insn **);
	void (*free)(cs_insn *, size_t);
	int state;          /* 0 untried, 1 loaded, -1 unavailable */
	csh handle[3];      /* by enum io_insn_mode */
	bool opened[3];
} cs;

/* dl_iterate_phdr callback: gives back the pages of Capstone's read-only
 * segments that loading it touched.  Most of them are its 1.8 MiB of
 * relocation records, read once by the loader; the pages are clean copies
 * of the file, read again from it if ever touched.  Writable segments (the
 * relocated tables) are kept. */
static int drop_read_only_pages(struct dl_phdr_info *info, size_t size, void *data)
{
	long page = sysconf(_SC_PAGESIZE);

	(void)size;
	(void)data;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "libcapstone"))
		return 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		uintptr_t end = start + ph->p_memsz;

		if (ph->p_type != PT_LOAD || ph->p_flags != PF_R)
			continue;
		start = (start + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
		if (end > start)
			madvise((void *)start, end - start, MADV_DONTNEED);
	}
	return 1;
}

int disas_load(void)
{
	static const cs_mode modes[3] = {
		[IO_INSN_16] = CS_MODE_16, [IO_INSN_32] = CS_MODE_32, [IO_INSN_64] = CS_MODE_64,
	};
	void *lib;

	if (cs.state)
		return cs.state > 0 ? 0 : -1;
	cs.state = -1;
	lib = dlopen("libcapstone.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		lib = dlopen("libcapstone.so", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return -1;
	*(void **)&cs.open = dlsym(lib, "cs_open");
	*(void **)&cs.disasm = dlsym(lib, "cs_disasm");
	*(void **)&cs.free = dlsym(lib, "cs_free");
	if (!cs.open || !cs.disasm || !cs.free)
		return -1;
	for (int m = 0; m < 3; m++)
		cs.opened[m] = cs.open(CS_ARCH_X86, modes[m], &cs.handle[m]) == CS_ERR_OK;
	dl_iterate_phdr(drop_read_only_pages, NULL);
	cs.state = 1;
	return 0;
}

/* Appends to a text buffer; what does not fit is cut. */
struct text {
	char *buf;
	size_t len, used;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->used + 1 >= t->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->used += (size_t)n < t->len - t->used ? (size_t)n : t->len - t->used - 1;
}

/* The dump's lines.  Decoding backwards is ambiguous on x86, so it tries
 * each start point before RIP and keeps the first whose stream lands on
 * RIP (and on io_at, marked "io", when that is not RIP). */
static void dump_lines(csh h, const struct disas_request *q, struct text *t)
{
	const uint8_t *code = q->code;
	size_t len = q->len;
	uint64_t addr = q->addr, rip = q->rip, io_at = q->io_at;
	cs_insn *insn = NULL;
	size_t count = 0;

	/* First a stream through both RIP and the I/O instruction, then any
	 * through RIP. */
	for (int pass = io_at == rip || io_at < addr; pass < 2 && !count; pass++) {
		/* By offset, not by address: an address loop ending at RIP never
		 * ends when RIP is the last address (it wraps), and read past
		 * the code - a guest can put RIP there. */
		for (size_t off = 0; off <= rip - addr; off++) {
			count = cs.disasm(h, code + off, len - off, addr + off, 0, &insn);
			bool lands = false, lands_io = pass == 1;

			for (size_t i = 0; i < count; i++) {
				lands |= insn[i].address == rip;
				lands_io |= insn[i].address == io_at;
			}
			if (lands && lands_io)
				break;
			cs.free(insn, count);
			insn = NULL;
			count = 0;
		}
	}
	if (!count) {
		/* Nothing decodes into RIP: show what RIP itself holds. */
		count = cs.disasm(h, code + (rip - addr), len - (rip - addr), rip, 0, &insn);
	}
	size_t at = 0;
	for (size_t i = 0; i < count; i++)
		if (insn[i].address == rip)
			at = i;
	for (size_t i = at > 4 ? at - 4 : 0; i < count && i <= at + 4; i++) {
		char bytes[3 * 16 + 1] = "";

		for (unsigned b = 0; b < insn[i].size && b < 16; b++)
			snprintf(bytes + 3 * b, 4, "%02x ", insn[i].bytes[b]);
		put(t, "  %s %llx: %-24s %s %s\n", insn[i].address == rip ? "=>" :
		    insn[i].address == io_at && io_at != rip ? "io" : "  ",
		    (unsigned long long)insn[i].address, bytes, insn[i].mnemonic, insn[i].op_str);
	}
	if (!count)
		put(t, "  (the bytes at RIP do not decode as an instruction)\n");
	cs.free(insn, count);
}

int disas_format(const struct disas_request *q, char *text, size_t len)
{
	struct text t = {.buf = text, .len = len};

	if (!len || cs.state <= 0 || q->mode > IO_INSN_64 || !q->len ||
	    q->len > DISAS_CODE_MAX || q->rip < q->addr || q->rip - q->addr >= q->len)
		return -1;
	text[0] = '\0';
	if (!cs.opened[q->mode]) {
		if (q->one)
			return -1;   /* the trace shows the bytes */
		put(&t, "  (Capstone could not start)\n");
		return 0;
	}
	if (!q->one) {
		dump_lines(cs.handle[q->mode], q, &t);
		return 0;
	}
	cs_insn *insn;

	if (cs.disasm(cs.handle[q->mode], q->code, q->len, q->addr, 1, &insn) == 1) {
		put(&t, "%llx: %s %s", (unsigned long long)q->addr, insn->mnemonic, insn->op_str);
		cs.free(insn, 1);
	} else {
		put(&t, "%llx: (undecodable)", (unsigned long long)q->addr);
	}
	return 0;
}
