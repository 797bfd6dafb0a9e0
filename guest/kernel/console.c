/*
 * console.c - the console: vmm's buffer console where vmm offers it, else
 * COM1, polled.
 *
 * vmm's buffer console (docs/design.md, CPUID 0x40000101 EDX = its port)
 * takes a whole buffer per `outl`: the guest-physical address of a
 * descriptor {addr, len}.  Every address here is identity-mapped (boot
 * page tables, paging.c), so ring 0's and ring 3's buffers are already
 * guest-physical and contiguous, whatever pages they span.  Where guest
 * ring 0 is emulated (PVM-style KVM) this is one step per buffer instead
 * of one per byte.  `--console=com1` on the command line keeps COM1.
 *
 * On a real 16550 (QEMU, bare metal) the guest waits for THRE and writes
 * at most 16 bytes, the FIFO's size.  Under vmm, whose UART never fills
 * (the loader name says so, see bootinfo.c), a whole buffer goes out in
 * one `rep outsb`: one VM exit for up to a page of text, not one per byte.
 */
#include "kernel.h"

#include "x86.h"

#define COM1 0x3f8
#define UART_LSR_THRE 0x20
#define UART_FIFO_BYTES 16
#define PIO_BURST_MAX 4096   /* KVM's PIO data page */

#define BUFFER_CONSOLE_MAX 65536   /* vmm's limit per write */

static bool uart_never_full;
static uint16_t buffer_console_port;   /* 0: COM1 */
static volatile int console_lock;

/* The descriptor vmm reads: one, under console_lock. */
static struct {
	uint64_t addr, len;
} buffer_desc __attribute__((aligned(16)));

/* vmm's port, from its CPUID leaves, or 0 (QEMU, GRUB, bare metal). */
static uint16_t find_buffer_console(void)
{
	uint32_t leaf[4];

	return vmm_cpuid_leaf(leaf) ? (uint16_t)leaf[3] : 0;
}

void console_init(bool virtual_uart, bool com1_only)
{
	uart_never_full = virtual_uart;
	/* Only vmm offers it: other loaders' boots ask no CPUID (an exit each
	 * where ring 0 is emulated). */
	buffer_console_port = virtual_uart && !com1_only ? find_buffer_console() : 0;
	if (virtual_uart)
		return;
	outb(COM1 + 1, 0x00);   /* no interrupts */
	outb(COM1 + 3, 0x80);   /* DLAB: divisor 1 = 115200 baud */
	outb(COM1 + 0, 0x01);
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);   /* 8N1 */
	outb(COM1 + 2, 0x07);   /* FIFO on and cleared */
}

static void outsb(const char *s, size_t n)
{
	__asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"(COM1) : "memory");
}

/* One write to vmm's buffer console; the clobber makes the descriptor's
 * stores land before the `outl`. */
static void buffer_console_write(const char *s, size_t len)
{
	buffer_desc.addr = (uint64_t)(uintptr_t)s;
	buffer_desc.len = len;
	__asm__ volatile("outl %0, %1" : : "a"((uint32_t)(uintptr_t)&buffer_desc),
			 "Nd"(buffer_console_port) : "memory");
}

void console_write(const char *s, size_t len)
{
	spin_lock(&console_lock);
	while (len && buffer_console_port) {
		size_t n = len < BUFFER_CONSOLE_MAX ? len : BUFFER_CONSOLE_MAX;

		buffer_console_write(s, n);
		s += n;
		len -= n;
	}
	while (len) {
		size_t n;

		if (uart_never_full) {
			n = len < PIO_BURST_MAX ? len : PIO_BURST_MAX;
		} else {
			while (!(inb(COM1 + 5) & UART_LSR_THRE))
				cpu_relax();
			n = len < UART_FIFO_BYTES ? len : UART_FIFO_BYTES;
		}
		outsb(s, n);
		s += n;
		len -= n;
	}
	spin_unlock(&console_lock);
}

static int vkprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	console_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vkprintf(fmt, ap);
	va_end(ap);
	return n;
}

void panic(const char *fmt, ...)
{
	va_list ap;

	kprintf("vmbench: kernel panic: ");
	va_start(ap, fmt);
	vkprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	platform_exit(4);
}
