/*
 * linux/types.h - the guest's own stand-in for the kernel's uapi
 * <linux/types.h>, which the copied virtio and PCI headers beside it
 * include.  The kernel's pulls in <asm/types.h> and <linux/posix_types.h>
 * from the build host; this defines, freestanding, only what those copies
 * use: the fixed-width __u/__s types, the little- and big-endian ones, and
 * __bitwise (which only means something to sparse).  See README.md.
 */
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H

#include <stdint.h>

#define __bitwise
#define __bitwise__ __bitwise

typedef uint8_t __u8;
typedef int8_t __s8;
typedef uint16_t __u16;
typedef int16_t __s16;
typedef uint32_t __u32;
typedef int32_t __s32;
typedef uint64_t __u64;
typedef int64_t __s64;

typedef __u16 __bitwise __le16;
typedef __u16 __bitwise __be16;
typedef __u32 __bitwise __le32;
typedef __u32 __bitwise __be32;
typedef __u64 __bitwise __le64;
typedef __u64 __bitwise __be64;

#endif
