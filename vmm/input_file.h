/*
 * input_file.h - the files vmm is given by path, the guest kernel and the
 * disk images (input_file.c), and the locks on disk images (image_lock.c).
 *
 * Each path is opened exactly once, without ever blocking (a FIFO or a
 * terminal would wait forever for a writer), and its type is checked on
 * the descriptor vmm then uses, so a path swapped after the check cannot
 * slip something else in.
 */
#ifndef VMM_INPUT_FILE_H
#define VMM_INPUT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Kinds of file an input may be. */
#define INPUT_REGULAR 1u
#define INPUT_BLOCK 2u

/* A guest file larger than this is refused rather than read into memory:
 * a multiboot kernel is a few MiB, and no segment can exceed guest RAM. */
#define GUEST_FILE_MAX (1024ull * 1024 * 1024)

/* "a FIFO", "a directory", "a socket", ... for messages. */
const char *input_type_name(mode_t mode);

/* Opens `path` with `flags` (O_RDONLY or O_RDWR; O_CLOEXEC and O_NOCTTY
 * are added) as vmm's `what` ("guest", "disk"), refusing any type not in
 * `kinds` - before opening, so that a device with side effects on open is
 * not opened at all, and again on the descriptor.  The open itself is
 * O_NONBLOCK (cleared before returning), so it returns at once whatever
 * the path names.  Returns the descriptor with its stat in *st, or -1 with
 * one line in errbuf and errno set (the open's, or EINVAL for a wrong
 * type). */
int input_open(const char *path, int flags, unsigned kinds, const char *what,
	       struct stat *st, char *errbuf, size_t errlen);

/* Reads the whole guest file into memory (malloc'd; the caller frees it).
 * Read, not mapped: a file truncated while vmm loads it then gives a
 * shorter image, which the loader refuses with its own message, where a
 * mapping would kill vmm with SIGBUS.  NULL with one line in errbuf. */
uint8_t *guest_file_read(const char *path, size_t *size, char *errbuf, size_t errlen);

/* Takes an OFD lock on the whole image open on `fd`, as QEMU does: shared
 * for a read-only disk, exclusive for a writable one, so two writers, or a
 * writer and a reader, never share an image - in one vmm (the same image
 * given twice) or in two processes.  The lock lives as long as the open
 * file description.  -1 with one line in errbuf naming the holder when it
 * can be found. */
int image_lock(int fd, bool shared, const char *path, char *errbuf, size_t errlen);

/* Whether `line` (from /proc/locks or a /proc/PID/fdinfo "lock:" line)
 * describes an OFD lock on the file (dev, ino).  For image_lock and its
 * tests. */
bool lock_line_is_ofd_lock_on(const char *line, dev_t dev, ino_t ino);

#endif /* VMM_INPUT_FILE_H */
