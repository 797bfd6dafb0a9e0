/*
 * input_file.c - opening the files vmm is given by path: the guest kernel
 * and the disk images.
 *
 * Hostile or mistaken paths are expected: a FIFO (open() would wait for a
 * writer forever, with --timeout not yet armed), a terminal (it could become
 * vmm's controlling terminal), a directory, a socket, a file that another
 * process truncates or swaps while vmm reads it.  So: stat the path and
 * refuse a wrong type before opening it (a character device may act on
 * open), open it O_NONBLOCK, check the type again on the descriptor - the
 * one check that counts, since the path may have changed in between - and
 * use that descriptor for everything after.
 */
#include "input_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *input_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFBLK: return "a block device";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFCHR: return "a character device";
	default: return "a file of unknown type";
	}
}

static bool kind_allowed(mode_t mode, unsigned kinds)
{
	return ((kinds & INPUT_REGULAR) && S_ISREG(mode)) ||
	       ((kinds & INPUT_BLOCK) && S_ISBLK(mode));
}

static int wrong_type(const char *path, unsigned kinds, const char *what, mode_t mode,
		      char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "%s '%s' is not a regular file%s (it is %s)", what, path,
		 (kinds & INPUT_BLOCK) ? " or block device" : "", input_type_name(mode));
	errno = EINVAL;
	return -1;
}

static int open_failed(const char *path, const char *what, int err, char *errbuf,
		       size_t errlen)
{
	snprintf(errbuf, errlen, "cannot open %s '%s': %s", what, path, strerror(err));
	errno = err;
	return -1;
}

int input_open(const char *path, int flags, unsigned kinds, const char *what,
	       struct stat *st, char *errbuf, size_t errlen)
{
	int fd, fl;

	if (stat(path, st) < 0)
		return open_failed(path, what, errno, errbuf, errlen);
	if (!kind_allowed(st->st_mode, kinds))
		return wrong_type(path, kinds, what, st->st_mode, errbuf, errlen);
	fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return open_failed(path, what, errno, errbuf, errlen);
	if (fstat(fd, st) < 0) {
		int err = errno;

		close(fd);
		return open_failed(path, what, err, errbuf, errlen);
	}
	if (!kind_allowed(st->st_mode, kinds)) {
		close(fd);
		return wrong_type(path, kinds, what, st->st_mode, errbuf, errlen);
	}
	/* Regular files and block devices ignore O_NONBLOCK today; clear it
	 * all the same, so that no read or write of vmm's ever returns EAGAIN. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int err = errno;

		close(fd);
		return open_failed(path, what, err, errbuf, errlen);
	}
	return fd;
}

uint8_t *guest_file_read(const char *path, size_t *size, char *errbuf, size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = input_open(path, O_RDONLY, INPUT_REGULAR, "guest", &st, errbuf, errlen);

	if (fd < 0)
		return NULL;
	if (st.st_size == 0) {
		snprintf(errbuf, errlen, "guest '%s' is empty", path);
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > GUEST_FILE_MAX) {
		snprintf(errbuf, errlen, "guest '%s' is larger than %llu MiB: not a multiboot "
			 "kernel vmm can load", path, GUEST_FILE_MAX >> 20);
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		snprintf(errbuf, errlen, "out of memory for guest '%s' (%lld bytes)", path,
			 (long long)st.st_size);
		close(fd);
		return NULL;
	}
	/* Up to the size fstat gave; a file that shrinks meanwhile ends the
	 * read early and the loader sees the shorter image. */
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(errbuf, errlen, "cannot read guest '%s': %s", path,
				 strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got == 0) {
		snprintf(errbuf, errlen, "guest '%s' is empty", path);
		free(buf);
		return NULL;
	}
	*size = got;
	return buf;
}
