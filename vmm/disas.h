/*
 * disas.h - guest code as text, with Capstone: the lines of a crash dump
 * and the instruction of a --trace line (disas.c).
 *
 * Capstone runs where it does the least harm: in the reaper process
 * (reaper.h), which loads it at the first request and narrows its seccomp
 * filter before it decodes a guest byte; in vmm itself only when there is
 * no sandbox to forbid loading it (dump.c chooses).  vmm never maps
 * Capstone otherwise: its relocated tables cost about 1.5 MiB of RSS.
 */
#ifndef VMM_DISAS_H
#define VMM_DISAS_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define DISAS_CODE_MAX 64     /* bytes of guest code in one request */
#define DISAS_TEXT_MAX 4096   /* bytes of text in one answer */

/* What to decode: `len` bytes of guest code at address `addr`.  A dump
 * (one == 0) gets up to nine lines around `rip`, "=>" marking RIP and "io"
 * marking `io_at`, the port-I/O instruction when it is not at RIP
 * (io_at == rip when there is none); a trace (one == 1) gets the single
 * instruction at `addr`, "ADDR: mnemonic operands". */
struct disas_request {
	uint8_t one;
	uint8_t mode;      /* enum io_insn_mode */
	uint8_t len;
	uint64_t addr;
	uint64_t rip;
	uint64_t io_at;
	uint8_t code[DISAS_CODE_MAX];
};

/* Loads Capstone (dlopen) and opens a handle per mode: 0, or -1 when it
 * is not installed.  Only the first call loads; later ones say the same. */
int disas_load(void);

/* The text of `req` into text (NUL-terminated): 0, or -1 when Capstone is
 * not loaded or the request is malformed (mode, len, rip outside code). */
int disas_format(const struct disas_request *req, char *text, size_t len);

#endif /* VMM_DISAS_H */
