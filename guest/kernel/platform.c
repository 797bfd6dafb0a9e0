/*
 * platform.c - ending a run.  The status goes to isa-debug-exit (0xf4):
 * vmm exits with it, QEMU with status*2+1.  On bare metal nothing
 * listens there, so the CPU halts with the status printed.
 */
#include "kernel.h"

#define DEBUG_EXIT_PORT 0xf4

void platform_exit(int status)
{
	outl(DEBUG_EXIT_PORT, (uint32_t)status);
	kprintf("vmbench: finished with status %d; halting (nothing took the "
		"isa-debug-exit port)\n", status);
	for (;;)
		__asm__ volatile("cli; hlt");
}
