/*
 * dump.c - what vmm prints when a guest goes wrong: the reason, the
 * registers, and the code around RIP disassembled with Capstone (the
 * instruction at RIP marked "=>").  --trace uses the one-instruction form.
 * For a port-I/O exit both name the in/out instruction that made it, which
 * on PVM-style KVM ends at RIP rather than starting there (io_insn.c).
 *
 * Guest code is read through KVM_TRANSLATE (so paging is honoured) and
 * guest_ptr() (so nothing outside guest RAM is touched).
 *
 * Capstone is loaded with dlopen the first time it is needed: linked in,
 * its relocated tables cost every vmm start about 5 ms and 3.3 MiB of RSS,
 * for a library most runs never call.  Without it, dumps show raw bytes.
 */
#include "vmm.h"

#include <capstone/capstone.h>
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

struct capstone_api {
	cs_err (*open)(cs_arch, cs_mode, csh *);
	size_t (*disasm)(csh, const uint8_t *, size_t, uint64_t, size_t, cs_insn **);
	void (*free)(cs_insn *, size_t);
	cs_err (*close)(csh *);
};

/* Capstone's entry points, or NULL if the library cannot be loaded. */
static const struct capstone_api *capstone(void)
{
	static struct capstone_api api;
	static int state;   /* 0 untried, 1 loaded, -1 unavailable */
	void *lib;

	if (state)
		return state > 0 ? &api : NULL;
	state = -1;
	lib = dlopen("libcapstone.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		lib = dlopen("libcapstone.so", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return NULL;
	*(void **)&api.open = dlsym(lib, "cs_open");
	*(void **)&api.disasm = dlsym(lib, "cs_disasm");
	*(void **)&api.free = dlsym(lib, "cs_free");
	*(void **)&api.close = dlsym(lib, "cs_close");
	if (!api.open || !api.disasm || !api.free || !api.close)
		return NULL;
	state = 1;
	return &api;
}

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

static pthread_t preload_thread;
static bool preload_started;

static void *preload(void *arg)
{
	(void)arg;
	/* Loaded before the sandbox's filter, which lets nothing be opened or
	 * mapped executable later: this costs every run the library's
	 * relocated tables (about 1.4 MiB), not the pages read to relocate. */
	if (capstone())
		dl_iterate_phdr(drop_read_only_pages, NULL);
	return NULL;
}

void dump_preload_start(void)
{
	/* No thread, no overlap: load it here and now. */
	preload_started = !pthread_create(&preload_thread, NULL, preload, NULL);
	if (!preload_started)
		preload(NULL);
}

void dump_preload_wait(void)
{
	if (preload_started)
		pthread_join(preload_thread, NULL);
	preload_started = false;
}

static void print_raw_bytes(FILE *out, const uint8_t *code, size_t len, uint64_t addr,
			    uint64_t rip)
{
	fprintf(out, "  (Capstone, libcapstone.so.4, is not installed: raw bytes, RIP marked)\n  ");
	for (size_t i = 0; i < len; i++)
		fprintf(out, addr + i == rip ? "[%02x] " : "%02x ", code[i]);
	fputc('\n', out);
}

#define CODE_BEFORE 32   /* bytes of code read before RIP */
#define CODE_AFTER 32

/* Copies up to `len` bytes of guest code at linear address `la`; returns
 * how many could be read (it stops at the first unmapped page). */
static size_t read_guest_linear(struct vcpu *vcpu, uint64_t la, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct kvm_translation tr = {.linear_address = la + done};
		size_t chunk = 4096 - ((la + done) & 4095);
		const uint8_t *src;

		if (chunk > len - done)
			chunk = len - done;
		if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
			break;
		src = guest_ptr(&vcpu->vm->mem, tr.physical_address, chunk);
		if (!src)
			break;
		memcpy(buf + done, src, chunk);
		done += chunk;
	}
	return done;
}

static cs_mode code_mode(const struct kvm_sregs *s)
{
	if (s->efer & (1 << 10) && s->cs.l)   /* EFER.LMA and a 64-bit CS */
		return CS_MODE_64;
	if (s->cr0 & 1 && s->cs.db)
		return CS_MODE_32;
	return CS_MODE_16;
}

static enum io_insn_mode io_mode(cs_mode m)
{
	return m == CS_MODE_64 ? IO_INSN_64 : m == CS_MODE_32 ? IO_INSN_32 : IO_INSN_16;
}

/* The port-I/O instruction behind exit `io`: reads the code bytes around
 * RIP (each page on its own, so an unmapped page before RIP's leaves the
 * rest readable) and asks io_insn_find().  *addr is a RIP value. */
static bool find_io_insn(struct vcpu *vcpu, const struct kvm_regs *r,
			 const struct kvm_sregs *s, const struct io_access *io,
			 struct io_insn_window *w, uint64_t *addr, struct io_insn *insn)
{
	uint64_t first = r->rip >= IO_INSN_MAX ? r->rip - IO_INSN_MAX : 0;
	unsigned i = (unsigned)(first - (r->rip - IO_INSN_MAX));   /* skipped below 0 */

	memset(w, 0, sizeof(*w));
	while (i < sizeof(w->bytes)) {
		uint64_t la = s->cs.base + r->rip - IO_INSN_MAX + i;
		size_t chunk = 4096 - (la & 4095);

		if (chunk > sizeof(w->bytes) - i)
			chunk = sizeof(w->bytes) - i;
		if (read_guest_linear(vcpu, la, w->bytes + i, chunk) == chunk)
			w->readable |= ((1u << chunk) - 1) << i;
		i += (unsigned)chunk;
	}
	return io_insn_find(w, r->rip, io_mode(code_mode(s)), r->rdx, io, addr, insn);
}

static const char *mode_name(cs_mode m)
{
	return m == CS_MODE_64 ? "64-bit" : m == CS_MODE_32 ? "32-bit" : "16-bit";
}

static void print_segment(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "  %-3s %04x base %016llx limit %08x type %x dpl %u%s%s%s%s\n", name,
		s->selector, (unsigned long long)s->base, s->limit, s->type, s->dpl,
		s->present ? " P" : "", s->l ? " L" : "", s->db ? " D" : "",
		s->unusable ? " unusable" : "");
}

/* Disassembles code[0..len) (placed at `addr`) and prints the instructions
 * around `rip`.  Decoding backwards is ambiguous on x86, so it tries each
 * start point before RIP and keeps the first whose stream lands on RIP (and
 * on `io_at`, the port-I/O instruction of the exit, which is marked "io"
 * when it is not at RIP; io_at == rip when there is none). */
static void print_code(FILE *out, cs_mode mode, const uint8_t *code, size_t len,
		       uint64_t addr, uint64_t rip, uint64_t io_at)
{
	const struct capstone_api *cs_api = capstone();
	csh cs;
	cs_insn *insn = NULL;
	size_t count = 0;

	if (!cs_api) {
		print_raw_bytes(out, code, len, addr, rip);
		return;
	}
	if (cs_api->open(CS_ARCH_X86, mode, &cs) != CS_ERR_OK) {
		fprintf(out, "  (Capstone could not start)\n");
		return;
	}
	/* First a stream through both RIP and the I/O instruction, then any
	 * through RIP. */
	for (int pass = io_at == rip || io_at < addr; pass < 2 && !count; pass++) {
		for (uint64_t start = addr; start <= rip; start++) {
			count = cs_api->disasm(cs, code + (start - addr), len - (start - addr),
					       start, 0, &insn);
			bool lands = false, lands_io = pass == 1;

			for (size_t i = 0; i < count; i++) {
				lands |= insn[i].address == rip;
				lands_io |= insn[i].address == io_at;
			}
			if (lands && lands_io)
				break;
			cs_api->free(insn, count);
			insn = NULL;
			count = 0;
		}
	}
	if (!count) {
		/* Nothing decodes into RIP: show what RIP itself holds. */
		count = cs_api->disasm(cs, code + (rip - addr), len - (rip - addr), rip, 0, &insn);
	}
	size_t at = 0;
	for (size_t i = 0; i < count; i++)
		if (insn[i].address == rip)
			at = i;
	for (size_t i = at > 4 ? at - 4 : 0; i < count && i <= at + 4; i++) {
		char bytes[3 * 16 + 1] = "";

		for (unsigned b = 0; b < insn[i].size && b < 16; b++)
			snprintf(bytes + 3 * b, 4, "%02x ", insn[i].bytes[b]);
		fprintf(out, "  %s %llx: %-24s %s %s\n", insn[i].address == rip ? "=>" :
			insn[i].address == io_at && io_at != rip ? "io" : "  ",
			(unsigned long long)insn[i].address, bytes, insn[i].mnemonic,
			insn[i].op_str);
	}
	if (!count)
		fprintf(out, "  (the bytes at RIP do not decode as an instruction)\n");
	cs_api->free(insn, count);
	cs_api->close(&cs);
}

void dump_vcpu(struct vcpu *vcpu, const char *why, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t code[CODE_BEFORE + CODE_AFTER];
	struct io_insn_window window;
	struct io_insn io_insn;
	uint64_t io_rip;

	fprintf(out, "vmm: vCPU %u stopped: %s\n", vcpu->index, why);
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(out, "  (cannot read registers: %s)\n", strerror(errno));
		return;
	}
	cs_mode mode = code_mode(&s);
	/* AMD's KVM re-initialises a vCPU on a shutdown intercept (the VMCB is
	 * undefined after one), so a triple fault arrives with the reset state:
	 * say so rather than let it pass for the state at the fault. */
	if (r.rip == 0xfff0 && s.cs.selector == 0xf000 && !(s.cr0 & 1))
		fprintf(out, "  (these are the vCPU's reset values: KVM re-initialised it before "
			"reporting the stop, as it does on AMD; the state at the fault is lost)\n");
	fprintf(out, "  %s mode, ring %u, paging %s\n", mode_name(mode), s.cs.dpl,
		(s.cr0 & (1u << 31)) ? "on" : "off");
	fprintf(out, "  rip %016llx  rsp %016llx  rflags %016llx\n",
		(unsigned long long)r.rip, (unsigned long long)r.rsp,
		(unsigned long long)r.rflags);
	fprintf(out, "  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n",
		(unsigned long long)r.rax, (unsigned long long)r.rbx,
		(unsigned long long)r.rcx, (unsigned long long)r.rdx);
	fprintf(out, "  rsi %016llx  rdi %016llx  rbp %016llx  r8  %016llx\n",
		(unsigned long long)r.rsi, (unsigned long long)r.rdi,
		(unsigned long long)r.rbp, (unsigned long long)r.r8);
	fprintf(out, "  r9  %016llx  r10 %016llx  r11 %016llx  r12 %016llx\n",
		(unsigned long long)r.r9, (unsigned long long)r.r10,
		(unsigned long long)r.r11, (unsigned long long)r.r12);
	fprintf(out, "  r13 %016llx  r14 %016llx  r15 %016llx\n",
		(unsigned long long)r.r13, (unsigned long long)r.r14,
		(unsigned long long)r.r15);
	fprintf(out, "  cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx  efer %llx\n",
		(unsigned long long)s.cr0, (unsigned long long)s.cr2,
		(unsigned long long)s.cr3, (unsigned long long)s.cr4,
		(unsigned long long)s.efer);
	print_segment(out, "cs", &s.cs);
	print_segment(out, "ss", &s.ss);
	print_segment(out, "ds", &s.ds);
	print_segment(out, "tr", &s.tr);
	fprintf(out, "  gdt base %016llx limit %04x  idt base %016llx limit %04x\n",
		(unsigned long long)s.gdt.base, s.gdt.limit,
		(unsigned long long)s.idt.base, s.idt.limit);

	uint64_t rip_la = s.cs.base + r.rip;
	uint64_t io_la = rip_la;
	/* A port no device handles: the instruction that made the exit. */
	if (vcpu->run && vcpu->run->exit_reason == KVM_EXIT_IO) {
		struct io_access io = {.port = vcpu->run->io.port, .size = vcpu->run->io.size,
				       .out = vcpu->run->io.direction == KVM_EXIT_IO_OUT};

		if (find_io_insn(vcpu, &r, &s, &io, &window, &io_rip, &io_insn) &&
		    io_rip != r.rip) {
			io_la = s.cs.base + io_rip;
			fprintf(out, "  the port-I/O instruction is at %llx (marked io); RIP is "
				"already past it\n", (unsigned long long)io_la);
		}
	}
	uint64_t start = rip_la >= CODE_BEFORE ? rip_la - CODE_BEFORE : 0;
	size_t got = read_guest_linear(vcpu, start, code, sizeof(code));

	if (got <= rip_la - start) {
		/* The page before RIP may be unmapped; try from RIP itself. */
		start = rip_la;
		got = read_guest_linear(vcpu, start, code, CODE_AFTER);
	}
	if (got == 0 || got <= rip_la - start) {
		fprintf(out, "  code: RIP %llx is not in guest RAM\n", (unsigned long long)rip_la);
		return;
	}
	fprintf(out, "  code:\n");
	print_code(out, mode, code, got, start, rip_la, io_la);
}

void dump_instruction(struct vcpu *vcpu, const struct io_access *io, char *buf, size_t len)
{
	const struct capstone_api *cs_api = capstone();
	struct kvm_regs r;
	struct kvm_sregs s;
	struct io_insn_window w;
	struct io_insn io_insn;
	uint8_t code[16];
	const uint8_t *bytes = code;
	uint64_t at;
	csh cs;
	cs_insn *insn;
	size_t got;

	snprintf(buf, len, "?");
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return;
	at = r.rip;
	if (io && find_io_insn(vcpu, &r, &s, io, &w, &at, &io_insn)) {
		/* Exactly the instruction's bytes: the window holds them. */
		bytes = w.bytes + (IO_INSN_MAX - (size_t)(r.rip - at));
		got = io_insn.len;
	} else {
		at = r.rip;
		got = read_guest_linear(vcpu, s.cs.base + r.rip, code, sizeof(code));
	}
	if (!got) {
		snprintf(buf, len, "%llx: (unreadable)", (unsigned long long)at);
		return;
	}
	if (!cs_api || cs_api->open(CS_ARCH_X86, code_mode(&s), &cs) != CS_ERR_OK) {
		int n = snprintf(buf, len, "%llx:", (unsigned long long)at);

		for (size_t i = 0; i < got && i < 8 && n > 0 && (size_t)n < len; i++)
			n += snprintf(buf + n, len - (size_t)n, " %02x", bytes[i]);
		return;
	}
	if (cs_api->disasm(cs, bytes, got, at, 1, &insn) == 1) {
		snprintf(buf, len, "%llx: %s %s", (unsigned long long)at, insn->mnemonic,
			 insn->op_str);
		cs_api->free(insn, 1);
	} else {
		snprintf(buf, len, "%llx: (undecodable)", (unsigned long long)at);
	}
	cs_api->close(&cs);
}
