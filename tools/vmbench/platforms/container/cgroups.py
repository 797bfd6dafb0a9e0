"""cgroups: the layout, a process's cgroup directories, the limits in force
on them (read back) and what a container used."""

import contextlib
import os
from pathlib import Path

from vmbench.platforms.base import PlatformError
from vmbench.platforms.container.host import _unescape

PERIOD_US = 100_000                     # CFS period: quota = CPUs * PERIOD_US
_UNLIMITED_BYTES = 1 << 62              # v1 shows "no limit" as 9223372036854771712


def _cgroup_mounts():
    """[(fstype, mount root, mount point, controllers)] of cgroup mounts."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            a, b = left.split(), right.split()
            if b and b[0] in ("cgroup", "cgroup2"):
                opts = set(b[2].split(",")) if len(b) > 2 else set()
                out.append((b[0], _unescape(a[3]), _unescape(a[4]), opts))
    return out


def cgroup_layout():
    """'v1', 'hybrid' (v1 controllers plus a cgroup2 mount) or 'v2'."""
    mounts = _cgroup_mounts()
    if any(fs == "cgroup2" and mp == "/sys/fs/cgroup" for fs, _, mp, _ in mounts):
        return "v2"
    v1 = any(fs == "cgroup" and ({"cpu", "memory"} & opts) for fs, _, mp, opts in mounts)
    v2 = any(fs == "cgroup2" for fs, _, _, _ in mounts)
    return "hybrid" if v1 and v2 else "v1" if v1 else "v2" if v2 else "none"


def cgroup_dirs(pid):
    """The host directories of a process's cgroups: {"version": 1, "cpu": ...,
    "cpuacct": ..., "memory": ...} when cpu and memory are v1 controllers
    (v1 and hybrid layouts), else {"version": 2, "unified": ...}."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError as e:
        raise PlatformError(f"container: cannot read the cgroups of process {pid}: {e}") from None
    v1, v2 = {}, None
    for line in text.splitlines():
        hid, ctrls, path = line.split(":", 2)
        if hid == "0":
            v2 = path
        else:
            for c in ctrls.split(","):
                v1[c] = path
    mounts = _cgroup_mounts()

    def host_dir(path, fstype, controller=None):
        for fs, root, mp, opts in mounts:
            if fs == fstype and (controller is None or controller in opts):
                rel = os.path.relpath(path, root) if root != "/" else path.lstrip("/")
                if not rel.startswith(".."):
                    return os.path.normpath(os.path.join(mp, rel))
        return None

    if "cpu" in v1 and "memory" in v1:
        dirs = {"version": 1}
        for c in ("cpu", "cpuacct", "memory"):
            if c in v1:
                dirs[c] = host_dir(v1[c], "cgroup", c)
        if dirs.get("cpu") and dirs.get("memory"):
            return dirs
    if v2 is not None:
        d = host_dir(v2, "cgroup2")
        if d:
            return {"version": 2, "unified": d}
    raise PlatformError(f"container: process {pid} has no cpu and memory cgroup here "
                        f"(/proc/{pid}/cgroup: {text.strip()!r})")


def _read(path):
    try:
        return Path(path).read_text().strip()
    except OSError as e:
        raise PlatformError(f"container: cannot read back {path}: {e.strerror}") from None


def _keyed(text):
    return {k: int(v) for k, v in (line.split() for line in text.splitlines() if line.strip())
            if v.lstrip("-").isdigit()}


def read_limits(dirs):
    """The limits in force on a cgroup: {"cpu_quota_us" (-1: none),
    "cpu_period_us", "mem_limit_bytes" (None: none), "memsw_limit_bytes"
    (v1) / "swap_max_bytes" (v2) when swap accounting exists, "files"}."""
    lim = {}
    if dirs["version"] == 1:
        cpu, mem = dirs["cpu"], dirs["memory"]
        files = {"cpu_quota_us": f"{cpu}/cpu.cfs_quota_us", "cpu_period_us": f"{cpu}/cpu.cfs_period_us",
                 "mem_limit_bytes": f"{mem}/memory.limit_in_bytes"}
        if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
            files["memsw_limit_bytes"] = f"{mem}/memory.memsw.limit_in_bytes"
        for key, path in files.items():
            lim[key] = int(_read(path))
        for key in ("mem_limit_bytes", "memsw_limit_bytes"):
            if key in lim and lim[key] >= _UNLIMITED_BYTES:
                lim[key] = None
    else:
        d = dirs["unified"]
        files = {"cpu_max": f"{d}/cpu.max", "mem_limit_bytes": f"{d}/memory.max"}
        if os.path.exists(f"{d}/memory.swap.max"):
            files["swap_max_bytes"] = f"{d}/memory.swap.max"
        quota, period = _read(files["cpu_max"]).split()
        lim["cpu_quota_us"] = -1 if quota == "max" else int(quota)
        lim["cpu_period_us"] = int(period)
        for key in ("mem_limit_bytes", "swap_max_bytes"):
            if key in files:
                v = _read(files[key])
                lim[key] = None if v == "max" else int(v)
    lim["files"] = files
    return lim


def read_usage(dirs):
    """What a container used: {"cpu_time_s", "nr_periods", "nr_throttled",
    "mem_peak_bytes", "oom_kills"} (keys absent when not readable)."""
    use = {}
    with contextlib.suppress(OSError, ValueError):
        if dirs["version"] == 1:
            acct = dirs.get("cpuacct") or dirs["cpu"]
            use["cpu_time_s"] = int(Path(f"{acct}/cpuacct.usage").read_text()) / 1e9
            stat = _keyed(Path(f"{dirs['cpu']}/cpu.stat").read_text())
            mem = dirs["memory"]
            use["mem_peak_bytes"] = int(Path(f"{mem}/memory.max_usage_in_bytes").read_text())
            use["oom_kills"] = _keyed(Path(f"{mem}/memory.oom_control").read_text()).get("oom_kill")
        else:
            d = dirs["unified"]
            stat = _keyed(Path(f"{d}/cpu.stat").read_text())
            use["cpu_time_s"] = stat.get("usage_usec", 0) / 1e6
            with contextlib.suppress(OSError, ValueError):
                use["mem_peak_bytes"] = int(Path(f"{d}/memory.peak").read_text())
            use["oom_kills"] = _keyed(Path(f"{d}/memory.events").read_text()).get("oom_kill")
        use["nr_periods"] = stat.get("nr_periods")
        use["nr_throttled"] = stat.get("nr_throttled")
    return use


class Limits:
    """What a container is to get: CPUs (None: no quota) and memory bytes
    (None: no limit); swap is never allowed on top of the memory limit."""

    def __init__(self, cpus, mem_bytes):
        self.cpus = cpus
        self.mem_bytes = mem_bytes

    @property
    def quota_us(self):
        return -1 if self.cpus is None else round(self.cpus * PERIOD_US)

    def describe(self):
        cpu = "no CPU quota" if self.cpus is None else f"{self.cpus:g}-CPU quota"
        mem = "no memory limit" if self.mem_bytes is None else f"{self.mem_bytes >> 20} MiB"
        return f"{cpu}, {mem}"

    def differences(self, lim):
        """What the read-back limits `lim` get wrong, as phrases."""
        files, bad = lim["files"], []

        def say(key, got, want):
            name = os.path.basename(files.get(key, files.get("cpu_max", key)))
            bad.append(f"{name} is {'unlimited' if got is None else got}, "
                       f"asked {'unlimited' if want is None else want}")

        if lim["cpu_quota_us"] != self.quota_us:
            say("cpu_quota_us", lim["cpu_quota_us"], self.quota_us)
        if self.cpus is not None and lim["cpu_period_us"] != PERIOD_US:
            say("cpu_period_us", lim["cpu_period_us"], PERIOD_US)
        if lim["mem_limit_bytes"] != self.mem_bytes:
            say("mem_limit_bytes", lim["mem_limit_bytes"], self.mem_bytes)
        if self.mem_bytes is not None:
            if "memsw_limit_bytes" in lim and lim["memsw_limit_bytes"] != self.mem_bytes:
                say("memsw_limit_bytes", lim["memsw_limit_bytes"], self.mem_bytes)
            if "swap_max_bytes" in lim and lim["swap_max_bytes"] != 0:
                say("swap_max_bytes", lim["swap_max_bytes"], 0)
        return bad


def _swap_accounting():
    """Whether the memory controller can limit swap (memsw in v1, swap.max in v2)."""
    for fs, _, mp, opts in _cgroup_mounts():
        if fs == "cgroup" and "memory" in opts:
            return os.path.exists(f"{mp}/memory.memsw.limit_in_bytes")
    return any(Path("/sys/fs/cgroup").glob("*/memory.swap.max"))
