"""The machine the isolation tools read and change: /proc and /sys under a root.

Host is the real machine (root "/"): files are read and written where they
are, and a task's affinity is set with sched_setaffinity(2).  FakeHost is
a tree in a directory (--root DIR, the tests): the same files under DIR,
and a task's affinity is its DIR/proc/PID/status's Cpus_allowed_list line,
refused as the kernel refuses it (EINVAL for a PF_NO_SETAFFINITY thread,
ESRCH for a task that is gone).  A FakeHost also refuses a write to FILE
when FILE.refuse exists, with the errno named in it ("EIO"): that is how a
test makes a knob refuse as /proc/irq/N/smp_affinity_list refuses a
managed interrupt.

Every path given to a Host is absolute ("/proc/sys/kernel/timer_migration").
"""

import errno
import os
from pathlib import Path

from vmbench.isolation import cpulist

# include/linux/sched.h: task flags, field 9 of /proc/PID/stat.
PF_KTHREAD = 0x00200000
PF_NO_SETAFFINITY = 0x04000000


def open_host(root=None):
    """The Host for --root: the real machine for none (or "/"), else a FakeHost."""
    if root is None or Path(root).resolve() == Path("/"):
        return Host()
    return FakeHost(Path(root).resolve())


class Host:
    real = True

    def __init__(self, root="/"):
        self.root = Path(root)

    def path(self, path):
        return self.root / path.lstrip("/")

    def read(self, path):
        """The file's text without its trailing newline; OSError if unreadable."""
        return self.path(path).read_text().rstrip("\n")

    def read_or_none(self, path):
        """read(), or None when the file is not there (absent on this kernel)."""
        try:
            return self.read(path)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def exists(self, path):
        return self.path(path).exists()

    def listdir(self, path):
        """The names in a directory, sorted; [] when it is not there."""
        try:
            return sorted(os.listdir(self.path(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def is_dir(self, path):
        return self.path(path).is_dir()

    def write(self, path, text):
        """Writes `text` in one write(2), as a sysctl or sysfs file wants it:
        no file is created, and the kernel's refusal is the OSError raised."""
        fd = os.open(self.path(path), os.O_WRONLY | os.O_TRUNC)
        try:
            data = text.encode()
            if os.write(fd, data) != len(data):
                raise OSError(errno.EIO, "short write", path)
        finally:
            os.close(fd)

    def set_affinity(self, pid, cpus):
        os.sched_setaffinity(pid, cpus)


class FakeHost(Host):
    real = False

    def write(self, path, text):
        refusal = self.read_or_none(path + ".refuse")
        if refusal is not None:
            code = getattr(errno, refusal.strip())
            raise OSError(code, os.strerror(code), path)
        super().write(path, text)

    def set_affinity(self, pid, cpus):
        stat = self.read_or_none(f"/proc/{pid}/stat")
        if stat is None:
            raise ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))
        flags = int(stat[stat.rindex(")") + 2:].split()[6])
        if flags & PF_NO_SETAFFINITY:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        status = self.path(f"/proc/{pid}/status").read_text()
        lines = [f"Cpus_allowed_list:\t{cpulist.fmt(cpus)}"
                 if line.startswith("Cpus_allowed_list:") else line
                 for line in status.split("\n")]
        self.write(f"/proc/{pid}/status", "\n".join(lines))
