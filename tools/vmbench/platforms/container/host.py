"""Host helpers of the container platform: output tails, mounts, removing
trees that may hold mounts, file system types, CPUs."""

import contextlib
import os
import re
import shutil
import subprocess

from vmbench.platforms.base import PlatformError


def _tail(text, lines=3):
    """The last non-empty lines of a command's output, as one line."""
    rows = [r.strip() for r in (text or "").splitlines() if r.strip()]
    return " / ".join(rows[-lines:]) if rows else "(no output)"


def _mounts_under(path):
    """Mount points at or below `path`, deepest first."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = _unescape(line.split()[4])
            if mp == path or mp.startswith(path + "/"):
                found.append(mp)
    return sorted(found, key=len, reverse=True)


def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def remove_tree(path):
    """rm -rf that never crosses into a mount (an interrupted debootstrap
    leaves /proc and /sys mounted in its target)."""
    if not os.path.lexists(path):
        return
    for mp in _mounts_under(path):
        subprocess.run(["umount", "-l", mp], capture_output=True)
    left = _mounts_under(path)
    if left:
        raise PlatformError(f"container: cannot remove {path}: {left[0]} is still mounted")
    shutil.rmtree(path)


def _dir_size(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _fs_type(path):
    """The file system type of path ("ext4", "overlay" ...), as stat -f says."""
    res = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return res.stdout.strip() or "unknown"


def _host_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
