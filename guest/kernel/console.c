/*
 * console.c - COM1, polled.
 *
 * On a real 16550 (QEMU, bare metal) the guest waits for THRE and writes
 * at most 16 bytes, the FIFO's size.  Under vmm, whose UART never fills
 * (the loader name says so, see bootinfo.c), a whole buffer goes out in
 * one `rep outsb`: one VM exit for up to a page of text, not one per byte.
 */
#include "kernel.h"

#define COM1 0x3f8
#define UART_LSR_THRE 0x20
#define UART_FIFO_BYTES 16
#define PIO_BURST_MAX 4096   /* KVM's PIO data page */

static bool uart_never_full;
static volatile int console_lock;

void console_init(bool virtual_uart)
{
	uart_never_full = virtual_uart;
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

void console_write(const char *s, size_t len)
{
	spin_lock(&console_lock);
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
