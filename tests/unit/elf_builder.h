/*
 * elf_builder.h - synthetic Multiboot 1 images, for the loader's unit tests
 * and the fuzzers' seed corpus.
 *
 *   image_build()       an ELF32 or ELF64 executable: ELF header, program
 *                       headers, the multiboot header (where the spec says,
 *                       or wherever a test wants it), then each segment's
 *                       file bytes
 *   image_build_aout()  a flat image loaded through the a.out kludge
 *   image_patch()       change one ELF field, whatever the class, to make
 *                       a malformed image from a good one
 *
 * Segment i's file byte j is seg_byte(i, j), so a test can check what
 * landed in guest memory.  Header-only (static inline), no dependency on vmm.
 */
#ifndef ELF_BUILDER_H
#define ELF_BUILDER_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MB_MAGIC 0x1BADB002u
#define MB_HEADER_BYTES 32u        /* magic, flags, checksum + kludge fields */
#define MB_PAGE_ALIGN (1u << 0)
#define MB_MEMORY_INFO (1u << 1)
#define MB_VIDEO_MODE (1u << 2)
#define MB_AOUT_KLUDGE (1u << 16)
#define MB_SEARCH_BYTES 8192u

#define ELFB_MAX_SEGS 40

/* Words of the multiboot header, for mb_set(). */
enum mb_word {
	MB_W_MAGIC, MB_W_FLAGS, MB_W_CHECKSUM, MB_W_HEADER_ADDR, MB_W_LOAD_ADDR,
	MB_W_LOAD_END_ADDR, MB_W_BSS_END_ADDR, MB_W_ENTRY_ADDR,
};

struct seg_spec {
	uint32_t type;            /* 0 means PT_LOAD */
	uint64_t paddr;
	uint64_t vaddr;           /* 0 means the same as paddr */
	uint64_t filesz;
	uint64_t memsz;           /* 0 means the same as filesz */
};

struct image_spec {
	bool elf64;
	uint64_t entry;
	unsigned nsegs;
	struct seg_spec seg[ELFB_MAX_SEGS];
	uint32_t mb_flags;
	size_t mb_offset;         /* 0: right after the program headers */
	bool no_mb;               /* no multiboot header at all */
	bool bad_checksum;
};

struct image {
	uint8_t *data;
	size_t size;
	bool elf64;
	size_t phoff;             /* where the program headers are */
	size_t mb_offset;         /* where the multiboot header is */
	size_t seg_offset[ELFB_MAX_SEGS];
};

static inline uint8_t seg_byte(unsigned seg, uint64_t j)
{
	return (uint8_t)(0xa5 + seg * 7 + j * 13);
}

static inline void *elfb_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		fprintf(stderr, "elf_builder: out of memory\n");
		abort();
	}
	return p;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Rewrites the checksum so that magic + flags + checksum == 0. */
static inline void mb_fix_checksum(struct image *img)
{
	uint8_t *h = img->data + img->mb_offset;

	put32(h + 8, 0u - get32(h) - get32(h + 4));
}

/* Sets one word of the multiboot header; the checksum stays right. */
static inline void mb_set(struct image *img, enum mb_word w, uint32_t v)
{
	put32(img->data + img->mb_offset + 4 * w, v);
	if (w != MB_W_CHECKSUM)
		mb_fix_checksum(img);
}

static inline void write_mb_header(uint8_t *h, uint32_t flags, bool bad_checksum)
{
	put32(h, MB_MAGIC);
	put32(h + 4, flags);
	put32(h + 8, 0u - MB_MAGIC - flags + (bad_checksum ? 1 : 0));
}

static inline size_t align_up(size_t n, size_t a)
{
	return (n + a - 1) / a * a;
}

static inline void image_build(const struct image_spec *s, struct image *img)
{
	size_t ehsize = s->elf64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phsize = s->elf64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	size_t phoff = ehsize, cursor, mb_off;

	memset(img, 0, sizeof(*img));
	cursor = phoff + s->nsegs * phsize;
	mb_off = s->mb_offset ? s->mb_offset : align_up(cursor, 4);
	if (!s->no_mb && mb_off + MB_HEADER_BYTES > cursor)
		cursor = mb_off + MB_HEADER_BYTES;
	cursor = align_up(cursor, 16);
	for (unsigned i = 0; i < s->nsegs; i++) {
		img->seg_offset[i] = cursor;
		cursor = align_up(cursor + s->seg[i].filesz, 16);
	}
	img->size = cursor;
	img->data = elfb_alloc(cursor);
	img->elf64 = s->elf64;
	img->phoff = phoff;
	img->mb_offset = mb_off;

	memcpy(img->data, ELFMAG, SELFMAG);
	img->data[EI_CLASS] = s->elf64 ? ELFCLASS64 : ELFCLASS32;
	img->data[EI_DATA] = ELFDATA2LSB;
	img->data[EI_VERSION] = EV_CURRENT;
	if (s->elf64) {
		Elf64_Ehdr eh;

		memcpy(&eh, img->data, sizeof(eh));
		eh.e_type = ET_EXEC;
		eh.e_machine = EM_X86_64;
		eh.e_version = EV_CURRENT;
		eh.e_entry = s->entry;
		eh.e_phoff = phoff;
		eh.e_ehsize = sizeof(eh);
		eh.e_phentsize = sizeof(Elf64_Phdr);
		eh.e_phnum = (Elf64_Half)s->nsegs;
		memcpy(img->data, &eh, sizeof(eh));
	} else {
		Elf32_Ehdr eh;

		memcpy(&eh, img->data, sizeof(eh));
		eh.e_type = ET_EXEC;
		eh.e_machine = EM_386;
		eh.e_version = EV_CURRENT;
		eh.e_entry = (Elf32_Addr)s->entry;
		eh.e_phoff = (Elf32_Off)phoff;
		eh.e_ehsize = sizeof(eh);
		eh.e_phentsize = sizeof(Elf32_Phdr);
		eh.e_phnum = (Elf32_Half)s->nsegs;
		memcpy(img->data, &eh, sizeof(eh));
	}
	for (unsigned i = 0; i < s->nsegs; i++) {
		const struct seg_spec *g = &s->seg[i];
		uint32_t type = g->type ? g->type : PT_LOAD;
		uint64_t vaddr = g->vaddr ? g->vaddr : g->paddr;
		uint64_t memsz = g->memsz ? g->memsz : g->filesz;
		uint8_t *ph = img->data + phoff + i * phsize;

		if (s->elf64) {
			Elf64_Phdr p = {.p_type = type, .p_flags = PF_R | PF_W | PF_X,
					.p_offset = img->seg_offset[i], .p_vaddr = vaddr,
					.p_paddr = g->paddr, .p_filesz = g->filesz,
					.p_memsz = memsz, .p_align = 16};
			memcpy(ph, &p, sizeof(p));
		} else {
			Elf32_Phdr p = {.p_type = type, .p_flags = PF_R | PF_W | PF_X,
					.p_offset = (Elf32_Off)img->seg_offset[i],
					.p_vaddr = (Elf32_Addr)vaddr,
					.p_paddr = (Elf32_Addr)g->paddr,
					.p_filesz = (Elf32_Word)g->filesz,
					.p_memsz = (Elf32_Word)memsz, .p_align = 16};
			memcpy(ph, &p, sizeof(p));
		}
		for (uint64_t j = 0; j < g->filesz; j++)
			img->data[img->seg_offset[i] + j] = seg_byte(i, j);
	}
	if (!s->no_mb)
		write_mb_header(img->data + mb_off, s->mb_flags, s->bad_checksum);
}

/* A flat image for the a.out kludge: `file_size` bytes loaded at
 * load_addr, the multiboot header at header_offset, `bss` zero bytes after
 * the file, entry at load_addr + entry_offset.  File byte j is seg_byte(0, j)
 * (except the header). */
struct aout_spec {
	uint32_t load_addr;
	size_t header_offset;
	size_t file_size;
	uint32_t bss;
	uint32_t entry_offset;
	uint32_t extra_flags;
};

static inline void image_build_aout(const struct aout_spec *s, struct image *img)
{
	uint32_t flags = MB_AOUT_KLUDGE | MB_PAGE_ALIGN | MB_MEMORY_INFO | s->extra_flags;
	uint32_t load_end = s->load_addr + (uint32_t)s->file_size;
	uint8_t *h;

	memset(img, 0, sizeof(*img));
	img->size = s->file_size;
	img->data = elfb_alloc(s->file_size);
	img->mb_offset = s->header_offset;
	for (size_t j = 0; j < s->file_size; j++)
		img->data[j] = seg_byte(0, j);
	h = img->data + s->header_offset;
	write_mb_header(h, flags, false);
	put32(h + 4 * MB_W_HEADER_ADDR, s->load_addr + (uint32_t)s->header_offset);
	put32(h + 4 * MB_W_LOAD_ADDR, s->load_addr);
	put32(h + 4 * MB_W_LOAD_END_ADDR, load_end);
	put32(h + 4 * MB_W_BSS_END_ADDR, s->bss ? load_end + s->bss : 0);
	put32(h + 4 * MB_W_ENTRY_ADDR, s->load_addr + s->entry_offset);
}

static inline void image_free(struct image *img)
{
	free(img->data);
	img->data = NULL;
}

/* ELF fields image_patch() can change, in either class. */
enum elf_field {
	EH_TYPE, EH_MACHINE, EH_ENTRY, EH_PHOFF, EH_PHENTSIZE, EH_PHNUM,
	PH_TYPE, PH_OFFSET, PH_VADDR, PH_PADDR, PH_FILESZ, PH_MEMSZ,
};

/* Sets field f (of program header `seg` for the PH_ ones) to v, truncated
 * to the field's width. */
static inline void image_patch(struct image *img, enum elf_field f, unsigned seg, uint64_t v)
{
	uint8_t *p = img->data;
	size_t off = 0, width = 0;

	if (img->elf64) {
		size_t ph = img->phoff + seg * sizeof(Elf64_Phdr);

		switch (f) {
		case EH_TYPE: off = offsetof(Elf64_Ehdr, e_type); width = 2; break;
		case EH_MACHINE: off = offsetof(Elf64_Ehdr, e_machine); width = 2; break;
		case EH_ENTRY: off = offsetof(Elf64_Ehdr, e_entry); width = 8; break;
		case EH_PHOFF: off = offsetof(Elf64_Ehdr, e_phoff); width = 8; break;
		case EH_PHENTSIZE: off = offsetof(Elf64_Ehdr, e_phentsize); width = 2; break;
		case EH_PHNUM: off = offsetof(Elf64_Ehdr, e_phnum); width = 2; break;
		case PH_TYPE: off = ph + offsetof(Elf64_Phdr, p_type); width = 4; break;
		case PH_OFFSET: off = ph + offsetof(Elf64_Phdr, p_offset); width = 8; break;
		case PH_VADDR: off = ph + offsetof(Elf64_Phdr, p_vaddr); width = 8; break;
		case PH_PADDR: off = ph + offsetof(Elf64_Phdr, p_paddr); width = 8; break;
		case PH_FILESZ: off = ph + offsetof(Elf64_Phdr, p_filesz); width = 8; break;
		case PH_MEMSZ: off = ph + offsetof(Elf64_Phdr, p_memsz); width = 8; break;
		}
	} else {
		size_t ph = img->phoff + seg * sizeof(Elf32_Phdr);

		switch (f) {
		case EH_TYPE: off = offsetof(Elf32_Ehdr, e_type); width = 2; break;
		case EH_MACHINE: off = offsetof(Elf32_Ehdr, e_machine); width = 2; break;
		case EH_ENTRY: off = offsetof(Elf32_Ehdr, e_entry); width = 4; break;
		case EH_PHOFF: off = offsetof(Elf32_Ehdr, e_phoff); width = 4; break;
		case EH_PHENTSIZE: off = offsetof(Elf32_Ehdr, e_phentsize); width = 2; break;
		case EH_PHNUM: off = offsetof(Elf32_Ehdr, e_phnum); width = 2; break;
		case PH_TYPE: off = ph + offsetof(Elf32_Phdr, p_type); width = 4; break;
		case PH_OFFSET: off = ph + offsetof(Elf32_Phdr, p_offset); width = 4; break;
		case PH_VADDR: off = ph + offsetof(Elf32_Phdr, p_vaddr); width = 4; break;
		case PH_PADDR: off = ph + offsetof(Elf32_Phdr, p_paddr); width = 4; break;
		case PH_FILESZ: off = ph + offsetof(Elf32_Phdr, p_filesz); width = 4; break;
		case PH_MEMSZ: off = ph + offsetof(Elf32_Phdr, p_memsz); width = 4; break;
		}
	}
	/* Little-endian, like the images themselves. */
	for (size_t i = 0; i < width; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

/* Writes the image to `path`; returns 0 or -1. */
static inline int image_write(const struct image *img, const char *path)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(img->data, 1, img->size, f) == img->size;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

#endif
