/*
 * test_acpi.c - acpi_build() (vmm/acpi.c): the tables are read back the
 * way a guest reads them - scan for the RSDP, follow RSDT and XSDT to the
 * MADT, check every checksum - for 1 to 300 vCPUs.
 */
#include "unit.h"

#include "boot.h"

#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_LAPIC_NMI 4
#define MADT_X2APIC 9
#define FILLER 0xab

/* The BIOS area as the guest sees it: buf holds [base, base + len). */
struct area {
	uint8_t *buf;
	uint64_t base;
	size_t len;
	long used;
};

static const uint8_t *at(const struct area *a, uint64_t gpa, uint64_t len)
{
	if (gpa < a->base || gpa - a->base > a->len || len > a->len - (gpa - a->base))
		fail_msg("0x%llx+%llu lies outside the ACPI area", (unsigned long long)gpa,
			 (unsigned long long)len);
	if (gpa - a->base + len > (uint64_t)a->used)
		fail_msg("0x%llx+%llu lies past what acpi_build said it used (%ld)",
			 (unsigned long long)gpa, (unsigned long long)len, a->used);
	return a->buf + (gpa - a->base);
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void build(struct area *a, uint64_t base, size_t len, unsigned vcpus)
{
	a->buf = malloc(len);
	assert_non_null(a->buf);
	memset(a->buf, FILLER, len);
	a->base = base;
	a->len = len;
	a->used = acpi_build(a->buf, base, len, vcpus);
	if (a->used <= 0)
		fail_msg("acpi_build for %u vCPUs returned %ld", vcpus, a->used);
	assert_true((size_t)a->used <= len);
	for (size_t i = (size_t)a->used; i < len; i++)
		if (a->buf[i] != FILLER)
			fail_msg("byte %zu, past the %ld bytes used, was written", i, a->used);
}

/* Finds the RSDP as a guest does: "RSD PTR " on a 16-byte boundary. */
static const uint8_t *find_rsdp(const struct area *a)
{
	for (size_t off = 0; off + 36 <= (size_t)a->used; off += 16)
		if (!memcmp(a->buf + off, "RSD PTR ", 8))
			return a->buf + off;
	fail_msg("no RSDP in the BIOS area");
	return NULL;
}

/* A table's header: signature, length within the area, checksum. */
static const uint8_t *table(const struct area *a, uint64_t gpa, const char *sig)
{
	const uint8_t *h = at(a, gpa, 36);
	uint32_t len = get32(h + 4);

	if (memcmp(h, sig, 4))
		fail_msg("table at 0x%llx is '%.4s', expected '%s'", (unsigned long long)gpa,
			 (const char *)h, sig);
	assert_true(len >= 36);
	h = at(a, gpa, len);
	if (sum(h, len))
		fail_msg("%s checksum is wrong", sig);
	return h;
}

struct madt_info {
	uint32_t lapic_addr, flags;
	unsigned nlapic, nx2apic, nioapic, nnmi;
	bool seen[512];          /* APIC IDs present */
	bool uid_seen[512];
	uint32_t ioapic_addr, ioapic_gsi;
	uint8_t nmi_uid, nmi_lint;
	uint16_t nmi_flags;
};

/* Walks RSDP -> RSDT and XSDT -> MADT and decodes the MADT. */
static void read_tables(const struct area *a, struct madt_info *m)
{
	const uint8_t *rsdp = find_rsdp(a), *rsdt, *xsdt, *madt;
	uint32_t madt_len;

	assert_int_equal(sum(rsdp, 20), 0);          /* ACPI 1.0 checksum */
	assert_int_equal(rsdp[15], 2);               /* revision: XSDT valid */
	assert_int_equal(get32(rsdp + 20), 36);      /* length */
	assert_int_equal(sum(rsdp, 36), 0);          /* extended checksum */

	rsdt = table(a, get32(rsdp + 16), "RSDT");
	xsdt = table(a, get64(rsdp + 24), "XSDT");
	assert_int_equal(get32(rsdt + 4), 36 + 4);   /* one entry each */
	assert_int_equal(get32(xsdt + 4), 36 + 8);
	assert_int_equal(get32(rsdt + 36), get64(xsdt + 36));   /* the same MADT */

	madt = table(a, get64(xsdt + 36), "APIC");
	madt_len = get32(madt + 4);
	memset(m, 0, sizeof(*m));
	m->lapic_addr = get32(madt + 36);
	m->flags = get32(madt + 40);
	for (uint32_t off = 44; off < madt_len;) {
		uint8_t type = madt[off], len;

		assert_true(off + 2 <= madt_len);
		len = madt[off + 1];
		if (len < 2 || off + len > madt_len)
			fail_msg("MADT entry at %u has length %u (table %u)", off, len, madt_len);
		const uint8_t *e = madt + off;
		switch (type) {
		case MADT_LAPIC:
			assert_int_equal(len, 8);
			assert_true(e[3] < 255);          /* 255 is the broadcast ID */
			assert_false(m->seen[e[3]]);
			m->seen[e[3]] = true;
			assert_false(m->uid_seen[e[2]]);
			m->uid_seen[e[2]] = true;
			assert_int_equal(get32(e + 4) & 1, 1);   /* enabled */
			m->nlapic++;
			break;
		case MADT_X2APIC: {
			uint32_t id = get32(e + 4), uid = get32(e + 12);

			assert_int_equal(len, 16);
			assert_true(id >= 255 && id < 512);
			assert_false(m->seen[id]);
			m->seen[id] = true;
			assert_true(uid < 512);
			assert_false(m->uid_seen[uid]);
			m->uid_seen[uid] = true;
			assert_int_equal(get32(e + 8) & 1, 1);
			m->nx2apic++;
			break;
		}
		case MADT_IOAPIC:
			assert_int_equal(len, 12);
			m->ioapic_addr = get32(e + 4);
			m->ioapic_gsi = get32(e + 8);
			m->nioapic++;
			break;
		case MADT_LAPIC_NMI:
			assert_int_equal(len, 6);
			m->nmi_uid = e[2];
			m->nmi_flags = get16(e + 3);
			m->nmi_lint = e[5];
			m->nnmi++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", type);
		}
		off += len;
	}
}

static void check_vcpus(unsigned vcpus)
{
	struct area a;
	struct madt_info m;

	build(&a, ACPI_GPA, ACPI_SIZE, vcpus);
	read_tables(&a, &m);
	assert_int_equal(m.lapic_addr, LAPIC_GPA);
	assert_int_equal(m.flags & 1, 1);   /* PC-AT 8259s present (masked by the guest) */
	/* One entry per vCPU: Local APIC up to ID 254, Local x2APIC from 255. */
	assert_int_equal(m.nlapic, vcpus < 255 ? vcpus : 255);
	assert_int_equal(m.nx2apic, vcpus > 255 ? vcpus - 255 : 0);
	for (unsigned id = 0; id < 512; id++)
		if (m.seen[id] != (id < vcpus))
			fail_msg("%u vCPUs: APIC ID %u %s", vcpus, id,
				 m.seen[id] ? "listed but should not be" : "missing");
	assert_int_equal(m.nioapic, 1);
	assert_int_equal(m.ioapic_addr, IOAPIC_GPA);
	assert_int_equal(m.ioapic_gsi, 0);
	assert_int_equal(m.nnmi, 1);
	assert_int_equal(m.nmi_uid, 0xff);   /* all processors */
	assert_int_equal(m.nmi_lint, 1);
	free(a.buf);
}

static void test_tables_for_1_vcpu(void **state) { (void)state; check_vcpus(1); }
static void test_tables_for_2_vcpus(void **state) { (void)state; check_vcpus(2); }
static void test_tables_for_8_vcpus(void **state) { (void)state; check_vcpus(8); }
static void test_tables_for_254_vcpus(void **state) { (void)state; check_vcpus(254); }
static void test_tables_for_255_vcpus(void **state) { (void)state; check_vcpus(255); }
static void test_tables_for_256_vcpus(void **state) { (void)state; check_vcpus(256); }
static void test_tables_for_300_vcpus(void **state) { (void)state; check_vcpus(300); }

static void test_addresses_follow_the_given_base(void **state)
{
	struct area a;
	struct madt_info m;

	(void)state;
	build(&a, 0xf0000, 0x10000, 4);   /* read_tables checks every pointer */
	read_tables(&a, &m);
	assert_int_equal(m.nlapic, 4);
	free(a.buf);
}

static void test_refuses_buffer_too_small_without_writing(void **state)
{
	struct area a;
	long need;

	(void)state;
	build(&a, ACPI_GPA, ACPI_SIZE, 300);
	need = a.used;
	memset(a.buf, FILLER, ACPI_SIZE);
	assert_int_equal(acpi_build(a.buf, ACPI_GPA, (size_t)need - 1, 300), -1);
	assert_int_equal(acpi_build(a.buf, ACPI_GPA, 0, 1), -1);
	for (size_t i = 0; i < ACPI_SIZE; i++)
		if (a.buf[i] != FILLER)
			fail_msg("a refused build wrote byte %zu", i);
	/* Exactly enough is enough. */
	assert_int_equal(acpi_build(a.buf, ACPI_GPA, (size_t)need, 300), need);
	free(a.buf);
}

static void test_refuses_zero_vcpus(void **state)
{
	uint8_t *buf = malloc(ACPI_SIZE);

	(void)state;
	assert_non_null(buf);
	assert_int_equal(acpi_build(buf, ACPI_GPA, ACPI_SIZE, 0), -1);
	free(buf);
}

static void test_refuses_misaligned_or_too_high_base(void **state)
{
	uint8_t *buf = malloc(ACPI_SIZE);

	(void)state;
	assert_non_null(buf);
	assert_int_equal(acpi_build(buf, ACPI_GPA + 4, ACPI_SIZE, 1), -1);   /* RSDP: 16 */
	/* The RSDT holds 32-bit addresses: nothing may end above 4 GiB. */
	assert_int_equal(acpi_build(buf, MEM_HOLE_END - 64, ACPI_SIZE, 1), -1);
	assert_int_equal(acpi_build(buf, 1ULL << 40, ACPI_SIZE, 1), -1);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_for_1_vcpu),
		cmocka_unit_test(test_tables_for_2_vcpus),
		cmocka_unit_test(test_tables_for_8_vcpus),
		cmocka_unit_test(test_tables_for_254_vcpus),
		cmocka_unit_test(test_tables_for_255_vcpus),
		cmocka_unit_test(test_tables_for_256_vcpus),
		cmocka_unit_test(test_tables_for_300_vcpus),
		cmocka_unit_test(test_addresses_follow_the_given_base),
		cmocka_unit_test(test_refuses_buffer_too_small_without_writing),
		cmocka_unit_test(test_refuses_zero_vcpus),
		cmocka_unit_test(test_refuses_misaligned_or_too_high_base),
	};

	return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
