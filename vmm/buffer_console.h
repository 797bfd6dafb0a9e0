/*
 * buffer_console.h - vmm's buffer console (dev_buffer_console.c): a whole
 * buffer of guest output per exit, as Solo5 hvt's "puts" hypercall.
 *
 * Why: on a KVM that emulates guest ring 0 (PVM-style), `rep outsb` to
 * COM1 costs an emulated step per byte even where no byte exits; here the
 * guest writes the guest-physical address of a descriptor with one `outl`
 * and vmm copies the bytes it names into the console (the same output path
 * as COM1's: dev_serial.c's serial_output).
 *
 * The contract (docs/design.md): CPUID 0x40000101 EDX = the port (0: no
 * buffer console).  A 4-byte write of a descriptor's guest-physical address
 * (below 4 GiB) to the port writes the buffer it names:
 *     struct { le64 addr; le64 len; }   at a GPA, wholly in guest RAM
 * with [addr, addr + len) wholly in one RAM range and len at most
 * BUFFER_CONSOLE_MAX_BYTES.  Anything else is counted, reported once on
 * stderr, and ignored; the guest runs on.  Reads of the port give 0.
 */
#ifndef VMM_BUFFER_CONSOLE_H
#define VMM_BUFFER_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "memory.h"

#define BUFFER_CONSOLE_PORT 0x4f8      /* free on a PC (ELCR is 0x4d0-0x4d1) */
#define BUFFER_CONSOLE_PORT_LEN 4
#define BUFFER_CONSOLE_DESC_BYTES 16
#define BUFFER_CONSOLE_MAX_BYTES (64 * 1024)   /* per write; the guest splits */

enum buffer_console_verdict {
	BUFFER_CONSOLE_OK,
	BUFFER_CONSOLE_BAD_WIDTH,      /* not a 4-byte write at the port */
	BUFFER_CONSOLE_DESC_OUTSIDE,   /* the descriptor is not in guest RAM */
	BUFFER_CONSOLE_TOO_LONG,       /* len > BUFFER_CONSOLE_MAX_BYTES */
	BUFFER_CONSOLE_BUFFER_OUTSIDE, /* the buffer is not wholly in one RAM range */
};

/* What one port write asks for, checked (pure: no KVM, no output).  `size`
 * and `offset` are the access's width and its offset in the port range,
 * `value` the written bytes (little-endian).  On BUFFER_CONSOLE_OK,
 * *bytes and *len give the guest's buffer (host pointer into guest RAM;
 * *bytes may be NULL when *len is 0); the descriptor's fields are also
 * returned in *addr and *len for messages, whatever the verdict. */
enum buffer_console_verdict buffer_console_check(const struct guest_memory *mem,
						 uint64_t offset, unsigned size,
						 const uint8_t *value, const uint8_t **bytes,
						 uint64_t *desc_gpa, uint64_t *addr,
						 uint64_t *len);
/* A few words for a verdict ("the buffer is outside guest RAM"). */
const char *buffer_console_why(enum buffer_console_verdict v);

#endif /* VMM_BUFFER_CONSOLE_H */
