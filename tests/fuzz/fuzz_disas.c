/*
 * fuzz_disas.c - a disassembly request as the reaper takes it (disas.h):
 * guest code bytes, their address, RIP, the port-I/O instruction's address
 * and the mode, with Capstone loaded in this process.  The input is the
 * request's bytes as they cross the socket, then one byte for the size of
 * the text buffer.  Besides the sanitizers, checks that a request
 * disas_format() takes is one whose RIP lies in its code, and that the
 * text it gives is terminated within the buffer.
 */
#include "disas.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_keep_stderr();
	/* Without Capstone every request is refused: nothing to fuzz. */
	FUZZ_CHECK(disas_load() == 0, "libcapstone.so.4 cannot be loaded");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disas_request req;
	char text[DISAS_TEXT_MAX];
	size_t len;

	if (size < sizeof(req) + 1)
		return 0;
	memcpy(&req, data, sizeof(req));
	len = 1 + (size_t)data[sizeof(req)] * (sizeof(text) - 1) / 255;   /* 1 .. all */
	memset(text, 'X', sizeof(text));
	if (disas_format(&req, text, len))
		return 0;
	FUZZ_CHECK(req.mode <= IO_INSN_64 && req.len >= 1 && req.len <= DISAS_CODE_MAX &&
		   req.rip >= req.addr && req.rip - req.addr < req.len,
		   "a request with RIP outside its code was taken");
	FUZZ_CHECK(memchr(text, '\0', len) != NULL, "the text is not terminated in its buffer");
	return 0;
}
