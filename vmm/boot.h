/*
 * boot.h - what the guest finds at its first instruction: the Multiboot
 * image and boot information (loader.c) and the ACPI tables (acpi.c).
 */
#ifndef VMM_BOOT_H
#define VMM_BOOT_H

#include "memory.h"

/* Fixed places in low guest memory.  The multiboot information (info
 * structure, command line, memory map, loader name) lives in one page at
 * BOOTINFO_GPA; the ACPI tables in the BIOS area, where the RSDP must be. */
#define BOOTINFO_GPA 0x9000ULL
#define BOOTINFO_SIZE 0x6000ULL   /* 0x9000..0xefff */
#define BIOS_AREA_START 0x9fc00ULL /* reserved in the memory map from here */
#define ACPI_GPA 0xe0000ULL
#define ACPI_SIZE 0x20000ULL      /* 0xe0000..0xfffff */
#define LAPIC_GPA 0xfee00000ULL
#define IOAPIC_GPA 0xfec00000ULL
#define GUEST_CMDLINE_MAX 4095

struct boot_entry {
	uint64_t entry;           /* 32-bit protected mode entry point */
	uint32_t info_gpa;        /* EBX */
	uint64_t image_start, image_end; /* loaded extent, for messages */
};

/* Loads the multiboot image `file` (size bytes) into guest memory and writes
 * the boot information.  Returns 0, or -1 with one line in errbuf. */
int multiboot_load(struct guest_memory *mem, const uint8_t *file, size_t size,
		   const char *cmdline, struct boot_entry *boot,
		   char *errbuf, size_t errlen);

/* Builds RSDP, RSDT, XSDT and MADT for `vcpus` CPUs at `gpa` in `buf` (the
 * host view of that guest range, `len` bytes).  Returns bytes used or -1. */
long acpi_build(uint8_t *buf, uint64_t gpa, size_t len, unsigned vcpus);

#endif /* VMM_BOOT_H */
