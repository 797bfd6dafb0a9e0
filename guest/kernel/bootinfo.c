/*
 * bootinfo.c - read what the Multiboot loader passed (command line,
 * memory map, loader name) into sysinfo, before anything can overwrite
 * it: QEMU, for one, puts the information right after the kernel image,
 * where the boot allocator starts.
 */
#include "boot_options.h"
#include "kernel.h"

#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MMAP (1u << 6)
#define MBI_FLAG_LOADER_NAME (1u << 9)
#define MMAP_AVAILABLE 1
#define MAX_MAPPABLE (512ULL << 30)   /* one page-directory-pointer table */

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};

struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

#define VMM_LOADER "vmbench vmm"

struct sysinfo sysinfo;
bool boot_loader_is_vmm;

static void add_ram(uint64_t base, uint64_t size)
{
	if (base >= MAX_MAPPABLE || size == 0 || sysinfo.nram == SYSINFO_MAX_RAM)
		return;
	if (size > MAX_MAPPABLE - base)
		size = MAX_MAPPABLE - base;
	sysinfo.ram[sysinfo.nram++] = (struct sysinfo_ram){base, size};
	sysinfo.ram_bytes += size;
}

void bootinfo_parse(uint32_t magic, uint32_t info_addr)
{
	const struct mb_info *mbi = (const struct mb_info *)(uintptr_t)info_addr;
	unsigned options;

	if (magic != MULTIBOOT_BOOT_MAGIC) {
		console_init(false, true);
		panic("not started by a Multiboot loader (EAX = 0x%x)", magic);
	}
	if (mbi->flags & MBI_FLAG_CMDLINE)
		strlcpy(sysinfo.cmdline, (const char *)(uintptr_t)mbi->cmdline,
			sizeof(sysinfo.cmdline));
	if (mbi->flags & MBI_FLAG_LOADER_NAME)
		strlcpy(sysinfo.loader, (const char *)(uintptr_t)mbi->boot_loader_name,
			sizeof(sysinfo.loader));
	if (mbi->flags & MBI_FLAG_MMAP) {
		uint64_t p = mbi->mmap_addr, end = p + mbi->mmap_length;

		while (p + sizeof(struct mb_mmap_entry) <= end) {
			const struct mb_mmap_entry *e = (const void *)(uintptr_t)p;

			if (e->type == MMAP_AVAILABLE)
				add_ram(e->addr, e->len);
			p += e->size + 4;
		}
	} else if (mbi->flags & MBI_FLAG_MEM) {
		add_ram(0, (uint64_t)mbi->mem_lower << 10);
		add_ram(1 << 20, (uint64_t)mbi->mem_upper << 10);
	}
	options = boot_options(sysinfo.cmdline);
	sysinfo.syscall_gate_closed = options & BOOT_OPT_GATE_CLOSED;
	sysinfo.x2apic_asked = options & BOOT_OPT_X2APIC;
	sysinfo.console_com1 = options & BOOT_OPT_CONSOLE_COM1;
	/* vmm names itself; its UART takes any amount of output at once.
	 * (sysinfo.loader is 64 bytes, zero past the name: one compare of 11
	 * bytes, which gcc makes two loads instead of a loop.) */
	boot_loader_is_vmm = !__builtin_memcmp(sysinfo.loader, VMM_LOADER, sizeof(VMM_LOADER) - 1);
}
