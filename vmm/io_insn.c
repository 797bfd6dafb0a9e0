/*
 * io_insn.c - which guest instruction made a port-I/O exit.
 *
 * At KVM_EXIT_IO, hardware (VMX/SVM) KVM leaves RIP at the in/out
 * instruction; a PVM-style KVM has already moved RIP past it.  --trace and
 * the crash dump want to name the instruction itself, so they look for it
 * here: at RIP first, then among the instructions that end exactly at RIP.
 *
 * Pure byte decoding, no KVM and no Capstone, so it can be unit-tested and
 * fuzzed: the bytes are the guest's and may be anything, or unreadable.
 */
#include "io.h"

#include <string.h>

bool io_insn_decode(const uint8_t *code, size_t len, enum io_insn_mode mode,
		    struct io_insn *insn)
{
	bool opsize = false, rex_w = false, string;
	bool seen_opsize = false, seen_addr = false, seen_rep = false, seen_seg = false;
	bool idle = false, seg_idle = false;   /* a prefix that changes nothing */
	unsigned pos = 0;
	uint8_t op;

	if (len > IO_INSN_MAX)
		len = IO_INSN_MAX;   /* longer is #GP, never an instruction */
	memset(insn, 0, sizeof(*insn));
	for (;; pos++) {
		if (pos >= len)
			return false;
		op = code[pos];
		if (op == 0x66) {
			idle |= seen_opsize;   /* a repeated prefix */
			seen_opsize = opsize = true;
			rex_w = false;
		} else if (op == 0x67) {
			idle |= seen_addr;
			seen_addr = true;
			rex_w = false;
		} else if (op == 0xf2 || op == 0xf3) {
			idle |= seen_rep;
			seen_rep = true;
			rex_w = false;
		} else if (op == 0x26 || op == 0x2e || op == 0x36 || op == 0x3e ||
			   op == 0x64 || op == 0x65) {
			idle |= seen_seg;
			/* In 64-bit mode only FS and GS overrides mean anything. */
			seg_idle |= mode == IO_INSN_64 && op != 0x64 && op != 0x65;
			seen_seg = true;
			rex_w = false;
		} else if (mode == IO_INSN_64 && (op & 0xf0) == 0x40) {
			/* REX counts only right before the opcode; one followed
			 * by another prefix is ignored, as the CPU ignores it.
			 * It never changes an I/O instruction. */
			idle = true;
			rex_w = op & 8;
		} else {
			break;   /* LOCK (F0) and everything else end the prefixes */
		}
	}

	switch (op) {
	case 0xe4: case 0xe5: case 0xe6: case 0xe7:   /* in/out al/eAX, imm8 */
		if (pos + 1 >= len)
			return false;
		insn->port = code[pos + 1];
		insn->len = pos + 2;
		string = false;
		break;
	case 0xec: case 0xed: case 0xee: case 0xef:   /* in/out al/eAX, dx */
		insn->port_dx = true;
		insn->len = pos + 1;
		string = false;
		break;
	case 0x6c: case 0x6d: case 0x6e: case 0x6f:   /* ins, outs */
		insn->port_dx = true;
		insn->len = pos + 1;
		string = true;
		break;
	default:
		return false;
	}
	insn->string = string;
	insn->out = op == 0xe6 || op == 0xe7 || op == 0xee || op == 0xef ||
		    op == 0x6e || op == 0x6f;
	if (!(op & 1))
		insn->size = 1;
	else if (rex_w)
		insn->size = 4;   /* REX.W wins over 66; 64-bit I/O does not exist */
	else
		insn->size = (mode == IO_INSN_16) != opsize ? 2 : 4;

	/* Prefixes this instruction ignores. */
	idle |= seen_opsize && (!(op & 1) || rex_w);
	idle |= (seen_addr || seen_rep) && !string;
	/* Only outs reads memory through a segment it lets you override. */
	idle |= seen_seg && (!string || !insn->out || seg_idle);
	insn->idle_prefix = idle;
	return true;
}

static bool matches(const struct io_insn *insn, uint64_t rdx, const struct io_access *io)
{
	uint16_t port = insn->port_dx ? (uint16_t)(rdx & 0xffff) : insn->port;

	return insn->out == io->out && insn->size == io->size && port == io->port;
}

/* Whether bytes [from, to) of the window could all be read. */
static bool readable(const struct io_insn_window *w, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		if (!(w->readable >> i & 1))
			return false;
	return true;
}

bool io_insn_find(const struct io_insn_window *w, uint64_t rip, enum io_insn_mode mode,
		  uint64_t rdx, const struct io_access *io, uint64_t *addr,
		  struct io_insn *found)
{
	struct io_insn insn, best;
	unsigned at = IO_INSN_MAX, avail = 0, best_n = 0;

	/* Hardware KVM: RIP is still at the instruction. */
	while (avail < IO_INSN_MAX && readable(w, at + avail, at + avail + 1))
		avail++;
	if (io_insn_decode(w->bytes + at, avail, mode, &insn) && matches(&insn, rdx, io)) {
		*addr = rip;
		*found = insn;
		return true;
	}

	/* RIP already past it: an instruction that ends exactly at RIP.
	 * Decoding backwards is ambiguous.  A byte that looks like a prefix
	 * may belong to the instruction or be the last byte of the one before
	 * (`mov edx, esi` is 89 f2, and f2 is REPNE; `mov al, 0x41` ends in a
	 * REX byte), and an immediate may itself look like an I/O opcode.  So
	 * of the candidates that match the exit, take the longest whose every
	 * prefix does something for it (REP on ins/outs, 66 on a word access,
	 * a segment on outs ...): a prefix that changes nothing is far more
	 * likely the tail of the previous instruction than something a
	 * compiler or assembler emitted.  When any candidate matches, one
	 * such exists (the bare opcode, or 66 and the opcode when the size
	 * needs it); the shortest is kept only as a guard.  The rule depends
	 * only on the bytes, so the answer is deterministic. */
	for (unsigned n = 1; n <= IO_INSN_MAX; n++) {
		unsigned start = at - n;

		if (!readable(w, start, at))
			break;   /* readable bytes before RIP end here */
		if (!io_insn_decode(w->bytes + start, n, mode, &insn) || insn.len != n ||
		    !matches(&insn, rdx, io))
			continue;
		if (!best_n || !insn.idle_prefix) {   /* n only grows */
			best = insn;
			best_n = n;
		}
	}
	if (!best_n)
		return false;
	*addr = rip - best_n;
	*found = best;
	return true;
}
