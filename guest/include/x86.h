/*
 * x86.h - the two unprivileged instructions both rings use, vmm's CPUID
 * leaves, and the one loop both time.
 */
#ifndef GUEST_X86_H
#define GUEST_X86_H

#include <stdbool.h>
#include <stdint.h>

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* vmm's own CPUID leaves (docs/design.md): false unless a hypervisor is
 * present and 0x40000100 says "VMBENCHVMM"; else leaf[] = 0x40000101 (EAX
 * the kind of KVM, EBX flags, ECX the guest's level, EDX the buffer
 * console's port).  Ring 0 (the console) and ring 3 (vmexit, nested,
 * hostile) ask the same way. */
#define VMM_CPUID_BASE 0x40000100u
#define CPUID_1_ECX_HYPERVISOR (1u << 31)

static inline bool vmm_cpuid_leaf(uint32_t leaf[4])
{
	uint32_t r[4];

	cpuid(1, 0, r);
	if (!(r[2] & CPUID_1_ECX_HYPERVISOR))
		return false;
	cpuid(VMM_CPUID_BASE, 0, r);
	if (r[0] < VMM_CPUID_BASE + 1 || __builtin_memcmp(&r[1], "VMBENCHVMM\0\0", 12))
		return false;
	cpuid(VMM_CPUID_BASE + 1, 0, leaf);
	return true;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* A loop that does nothing n times.  SYS_EXIT_BENCH times it in ring 0
 * (its EXIT_BENCH_LOOP, the scaffolding of every ring-0 measurement) and
 * workloads/vmexit.c in ring 3: where guest ring 0 is emulated, it is
 * thousands of times slower there, whatever the machine's speed. */
static inline void empty_loop(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("" ::: "memory");
}

#endif
