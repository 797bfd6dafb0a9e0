/*
 * fuzz_buffer_console.c - a hostile guest on vmm's buffer console
 * (buffer_console_check, vmm/dev_buffer_console.c): the input is a list of
 * 12-byte operations that write guest RAM, lay out descriptors (their
 * buffers anywhere around the two RAM ranges, any length), and write to
 * the port with any width, offset and value.  Guest RAM is two ranges, at
 * 0 and at 4 GiB as vmm lays out RAM beyond the hole, each between
 * inaccessible pages.
 *
 * Besides the sanitizers, checks the verdict against a second reading of
 * the contract (buffer_console.h) done in 128-bit arithmetic, and that an
 * accepted buffer is exactly the guest's bytes: its pointer is the host
 * address of its guest address, and every byte of it can be read.
 * (fuzz_devices drives the device itself, through the exit handler.)
 */
#include "buffer_console.h"
#include "fuzz.h"
#include "le.h"

#include <string.h>

#define OP_BYTES 12
#define RANGE (32 * KIB)
#define HIGH_GPA (4 * GIB)
#define PAGE 4096

static struct guest_memory mem;

static uint8_t *guarded(size_t size)
{
	uint8_t *area = mmap(NULL, size + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);

	if (area == MAP_FAILED || mprotect(area + PAGE, size, PROT_READ | PROT_WRITE))
		abort();
	return area + PAGE;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_keep_stderr();
	mem.nregions = 2;
	mem.regions[0] = (struct mem_region){0, RANGE, guarded(RANGE)};
	mem.regions[1] = (struct mem_region){HIGH_GPA, RANGE, guarded(RANGE)};
	mem.base = mem.regions[0].hva;
	mem.size = 2 * RANGE;
	return 0;
}

/* The contract, read again: the host address of [gpa, gpa + len) if it
 * lies wholly in one range, else NULL (sums in 128 bits cannot wrap). */
static uint8_t *in_ram(uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem.nregions; i++) {
		const struct mem_region *r = &mem.regions[i];

		if (gpa >= r->gpa &&
		    (unsigned __int128)gpa + len <= (unsigned __int128)r->gpa + r->size)
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

static enum buffer_console_verdict expected(uint64_t offset, unsigned size, uint32_t gpa)
{
	const uint8_t *d;
	uint64_t addr, len;

	if (offset != 0 || size != 4)
		return BUFFER_CONSOLE_BAD_WIDTH;
	d = in_ram(gpa, BUFFER_CONSOLE_DESC_BYTES);
	if (!d)
		return BUFFER_CONSOLE_DESC_OUTSIDE;
	addr = le_get(d, 8);
	len = le_get(d + 8, 8);
	if (len > BUFFER_CONSOLE_MAX_BYTES)
		return BUFFER_CONSOLE_TOO_LONG;
	if (len && !in_ram(addr, len))
		return BUFFER_CONSOLE_BUFFER_OUTSIDE;
	return BUFFER_CONSOLE_OK;
}

static void port_write(uint64_t offset, unsigned size, uint32_t value)
{
	uint8_t data[4];
	const uint8_t *bytes;
	uint64_t desc_gpa, addr, len;
	enum buffer_console_verdict v, want = expected(offset, size, value);

	le_put(data, 4, value);
	v = buffer_console_check(&mem, offset, size, data, &bytes, &desc_gpa, &addr, &len);
	FUZZ_CHECK(v == want, "verdict %d (%s), the contract says %d (%s), for 0x%x", v,
		   buffer_console_why(v), want, buffer_console_why(want), value);
	if (v != BUFFER_CONSOLE_OK) {
		FUZZ_CHECK(!bytes, "a refused write names bytes");
		return;
	}
	FUZZ_CHECK(len <= BUFFER_CONSOLE_MAX_BYTES, "accepted %llu bytes",
		   (unsigned long long)len);
	if (!len)
		return;
	FUZZ_CHECK(bytes == in_ram(addr, len), "the buffer is not the guest's bytes at 0x%llx",
		   (unsigned long long)addr);
	unsigned sum = 0;

	for (uint64_t i = 0; i < len; i++)   /* every byte readable */
		sum += bytes[i];
	__asm__ volatile("" : : "r"(sum));
}

static const unsigned port_sizes[4] = {1, 2, 4, 4};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(mem.regions[0].hva, 0, RANGE);
	memset(mem.regions[1].hva, 0, RANGE);
	for (size_t at = 0; at + OP_BYTES <= size; at += OP_BYTES) {
		const uint8_t *op = data + at;
		const struct mem_region *r = &mem.regions[op[1] & 1];
		uint16_t off = (uint16_t)le_get(op + 2, 2);

		switch (op[0] & 3) {
		case 0:   /* guest RAM */
			memcpy(r->hva + off % (RANGE - 8), op + 4, 8);
			break;
		case 1: { /* a descriptor in low RAM: a buffer near a range, any length */
			uint8_t *d = mem.regions[0].hva + off % (RANGE - 15);
			int32_t rel = (int32_t)le_get(op + 4, 4);
			uint64_t len = le_get(op + 8, 4);

			if (op[1] & 2)
				len %= BUFFER_CONSOLE_MAX_BYTES + 2;
			if (op[1] & 4)
				len = ~len;      /* near 2^64: wrapping sums */
			le_put(d, 8, r->gpa + (uint64_t)(int64_t)rel);
			le_put(d + 8, 8, len);
			break;
		}
		default: { /* the port: any width and offset; a value, or low RAM's off */
			uint32_t value = (op[1] & 0x10) ? (uint32_t)off % RANGE :
							  (uint32_t)le_get(op + 4, 4);

			port_write((op[1] >> 2) & 3, port_sizes[op[1] & 3], value);
			break;
		}
		}
	}
	return 0;
}
