/*
 * boot_options.h - the command-line options ring 0 reads itself: the
 * system call gate must be set before the first system call (cpu.c,
 * idt_init), the APIC mode before the APs start (main.c), the console
 * before the first output (console.c).  Ring 3 parses
 * the whole command line and checks their values.  Plain C over the
 * string, so the host's unit tests drive it (tests/unit/
 * test_boot_options.c).
 */
#ifndef GUEST_BOOT_OPTIONS_H
#define GUEST_BOOT_OPTIONS_H

#define BOOT_OPT_GATE_CLOSED 1u      /* the word --syscall-gate=closed */
#define BOOT_OPT_X2APIC 2u           /* the word --apic=x2apic */
#define BOOT_OPT_CONSOLE_COM1 4u     /* the word --console=com1 */

/* The options among the space-separated words of cmdline, as a mask. */
unsigned boot_options(const char *cmdline);

#endif
