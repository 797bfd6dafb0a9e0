/*
 * io.h - the device table for port I/O and MMIO (io.c), and which in/out
 * instruction made a port-I/O exit (io_insn.c, pure).
 */
#ifndef VMM_IO_H
#define VMM_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vcpu;

enum io_space { IO_PORT, IO_MMIO };

/* A handler sees one access of `size` bytes (1, 2, 4 or 8) at `addr`; for a
 * write, `data` holds the value; for a read it fills `data`.  Returning
 * false marks the access as not handled (vmm then stops with a dump). */
typedef bool (*io_handler)(struct vcpu *vcpu, uint64_t addr, bool is_write,
			   uint8_t *data, unsigned size, void *opaque);

#define IO_MAX_HANDLERS 32

struct io_region {
	enum io_space space;
	uint64_t base, len;
	const char *name;
	io_handler fn;
	void *opaque;
	/* A handler that accepts a whole `rep outs/ins` burst at once (the
	 * serial port does: one exit carries up to a page of output). */
	bool (*burst_fn)(struct vcpu *vcpu, uint64_t addr, bool is_write,
			 uint8_t *data, unsigned size, unsigned count, void *opaque);
	/* Optional: whether the region answers at addr right now (the PCI
	 * MMIO window answers only where a BAR decodes); an access it does
	 * not answer is one that no device handles. */
	bool (*decodes)(uint64_t addr, unsigned size, void *opaque);
	/* Optional: writes to [base, base + coalesced_len) may be kept by KVM
	 * in its coalesced ring instead of exiting (coalesced.h); each is
	 * replayed later, in order, to coalesced_fn (required with it). */
	uint64_t coalesced_len;
	void (*coalesced_fn)(uint64_t addr, const uint8_t *data, unsigned size, void *opaque);
};

struct io_registry {
	unsigned count;
	struct io_region regions[IO_MAX_HANDLERS];
};

/* Registers a handler; fails (and says why) on overlap or a full table. */
int io_register(struct io_registry *reg, const struct io_region *region,
		char *errbuf, size_t errlen);
/* Index of the region holding [addr, addr+size), or -1. */
int io_lookup(const struct io_registry *reg, enum io_space space,
	      uint64_t addr, unsigned size);

/* ---- the instruction behind a port-I/O exit (io_insn.c) ------------------
 * Hardware KVM exits with RIP at the in/out/ins/outs instruction, PVM-style
 * KVM with RIP already past it; --trace and dumps look for it either way.
 * Pure decoding of guest bytes (no KVM, no Capstone): unit-tested, fuzzed. */
#define IO_INSN_MAX 15             /* longest x86 instruction */

enum io_insn_mode { IO_INSN_16, IO_INSN_32, IO_INSN_64 };   /* code segment */

struct io_access {                 /* what the exit reported */
	uint16_t port;
	unsigned size;             /* 1, 2 or 4 */
	bool out;
};

struct io_insn {
	unsigned len;              /* bytes, prefixes included */
	bool out, string;          /* out/outs; ins/outs */
	unsigned size;             /* 1, 2 or 4 */
	bool port_dx;              /* port from DX, else the immediate `port` */
	uint16_t port;
	bool idle_prefix;          /* has a prefix that changes nothing for it */
};

/* Guest code around RIP: bytes[i] is at RIP - IO_INSN_MAX + i, and bit i of
 * `readable` says whether it could be read. */
struct io_insn_window {
	uint8_t bytes[2 * IO_INSN_MAX];
	uint32_t readable;
};

/* Decodes one port-I/O instruction (legal prefixes, REX in 64-bit mode)
 * from code[0..len); false if the bytes are not one. */
bool io_insn_decode(const uint8_t *code, size_t len, enum io_insn_mode mode,
		    struct io_insn *insn);
/* The instruction that made exit `io`: the one at RIP if it matches, else
 * one ending exactly at RIP that does; sets *addr (a RIP value) and *insn.
 * False if there is none (the caller then shows RIP). */
bool io_insn_find(const struct io_insn_window *w, uint64_t rip, enum io_insn_mode mode,
		  uint64_t rdx, const struct io_access *io, uint64_t *addr,
		  struct io_insn *insn);

#endif /* VMM_IO_H */
