/*
 * error.c - vmm's one-line error messages.  Every module reports through
 * vmm_error(); it depends on nothing, so no module calls back into vm.c or
 * vcpu.c to report.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

void vmm_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("vmm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
