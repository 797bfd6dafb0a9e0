/*
 * loader.c - Multiboot 1 loader (ELF32 and ELF64 images).
 *
 * As GRUB and QEMU do: find the multiboot header in the first 8 KiB, load
 * the ELF program headers at their physical addresses (or, with the a.out
 * kludge, the byte range the header names), then write the information
 * structure with the memory map, the command line and our name.  The guest
 * enters in 32-bit protected mode with EAX = 0x2BADB002 and EBX pointing at
 * that structure (vcpu.c sets the registers).
 *
 * The image is untrusted input: every offset, size and address is checked
 * before use, with sums written so they cannot overflow.
 */
#include "boot.h"

#include "error.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MB_HEADER_MAGIC 0x1BADB002u
#define MB_SEARCH_LIMIT 8192
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE (1u << 2)
#define MB_FLAG_AOUT_KLUDGE (1u << 16)

#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MMAP (1u << 6)
#define MBI_FLAG_LOADER_NAME (1u << 9)

#define LOADER_NAME "vmbench vmm " VMM_VERSION

/* Layout of the boot information page (offsets from BOOTINFO_GPA). */
#define BI_INFO 0x0
#define BI_MMAP 0x100
#define BI_NAME 0x300
#define BI_CMDLINE 0x400

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4];
	uint32_t mmap_length, mmap_addr, drives_length, drives_addr;
	uint32_t config_table, boot_loader_name, apm_table;
	uint32_t vbe[6];
};

struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

/* One PT_LOAD segment (or the kludge's range), in a class-neutral form. */
struct segment {
	uint64_t offset, filesz, paddr, vaddr, memsz;
};

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const struct mb_header *find_header(const uint8_t *file, size_t size,
					   size_t *offset)
{
	size_t limit = size < MB_SEARCH_LIMIT ? size : MB_SEARCH_LIMIT;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		uint32_t w[3];

		memcpy(w, file + off, sizeof(w));
		if (w[0] == MB_HEADER_MAGIC && w[0] + w[1] + w[2] == 0) {
			*offset = off;
			return (const struct mb_header *)(file + off);
		}
	}
	return NULL;
}

/* Guest RAM vmm itself fills: the boot information and the ACPI tables. */
static bool overlaps_reserved(uint64_t start, uint64_t len)
{
	uint64_t rstart = BOOTINFO_GPA, rend = 0x100000;

	return len && start < rend && start + len > rstart;
}

static int place_segment(struct guest_memory *mem, const uint8_t *file, size_t size,
			 const struct segment *s, const struct segment *loaded,
			 unsigned nloaded, char *errbuf, size_t errlen)
{
	uint8_t *dst;

	if (s->filesz > s->memsz)
		return fail(errbuf, errlen,
			    "segment at 0x%llx has more file bytes than memory bytes",
			    (unsigned long long)s->paddr);
	if (s->offset > size || s->filesz > size - s->offset)
		return fail(errbuf, errlen,
			    "segment at 0x%llx extends past the end of the file",
			    (unsigned long long)s->paddr);
	dst = guest_ptr(mem, s->paddr, s->memsz);
	if (!dst)
		return fail(errbuf, errlen,
			    "segment 0x%llx-0x%llx lies outside guest RAM "
			    "(%llu MiB; RAM above 3 GiB continues at 4 GiB)",
			    (unsigned long long)s->paddr,
			    (unsigned long long)(s->paddr + s->memsz),
			    (unsigned long long)(mem->size / MIB));
	if (overlaps_reserved(s->paddr, s->memsz))
		return fail(errbuf, errlen,
			    "segment 0x%llx-0x%llx overlaps 0x%llx-0x100000, where vmm "
			    "puts the boot information and ACPI tables",
			    (unsigned long long)s->paddr,
			    (unsigned long long)(s->paddr + s->memsz),
			    (unsigned long long)BOOTINFO_GPA);
	for (unsigned i = 0; i < nloaded; i++) {
		if (s->paddr < loaded[i].paddr + loaded[i].memsz &&
		    loaded[i].paddr < s->paddr + s->memsz)
			return fail(errbuf, errlen, "segments at 0x%llx and 0x%llx overlap",
				    (unsigned long long)loaded[i].paddr,
				    (unsigned long long)s->paddr);
	}
	memcpy(dst, file + s->offset, s->filesz);
	/* Fresh anonymous RAM is zero already, and writing zeros to it would
	 * fault in every page of the bss (3.4 MiB for guest.elf), most of
	 * which the guest never touches: each transparent huge page costs
	 * 0.3-14 ms to fault on the PVM host measured.  Memory that was used
	 * before (unit tests reuse theirs) is cleared. */
	if (!mem->zeroed)
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	return 0;
}

#define MAX_SEGMENTS 32

/* Reads the program headers of an ELF32 or ELF64 file into segs[]. */
static int elf_segments(const uint8_t *file, size_t size, struct segment *segs,
			unsigned *nsegs, uint64_t *entry, char *errbuf, size_t errlen)
{
	bool is64;
	uint64_t phoff;
	unsigned phnum, phentsize;

	if (size < EI_NIDENT || memcmp(file, ELFMAG, SELFMAG))
		return fail(errbuf, errlen, "not an ELF file");
	if (file[EI_DATA] != ELFDATA2LSB)
		return fail(errbuf, errlen, "not a little-endian ELF file");
	if (file[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;

		if (size < sizeof(eh))
			return fail(errbuf, errlen, "truncated ELF header");
		memcpy(&eh, file, sizeof(eh));
		if (eh.e_machine != EM_386 && eh.e_machine != EM_X86_64)
			return fail(errbuf, errlen, "ELF file is not for x86 (machine %u)",
				    eh.e_machine);
		if (eh.e_type != ET_EXEC)
			return fail(errbuf, errlen, "ELF file is not an executable (type %u)",
				    eh.e_type);
		is64 = false;
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
		*entry = eh.e_entry;
		if (phentsize != sizeof(Elf32_Phdr))
			return fail(errbuf, errlen, "ELF program header size %u is wrong",
				    phentsize);
	} else if (file[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;

		if (size < sizeof(eh))
			return fail(errbuf, errlen, "truncated ELF header");
		memcpy(&eh, file, sizeof(eh));
		if (eh.e_machine != EM_X86_64 && eh.e_machine != EM_386)
			return fail(errbuf, errlen, "ELF file is not for x86 (machine %u)",
				    eh.e_machine);
		if (eh.e_type != ET_EXEC)
			return fail(errbuf, errlen, "ELF file is not an executable (type %u)",
				    eh.e_type);
		is64 = true;
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
		*entry = eh.e_entry;
		if (phentsize != sizeof(Elf64_Phdr))
			return fail(errbuf, errlen, "ELF program header size %u is wrong",
				    phentsize);
	} else {
		return fail(errbuf, errlen, "unknown ELF class %u", file[EI_CLASS]);
	}
	if (phoff > size || (uint64_t)phnum * phentsize > size - phoff)
		return fail(errbuf, errlen, "ELF program headers lie outside the file");

	*nsegs = 0;
	for (unsigned i = 0; i < phnum; i++) {
		struct segment s;
		uint32_t type;

		if (is64) {
			Elf64_Phdr ph;

			memcpy(&ph, file + phoff + (uint64_t)i * phentsize, sizeof(ph));
			type = ph.p_type;
			s = (struct segment){ph.p_offset, ph.p_filesz, ph.p_paddr,
					     ph.p_vaddr, ph.p_memsz};
		} else {
			Elf32_Phdr ph;

			memcpy(&ph, file + phoff + (uint64_t)i * phentsize, sizeof(ph));
			type = ph.p_type;
			s = (struct segment){ph.p_offset, ph.p_filesz, ph.p_paddr,
					     ph.p_vaddr, ph.p_memsz};
		}
		if (type != PT_LOAD || s.memsz == 0)
			continue;
		if (*nsegs == MAX_SEGMENTS)
			return fail(errbuf, errlen, "more than %d loadable segments",
				    MAX_SEGMENTS);
		segs[(*nsegs)++] = s;
	}
	if (*nsegs == 0)
		return fail(errbuf, errlen, "ELF file has no loadable segment");
	return 0;
}

/* The a.out kludge: the header itself says which file bytes go where. */
static int kludge_segment(const struct mb_header *h, size_t header_off, size_t size,
			  struct segment *s, uint64_t *entry, char *errbuf, size_t errlen)
{
	uint64_t load_end, bss_end;

	if (h->header_addr < h->load_addr ||
	    h->header_addr - h->load_addr > header_off)
		return fail(errbuf, errlen,
			    "multiboot header addresses do not match its place in the file");
	s->offset = header_off - (h->header_addr - h->load_addr);
	s->paddr = s->vaddr = h->load_addr;
	load_end = h->load_end_addr ? h->load_end_addr : h->load_addr + (size - s->offset);
	if (load_end < h->load_addr)
		return fail(errbuf, errlen, "multiboot load_end_addr is below load_addr");
	s->filesz = load_end - h->load_addr;
	bss_end = h->bss_end_addr ? h->bss_end_addr : load_end;
	if (bss_end < load_end)
		return fail(errbuf, errlen, "multiboot bss_end_addr is below load_end_addr");
	s->memsz = bss_end - h->load_addr;
	*entry = h->entry_addr;
	return 0;
}

/* Writes the information structure, memory map, loader name and command
 * line into the boot information page. */
static int write_boot_info(struct guest_memory *mem, const char *cmdline,
			   char *errbuf, size_t errlen)
{
	uint8_t *page = guest_ptr(mem, BOOTINFO_GPA, BOOTINFO_SIZE);
	struct mb_mmap_entry map[5];
	struct mb_info info;
	unsigned n = 0;
	uint64_t low_end = mem->regions[0].size;
	size_t cmdlen = strlen(cmdline);

	if (!page || low_end < 0x100000)
		return fail(errbuf, errlen, "guest RAM is too small for the boot information");
	if (cmdlen > GUEST_CMDLINE_MAX)
		return fail(errbuf, errlen, "guest command line is longer than %d bytes",
			    GUEST_CMDLINE_MAX);

	map[n++] = (struct mb_mmap_entry){20, 0, BIOS_AREA_START, 1};
	map[n++] = (struct mb_mmap_entry){20, BIOS_AREA_START, 0x100000 - BIOS_AREA_START, 2};
	map[n++] = (struct mb_mmap_entry){20, 0x100000, low_end - 0x100000, 1};
	if (mem->nregions > 1)
		map[n++] = (struct mb_mmap_entry){20, mem->regions[1].gpa,
						  mem->regions[1].size, 1};

	memset(&info, 0, sizeof(info));
	info.flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME;
	info.mem_lower = BIOS_AREA_START / KIB;
	info.mem_upper = (uint32_t)((low_end - 0x100000) / KIB);
	info.cmdline = BOOTINFO_GPA + BI_CMDLINE;
	info.mmap_addr = BOOTINFO_GPA + BI_MMAP;
	info.mmap_length = n * sizeof(map[0]);
	info.boot_loader_name = BOOTINFO_GPA + BI_NAME;

	memset(page, 0, BI_CMDLINE + cmdlen + 1);
	memcpy(page + BI_INFO, &info, sizeof(info));
	memcpy(page + BI_MMAP, map, n * sizeof(map[0]));
	memcpy(page + BI_NAME, LOADER_NAME, sizeof(LOADER_NAME));
	memcpy(page + BI_CMDLINE, cmdline, cmdlen + 1);
	return 0;
}

int multiboot_load(struct guest_memory *mem, const uint8_t *file, size_t size,
		   const char *cmdline, struct boot_entry *boot,
		   char *errbuf, size_t errlen)
{
	struct segment segs[MAX_SEGMENTS] = {{0}};
	unsigned nsegs = 0;
	const struct mb_header *h;
	size_t header_off;
	uint64_t entry = 0, entry_phys;
	bool entry_found = false;
	struct mb_header hdr;

	h = find_header(file, size, &header_off);
	if (!h) {
		if (size >= SELFMAG && !memcmp(file, ELFMAG, SELFMAG))
			return fail(errbuf, errlen,
				    "ELF file has no multiboot header in its first 8 KiB");
		return fail(errbuf, errlen,
			    "not a multiboot kernel (neither an ELF file nor a multiboot header)");
	}
	memset(&hdr, 0, sizeof(hdr));
	memcpy(&hdr, h, size - header_off < sizeof(hdr) ? size - header_off : sizeof(hdr));

	/* Bits 0-15 are requirements; the spec says to refuse any we do not
	 * meet.  We have no modules to align and always give memory info. */
	uint32_t unmet = hdr.flags & 0xffffu & ~(MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO);
	if (unmet & MB_FLAG_VIDEO_MODE)
		return fail(errbuf, errlen,
			    "guest asks for a video mode (multiboot flag 2); vmm has no display");
	if (unmet)
		return fail(errbuf, errlen,
			    "guest requires multiboot features 0x%x that vmm does not provide",
			    unmet);

	if (hdr.flags & MB_FLAG_AOUT_KLUDGE) {
		if (size - header_off < sizeof(hdr))
			return fail(errbuf, errlen, "multiboot header is truncated");
		if (kludge_segment(&hdr, header_off, size, &segs[0], &entry, errbuf, errlen))
			return -1;
		nsegs = 1;
	} else if (elf_segments(file, size, segs, &nsegs, &entry, errbuf, errlen)) {
		return -1;
	}

	boot->image_start = UINT64_MAX;
	boot->image_end = 0;
	entry_phys = entry;
	for (unsigned i = 0; i < nsegs; i++) {
		const struct segment *s = &segs[i];

		if (place_segment(mem, file, size, s, segs, i, errbuf, errlen))
			return -1;
		if (s->paddr < boot->image_start)
			boot->image_start = s->paddr;
		if (s->paddr + s->memsz > boot->image_end)
			boot->image_end = s->paddr + s->memsz;
		/* Like GRUB: an entry given as a virtual address is translated
		 * through the segment that contains it. */
		if (entry >= s->vaddr && entry - s->vaddr < s->memsz) {
			entry_phys = s->paddr + (entry - s->vaddr);
			entry_found = true;
		}
	}
	if (!entry_found)
		return fail(errbuf, errlen, "entry point 0x%llx is not inside a loaded segment",
			    (unsigned long long)entry);
	if (entry_phys >= MEM_HOLE_END)
		return fail(errbuf, errlen,
			    "entry point 0x%llx is above 4 GiB; multiboot enters in 32-bit mode",
			    (unsigned long long)entry_phys);
	if (write_boot_info(mem, cmdline, errbuf, errlen))
		return -1;
	boot->entry = entry_phys;
	boot->info_gpa = BOOTINFO_GPA + BI_INFO;
	return 0;
}
