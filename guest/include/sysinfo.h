/*
 * sysinfo.h - what the kernel learned at boot, shared with ring 3 (the
 * system call SYS_SYSINFO returns a pointer to the kernel's copy).
 */
#ifndef GUEST_SYSINFO_H
#define GUEST_SYSINFO_H

#include <stdbool.h>
#include <stdint.h>

#define SYSINFO_MAX_RAM 32
#define SYSINFO_CMDLINE_MAX 4096
#define SYSINFO_IRQ_SLOTS 4          /* device interrupt vectors (boot.h, VEC_IRQ_BASE) */

/* How a system call entered ring 0 (see docs/guest.md, "System calls"). */
enum syscall_path {
	SYSCALL_VIA_GATE,    /* int $0x80 through its DPL-3 IDT gate */
	SYSCALL_VIA_UD,      /* the host raised #UD at the int $0x80 (PVM-style KVM) */
	SYSCALL_VIA_GP,      /* the gate is closed (DPL 0): #GP naming vector 0x80 */
	SYSCALL_PATHS
};

/* Boot milestones, as TSC values; printed by `info`. */
enum boot_stage {
	BOOT_ENTRY,          /* first instruction (header.S) */
	BOOT_LONG_MODE,      /* kernel_main */
	BOOT_APS_INIT,       /* CPUs and TSC rate known: INIT goes to the APs */
	BOOT_APS_STARTED,    /* SIPIs sent (after the MP spec's pauses on bare metal) */
	BOOT_APS_ONLINE,     /* every AP in its scheduler */
	BOOT_RING3,          /* main thread's first instruction */
	BOOT_STAGES
};

struct sysinfo_ram {
	uint64_t base, size;
};

struct sysinfo {
	uint32_t ncpus;              /* CPUs the MADT lists */
	uint32_t cpus_online;        /* CPUs that reached their scheduler */
	uint64_t tsc_hz;
	char tsc_source[24];         /* "cpuid-0x40000010", "cpuid-0x15", "pit" ... */
	uint64_t lapic_timer_hz;
	unsigned nram;
	struct sysinfo_ram ram[SYSINFO_MAX_RAM];  /* usable RAM, from the memory map */
	uint64_t ram_bytes;          /* sum of ram[] */
	uint64_t mapped_bytes;       /* RAM the page tables cover */
	uint64_t free_start;         /* first byte after the kernel's own memory */
	char loader[64];             /* the boot loader's name */
	char cmdline[SYSINFO_CMDLINE_MAX];
	bool console_com1;           /* --console=com1: not vmm's buffer console */
	bool x2apic;
	bool acpi;                   /* CPUs came from an MADT */
	char acpi_oem[7];
	uint64_t boot_tsc[BOOT_STAGES];
	/* Counters the kernel keeps up to date, all CPUs together. */
	volatile uint64_t timer_interrupts;
	volatile uint64_t context_switches;
	/* Device interrupts taken, per slot (SYS_IRQ_MSI, SYS_IRQ_WAIT). */
	volatile uint64_t irq_count[SYSINFO_IRQ_SLOTS];
	volatile uint64_t wake_ipis;             /* VEC_WAKE interrupts taken */
	volatile uint64_t syscalls[SYSCALL_PATHS];
	bool syscall_gate_closed;    /* --syscall-gate=closed on the command line */
	bool x2apic_asked;           /* --apic=x2apic on the command line */
};

#endif
