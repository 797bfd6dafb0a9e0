/*
 * acpi.c - the ACPI tables the guest finds its CPUs and interrupt
 * controllers in: RSDP -> RSDT and XSDT -> MADT.
 *
 * The RSDP goes at the start of the BIOS area (0xE0000), so a guest's scan
 * for "RSD PTR " hits it on its first try; that matters where every guest
 * ring-0 instruction is emulated.  The MADT has one processor entry per
 * vCPU: a Local APIC entry while the APIC ID fits in 8 bits, a Local x2APIC
 * entry beyond, as the ACPI specification asks.  No interrupt source
 * override: KVM's default routing sends ISA IRQ n to IOAPIC pin n.
 */
#include "boot.h"

#include <string.h>

#define ACPI_OEM_ID "VMBNCH"
#define ACPI_OEM_TABLE_ID "VMBENCH "
#define ACPI_CREATOR_ID "VMBN"

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length, processor_uid, apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_x2apic {
	uint8_t type, length;
	uint16_t reserved;
	uint32_t x2apic_id, flags, processor_uid;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length, ioapic_id, reserved;
	uint32_t address, gsi_base;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length, processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

enum {
	MADT_LAPIC = 0,
	MADT_IOAPIC = 1,
	MADT_LAPIC_NMI = 4,
	MADT_X2APIC = 9,
	MADT_FLAG_PCAT_COMPAT = 1,
	MADT_CPU_ENABLED = 1,
};

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

static void header_init(struct acpi_header *h, const char *sig, uint32_t length,
			uint8_t revision)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->signature, sig, 4);
	h->length = length;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

static void header_seal(uint8_t *table)
{
	struct acpi_header *h = (struct acpi_header *)table;

	h->checksum = 0;
	h->checksum = checksum(table, h->length);
}

static size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static size_t madt_size(unsigned vcpus)
{
	size_t n = sizeof(struct acpi_header) + 8;

	for (unsigned i = 0; i < vcpus; i++)
		n += i < 255 ? sizeof(struct madt_lapic) : sizeof(struct madt_x2apic);
	return n + sizeof(struct madt_ioapic) + sizeof(struct madt_lapic_nmi);
}

/* APIC ID of vCPU i: KVM gives vCPU i the APIC ID i. */
static size_t madt_write(uint8_t *p, unsigned vcpus)
{
	size_t off = sizeof(struct acpi_header);
	uint32_t lapic = LAPIC_GPA, flags = MADT_FLAG_PCAT_COMPAT;

	memcpy(p + off, &lapic, 4);
	memcpy(p + off + 4, &flags, 4);
	off += 8;
	for (unsigned i = 0; i < vcpus; i++) {
		if (i < 255) {
			struct madt_lapic e = {MADT_LAPIC, sizeof(e), (uint8_t)i, (uint8_t)i,
					       MADT_CPU_ENABLED};
			memcpy(p + off, &e, sizeof(e));
			off += sizeof(e);
		} else {
			struct madt_x2apic e = {MADT_X2APIC, sizeof(e), 0, i, MADT_CPU_ENABLED, i};
			memcpy(p + off, &e, sizeof(e));
			off += sizeof(e);
		}
	}
	/* ID 0 is what KVM's in-kernel IOAPIC reports (QEMU uses 0 too). */
	struct madt_ioapic io = {MADT_IOAPIC, sizeof(io), 0, 0, IOAPIC_GPA, 0};
	memcpy(p + off, &io, sizeof(io));
	off += sizeof(io);
	/* LINT1 of every CPU is the NMI line (uid 0xff = all processors). */
	struct madt_lapic_nmi nmi = {MADT_LAPIC_NMI, sizeof(nmi), 0xff, 0, 1};
	memcpy(p + off, &nmi, sizeof(nmi));
	off += sizeof(nmi);

	header_init((struct acpi_header *)p, "APIC", (uint32_t)off, 5);
	header_seal(p);
	return off;
}

long acpi_build(uint8_t *buf, uint64_t gpa, size_t len, unsigned vcpus)
{
	size_t rsdp_off = 0;
	size_t xsdt_off = align16(sizeof(struct acpi_rsdp));
	size_t xsdt_len = sizeof(struct acpi_header) + 8;
	size_t rsdt_off = align16(xsdt_off + xsdt_len);
	size_t rsdt_len = sizeof(struct acpi_header) + 4;
	size_t madt_off = align16(rsdt_off + rsdt_len);
	size_t end = madt_off + madt_size(vcpus);
	uint64_t madt_gpa = gpa + madt_off;
	uint32_t madt_gpa32 = (uint32_t)madt_gpa;

	if (vcpus == 0 || end > len || gpa + end > MEM_HOLE_END || (gpa & 15))
		return -1;
	memset(buf, 0, end);

	madt_write(buf + madt_off, vcpus);

	header_init((struct acpi_header *)(buf + xsdt_off), "XSDT", (uint32_t)xsdt_len, 1);
	memcpy(buf + xsdt_off + sizeof(struct acpi_header), &madt_gpa, 8);
	header_seal(buf + xsdt_off);

	header_init((struct acpi_header *)(buf + rsdt_off), "RSDT", (uint32_t)rsdt_len, 1);
	memcpy(buf + rsdt_off + sizeof(struct acpi_header), &madt_gpa32, 4);
	header_seal(buf + rsdt_off);

	struct acpi_rsdp rsdp;
	memset(&rsdp, 0, sizeof(rsdp));
	memcpy(rsdp.signature, "RSD PTR ", 8);
	memcpy(rsdp.oem_id, ACPI_OEM_ID, 6);
	rsdp.revision = 2;
	rsdp.rsdt_address = (uint32_t)(gpa + rsdt_off);
	rsdp.length = sizeof(rsdp);
	rsdp.xsdt_address = gpa + xsdt_off;
	rsdp.checksum = checksum((const uint8_t *)&rsdp, 20);
	rsdp.extended_checksum = checksum((const uint8_t *)&rsdp, sizeof(rsdp));
	memcpy(buf + rsdp_off, &rsdp, sizeof(rsdp));
	return (long)end;
}
