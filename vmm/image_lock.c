/*
 * image_lock.c - locks on disk images, as QEMU takes them: an open file
 * description (OFD) lock on the whole image, shared for a read-only disk,
 * exclusive for a writable one.
 *
 * OFD locks (F_OFD_SETLK), not POSIX ones: a POSIX lock belongs to the
 * process, so the same image opened twice by one vmm would not conflict
 * with itself, and closing any descriptor of the file would drop it.  An
 * OFD lock belongs to the open file description, so `--disk X --disk X`
 * conflicts like two processes do.  OFD and POSIX locks conflict with each
 * other, so a tool that takes POSIX locks is kept out too; flock() locks are
 * a separate kind and are not seen.
 *
 * Who holds the lock: F_OFD_GETLK gives l_pid -1 for an OFD lock, and
 * /proc/locks prints -1 as well; the holder's /proc/PID/fdinfo/FD has the
 * same "lock:" line, so the holder is found by scanning those, as
 * util-linux's lslocks does.  Only on the error path.
 */
#include "input_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

bool lock_line_is_ofd_lock_on(const char *line, dev_t dev, ino_t ino)
{
	char id[64];

	if (!strstr(line, "OFDLCK") || strstr(line, "->"))   /* "->": a waiter */
		return false;
	/* lock_get_status() in fs/locks.c: "%02x:%02x:%lu", the device of the
	 * file's superblock and its inode number. */
	snprintf(id, sizeof(id), " %02x:%02x:%lu ", major(dev), minor(dev), (unsigned long)ino);
	return strstr(line, id) != NULL;
}

/* Whether process `pid` has an OFD lock on (dev, ino) on one of its
 * descriptors. */
static bool pid_holds(const char *pid, dev_t dev, ino_t ino)
{
	char dir[64], path[320], line[256];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fdinfo", pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f))
			found = !strncmp(line, "lock:", 5) && lock_line_is_ofd_lock_on(line, dev, ino);
		fclose(f);
	}
	closedir(d);
	return found;
}

/* The process holding an OFD lock on (dev, ino) other than ours, or 0 when
 * none can be seen (another PID namespace, no permission). */
static pid_t find_ofd_holder(dev_t dev, ino_t ino)
{
	struct dirent *e;
	pid_t self = getpid(), holder = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while (!holder && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self)
			continue;
		if (pid_holds(e->d_name, dev, ino))
			holder = (pid_t)pid;
	}
	closedir(d);
	return holder;
}

/* " (pid 1234, vmm)", or "" when the holder is unknown. */
static void describe_holder(pid_t pid, char *out, size_t len)
{
	char path[64], comm[64] = "";
	FILE *f;

	out[0] = '\0';
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	if (comm[0])
		snprintf(out, len, " (pid %d, %s)", (int)pid, comm);
	else
		snprintf(out, len, " (pid %d)", (int)pid);
}

int image_lock(int fd, bool shared, const char *path, char *errbuf, size_t errlen)
{
	struct flock fl = {.l_type = shared ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
	struct stat st = {0};
	char who[96];
	pid_t holder;

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES) {
		snprintf(errbuf, errlen, "cannot lock disk '%s': %s (add ',locking=off' to use it "
			 "unlocked)", path, strerror(errno));
		return -1;
	}
	/* Is it one of our own disks?  Our other descriptor of the image is
	 * what conflicts. */
	if (fstat(fd, &st) == 0 && pid_holds("self", st.st_dev, st.st_ino)) {
		snprintf(errbuf, errlen, "disk '%s' is given twice: an image can be one "
			 "writable disk, or any number of readonly ones", path);
		return -1;
	}
	fl = (struct flock){.l_type = shared ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
	holder = 0;
	if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
		holder = fl.l_pid;      /* a POSIX lock: the kernel names its process */
	else
		holder = find_ofd_holder(st.st_dev, st.st_ino);
	describe_holder(holder, who, sizeof(who));
	snprintf(errbuf, errlen, "disk '%s' is in use by another process%s that holds a %s "
		 "lock on it", path, who, fl.l_type == F_RDLCK ? "read" : "write");
	return -1;
}
