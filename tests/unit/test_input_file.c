/*
 * test_input_file.c - the files vmm is given by path (vmm/input_file.c)
 * and the locks on disk images (vmm/image_lock.c): a FIFO is refused
 * without blocking, the guest file is read and not mapped (a file
 * truncated afterwards cannot SIGBUS vmm), a writable disk on a read-only
 * block device is refused, and an image is one writable disk at a time, in
 * one vmm or between processes.
 */
#include "unit.h"

#include "input_file.h"
#include "virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#define ERRLEN 512
/* Guards against the hang these tests are about (a FIFO's open waiting for
 * a writer): SIGALRM then kills the program, a failure.  Nothing here
 * takes more than milliseconds. */
#define HANG_GUARD_S 60

struct scratch {
	char dir[64];
	char fifo[96];
	char file[96];
	struct guest_memory mem;
};

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));
	int fd;

	if (!s)
		return -1;
	strcpy(s->dir, "/tmp/vmbench-input-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->fifo, sizeof(s->fifo), "%s/fifo", s->dir);
	snprintf(s->file, sizeof(s->file), "%s/disk.img", s->dir);
	if (mkfifo(s->fifo, 0600))
		return -1;
	fd = open(s->file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 64 * 1024))
		return -1;
	close(fd);
	if (guest_map_noreserve(16 * MIB, &s->mem))
		return -1;
	alarm(HANG_GUARD_S);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;

	alarm(0);
	unlink(s->fifo);
	unlink(s->file);
	rmdir(s->dir);
	munmap(s->mem.base, s->mem.size);
	free(s);
	return 0;
}

/* ---- a FIFO, a device, a directory -------------------------------------------- */

static void test_fifo_guest_is_refused_without_blocking(void **state)
{
	struct scratch *s = *state;
	char err[ERRLEN];
	size_t size;

	assert_null(guest_file_read(s->fifo, &size, err, sizeof(err)));
	assert_contains(err, "is not a regular file (it is a FIFO)");
}

static void test_fifo_disk_is_refused_without_blocking(void **state)
{
	struct scratch *s = *state;
	struct disk_config rw = {.path = s->fifo}, ro = {.path = s->fifo, .readonly = true};
	struct blk_dev b;
	char err[ERRLEN];

	/* O_RDONLY is the open that blocks on a FIFO with no writer. */
	assert_int_equal(blk_open(&b, &ro, &s->mem, NULL, err, sizeof(err)), -1);
	assert_contains(err, "disk '");
	assert_contains(err, "is not a regular file or block device (it is a FIFO)");
	assert_int_equal(blk_open(&b, &rw, &s->mem, NULL, err, sizeof(err)), -1);
	assert_contains(err, "(it is a FIFO)");
}

static void test_other_types_are_named(void **state)
{
	struct scratch *s = *state;
	struct stat st;
	char err[ERRLEN];

	assert_int_equal(input_open("/dev/null", O_RDONLY, INPUT_REGULAR | INPUT_BLOCK, "disk",
				    &st, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_contains(err, "(it is a character device)");
	assert_int_equal(input_open(s->dir, O_RDONLY, INPUT_REGULAR, "guest", &st, err,
				    sizeof(err)), -1);
	assert_contains(err, "guest '");
	assert_contains(err, "is not a regular file (it is a directory)");
	assert_int_equal(input_open("/no/such/file", O_RDONLY, INPUT_REGULAR, "guest", &st, err,
				    sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_contains(err, "cannot open guest '/no/such/file': No such file");
}

static void test_input_open_clears_nonblock(void **state)
{
	struct scratch *s = *state;
	struct stat st;
	char err[ERRLEN];
	int fd = input_open(s->file, O_RDWR, INPUT_REGULAR, "disk", &st, err, sizeof(err));

	assert_true(fd >= 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE), O_RDWR);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

/* ---- the guest file is read, not mapped ------------------------------------ */

static void test_guest_file_survives_truncation_after_reading(void **state)
{
	struct scratch *s = *state;
	uint8_t data[3 * 4096 + 100];
	char err[ERRLEN];
	size_t size = 0;
	uint8_t *image;
	FILE *f;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	f = fopen(s->file, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, sizeof(data), f), sizeof(data));
	fclose(f);
	image = guest_file_read(s->file, &size, err, sizeof(err));
	assert_non_null(image);
	assert_int_equal(size, sizeof(data));
	/* What another process may do while vmm loads the image.  A mapping
	 * of the file would now SIGBUS on every page past the new end. */
	assert_int_equal(truncate(s->file, 0), 0);
	assert_memory_equal(image, data, sizeof(data));
	free(image);
	/* And a file found empty is refused as such. */
	assert_null(guest_file_read(s->file, &size, err, sizeof(err)));
	assert_contains(err, "is empty");
}

/* ---- read-only block devices -------------------------------------------------- */

static void test_readonly_block_device_decision(void **state)
{
	char err[ERRLEN];

	(void)state;
	assert_int_equal(blk_check_writable("/dev/loop7", false, false, err, sizeof(err)), 0);
	assert_int_equal(blk_check_writable("/dev/loop7", false, true, err, sizeof(err)), 0);
	assert_int_equal(blk_check_writable("/dev/loop7", true, true, err, sizeof(err)), 0);
	assert_int_equal(blk_check_writable("/dev/loop7", true, false, err, sizeof(err)), -1);
	assert_contains(err, "cannot open disk '/dev/loop7' for writing: it is a read-only "
			"block device (add ',readonly' to use it read-only)");
}

/* ---- image locks ------------------------------------------------------------- */

static void test_lock_lines(void **state)
{
	dev_t dev = makedev(0xfe, 0x00);

	(void)state;
	/* /proc/locks and fdinfo "lock:" lines as Linux 6.x prints them. */
	assert_true(lock_line_is_ofd_lock_on("1: OFDLCK ADVISORY  WRITE -1 fe:00:10953506 0 EOF",
					     dev, 10953506));
	assert_true(lock_line_is_ofd_lock_on("lock:\t2: OFDLCK ADVISORY  READ -1 fe:00:77 0 EOF\n",
					     dev, 77));
	assert_false(lock_line_is_ofd_lock_on("1: OFDLCK ADVISORY  WRITE -1 fe:00:109535060 0 EOF",
					      dev, 10953506));
	assert_false(lock_line_is_ofd_lock_on("1: OFDLCK ADVISORY  WRITE -1 fe:01:77 0 EOF",
					      dev, 77));
	assert_false(lock_line_is_ofd_lock_on("1: POSIX  ADVISORY  WRITE 42 fe:00:77 0 EOF",
					      dev, 77));
	assert_false(lock_line_is_ofd_lock_on("1: -> OFDLCK ADVISORY  WRITE -1 fe:00:77 0 EOF",
					      dev, 77));
}

static int open_rw(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void test_image_given_twice(void **state)
{
	struct scratch *s = *state;
	char err[ERRLEN];
	int a = open_rw(s->file), b = open_rw(s->file), c = open_rw(s->file);

	/* Readers share; a writer excludes everyone, in this process too. */
	assert_int_equal(image_lock(a, true, s->file, err, sizeof(err)), 0);
	assert_int_equal(image_lock(b, true, s->file, err, sizeof(err)), 0);
	assert_int_equal(image_lock(c, false, s->file, err, sizeof(err)), -1);
	assert_contains(err, "' is given twice: an image can be one writable disk, or any "
			"number of readonly ones");
	close(a);
	close(b);
	assert_int_equal(image_lock(c, false, s->file, err, sizeof(err)), 0);
	a = open_rw(s->file);
	assert_int_equal(image_lock(a, true, s->file, err, sizeof(err)), -1);
	assert_contains(err, "is given twice");
	close(a);
	close(c);
}

static void test_image_locked_by_another_process(void **state)
{
	struct scratch *s = *state;
	char err[ERRLEN], expect[64], ready;
	int to_parent[2], to_child[2], fd, status;
	pid_t child;

	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(to_child), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* Holds a write lock until the parent is done. */
		char ignored[ERRLEN];

		fd = open(s->file, O_RDWR);
		if (fd < 0 || image_lock(fd, false, s->file, ignored, sizeof(ignored)))
			_exit(1);
		if (write(to_parent[1], "L", 1) != 1 || read(to_child[0], &ready, 1) < 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(read(to_parent[0], &ready, 1), 1);
	fd = open_rw(s->file);
	assert_int_equal(image_lock(fd, false, s->file, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "in use by another process (pid %d, ", (int)child);
	assert_contains(err, expect);
	assert_contains(err, "that holds a write lock on it");
	assert_int_equal(image_lock(fd, true, s->file, err, sizeof(err)), -1);
	assert_contains(err, expect);
	assert_int_equal(write(to_child[1], "x", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The holder is gone: the lock is free. */
	assert_int_equal(image_lock(fd, false, s->file, err, sizeof(err)), 0);
	close(fd);
	close(to_parent[0]);
	close(to_parent[1]);
	close(to_child[0]);
	close(to_child[1]);
}

/* blk_open locks the image; locking=off does not, as QEMU's. */
static void test_blk_open_locks_unless_told_not_to(void **state)
{
	struct scratch *s = *state;
	struct disk_config d = {.path = s->file};
	struct disk_config off = {.path = s->file, .nolock = true};
	struct blk_dev a, b;
	char err[ERRLEN];

	assert_int_equal(blk_open(&a, &d, &s->mem, NULL, err, sizeof(err)), 0);
	assert_int_equal(blk_open(&b, &d, &s->mem, NULL, err, sizeof(err)), -1);
	assert_contains(err, "is given twice");
	assert_int_equal(blk_open(&b, &off, &s->mem, NULL, err, sizeof(err)), 0);
	blk_close(&b);
	blk_close(&a);
	assert_int_equal(blk_open(&b, &d, &s->mem, NULL, err, sizeof(err)), 0);
	blk_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fifo_guest_is_refused_without_blocking,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_disk_is_refused_without_blocking,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_types_are_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_open_clears_nonblock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_file_survives_truncation_after_reading,
						setup, teardown),
		cmocka_unit_test(test_readonly_block_device_decision),
		cmocka_unit_test(test_lock_lines),
		cmocka_unit_test_setup_teardown(test_image_given_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_locked_by_another_process, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blk_open_locks_unless_told_not_to, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
