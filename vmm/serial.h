/*
 * serial.h - the console's output path (dev_serial.c), for a device other
 * than COM1 that writes guest output (dev_buffer_console.c).
 */
#ifndef VMM_SERIAL_H
#define VMM_SERIAL_H

#include <stddef.h>
#include <stdint.h>

/* Bytes into the console exactly as if written to COM1's data register:
 * a line at a time to stdout, --timestamps, VMBENCH-RESULT lines kept for
 * --json, the first-output time, the serial byte counter. */
void serial_output(const uint8_t *bytes, size_t n);

#endif /* VMM_SERIAL_H */
