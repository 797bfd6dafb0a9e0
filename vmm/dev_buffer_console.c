/*
 * dev_buffer_console.c - the buffer console (buffer_console.h): one port,
 * one exit per buffer of guest output, in the style of Solo5 hvt's "puts".
 *
 * A write is checked whole before a byte is taken: the descriptor is read
 * once into vmm's memory (another vCPU may change it meanwhile), then its
 * buffer is looked up with guest_ptr(), which never sums guest values.
 * Before the bytes go out, KVM's coalesced ring is drained, so that COM1
 * bytes the guest wrote earlier without an exit (ring 0's kprintf) keep
 * their place; then the bytes take COM1's output path (serial_output), so
 * stdout, --timestamps, result lines, the timeline and the serial byte
 * counter cannot tell the two apart.
 *
 * A bad write is a guest bug, not vmm's: it is counted (--stats,
 * --json), the first one is reported on stderr, and the guest runs on, as
 * virtio-blk fails a bad request and keeps working (docs/reliability.md).
 */
#include "vmm.h"

#include "buffer_console.h"
#include "options.h"
#include "serial.h"

#include <endian.h>
#include <inttypes.h>
#include <string.h>

struct buffer_console {
	pthread_mutex_t lock;            /* the counters and the first report */
	uint64_t writes;                 /* buffers written */
	uint64_t bytes;                  /* their bytes */
	uint64_t rejected;               /* writes ignored as bad */
	bool trace;                      /* --trace: a line per buffer */
};

static struct buffer_console bcons = {.lock = PTHREAD_MUTEX_INITIALIZER};

enum buffer_console_verdict buffer_console_check(const struct guest_memory *mem,
						 uint64_t offset, unsigned size,
						 const uint8_t *value, const uint8_t **bytes,
						 uint64_t *desc_gpa, uint64_t *addr,
						 uint64_t *len)
{
	const uint8_t *desc;
	uint64_t field[2];
	uint32_t gpa;

	*bytes = NULL;
	*desc_gpa = *addr = *len = 0;
	if (offset != 0 || size != 4)
		return BUFFER_CONSOLE_BAD_WIDTH;
	memcpy(&gpa, value, sizeof(gpa));
	*desc_gpa = le32toh(gpa);
	desc = guest_ptr(mem, *desc_gpa, BUFFER_CONSOLE_DESC_BYTES);
	if (!desc)
		return BUFFER_CONSOLE_DESC_OUTSIDE;
	memcpy(field, desc, sizeof(field));   /* once: the guest may change it */
	*addr = le64toh(field[0]);
	*len = le64toh(field[1]);
	if (*len > BUFFER_CONSOLE_MAX_BYTES)
		return BUFFER_CONSOLE_TOO_LONG;
	if (*len == 0)
		return BUFFER_CONSOLE_OK;
	*bytes = guest_ptr(mem, *addr, *len);
	return *bytes ? BUFFER_CONSOLE_OK : BUFFER_CONSOLE_BUFFER_OUTSIDE;
}

const char *buffer_console_why(enum buffer_console_verdict v)
{
	switch (v) {
	case BUFFER_CONSOLE_OK: return "ok";
	case BUFFER_CONSOLE_BAD_WIDTH: return "not a 4-byte write of a descriptor's address";
	case BUFFER_CONSOLE_DESC_OUTSIDE: return "the descriptor is outside guest RAM";
	case BUFFER_CONSOLE_TOO_LONG: return "the length is above the limit";
	case BUFFER_CONSOLE_BUFFER_OUTSIDE: return "the buffer is outside guest RAM";
	}
	return "?";
}

static bool buffer_console_io(struct vcpu *vcpu, uint64_t port, bool is_write, uint8_t *data,
			      unsigned size, void *opaque)
{
	struct buffer_console *bc = opaque;
	struct vm *vm = vcpu->vm;
	enum buffer_console_verdict v;
	const uint8_t *bytes;
	uint64_t desc_gpa, addr, len;

	if (!is_write) {
		memset(data, 0, size);
		return true;
	}
	v = buffer_console_check(&vm->mem, port - BUFFER_CONSOLE_PORT, size, data, &bytes,
				 &desc_gpa, &addr, &len);
	if (v != BUFFER_CONSOLE_OK) {
		pthread_mutex_lock(&bc->lock);
		if (!bc->rejected++ && v == BUFFER_CONSOLE_BAD_WIDTH)
			vmm_error("buffer-console: vCPU %u made a %u-byte write to port 0x%" PRIx64
				  ": %s; ignored (later bad writes are only counted)", vcpu->index,
				  size, port, buffer_console_why(v));
		else if (bc->rejected == 1)
			vmm_error("buffer-console: vCPU %u: descriptor at 0x%" PRIx64 " (buffer 0x%"
				  PRIx64 ", %" PRIu64 " bytes): %s; ignored (later bad writes are "
				  "only counted)", vcpu->index, desc_gpa, addr, len,
				  buffer_console_why(v));
		pthread_mutex_unlock(&bc->lock);
		return true;
	}
	if (bc->trace)
		fprintf(stderr, "[vcpu %u] buffer-console: descriptor 0x%" PRIx64 ": %" PRIu64
			" bytes at 0x%" PRIx64 "\n", vcpu->index, desc_gpa, len, addr);
	/* COM1 bytes still in KVM's ring came first (vcpu_handle_exit drained
	 * it before this exit; this covers any other caller). */
	coalesced_drain(&vm->coalesced, &vm->io);
	serial_output(bytes, (size_t)len);
	pthread_mutex_lock(&bc->lock);
	bc->writes++;
	bc->bytes += len;
	pthread_mutex_unlock(&bc->lock);
	return true;
}

static int buffer_console_setup(struct vm *vm, const struct vmm_config *cfg, char *errbuf,
				size_t errlen)
{
	struct io_region r = {
		.space = IO_PORT, .base = BUFFER_CONSOLE_PORT, .len = BUFFER_CONSOLE_PORT_LEN,
		.name = "buffer-console", .fn = buffer_console_io, .opaque = &bcons,
	};

	/* As new, also for a VM built after another in one process (the
	 * device fuzzer). */
	pthread_mutex_lock(&bcons.lock);
	bcons.writes = bcons.bytes = bcons.rejected = 0;
	bcons.trace = cfg && cfg->trace;
	pthread_mutex_unlock(&bcons.lock);
	return io_register(&vm->io, &r, errbuf, errlen);
}

static void buffer_console_print_stats(const struct vm *vm, FILE *out)
{
	(void)vm;
	fprintf(out, "vmm: buffer-console: %" PRIu64 " writes, %" PRIu64 " bytes, %" PRIu64
		" bad writes ignored\n", bcons.writes, bcons.bytes, bcons.rejected);
}

static void buffer_console_write_json(const struct vm *vm, FILE *f)
{
	(void)vm;
	fprintf(f, ",\"buffer_console\":{\"writes\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"rejected\":%" PRIu64 "}", bcons.writes, bcons.bytes, bcons.rejected);
}

/* After the serial port, whose output path it uses (set up before it,
 * flushed after it); last in the table, so that the port regions of the
 * devices before it keep their places (tests/fuzz/gen_seeds.c). */
VMM_DEVICE(buffer_console, .name = "buffer-console", .level = VMM_INIT_LATE,
	   .setup = buffer_console_setup, .print_stats = buffer_console_print_stats,
	   .write_json = buffer_console_write_json);
