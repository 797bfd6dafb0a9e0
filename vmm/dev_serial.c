/*
 * dev_serial.c - a 16550A UART at COM1 (0x3f8), output only.
 *
 * Bytes go to vmm's stdout a line at a time (one write per line, so output
 * from a long run appears as it happens and a pipe reader sees whole
 * lines), with --timestamps after the host time the line was complete.
 * Lines starting "VMBENCH-RESULT " are also kept for --json.
 * The transmitter is always ready (LSR = THRE|TEMT), so a guest's polled
 * driver never waits; `rep outsb` bursts arrive as one exit (burst_fn).
 * No interrupts are raised: the guest polls, as early consoles do.
 * Writes to the data port may also come from KVM's coalesced ring
 * (coalesced.h): replayed in order to the same register logic, counted
 * apart.  The buffer console (dev_buffer_console.c) feeds the same output
 * path through serial_output() (serial.h).
 */
#include "vmm.h"

#include "options.h"
#include "serial.h"

#include <string.h>
#include <unistd.h>

#define COM1_BASE 0x3f8
#define RESULT_PREFIX "VMBENCH-RESULT "
#define LINE_MAX_BYTES 65536

enum {
	UART_RBR_THR = 0, UART_IER = 1, UART_IIR_FCR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
	LCR_DLAB = 0x80,
	LSR_THRE = 0x20, LSR_TEMT = 0x40,
	IIR_NO_INTERRUPT = 0x01, IIR_FIFO_ENABLED = 0xc0,
	MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_DCD = 0x80,
};

struct uart {
	pthread_mutex_t lock;
	struct vm *vm;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	size_t len;
	bool overlong;            /* current line exceeded the buffer */
	bool at_line_start;       /* the next flush starts a new line */
	bool timestamps;          /* --timestamps */
	uint64_t bytes_out;       /* bytes sent to the output (THR writes) */
	uint64_t coalesced;       /* writes that came from the coalesced ring */
	char line[LINE_MAX_BYTES];
};

static struct uart com1 = {.lock = PTHREAD_MUTEX_INITIALIZER, .dll = 1, .at_line_start = true};

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w <= 0)
			return;   /* stdout gone: the guest runs on regardless */
		p += w;
		n -= (size_t)w;
	}
}

static void flush_line(struct uart *u)
{
	if (!u->len)
		return;
	if (u->timestamps && u->at_line_start) {
		char stamp[32];
		int n = snprintf(stamp, sizeof(stamp), "[%12.6f] ",
				 (now_ns() - u->vm->timeline.start) / 1e9);

		write_all(stamp, (size_t)n);
	}
	write_all(u->line, u->len);
	if (!u->overlong && u->line[u->len - 1] == '\n') {
		size_t n = u->len - 1;

		if (n && u->line[n - 1] == '\r')
			n--;
		if (n >= sizeof(RESULT_PREFIX) - 1 &&
		    !memcmp(u->line, RESULT_PREFIX, sizeof(RESULT_PREFIX) - 1))
			vm_add_result(u->vm, u->line + sizeof(RESULT_PREFIX) - 1,
				      n - (sizeof(RESULT_PREFIX) - 1));
	}
	if (u->line[u->len - 1] == '\n')
		u->overlong = false;
	else
		u->overlong = true;   /* a partial line was flushed for space */
	u->at_line_start = !u->overlong;
	u->len = 0;
}

static void put_byte(struct uart *u, uint8_t ch)
{
	if (!u->vm->timeline.first_output)
		u->vm->timeline.first_output = now_ns();
	u->bytes_out++;
	u->line[u->len++] = (char)ch;
	if (ch == '\n' || u->len == sizeof(u->line))
		flush_line(u);
}

static uint8_t uart_read(struct uart *u, unsigned reg)
{
	switch (reg) {
	case UART_RBR_THR: return (u->lcr & LCR_DLAB) ? u->dll : 0;
	case UART_IER: return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR_FCR: return IIR_NO_INTERRUPT | ((u->fcr & 1) ? IIR_FIFO_ENABLED : 0);
	case UART_LCR: return u->lcr;
	case UART_MCR: return u->mcr;
	case UART_LSR: return LSR_THRE | LSR_TEMT;
	case UART_MSR: return MSR_CTS | MSR_DSR | MSR_DCD;
	default: return u->scr;
	}
}

static void uart_write(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			put_byte(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB)
			u->dlm = v;
		else
			u->ier = v & 0x0f;
		break;
	case UART_IIR_FCR: u->fcr = v; break;
	case UART_LCR: u->lcr = v; break;
	case UART_MCR: u->mcr = v & 0x1f; break;
	case UART_SCR: u->scr = v; break;
	default: break;   /* LSR and MSR are read-only */
	}
}

static bool uart_io(struct vcpu *vcpu, uint64_t addr, bool is_write, uint8_t *data,
		    unsigned size, void *opaque)
{
	struct uart *u = opaque;

	(void)vcpu;
	pthread_mutex_lock(&u->lock);
	/* A wider access touches consecutive registers, as on the ISA bus. */
	for (unsigned i = 0; i < size; i++) {
		unsigned reg = (unsigned)(addr - COM1_BASE + i) & 7;

		if (is_write)
			uart_write(u, reg, data[i]);
		else
			data[i] = uart_read(u, reg);
	}
	pthread_mutex_unlock(&u->lock);
	return true;
}

static bool uart_burst(struct vcpu *vcpu, uint64_t addr, bool is_write, uint8_t *data,
		       unsigned size, unsigned count, void *opaque)
{
	struct uart *u = opaque;

	if (!is_write || size != 1 || addr != COM1_BASE) {
		for (unsigned i = 0; i < count; i++)
			uart_io(vcpu, addr, is_write, data + i * size, size, opaque);
		return true;
	}
	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < count; i++)
		uart_write(u, UART_RBR_THR, data[i]);
	pthread_mutex_unlock(&u->lock);
	return true;
}

void serial_output(const uint8_t *bytes, size_t n)
{
	pthread_mutex_lock(&com1.lock);
	for (size_t i = 0; i < n; i++)
		put_byte(&com1, bytes[i]);
	pthread_mutex_unlock(&com1.lock);
}

/* A data-port write KVM kept in the coalesced ring: the same register
 * logic as an exit, so a write under LCR.DLAB still sets the divisor (every
 * LCR write exits, and the ring is drained before it is handled). */
static void uart_coalesced(uint64_t addr, const uint8_t *data, unsigned size, void *opaque)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < size; i++)
		uart_write(u, (unsigned)(addr - COM1_BASE + i) & 7, data[i]);
	u->coalesced++;
	pthread_mutex_unlock(&u->lock);
}

static int serial_setup(struct vm *vm, const struct vmm_config *cfg, char *errbuf,
			size_t errlen)
{
	struct io_region r = {
		.space = IO_PORT, .base = COM1_BASE, .len = 8, .name = "serial",
		.fn = uart_io, .burst_fn = uart_burst, .opaque = &com1,
		.coalesced_len = 1, .coalesced_fn = uart_coalesced,   /* THR/DLL only */
	};

	/* The power-on state (divisor 1, everything else 0), also for a VM
	 * built after another in the same process (the device fuzzer). */
	pthread_mutex_lock(&com1.lock);
	com1.vm = vm;
	com1.ier = com1.lcr = com1.mcr = com1.scr = com1.dlm = com1.fcr = 0;
	com1.dll = 1;
	com1.len = 0;
	com1.overlong = false;
	com1.at_line_start = true;
	com1.bytes_out = com1.coalesced = 0;
	com1.timestamps = cfg && cfg->timestamps;
	pthread_mutex_unlock(&com1.lock);
	return io_register(&vm->io, &r, errbuf, errlen);
}

static void serial_stop(struct vm *vm)
{
	(void)vm;
	pthread_mutex_lock(&com1.lock);
	flush_line(&com1);
	pthread_mutex_unlock(&com1.lock);
}

static void serial_print_stats(const struct vm *vm, FILE *out)
{
	(void)vm;
	fprintf(out, "vmm: serial: %llu bytes out; %llu data-port writes came from the "
		"coalesced ring without an exit\n", (unsigned long long)com1.bytes_out,
		(unsigned long long)com1.coalesced);
}

static void serial_write_json(const struct vm *vm, FILE *f)
{
	(void)vm;
	fprintf(f, ",\"serial\":{\"bytes_out\":%llu,\"coalesced_writes\":%llu}",
		(unsigned long long)com1.bytes_out, (unsigned long long)com1.coalesced);
}

/* The console: set up first, flushed last. */
VMM_DEVICE(serial, .name = "serial", .level = VMM_INIT_CORE, .setup = serial_setup,
	   .stop = serial_stop, .print_stats = serial_print_stats,
	   .write_json = serial_write_json);
