/*
 * dump.c - what vmm prints when a guest goes wrong: the reason, the
 * registers, and the code around RIP disassembled (the instruction at RIP
 * marked "=>").  --trace uses the one-instruction form.  For a port-I/O
 * exit both name the in/out instruction that made it, which on PVM-style
 * KVM ends at RIP rather than starting there (io_insn.c).
 *
 * Guest code is read through KVM_TRANSLATE (so paging is honoured) and
 * guest_ptr() (so nothing outside guest RAM is touched).
 *
 * The disassembly itself (Capstone, disas.c) is done by the reaper
 * process (reaper.h), which loads Capstone at the first request: vmm never
 * maps it, and guest bytes are decoded outside vmm, by a process that can
 * open nothing.  Without a reaper (--sync-teardown, or it could not start
 * or has gone) vmm loads Capstone itself only if no seccomp filter forbids
 * that (--no-seccomp); otherwise, and without Capstone, dumps show the raw
 * bytes with a line saying why.
 */
#include "vmm.h"

#include "disas.h"
#include "sandbox.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The text of `req`: 0, or -1 with why there is none in `why` (a dump's
 * note). */
static int disassemble(struct vm *vm, const struct disas_request *req, char *text, size_t len,
		       char *why, size_t whylen)
{
	int ret = vm->reaper.sock >= 0 ? reaper_disas(&vm->reaper, req, text, len) : -1;

	if (ret == 0)
		return 0;
	if (ret == 1) {
		snprintf(why, whylen, "Capstone, libcapstone.so.4, is not installed");
	} else if (vm->reaper.sock >= 0) {
		snprintf(why, whylen, "the disassembler, vmm-reaper (pid %d), is gone",
			 (int)vm->reaper.pid);
	} else if (sandbox_active()) {
		/* Its filter would stop vmm at the first open: not tried. */
		snprintf(why, whylen, "no disassembler: the reaper is off (%s) and vmm's "
			 "seccomp filter lets it load nothing", vm->reaper_off);
	} else {
		/* In vmm, then: one vCPU thread at a time (Capstone's handles,
		 * disas.c's lazy load). */
		static pthread_mutex_t in_vmm = PTHREAD_MUTEX_INITIALIZER;

		pthread_mutex_lock(&in_vmm);
		ret = disas_load() || disas_format(req, text, len) ? -1 : 0;
		pthread_mutex_unlock(&in_vmm);
		if (ret == 0)
			return 0;
		snprintf(why, whylen, "Capstone, libcapstone.so.4, is not installed");
	}
	return -1;
}

static void print_raw_bytes(FILE *out, const char *why, const uint8_t *code, size_t len,
			    uint64_t addr, uint64_t rip)
{
	fprintf(out, "  (%s: raw bytes, RIP marked)\n  ", why);
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

static enum io_insn_mode code_mode(const struct kvm_sregs *s)
{
	if (s->efer & (1 << 10) && s->cs.l)   /* EFER.LMA and a 64-bit CS */
		return IO_INSN_64;
	if (s->cr0 & 1 && s->cs.db)
		return IO_INSN_32;
	return IO_INSN_16;
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
	return io_insn_find(w, r->rip, code_mode(s), r->rdx, io, addr, insn);
}

static const char *mode_name(enum io_insn_mode m)
{
	return m == IO_INSN_64 ? "64-bit" : m == IO_INSN_32 ? "32-bit" : "16-bit";
}

static void print_segment(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "  %-3s %04x base %016llx limit %08x type %x dpl %u%s%s%s%s\n", name,
		s->selector, (unsigned long long)s->base, s->limit, s->type, s->dpl,
		s->present ? " P" : "", s->l ? " L" : "", s->db ? " D" : "",
		s->unusable ? " unusable" : "");
}

/* The code around RIP, disassembled (see disas.h for the lines). */
static void print_code(struct vm *vm, FILE *out, enum io_insn_mode mode, const uint8_t *code,
		       size_t len, uint64_t addr, uint64_t rip, uint64_t io_at)
{
	struct disas_request req = {.mode = (uint8_t)mode, .len = (uint8_t)len, .addr = addr,
				    .rip = rip, .io_at = io_at};
	char text[DISAS_TEXT_MAX], why[384];

	memcpy(req.code, code, len);
	if (disassemble(vm, &req, text, sizeof(text), why, sizeof(why)))
		print_raw_bytes(out, why, code, len, addr, rip);
	else
		fputs(text, out);
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
	enum io_insn_mode mode = code_mode(&s);
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
	print_code(vcpu->vm, out, mode, code, got, start, rip_la, io_la);
}

void dump_instruction(struct vcpu *vcpu, const struct io_access *io, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct io_insn_window w;
	struct io_insn io_insn;
	struct disas_request req = {.one = 1};
	const uint8_t *bytes = req.code;
	uint64_t at;
	size_t got;
	char why[384];

	snprintf(buf, len, "?");
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return;
	at = r.rip;
	if (io && find_io_insn(vcpu, &r, &s, io, &w, &at, &io_insn)) {
		/* Exactly the instruction's bytes: the window holds them. */
		bytes = w.bytes + (IO_INSN_MAX - (size_t)(r.rip - at));
		got = io_insn.len;
		memcpy(req.code, bytes, got);
	} else {
		at = r.rip;
		got = read_guest_linear(vcpu, s.cs.base + r.rip, req.code, 16);
	}
	if (!got) {
		snprintf(buf, len, "%llx: (unreadable)", (unsigned long long)at);
		return;
	}
	req.mode = (uint8_t)code_mode(&s);
	req.len = (uint8_t)got;
	req.addr = req.rip = req.io_at = at;
	if (disassemble(vcpu->vm, &req, buf, len, why, sizeof(why))) {
		int n = snprintf(buf, len, "%llx:", (unsigned long long)at);

		for (size_t i = 0; i < got && i < 8 && n > 0 && (size_t)n < len; i++)
			n += snprintf(buf + n, len - (size_t)n, " %02x", bytes[i]);
	}
}
