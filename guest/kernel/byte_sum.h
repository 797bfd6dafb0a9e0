/*
 * byte_sum.h - the sum of a buffer's bytes modulo 256 (ACPI's checksum),
 * eight bytes per step.  Where guest ring 0 is emulated every instruction
 * costs about a microsecond, and a byte loop spends four on each byte;
 * kept free of kernel headers so the host's unit tests can check it
 * against the byte loop (tests/unit/test_byte_sum.c).
 */
#ifndef GUEST_BYTE_SUM_H
#define GUEST_BYTE_SUM_H

#include <stddef.h>
#include <stdint.h>

uint8_t byte_sum(const void *p, size_t len);

#endif
