/*
 * selftest.h - the parts of the selftest test (selftest.c).
 */
#ifndef GUEST_TESTS_SELFTEST_H
#define GUEST_TESTS_SELFTEST_H

#include "user.h"

/* crash.c: the kinds that fail on purpose (and status, spin). */
int selftest_crash(const struct test_args *args, const char *kind);

#endif
