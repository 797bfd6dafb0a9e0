/*
 * fuzz_loader.c - arbitrary bytes as a guest image: multiboot_load() into
 * 64 MiB of real guest RAM (memory_layout + memory_map, as vm.c does).
 * Besides the sanitizers, checks what a successful load promises: an entry
 * point in RAM below 4 GiB, the boot information where EBX will point, and
 * nothing loaded over it; and that a refusal comes with one line of text.
 */
#include "boot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAM_SIZE (64 * MIB)
#define CMDLINE "guest.elf fuzz --threads=2"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_memory ram;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	memory_layout(RAM_SIZE, &ram);
	if (memory_map(&ram, false, err, sizeof(err))) {
		fprintf(stderr, "fuzz_loader: %s\n", err);
		abort();
	}
	return 0;
}

static uint32_t read32(uint64_t gpa)
{
	uint32_t v;
	const void *p = guest_ptr(&ram, gpa, 4);

	if (!p)
		abort();
	memcpy(&v, p, 4);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct boot_entry boot;
	char err[512] = "";
	int r = multiboot_load(&ram, data, size, CMDLINE, &boot, err, sizeof(err));

	if (r == -1) {
		if (!err[0] || strchr(err, '\n'))
			abort();   /* one line that says what is wrong */
		return 0;
	}
	if (r != 0)
		abort();
	if (boot.entry >= MEM_HOLE_END || !guest_ptr(&ram, boot.entry, 1))
		abort();
	if (boot.entry < boot.image_start || boot.entry >= boot.image_end)
		abort();
	if (boot.info_gpa != BOOTINFO_GPA || boot.image_end > RAM_SIZE)
		abort();
	/* The boot information survived the load: flags, command line. */
	if (read32(BOOTINFO_GPA) != 0x245)
		abort();
	uint32_t cmd = read32(BOOTINFO_GPA + 16);
	const char *s = guest_ptr(&ram, cmd, sizeof(CMDLINE));
	if (!s || memcmp(s, CMDLINE, sizeof(CMDLINE)))
		abort();
	return 0;
}
