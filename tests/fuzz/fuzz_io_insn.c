/*
 * fuzz_io_insn.c - the guest's code bytes around RIP at a port-I/O exit,
 * as --trace and the crash dump hand them to io_insn_find().  The input's
 * first 10 bytes are the exit and the state (mode, direction, size, port,
 * DX, which bytes are readable); the rest fills the window around RIP.
 * Besides the sanitizers, checks that an answer is one the caller can
 * use: at RIP or ending exactly at RIP, wholly readable, decoding again to
 * the same instruction, and matching the exit.
 */
#include "io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 10
#define RIP 0x7ff0ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct io_insn *a, const struct io_insn *b)
{
	return a->len == b->len && a->out == b->out && a->string == b->string &&
	       a->size == b->size && a->port_dx == b->port_dx &&
	       (a->port_dx || a->port == b->port) && a->idle_prefix == b->idle_prefix;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned sizes[] = {1, 2, 4, 3};
	struct io_insn_window w;
	struct io_access io;
	struct io_insn insn, again;
	enum io_insn_mode mode;
	uint64_t addr, rdx;
	uint8_t *copy;

	if (size < HEADER)
		return 0;
	mode = (enum io_insn_mode)(data[0] % 3);
	io.out = data[0] & 4;
	io.size = sizes[data[0] >> 3 & 3];
	io.port = (uint16_t)(data[1] | data[2] << 8);
	rdx = (uint64_t)(data[3] | data[4] << 8) | (uint64_t)data[5] << 40;
	memcpy(&w.readable, data + 6, 4);
	w.readable &= (1u << (2 * IO_INSN_MAX)) - 1;
	memset(w.bytes, 0, sizeof(w.bytes));
	memcpy(w.bytes, data + HEADER,
	       size - HEADER < sizeof(w.bytes) ? size - HEADER : sizeof(w.bytes));

	/* The decoder alone, on exactly the bytes given (ASan sees overreads). */
	copy = malloc(size - HEADER + 1);
	if (!copy)
		abort();
	memcpy(copy, data + HEADER, size - HEADER);
	if (io_insn_decode(copy, size - HEADER, mode, &insn)) {
		if (insn.len < 1 || insn.len > IO_INSN_MAX || insn.len > size - HEADER ||
		    (insn.size != 1 && insn.size != 2 && insn.size != 4))
			abort();
		/* Its own bytes, and no more, decode the same. */
		if (!io_insn_decode(copy, insn.len, mode, &again) || !same(&insn, &again))
			abort();
	}
	free(copy);

	if (!io_insn_find(&w, RIP, mode, rdx, &io, &addr, &insn))
		return 0;
	unsigned start = IO_INSN_MAX - (unsigned)(RIP - addr);
	if (addr > RIP || RIP - addr > IO_INSN_MAX)
		abort();
	if (addr != RIP && addr + insn.len != RIP)
		abort();   /* before RIP, it must end at RIP */
	for (unsigned i = start; i < start + insn.len; i++)
		if (!(w.readable >> i & 1))
			abort();
	if (!io_insn_decode(w.bytes + start, insn.len, mode, &again) || !same(&insn, &again))
		abort();
	if (insn.out != io.out || insn.size != io.size ||
	    (insn.port_dx ? (uint16_t)rdx : insn.port) != io.port)
		abort();
	return 0;
}
