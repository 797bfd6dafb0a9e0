/*
 * cpuinfo.c - who the CPU says it is (CPUID works in ring 3).
 */
#include "user.h"

static void copy_regs(char *dst, const uint32_t *regs, unsigned n)
{
	memcpy(dst, regs, n * 4);
	dst[n * 4] = 0;
}

static void identify(struct cpu_identity *id)
{
	uint32_t r[4], max_ext;

	memset(id, 0, sizeof(*id));
	cpuid(0, 0, r);
	uint32_t vendor[3] = {r[1], r[3], r[2]};
	copy_regs(id->vendor, vendor, 3);

	cpuid(1, 0, r);
	id->stepping = r[0] & 0xf;
	id->model = (r[0] >> 4) & 0xf;
	id->family = (r[0] >> 8) & 0xf;
	if (id->family == 0xf)
		id->family += (r[0] >> 20) & 0xff;
	if (id->family >= 6)
		id->model |= ((r[0] >> 16) & 0xf) << 4;
	bool hypervisor = r[2] & (1u << 31);

	cpuid(0x80000000, 0, r);
	max_ext = r[0];
	if (max_ext >= 0x80000004) {
		uint32_t brand[12];

		for (unsigned i = 0; i < 3; i++)
			cpuid(0x80000002 + i, 0, brand + 4 * i);
		copy_regs(id->brand, brand, 12);
		/* Vendors pad the brand string with spaces on either side. */
		char *b = id->brand;
		while (*b == ' ')
			b++;
		memmove(id->brand, b, strlen(b) + 1);
		for (size_t l = strlen(id->brand); l && id->brand[l - 1] == ' '; l--)
			id->brand[l - 1] = 0;
	}
	if (hypervisor) {
		cpuid(0x40000000, 0, r);
		if (r[0] >= 0x40000000 && r[0] < 0x50000000) {
			uint32_t sig[3] = {r[1], r[2], r[3]};

			copy_regs(id->hypervisor, sig, 3);
		}
	}
}

/* Asked once and kept: the answers do not change, and each CPUID is an
 * exit to the hypervisor (a test and its result line both want them). */
void cpu_identify(struct cpu_identity *id)
{
	static struct cpu_identity known;
	static volatile bool asked;

	if (!__atomic_load_n(&asked, __ATOMIC_ACQUIRE)) {
		identify(&known);      /* two threads may both ask: same answer */
		__atomic_store_n(&asked, true, __ATOMIC_RELEASE);
	}
	*id = known;
}

uint32_t cpu_apic_id(void)
{
	uint32_t r[4];

	cpuid(0, 0, r);
	if (r[0] >= 0xb) {
		cpuid(0xb, 0, r);
		if (r[1])
			return r[3];
	}
	cpuid(1, 0, r);
	return r[1] >> 24;
}
