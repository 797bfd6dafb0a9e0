/*
 * test_loader.c - multiboot_load() (vmm/loader.c) on synthetic images:
 * ELF32, ELF64 and the a.out kludge; the boot information a guest reads at
 * BOOTINFO_GPA; and every malformed image, each refused with its own
 * message.  Guest RAM is real: 64 MiB from memory_map(), and untouched
 * MAP_NORESERVE mappings for layouts beyond 3 GiB.
 *
 * Tests that apply to both ELF classes run twice (names end in ELF32/ELF64).
 */
#include "unit.h"

#include "boot.h"
#include "error.h"
#include "elf_builder.h"

#define RAM_SIZE (64 * MIB)
#define ERRLEN 512

/* Multiboot information structure offsets, from the Multiboot 1 spec. */
#define MBI_FLAGS 0
#define MBI_MEM_LOWER 4
#define MBI_MEM_UPPER 8
#define MBI_CMDLINE 16
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR 48
#define MBI_BOOT_LOADER_NAME 64
#define MBI_SIZE 88
#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MMAP (1u << 6)
#define MBI_FLAG_LOADER_NAME (1u << 9)

static struct guest_memory ram;
static const bool CLASS32 = false, CLASS64 = true;

static bool elf64(void **state)
{
	return *(const bool *)*state;
}

/* ---- helpers ---------------------------------------------------------------- */

static uint8_t *gmem_in(struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_ptr(mem, gpa, len);

	if (!p)
		fail_msg("guest range 0x%llx+0x%llx is not RAM", (unsigned long long)gpa,
			 (unsigned long long)len);
	return p;
}

static uint8_t *gmem(uint64_t gpa, uint64_t len)
{
	return gmem_in(&ram, gpa, len);
}

static uint32_t gread32(struct guest_memory *mem, uint64_t gpa)
{
	return get32(gmem_in(mem, gpa, 4));
}

static void fill(uint64_t gpa, uint64_t len, uint8_t v)
{
	memset(gmem(gpa, len), v, len);
}

static int load_into(struct guest_memory *mem, const struct image *img, const char *cmdline,
		     struct boot_entry *boot, char *err)
{
	memset(err, 0, ERRLEN);
	memset(boot, 0, sizeof(*boot));
	return multiboot_load(mem, img->data, img->size, cmdline, boot, err, ERRLEN);
}

/* The image must be refused with a one-line message containing `phrase`. */
static void refused_in(struct guest_memory *mem, const struct image *img,
		       const char *cmdline, const char *phrase)
{
	char err[ERRLEN];
	struct boot_entry boot;

	if (load_into(mem, img, cmdline, &boot, err) != -1)
		fail_msg("image was accepted; expected a refusal with \"%s\"", phrase);
	assert_contains(err, phrase);
	assert_null(strchr(err, '\n'));
}

static void refused(const struct image *img, const char *phrase)
{
	refused_in(&ram, img, "guest.elf", phrase);
}

static void loads(const struct image *img, struct boot_entry *boot)
{
	char err[ERRLEN];

	if (load_into(&ram, img, "guest.elf", boot, err))
		fail_msg("image refused: %s", err);
}

/* Text at 1 MiB, data with a bss at 2 MiB, entry inside the text. */
static struct image_spec base_spec(bool is64)
{
	struct image_spec s = {
		.elf64 = is64,
		.entry = 0x100010,
		.nsegs = 2,
		.seg = {{.paddr = 0x100000, .filesz = 0x1800},
			{.paddr = 0x200000, .filesz = 0x100, .memsz = 0x3000}},
		.mb_flags = MB_PAGE_ALIGN | MB_MEMORY_INFO,
	};
	return s;
}

static void build_base(void **state, struct image *img)
{
	struct image_spec s = base_spec(elf64(state));

	image_build(&s, img);
}

static uint64_t all_ones(void **state)
{
	return elf64(state) ? UINT64_MAX : UINT32_MAX;
}

/* ---- images that load ------------------------------------------------------- */

static void test_elf_segments_are_copied_and_bss_cleared(void **state)
{
	struct image img;
	struct boot_entry boot;

	build_base(state, &img);
	fill(0x100000, 0x1800, 0xcc);
	fill(0x200000, 0x3000, 0xcc);
	loads(&img, &boot);

	assert_int_equal(boot.entry, 0x100010);
	assert_int_equal(boot.info_gpa, BOOTINFO_GPA);
	assert_int_equal(boot.image_start, 0x100000);
	assert_int_equal(boot.image_end, 0x203000);
	const uint8_t *text = gmem(0x100000, 0x1800), *data = gmem(0x200000, 0x3000);
	for (unsigned j = 0; j < 0x1800; j++)
		if (text[j] != seg_byte(0, j))
			fail_msg("text byte 0x%x is 0x%02x, expected 0x%02x", j, text[j],
				 seg_byte(0, j));
	for (unsigned j = 0; j < 0x100; j++)
		assert_int_equal(data[j], seg_byte(1, j));
	for (unsigned j = 0x100; j < 0x3000; j++)
		if (data[j])
			fail_msg("bss byte 0x%x is 0x%02x, not cleared", j, data[j]);
	image_free(&img);
}

static void test_entry_virtual_address_is_translated_to_physical(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	uint64_t vbase = elf64(state) ? 0xffffffff80000000ULL : 0xc0000000ULL;
	struct image img;
	struct boot_entry boot;

	/* A higher-half kernel: linked at vbase + 1 MiB, loaded at 1 MiB. */
	s.seg[0].vaddr = vbase + 0x100000;
	s.seg[1].vaddr = vbase + 0x200000;
	s.entry = vbase + 0x200040;   /* in the second segment */
	image_build(&s, &img);
	loads(&img, &boot);
	assert_int_equal(boot.entry, 0x200040);
	assert_int_equal(gmem(0x100000, 1)[0], seg_byte(0, 0));
	image_free(&img);
}

static void test_entry_given_as_physical_address_of_higher_half_kernel_is_refused(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;

	/* As GRUB: the entry is a virtual address; 0x100010 is in no segment's
	 * virtual range, so the kernel is refused rather than entered blindly. */
	s.seg[0].vaddr = 0xc0100000;
	s.seg[1].vaddr = 0xc0200000;
	image_build(&s, &img);
	refused(&img, "entry point 0x100010 is not inside a loaded segment");
	image_free(&img);
}

static void test_header_in_last_slot_of_first_8k_is_found(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;
	struct boot_entry boot;

	s.mb_offset = MB_SEARCH_BYTES - 12;   /* magic, flags, checksum end at 8 KiB */
	image_build(&s, &img);
	loads(&img, &boot);
	assert_int_equal(boot.entry, 0x100010);
	image_free(&img);
}

static void test_unknown_optional_flags_are_ignored(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;
	struct boot_entry boot;

	s.mb_flags |= 1u << 20;   /* bits 16-31 are optional features */
	image_build(&s, &img);
	loads(&img, &boot);
	image_free(&img);
}

static void test_non_load_and_empty_segments_are_skipped(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;
	struct boot_entry boot;

	/* A PT_NOTE claiming the boot info page, and a PT_LOAD of size 0 there:
	 * neither is loaded, so neither collides with the reserved area. */
	s.nsegs = 4;
	s.seg[2] = (struct seg_spec){.type = PT_NOTE, .paddr = 0x9000, .filesz = 0x40};
	s.seg[3] = (struct seg_spec){.paddr = 0xa000};
	image_build(&s, &img);
	loads(&img, &boot);
	assert_int_equal(boot.image_start, 0x100000);
	image_free(&img);
}

static void test_segments_touching_the_reserved_area_edges_load(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;
	struct boot_entry boot;

	/* [0x8000, 0x9000) ends where the boot information begins, and the
	 * text starts at 0x100000, where the ACPI area ends. */
	s.nsegs = 3;
	s.seg[2] = (struct seg_spec){.paddr = 0x8000, .filesz = 0x1000};
	image_build(&s, &img);
	loads(&img, &boot);
	assert_int_equal(boot.image_start, 0x8000);
	assert_int_equal(gmem(0x8fff, 1)[0], seg_byte(2, 0xfff));
	image_free(&img);
}

static void test_thirty_two_segments_load(void **state)
{
	struct image_spec s = {.elf64 = elf64(state), .entry = 0x100000, .nsegs = 32,
			       .mb_flags = MB_PAGE_ALIGN};
	struct image img;
	struct boot_entry boot;

	for (unsigned i = 0; i < s.nsegs; i++)
		s.seg[i] = (struct seg_spec){.paddr = 0x100000 + i * 0x1000, .filesz = 0x10};
	image_build(&s, &img);
	loads(&img, &boot);
	assert_int_equal(boot.image_end, 0x100000 + 31 * 0x1000 + 0x10);
	assert_int_equal(gmem(0x100000 + 31 * 0x1000, 1)[0], seg_byte(31, 0));
	image_free(&img);
}

static void test_segment_above_4g_loads_when_entry_is_below(void **state)
{
	struct guest_memory big;
	struct image_spec s = base_spec(true);
	struct image img;
	struct boot_entry boot;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(guest_map_noreserve(MEM_HOLE_START + 64 * MIB, &big), 0);
	s.seg[1].paddr = MEM_HOLE_END + 0x100000;
	image_build(&s, &img);
	if (load_into(&big, &img, "k", &boot, err))
		fail_msg("refused: %s", err);
	assert_int_equal(boot.entry, 0x100010);
	assert_int_equal(boot.image_end, MEM_HOLE_END + 0x103000);
	assert_int_equal(gmem_in(&big, MEM_HOLE_END + 0x100000, 1)[0], seg_byte(1, 0));
	image_free(&img);
	memory_unmap(&big);
}

/* Fresh RAM reads as zero already: the loader must not write the bss into
 * it, which would fault in every page of it (each transparent huge page
 * costs milliseconds on the PVM host).  mincore() tells which pages are
 * there. */
static void test_bss_in_fresh_ram_is_not_faulted_in(void **state)
{
	struct guest_memory fresh;
	struct image_spec s = base_spec(elf64(state));
	struct image img;
	struct boot_entry boot;
	char err[ERRLEN];
	const uint64_t far = 0x400000, far_end = 0xa00000;   /* whole 2 MiB pages */
	unsigned char resident[(0xa00000 - 0x400000) / 4096];

	memory_layout(RAM_SIZE, &fresh);
	if (memory_map(&fresh, false, err, sizeof(err)))
		fail_msg("memory_map: %s", err);
	assert_true(fresh.zeroed);
	s.seg[1].memsz = far_end - 0x200000;
	image_build(&s, &img);
	if (load_into(&fresh, &img, "k", &boot, err))
		fail_msg("refused: %s", err);
	assert_int_equal(mincore(gmem_in(&fresh, far, far_end - far), far_end - far, resident), 0);
	for (unsigned i = 0; i < sizeof(resident); i++)
		if (resident[i] & 1)
			fail_msg("bss page at 0x%llx was faulted in by the loader",
				 (unsigned long long)(far + i * 4096ULL));
	for (uint64_t a = 0x200100; a < far_end; a += 0x1000)
		assert_int_equal(gmem_in(&fresh, a, 1)[0], 0);
	image_free(&img);
	memory_unmap(&fresh);
}

/* The guest this project ships, when it has been built (VMBENCH_GUEST, set
 * by unit.mk, names it); skipped otherwise. */
static void test_real_guest_image_loads(void **state)
{
	const char *path = getenv("VMBENCH_GUEST");
	struct image img = {0};
	struct boot_entry boot;
	char err[ERRLEN];
	FILE *f;
	long n;

	(void)state;
	f = fopen(path ? path : "build/guest.elf", "rb");
	if (!f)
		skip();
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	img.size = (size_t)n;
	img.data = malloc(img.size);
	assert_non_null(img.data);
	assert_int_equal(fread(img.data, 1, img.size, f), img.size);
	fclose(f);
	/* Shipped as ELF32: QEMU's multiboot loader refuses ELF64. */
	assert_int_equal(img.data[EI_CLASS], ELFCLASS32);
	if (load_into(&ram, &img, "guest.elf info", &boot, err))
		fail_msg("the real guest was refused: %s", err);
	assert_true(boot.image_start >= 0x100000);
	assert_true(boot.entry >= boot.image_start && boot.entry < boot.image_end);
	assert_true(boot.image_end < RAM_SIZE);
	assert_string_equal((const char *)gmem(gread32(&ram, BOOTINFO_GPA + MBI_CMDLINE), 15),
			    "guest.elf info");
	image_free(&img);
}

/* ---- the a.out kludge --------------------------------------------------------- */

static const struct aout_spec aout_base = {
	.load_addr = 0x100000, .header_offset = 0x40, .file_size = 0x1000,
	.bss = 0x2000, .entry_offset = 0x80,
};

static void test_aout_kludge_loads_file_range_and_bss(void **state)
{
	struct image img;
	struct boot_entry boot;

	(void)state;
	image_build_aout(&aout_base, &img);
	fill(0x100000, 0x3000, 0xcc);
	loads(&img, &boot);
	assert_int_equal(boot.entry, 0x100080);
	assert_int_equal(boot.image_start, 0x100000);
	assert_int_equal(boot.image_end, 0x103000);
	assert_memory_equal(gmem(0x100000, 0x1000), img.data, 0x1000);
	for (unsigned j = 0; j < 0x2000; j++)
		if (gmem(0x101000, 0x2000)[j])
			fail_msg("kludge bss byte 0x%x not cleared", j);
	image_free(&img);
}

static void test_aout_kludge_zero_end_addresses_mean_whole_file_no_bss(void **state)
{
	struct image img;
	struct boot_entry boot;

	(void)state;
	image_build_aout(&aout_base, &img);
	mb_set(&img, MB_W_LOAD_END_ADDR, 0);
	mb_set(&img, MB_W_BSS_END_ADDR, 0);
	loads(&img, &boot);
	assert_int_equal(boot.image_end, 0x101000);
	image_free(&img);
}

static void test_aout_kludge_header_deeper_in_file_than_load_start(void **state)
{
	struct aout_spec a = aout_base;
	struct image img;
	struct boot_entry boot;

	(void)state;
	/* The header is 0x140 bytes into the file but only 0x40 bytes into
	 * the loaded range, so loading starts at file offset 0x100. */
	a.header_offset = 0x140;
	image_build_aout(&a, &img);
	mb_set(&img, MB_W_HEADER_ADDR, 0x100040);
	mb_set(&img, MB_W_LOAD_END_ADDR, 0x100000 + 0x1000 - 0x100);
	mb_set(&img, MB_W_BSS_END_ADDR, 0);
	loads(&img, &boot);
	assert_memory_equal(gmem(0x100000, 0xf00), img.data + 0x100, 0xf00);
	image_free(&img);
}

static void test_aout_kludge_takes_precedence_over_elf(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;
	struct boot_entry boot;

	s.mb_flags |= MB_AOUT_KLUDGE;
	image_build(&s, &img);
	/* The header says: load the whole file at 0x400000, enter at +0x10. */
	mb_set(&img, MB_W_HEADER_ADDR, 0x400000 + (uint32_t)img.mb_offset);
	mb_set(&img, MB_W_LOAD_ADDR, 0x400000);
	mb_set(&img, MB_W_LOAD_END_ADDR, 0);
	mb_set(&img, MB_W_BSS_END_ADDR, 0);
	mb_set(&img, MB_W_ENTRY_ADDR, 0x400010);
	fill(0x100000, 0x10, 0xcc);
	loads(&img, &boot);
	assert_int_equal(boot.entry, 0x400010);
	assert_memory_equal(gmem(0x400000, img.size), img.data, img.size);
	assert_int_equal(gmem(0x100000, 1)[0], 0xcc);   /* ELF segments ignored */
	image_free(&img);
}

/* ---- the boot information ---------------------------------------------------- */

struct mmap_entry {
	uint64_t addr, len;
	uint32_t type;
};

/* Reads the memory map the way a guest does (size field first). */
static unsigned read_mmap(struct guest_memory *mem, struct mmap_entry *out, unsigned max)
{
	uint64_t info = BOOTINFO_GPA;
	uint32_t addr = gread32(mem, info + MBI_MMAP_ADDR);
	uint32_t length = gread32(mem, info + MBI_MMAP_LENGTH);
	unsigned n = 0;

	assert_true(addr >= BOOTINFO_GPA && addr + length <= BOOTINFO_GPA + BOOTINFO_SIZE);
	for (uint32_t off = 0; off < length;) {
		const uint8_t *e = gmem_in(mem, addr + off, 24);
		uint32_t size = get32(e);

		assert_int_equal(size, 20);
		assert_true(n < max);
		memcpy(&out[n].addr, e + 4, 8);
		memcpy(&out[n].len, e + 12, 8);
		out[n].type = get32(e + 20);
		n++;
		off += size + 4;
	}
	return n;
}

static void test_boot_info_flags_memory_sizes_and_strings(void **state)
{
	static const char cmdline[] = "/boot/guest.elf cpu --cpu-max-prime=20000 --threads=2";
	struct image img;
	struct boot_entry boot;
	char err[ERRLEN];

	build_base(state, &img);
	fill(BOOTINFO_GPA, BOOTINFO_SIZE, 0xcc);
	assert_int_equal(load_into(&ram, &img, cmdline, &boot, err), 0);
	assert_int_equal(boot.info_gpa, BOOTINFO_GPA);

	uint64_t info = boot.info_gpa;
	assert_int_equal(gread32(&ram, info + MBI_FLAGS),
			 MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME);
	/* Fields for features not offered are zero (mods, syms, drives ...). */
	for (unsigned off = 12; off < MBI_SIZE; off += 4)
		if (off != MBI_CMDLINE && off != MBI_MMAP_LENGTH && off != MBI_MMAP_ADDR &&
		    off != MBI_BOOT_LOADER_NAME)
			assert_int_equal(gread32(&ram, info + off), 0);
	assert_int_equal(gread32(&ram, info + MBI_MEM_LOWER), BIOS_AREA_START / KIB);
	assert_int_equal(gread32(&ram, info + MBI_MEM_LOWER), 639);
	assert_int_equal(gread32(&ram, info + MBI_MEM_UPPER), (RAM_SIZE - MIB) / KIB);

	uint32_t cmd = gread32(&ram, info + MBI_CMDLINE);
	uint32_t name = gread32(&ram, info + MBI_BOOT_LOADER_NAME);
	assert_true(cmd >= BOOTINFO_GPA && cmd + sizeof(cmdline) <= BOOTINFO_GPA + BOOTINFO_SIZE);
	assert_string_equal((const char *)gmem(cmd, sizeof(cmdline)), cmdline);
	const char *loader = (const char *)gmem(name, 64);
	assert_non_null(memchr(loader, '\0', 64));
	assert_contains(loader, "vmbench vmm " VMM_VERSION);
	/* The pieces do not overlap each other. */
	uint32_t mmap = gread32(&ram, info + MBI_MMAP_ADDR);
	assert_true(mmap >= info + MBI_SIZE);
	assert_true(name >= mmap + gread32(&ram, info + MBI_MMAP_LENGTH));
	assert_true(cmd >= name + strlen(loader) + 1);
	image_free(&img);
}

static void test_boot_info_memory_map_of_64m(void **state)
{
	struct mmap_entry e[8];
	struct image img;
	struct boot_entry boot;

	build_base(state, &img);
	loads(&img, &boot);
	assert_int_equal(read_mmap(&ram, e, 8), 3);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].len, BIOS_AREA_START);
	assert_int_equal(e[0].type, 1);
	/* EBDA, VGA hole, BIOS area (where the ACPI tables are): reserved. */
	assert_int_equal(e[1].addr, BIOS_AREA_START);
	assert_int_equal(e[1].len, 0x100000 - BIOS_AREA_START);
	assert_int_equal(e[1].type, 2);
	assert_true(e[1].addr <= ACPI_GPA && ACPI_GPA + ACPI_SIZE <= e[1].addr + e[1].len);
	assert_int_equal(e[2].addr, 0x100000);
	assert_int_equal(e[2].len, RAM_SIZE - 0x100000);
	assert_int_equal(e[2].type, 1);
	image_free(&img);
}

/* For each RAM size: the map is sorted, covers exactly the RAM, skips the
 * hole, and reports RAM above 4 GiB as available. */
static void test_boot_info_memory_map_covers_ram_and_skips_the_hole(void **state)
{
	static const uint64_t sizes[] = {2 * MIB, 64 * MIB, MEM_HOLE_START,
					 MEM_HOLE_START + 4 * KIB, 5 * GIB};

	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct guest_memory mem;
		struct mmap_entry e[8];
		struct boot_entry boot;
		char err[ERRLEN];
		uint64_t total = 0, end = 0, above4g = 0;
		unsigned n;

		assert_int_equal(guest_map_noreserve(sizes[k], &mem), 0);
		struct image tiny;
		struct image_spec s = {.elf64 = elf64(state), .entry = 0x100000, .nsegs = 1,
				       .seg = {{.paddr = 0x100000, .filesz = 0x100}}};
		image_build(&s, &tiny);
		if (load_into(&mem, &tiny, "k", &boot, err))
			fail_msg("%llu bytes of RAM: %s", (unsigned long long)sizes[k], err);
		image_free(&tiny);
		n = read_mmap(&mem, e, 8);
		for (unsigned i = 0; i < n; i++) {
			assert_true(e[i].addr >= end);             /* sorted, disjoint */
			assert_true(e[i].len > 0);
			end = e[i].addr + e[i].len;
			assert_false(e[i].addr < MEM_HOLE_END && end > MEM_HOLE_START);
			assert_non_null(guest_ptr(&mem, e[i].addr, e[i].len));
			total += e[i].len;
			if (e[i].addr >= MEM_HOLE_END) {
				assert_int_equal(e[i].type, 1);
				above4g += e[i].len;
			}
		}
		assert_int_equal(total, sizes[k]);
		assert_int_equal(above4g, sizes[k] > MEM_HOLE_START ? sizes[k] - MEM_HOLE_START : 0);
		uint64_t low = sizes[k] < MEM_HOLE_START ? sizes[k] : MEM_HOLE_START;
		assert_int_equal(gread32(&mem, BOOTINFO_GPA + MBI_MEM_UPPER), (low - MIB) / KIB);
		memory_unmap(&mem);
	}
}

static void test_longest_command_line_is_passed_whole(void **state)
{
	char *cmdline = malloc(GUEST_CMDLINE_MAX + 1);
	struct image img;
	struct boot_entry boot;
	char err[ERRLEN];

	assert_non_null(cmdline);
	for (unsigned i = 0; i < GUEST_CMDLINE_MAX; i++)
		cmdline[i] = (char)('a' + i % 26);
	cmdline[GUEST_CMDLINE_MAX] = '\0';
	build_base(state, &img);
	assert_int_equal(load_into(&ram, &img, cmdline, &boot, err), 0);
	uint32_t cmd = gread32(&ram, BOOTINFO_GPA + MBI_CMDLINE);
	assert_true(cmd + GUEST_CMDLINE_MAX + 1 <= BOOTINFO_GPA + BOOTINFO_SIZE);
	assert_string_equal((const char *)gmem(cmd, GUEST_CMDLINE_MAX + 1), cmdline);
	free(cmdline);
	image_free(&img);
}

/* ---- malformed images ------------------------------------------------------------ */

static void test_refuses_file_that_is_neither_elf_nor_multiboot(void **state)
{
	static const char text[] = "hello, world\nthis is not a kernel\n";
	struct image img = {.data = malloc(sizeof(text) - 1), .size = sizeof(text) - 1};

	(void)state;
	memcpy(img.data, text, img.size);
	refused(&img, "not a multiboot kernel (neither an ELF file nor a multiboot header)");
	img.size = 0;   /* an empty file */
	refused(&img, "not a multiboot kernel");
	image_free(&img);
}

static void test_refuses_elf_without_multiboot_header(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;

	s.no_mb = true;
	image_build(&s, &img);
	refused(&img, "ELF file has no multiboot header in its first 8 KiB");
	image_free(&img);
}

static void test_refuses_header_past_8k(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;

	s.mb_offset = MB_SEARCH_BYTES;
	image_build(&s, &img);
	refused(&img, "no multiboot header in its first 8 KiB");
	image_free(&img);
	/* Straddling the limit: the checksum word is past 8 KiB. */
	s.mb_offset = MB_SEARCH_BYTES - 8;
	image_build(&s, &img);
	refused(&img, "no multiboot header in its first 8 KiB");
	image_free(&img);
}

static void test_refuses_misaligned_header(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;

	s.mb_offset = 0x202;   /* the spec says 32-bit aligned */
	image_build(&s, &img);
	refused(&img, "no multiboot header");
	image_free(&img);
}

static void test_refuses_header_with_bad_checksum(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;

	s.bad_checksum = true;
	image_build(&s, &img);
	refused(&img, "no multiboot header");
	image_free(&img);
}

static void test_refuses_video_mode_flag(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;

	s.mb_flags |= MB_VIDEO_MODE;
	image_build(&s, &img);
	refused(&img, "video mode (multiboot flag 2)");
	image_free(&img);
}

static void test_refuses_unknown_required_flags(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;

	s.mb_flags |= 1u << 3;
	image_build(&s, &img);
	refused(&img, "requires multiboot features 0x8 that vmm does not provide");
	image_free(&img);
	s.mb_flags = MB_PAGE_ALIGN | (1u << 15);
	image_build(&s, &img);
	refused(&img, "features 0x8000");
	image_free(&img);
}

static void test_refuses_truncated_elf_header(void **state)
{
	/* ELF identification, then a valid multiboot header, then EOF: the
	 * header is found but the ELF header is cut short. */
	struct image img = {.size = EI_NIDENT + 12};

	img.data = calloc(1, img.size);
	assert_non_null(img.data);
	memcpy(img.data, ELFMAG, SELFMAG);
	img.data[EI_CLASS] = elf64(state) ? ELFCLASS64 : ELFCLASS32;
	img.data[EI_DATA] = ELFDATA2LSB;
	write_mb_header(img.data + EI_NIDENT, MB_PAGE_ALIGN, false);
	refused(&img, "truncated ELF header");
	image_free(&img);
}

static void test_refuses_program_headers_past_eof(void **state)
{
	struct image img;

	build_base(state, &img);
	image_patch(&img, EH_PHOFF, 0, img.size - 8);
	refused(&img, "ELF program headers lie outside the file");
	image_patch(&img, EH_PHOFF, 0, all_ones(state));   /* no overflow */
	refused(&img, "ELF program headers lie outside the file");
	image_patch(&img, EH_PHOFF, 0, img.phoff);
	image_patch(&img, EH_PHNUM, 0, 0xffff);
	refused(&img, "ELF program headers lie outside the file");
	image_free(&img);
}

static void test_refuses_wrong_program_header_size(void **state)
{
	struct image img;

	build_base(state, &img);
	/* The other class's size is as wrong as any. */
	image_patch(&img, EH_PHENTSIZE, 0, elf64(state) ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr));
	refused(&img, elf64(state) ? "ELF program header size 32 is wrong"
				   : "ELF program header size 56 is wrong");
	image_patch(&img, EH_PHENTSIZE, 0, 0);
	refused(&img, "ELF program header size 0 is wrong");
	image_free(&img);
}

static void test_refuses_segment_offset_past_eof(void **state)
{
	struct image img;

	build_base(state, &img);
	image_patch(&img, PH_OFFSET, 0, img.size + 1);
	refused(&img, "segment at 0x100000 extends past the end of the file");
	image_patch(&img, PH_OFFSET, 0, all_ones(state));
	refused(&img, "extends past the end of the file");
	image_free(&img);
}

static void test_refuses_segment_filesz_past_eof(void **state)
{
	struct image img;

	build_base(state, &img);
	/* The data segment's memsz (0x3000) allows it; the file does not. */
	image_patch(&img, PH_FILESZ, 1, img.size - img.seg_offset[1] + 1);
	refused(&img, "segment at 0x200000 extends past the end of the file");
	image_free(&img);
}

static void test_refuses_filesz_larger_than_memsz(void **state)
{
	struct image img;

	build_base(state, &img);
	image_patch(&img, PH_MEMSZ, 0, 0x1000);   /* filesz is 0x1800 */
	refused(&img, "segment at 0x100000 has more file bytes than memory bytes");
	image_free(&img);
}

static void test_refuses_segment_outside_ram(void **state)
{
	struct image img;

	build_base(state, &img);
	image_patch(&img, PH_PADDR, 1, RAM_SIZE - 0x1000);   /* bss crosses the end */
	refused(&img, "lies outside guest RAM (64 MiB");
	image_patch(&img, PH_PADDR, 1, 256 * MIB);
	refused(&img, "segment 0x10000000-0x10003000 lies outside guest RAM");
	image_patch(&img, PH_PADDR, 1, all_ones(state) - 0xfff);   /* would wrap */
	refused(&img, "lies outside guest RAM");
	image_free(&img);
}

static void test_refuses_segment_in_the_3g_4g_hole(void **state)
{
	struct guest_memory big;
	struct image img;

	assert_int_equal(guest_map_noreserve(MEM_HOLE_START + 64 * MIB, &big), 0);
	build_base(state, &img);
	image_patch(&img, PH_PADDR, 1, MEM_HOLE_START);
	refused_in(&big, &img, "k", "lies outside guest RAM");
	image_patch(&img, PH_PADDR, 1, MEM_HOLE_START - 0x1000);   /* crosses into it */
	refused_in(&big, &img, "k", "lies outside guest RAM");
	image_patch(&img, PH_PADDR, 1, LAPIC_GPA);
	refused_in(&big, &img, "k", "lies outside guest RAM");
	image_patch(&img, PH_PADDR, 1, MEM_HOLE_END - 0x1000);     /* crosses out of it */
	refused_in(&big, &img, "k", "RAM above 3 GiB continues at 4 GiB");
	image_free(&img);
	memory_unmap(&big);
}

static void test_refuses_segment_overlapping_boot_info_or_acpi_area(void **state)
{
	static const uint64_t starts[] = {0x8000, BOOTINFO_GPA, ACPI_GPA, 0xff800};
	struct image img;

	build_base(state, &img);
	for (unsigned i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		image_patch(&img, PH_PADDR, 1, starts[i]);   /* 0x3000 bytes long */
		refused(&img, "overlaps 0x9000-0x100000, where vmm puts the boot "
			"information and ACPI tables");
	}
	/* A bss alone reaching into the area counts too. */
	image_patch(&img, PH_PADDR, 1, 0x6000);
	image_patch(&img, PH_MEMSZ, 1, 0x3001);
	refused(&img, "overlaps 0x9000-0x100000");
	image_free(&img);
}

static void test_refuses_overlapping_segments(void **state)
{
	struct image img;

	build_base(state, &img);
	image_patch(&img, PH_PADDR, 1, 0x1017ff);   /* last byte of the text */
	refused(&img, "segments at 0x100000 and 0x1017ff overlap");
	image_patch(&img, PH_PADDR, 1, 0x100000);   /* contains the text */
	refused(&img, "segments at 0x100000 and 0x100000 overlap");
	image_free(&img);
}

static void test_refuses_entry_outside_every_segment(void **state)
{
	struct image img;

	build_base(state, &img);
	image_patch(&img, EH_ENTRY, 0, 0x300000);
	refused(&img, "entry point 0x300000 is not inside a loaded segment");
	image_patch(&img, EH_ENTRY, 0, 0x101800);   /* one past the text */
	refused(&img, "entry point 0x101800 is not inside a loaded segment");
	image_free(&img);
}

static void test_refuses_entry_above_4g(void **state)
{
	struct guest_memory big;
	struct image_spec s = base_spec(true);
	struct image img;

	(void)state;
	assert_int_equal(guest_map_noreserve(MEM_HOLE_START + 64 * MIB, &big), 0);
	s.seg[1].paddr = MEM_HOLE_END + 0x100000;
	s.entry = MEM_HOLE_END + 0x100020;
	image_build(&s, &img);
	refused_in(&big, &img, "k",
		   "entry point 0x100100020 is above 4 GiB; multiboot enters in 32-bit mode");
	image_free(&img);
	memory_unmap(&big);
}

static void test_refuses_image_without_loadable_segment(void **state)
{
	struct image_spec s = base_spec(elf64(state));
	struct image img;

	s.seg[0].type = PT_NOTE;
	s.seg[1].type = PT_DYNAMIC;
	image_build(&s, &img);
	refused(&img, "ELF file has no loadable segment");
	image_free(&img);
	s.nsegs = 0;
	image_build(&s, &img);
	refused(&img, "ELF file has no loadable segment");
	image_free(&img);
}

static void test_refuses_more_than_32_segments(void **state)
{
	struct image_spec s = {.elf64 = elf64(state), .entry = 0x100000, .nsegs = 33,
			       .mb_flags = MB_PAGE_ALIGN};
	struct image img;

	for (unsigned i = 0; i < s.nsegs; i++)
		s.seg[i] = (struct seg_spec){.paddr = 0x100000 + i * 0x1000, .filesz = 0x10};
	image_build(&s, &img);
	refused(&img, "more than 32 loadable segments");
	image_free(&img);
}

static void test_refuses_command_line_too_long(void **state)
{
	char *cmdline = malloc(GUEST_CMDLINE_MAX + 2);
	struct image img;

	assert_non_null(cmdline);
	memset(cmdline, 'x', GUEST_CMDLINE_MAX + 1);
	cmdline[GUEST_CMDLINE_MAX + 1] = '\0';
	build_base(state, &img);
	refused_in(&ram, &img, cmdline, "guest command line is longer than 4095 bytes");
	free(cmdline);
	image_free(&img);
}

static void test_refuses_foreign_elf_files(void **state)
{
	struct image img;

	build_base(state, &img);
	img.data[EI_DATA] = ELFDATA2MSB;
	refused(&img, "not a little-endian ELF file");
	img.data[EI_DATA] = ELFDATA2LSB;
	img.data[EI_CLASS] = 3;
	refused(&img, "unknown ELF class 3");
	img.data[EI_CLASS] = elf64(state) ? ELFCLASS64 : ELFCLASS32;
	image_patch(&img, EH_MACHINE, 0, EM_AARCH64);
	refused(&img, "ELF file is not for x86 (machine 183)");
	image_patch(&img, EH_MACHINE, 0, EM_386);
	image_patch(&img, EH_TYPE, 0, ET_DYN);
	refused(&img, "ELF file is not an executable (type 3)");
	image_free(&img);
}

static void test_refuses_multiboot_header_in_non_elf_without_kludge(void **state)
{
	struct image img;

	(void)state;
	image_build_aout(&aout_base, &img);
	mb_set(&img, MB_W_FLAGS, MB_PAGE_ALIGN);   /* kludge bit cleared */
	refused(&img, "not an ELF file");
	image_free(&img);
}

static void test_refuses_ram_too_small_for_boot_info(void **state)
{
	struct guest_memory small;
	struct image_spec s = {.elf64 = elf64(state), .entry = 0x1000, .nsegs = 1,
			       .seg = {{.paddr = 0x1000, .filesz = 0x100}}};
	struct image img;

	assert_int_equal(guest_map_noreserve(512 * KIB, &small), 0);
	image_build(&s, &img);
	refused_in(&small, &img, "k", "guest RAM is too small for the boot information");
	image_free(&img);
	memory_unmap(&small);
}

/* ---- malformed a.out kludge headers -------------------------------------------- */

static void test_aout_refuses_header_address_not_matching_file(void **state)
{
	struct image img;

	(void)state;
	image_build_aout(&aout_base, &img);
	mb_set(&img, MB_W_HEADER_ADDR, 0xfffff);   /* below load_addr */
	refused(&img, "multiboot header addresses do not match its place in the file");
	mb_set(&img, MB_W_HEADER_ADDR, 0x100000 + 0x41);   /* before the file start */
	refused(&img, "do not match its place in the file");
	image_free(&img);
}

static void test_aout_refuses_load_end_below_load_addr(void **state)
{
	struct image img;

	(void)state;
	image_build_aout(&aout_base, &img);
	mb_set(&img, MB_W_LOAD_END_ADDR, 0xff000);
	refused(&img, "multiboot load_end_addr is below load_addr");
	image_free(&img);
}

static void test_aout_refuses_bss_end_below_load_end(void **state)
{
	struct image img;

	(void)state;
	image_build_aout(&aout_base, &img);
	mb_set(&img, MB_W_BSS_END_ADDR, 0x100800);
	refused(&img, "multiboot bss_end_addr is below load_end_addr");
	image_free(&img);
}

static void test_aout_refuses_load_end_past_eof(void **state)
{
	struct image img;

	(void)state;
	image_build_aout(&aout_base, &img);
	mb_set(&img, MB_W_LOAD_END_ADDR, 0x101001);
	mb_set(&img, MB_W_BSS_END_ADDR, 0);
	refused(&img, "segment at 0x100000 extends past the end of the file");
	image_free(&img);
}

static void test_aout_refuses_truncated_header(void **state)
{
	struct image img;

	(void)state;
	image_build_aout(&aout_base, &img);
	img.size = aout_base.header_offset + 16;   /* flags say kludge; no fields */
	refused(&img, "multiboot header is truncated");
	image_free(&img);
}

static void test_aout_refuses_entry_outside_loaded_range(void **state)
{
	struct image img;

	(void)state;
	image_build_aout(&aout_base, &img);
	mb_set(&img, MB_W_ENTRY_ADDR, 0x103000);
	refused(&img, "entry point 0x103000 is not inside a loaded segment");
	image_free(&img);
}

static void test_aout_refuses_load_into_reserved_area(void **state)
{
	struct image img;

	(void)state;
	image_build_aout(&aout_base, &img);
	mb_set(&img, MB_W_LOAD_ADDR, 0xe0000);
	mb_set(&img, MB_W_HEADER_ADDR, 0xe0040);
	mb_set(&img, MB_W_LOAD_END_ADDR, 0);
	mb_set(&img, MB_W_BSS_END_ADDR, 0);
	mb_set(&img, MB_W_ENTRY_ADDR, 0xe0080);
	refused(&img, "overlaps 0x9000-0x100000");
	image_free(&img);
}

/* ---- main ------------------------------------------------------------------------ */

static int map_ram(void **state)
{
	char err[ERRLEN];

	(void)state;   /* left NULL so each test keeps its own initial state */
	memory_layout(RAM_SIZE, &ram);
	if (memory_map(&ram, false, err, sizeof(err))) {
		fprintf(stderr, "memory_map: %s\n", err);
		return -1;
	}
	/* Every test loads into this one mapping: it is not fresh after the
	 * first, so the loader must clear what it does not copy. */
	ram.zeroed = false;
	return 0;
}

static int unmap_ram(void **state)
{
	(void)state;
	memory_unmap(&ram);
	return 0;
}

#define ONE(f) {#f, f, NULL, NULL, NULL}
#define BOTH(f)                                                                \
	{#f " (ELF32)", f, NULL, NULL, (void *)&CLASS32},                     \
	{#f " (ELF64)", f, NULL, NULL, (void *)&CLASS64}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_elf_segments_are_copied_and_bss_cleared),
		BOTH(test_bss_in_fresh_ram_is_not_faulted_in),
		BOTH(test_entry_virtual_address_is_translated_to_physical),
		BOTH(test_entry_given_as_physical_address_of_higher_half_kernel_is_refused),
		BOTH(test_header_in_last_slot_of_first_8k_is_found),
		BOTH(test_unknown_optional_flags_are_ignored),
		BOTH(test_non_load_and_empty_segments_are_skipped),
		BOTH(test_segments_touching_the_reserved_area_edges_load),
		BOTH(test_thirty_two_segments_load),
		ONE(test_segment_above_4g_loads_when_entry_is_below),
		ONE(test_real_guest_image_loads),
		ONE(test_aout_kludge_loads_file_range_and_bss),
		ONE(test_aout_kludge_zero_end_addresses_mean_whole_file_no_bss),
		ONE(test_aout_kludge_header_deeper_in_file_than_load_start),
		BOTH(test_aout_kludge_takes_precedence_over_elf),
		BOTH(test_boot_info_flags_memory_sizes_and_strings),
		BOTH(test_boot_info_memory_map_of_64m),
		BOTH(test_boot_info_memory_map_covers_ram_and_skips_the_hole),
		BOTH(test_longest_command_line_is_passed_whole),
		ONE(test_refuses_file_that_is_neither_elf_nor_multiboot),
		BOTH(test_refuses_elf_without_multiboot_header),
		BOTH(test_refuses_header_past_8k),
		BOTH(test_refuses_misaligned_header),
		BOTH(test_refuses_header_with_bad_checksum),
		BOTH(test_refuses_video_mode_flag),
		BOTH(test_refuses_unknown_required_flags),
		BOTH(test_refuses_truncated_elf_header),
		BOTH(test_refuses_program_headers_past_eof),
		BOTH(test_refuses_wrong_program_header_size),
		BOTH(test_refuses_segment_offset_past_eof),
		BOTH(test_refuses_segment_filesz_past_eof),
		BOTH(test_refuses_filesz_larger_than_memsz),
		BOTH(test_refuses_segment_outside_ram),
		BOTH(test_refuses_segment_in_the_3g_4g_hole),
		BOTH(test_refuses_segment_overlapping_boot_info_or_acpi_area),
		BOTH(test_refuses_overlapping_segments),
		BOTH(test_refuses_entry_outside_every_segment),
		ONE(test_refuses_entry_above_4g),
		BOTH(test_refuses_image_without_loadable_segment),
		BOTH(test_refuses_more_than_32_segments),
		BOTH(test_refuses_command_line_too_long),
		BOTH(test_refuses_foreign_elf_files),
		ONE(test_refuses_multiboot_header_in_non_elf_without_kludge),
		BOTH(test_refuses_ram_too_small_for_boot_info),
		ONE(test_aout_refuses_header_address_not_matching_file),
		ONE(test_aout_refuses_load_end_below_load_addr),
		ONE(test_aout_refuses_bss_end_below_load_end),
		ONE(test_aout_refuses_load_end_past_eof),
		ONE(test_aout_refuses_truncated_header),
		ONE(test_aout_refuses_entry_outside_loaded_range),
		ONE(test_aout_refuses_load_into_reserved_area),
	};

	return cmocka_run_group_tests_name("loader", tests, map_ram, unmap_ram);
}
