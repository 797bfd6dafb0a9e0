/*
 * acpi.c - find the CPUs: RSDP (EBDA, then 0xE0000-0xFFFFF) -> XSDT or
 * RSDT -> MADT -> one Local APIC or Local x2APIC entry per CPU.  The BSP
 * becomes CPU 0, the rest follow in MADT order.
 *
 * Every table's checksum is verified, except in the tables vmm writes
 * (the loader said so): vmm's unit tests verify all of those
 * (tests/unit/test_acpi.c, 1 to 300 vCPUs), and summing them here was
 * half of this file's cost in emulated ring 0 (about 200 instructions).
 */
#include "byte_sum.h"
#include "kernel.h"

struct rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t extended_checksum, reserved[3];
} __attribute__((packed));

struct sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

#define MADT_LAPIC 0
#define MADT_X2APIC 9
#define MADT_ENABLED 1
#define MADT_ONLINE_CAPABLE 2

unsigned ncpus = 1;
uint16_t apic_to_cpu[MAX_APIC_ID];
bool smp_x2apic_ids;
static bool checksums_known_good;

static bool checksum_ok(const void *p, size_t len)
{
	return checksums_known_good || byte_sum(p, len) == 0;
}

/* A 4-byte signature as one load: ring 0 is built -ffreestanding, where
 * memcmp is a call and a byte loop. */
static bool signature_is(const char *field, const char *sig)
{
	uint32_t a, b;

	__builtin_memcpy(&a, field, 4);
	__builtin_memcpy(&b, sig, 4);
	return a == b;
}

/* A little-endian field of an ACPI table, inline (see signature_is). */
static uint32_t field32(const uint8_t *p)
{
	uint32_t v;

	__builtin_memcpy(&v, p, 4);
	return v;
}

/* The RSDP lies on a 16-byte boundary in [start, end): one 8-byte compare
 * per boundary, the loop unrolled so that its own instructions are paid
 * once per four boundaries.  vmm's RSDP is the first; SeaBIOS's (QEMU) is
 * some 5,000 boundaries in, 50,000 ring-0 instructions before this loop
 * was tightened. */
static const struct rsdp *scan_rsdp(uintptr_t start, uintptr_t end)
{
	const uint64_t *q = phys_ptr(start);
	uint64_t sig;
	size_t steps;

	if (end < start + sizeof(struct rsdp))
		return NULL;
	__builtin_memcpy(&sig, "RSD PTR ", 8);
	steps = (end - sizeof(struct rsdp) - start) / 16 + 1;
#pragma GCC unroll 4
	for (size_t i = 0; i < steps; i++)
		if (q[2 * i] == sig && checksum_ok(&q[2 * i], 20))
			return (const struct rsdp *)&q[2 * i];
	return NULL;
}

static const struct rsdp *find_rsdp(void)
{
	/* The BIOS data area's EBDA segment comes first, as the spec says;
	 * vmm and QEMU leave it 0 and put the RSDP at the BIOS area. */
	uintptr_t ebda = (uintptr_t)*(const volatile uint16_t *)phys_ptr(0x40e) << 4;
	const struct rsdp *r = NULL;

	if (ebda >= 0x80000 && ebda < 0xa0000)
		r = scan_rsdp(ebda, ebda + 1024);
	return r ? r : scan_rsdp(0xe0000, 0x100000);
}

static const struct sdt_header *table(uint64_t addr, const char *sig)
{
	const struct sdt_header *h = (const void *)(uintptr_t)addr;

	if (!addr || addr >= (4ULL << 30) || !signature_is(h->signature, sig) ||
	    h->length < sizeof(*h) || !checksum_ok(h, h->length))
		return NULL;
	return h;
}

static const struct sdt_header *find_madt(const struct rsdp *r)
{
	const struct sdt_header *root;
	unsigned width;

	if (r->revision >= 2 && r->xsdt && (root = table(r->xsdt, "XSDT")))
		width = 8;
	else if ((root = table(r->rsdt, "RSDT")))
		width = 4;
	else
		return NULL;
	for (size_t off = sizeof(*root); off + width <= root->length; off += width) {
		const uint8_t *entry = (const uint8_t *)root + off;
		uint64_t addr = field32(entry);
		const struct sdt_header *t;

		if (width == 8)
			addr |= (uint64_t)field32(entry + 4) << 32;
		if ((t = table(addr, "APIC")))
			return t;
	}
	return NULL;
}

static void add_cpu(uint32_t apic_id, uint32_t bsp_id)
{
	unsigned index;

	if (apic_id == bsp_id)
		return;             /* already CPU 0 */
	if (apic_id >= MAX_APIC_ID || ncpus == MAX_CPUS) {
		kprintf("vmbench: ignoring CPU with APIC ID %u (limit: %u CPUs, IDs below %u)\n",
			apic_id, MAX_CPUS, MAX_APIC_ID);
		return;
	}
	index = ncpus++;
	cpus[index].index = index;
	cpus[index].apic_id = apic_id;
	apic_to_cpu[apic_id] = (uint16_t)index;
	if (apic_id > 254)
		smp_x2apic_ids = true;
}

bool acpi_find_cpus(bool tables_from_vmm)
{
	const struct rsdp *r;
	const struct sdt_header *madt;
	uint32_t bsp_id = cpuid_apic_id();

	checksums_known_good = tables_from_vmm;
	r = find_rsdp();

	cpus[0].index = 0;
	cpus[0].apic_id = bsp_id;
	if (bsp_id < MAX_APIC_ID)
		apic_to_cpu[bsp_id] = 0;
	if (!r || !(madt = find_madt(r)))
		return false;
	memcpy(sysinfo.acpi_oem, r->oem_id, 6);

	const uint8_t *p = (const uint8_t *)madt + sizeof(*madt) + 8;
	const uint8_t *end = (const uint8_t *)madt + madt->length;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		if (p[0] == MADT_LAPIC && p[1] >= 8) {
			if (field32(p + 4) & (MADT_ENABLED | MADT_ONLINE_CAPABLE))
				add_cpu(p[3], bsp_id);
		} else if (p[0] == MADT_X2APIC && p[1] >= 16) {
			if (field32(p + 8) & (MADT_ENABLED | MADT_ONLINE_CAPABLE))
				add_cpu(field32(p + 4), bsp_id);
		}
		p += p[1];
	}
	return true;
}
