"""The ``container`` platform: sysbench in an OCI container with a CPU quota and
a memory limit, both read back from the container's cgroup and checked to be
in force before any figure is trusted (docs/container.md).

    p = ContainerPlatform()
    p.prepare(cases)     # root file system (cached), engine, CPU-limit check
    rec = p.run(Case("cpu", (("threads", 2), ("time", 10)), vcpus=2, mem_mib=512))
    p.close()

* Root file system: ``debootstrap --variant=minbase bookworm`` from the mirror
  apt already uses, plus ``sysbench``; built once under
  build/cache/container-rootfs/<key>/ (the key: suite, variant, mirror,
  architecture, the sysbench version apt offers); a marker written last, and a
  rename into place, make an interrupted build be redone.
* Engine: docker or podman when one answers ``info``; else runc, which runs
  the cached directory directly (crun refuses hybrid cgroup layouts).
* Each run: a fresh container; its process is in its cgroup before sysbench
  starts (``runc create``), and then the limits are read back from the host's
  cgroup files (v1: cpu.cfs_quota_us, cpu.cfs_period_us,
  memory.limit_in_bytes, memory.memsw.limit_in_bytes; v2: cpu.max,
  memory.max, memory.swap.max).  Anything but what was asked is a
  PlatformError.  The container and its cgroup are always deleted.
* The check (each prepare, nothing cached): 2 sysbench cpu threads without a
  quota, then under a 1-CPU quota; the second must give CHECK_BAND of the
  first's events/s, and the kernel must have run CFS bandwidth control for
  it (cpu.stat).  A quota the kernel does not apply fails here even when the
  cgroup files say the right thing.  On a busy host, where the ratio cannot
  tell, the kernel's accounting decides, and the figures say so.
"""

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import platform as _platform
import re
import secrets
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

from vmbench.platforms.base import Platform, PlatformError
from vmbench.platforms.registry import SCRATCH_DIR, register

from vmbench import sysbench
from vmbench.paths import CACHE

SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES = ("sysbench",)
PERIOD_US = 100_000                     # CFS period: quota = CPUs * PERIOD_US
RUNC_ROOT = "/run/vmbench-runc"         # runc's state directory (runc --root)

# The CPU-limit check: 2 threads of sysbench cpu, unlimited and then under a
# 1-CPU quota (1 thread and half a CPU when the host has a single CPU).  A
# quota in force gives half the events/s: 0.5 in principle, measured
# 0.425-0.495 here (3071-3572 against 7223 events/s; 1774 against 3600 for
# half a CPU).  Below 0.5 because throttling costs a little and a throttled
# thread holds the other one back; the low edge, 0.35, leaves room for a run
# that the host disturbs more than the other one.  The high edge: over 1-2 s
# CFS lets a 1-CPU quota run at most one period (0.1 s) more than 1 CPU's
# worth, which is under 0.55 of two CPUs; 0.65 means the container got 1.3
# CPUs or more, so no 1-CPU quota held it.  An unlimited container gives
# about 1.0.
CHECK_BAND = (0.35, 0.65)
CHECK_PRIME = 10000

_UNLIMITED_BYTES = 1 << 62              # v1 shows "no limit" as 9223372036854771712
_PR_SET_CHILD_SUBREAPER = 36


def _log_stderr(message):
    print(message, file=sys.stderr, flush=True)


def _tail(text, lines=3):
    """The last non-empty lines of a command's output, as one line."""
    rows = [r.strip() for r in (text or "").splitlines() if r.strip()]
    return " / ".join(rows[-lines:]) if rows else "(no output)"


# --------------------------------------------------------------------------
# The Debian mirror apt uses, and the root file system's cache

def debian_mirror(sources=("/etc/apt/sources.list", "/etc/apt/sources.list.d")):
    """The first URI of a 'deb' source that offers SUITE (not -security, not
    -updates), from one-line .list files and deb822 .sources files."""
    files = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix in (".list", ".sources"))
        elif p.is_file():
            files.append(p)
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    k, _, v = line.partition(":")
                    fields[k.strip().lower()] = v.split()
                if (fields.get("enabled", ["yes"])[0].lower() != "no"
                        and "deb" in fields.get("types", [])
                        and SUITE in fields.get("suites", []) and fields.get("uris")):
                    return fields["uris"][0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
                if words[:1] == ["deb"] and len(words) >= 3 and words[2] == SUITE:
                    return words[1]
    raise PlatformError(f"container: no 'deb' source for {SUITE} in /etc/apt "
                        "(debootstrap needs the mirror apt uses)")


def _dpkg_version(root, package):
    """A package's installed version in a root file system's dpkg database."""
    try:
        text = (Path(root) / "var/lib/dpkg/status").read_text(errors="replace")
    except OSError:
        return None
    for stanza in text.split("\n\n"):
        if re.search(rf"^Package: {re.escape(package)}$", stanza, re.M) and \
                re.search(r"^Status: install ok installed$", stanza, re.M):
            m = re.search(r"^Version: (\S+)$", stanza, re.M)
            return m.group(1) if m else None
    return None


def _apt_candidate(package):
    """The version apt would install (host's lists), or None."""
    try:
        out = subprocess.run(["apt-cache", "policy", package], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"Candidate:\s*(\S+)", out)
    return m.group(1) if m and m.group(1) != "(none)" else None


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


class Rootfs:
    """The cached root file system: build/cache/container-rootfs/<key>/rootfs."""

    def __init__(self, cache_dir, mirror, log):
        self.base = Path(cache_dir)
        self.mirror = mirror
        self.log = log
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                              text=True).stdout.strip() or _platform.machine()
        self.recipe = {"suite": SUITE, "variant": VARIANT, "mirror": mirror, "arch": arch,
                       "packages": {p: _apt_candidate(p) or "?" for p in PACKAGES}}
        blob = json.dumps(self.recipe, sort_keys=True).encode()
        self.key = f"{SUITE}-{arch}-" + hashlib.sha256(blob).hexdigest()[:12]
        self.dir = self.base / self.key
        self.path = self.dir / "rootfs"
        self.marker = self.dir / "complete.json"
        self.info = None

    def ensure(self):
        """The root file system's info (the marker's content), built if needed."""
        self.base.mkdir(parents=True, exist_ok=True)
        with open(self.base / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)       # one builder at a time
            self.info = self._read_marker()
            if self.info is None:
                self.info = self._build()
        return self.info

    def _read_marker(self):
        try:
            info = json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return None
        if info.get("key") != self.key or not (self.path / "usr/bin/sysbench").exists():
            return None
        return info

    def _run(self, argv, logf, what, env=None):
        logf.write(f"$ {' '.join(map(str, argv))}\n".encode())
        logf.flush()
        p = subprocess.run(list(map(str, argv)), stdin=subprocess.DEVNULL, stdout=logf,
                           stderr=subprocess.STDOUT, env=env)
        if p.returncode:
            logf.flush()
            tail = _tail(Path(logf.name).read_text(errors="replace"))
            raise PlatformError(f"container: {what} failed (status {p.returncode}): {tail} "
                                f"(log: {logf.name})")

    def _build(self):
        t0 = time.monotonic()
        remove_tree(self.dir)                # an interrupted build: redo it
        tmp = self.base / f"{self.key}.tmp-{os.getpid()}"
        for stale in self.base.glob(f"{self.key}.tmp-*"):
            remove_tree(stale)
        root = tmp / "rootfs"
        logpath = self.base / f"{self.key}.log"
        self.log(f"container: building the root file system ({VARIANT} {SUITE} from "
                 f"{self.mirror} + {' '.join(PACKAGES)}), log {logpath}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8")
        env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        with open(logpath, "wb") as logf:
            self._run(["debootstrap", f"--variant={VARIANT}", SUITE, root, self.mirror],
                      logf, "debootstrap", env)
            install = ["chroot", root, "apt-get", "install", "-y", "-q",
                       "--no-install-recommends", *PACKAGES]
            try:
                self._run(install, logf, "apt-get install in the root file system", env)
            except PlatformError:            # stale lists: update once, then retry
                self._run(["chroot", root, "apt-get", "update", "-q"], logf,
                          "apt-get update in the root file system", env)
                self._run(install, logf, "apt-get install in the root file system", env)
            self._run(["chroot", root, "apt-get", "clean"], logf, "apt-get clean", env)
        (root / "work").mkdir(exist_ok=True)    # the bind mount's mount point
        versions = {p: _dpkg_version(root, p) for p in PACKAGES}
        if not versions.get("sysbench") or not (root / "usr/bin/sysbench").exists():
            raise PlatformError(f"container: sysbench is not installed in {root} (log: {logpath})")
        info = {"key": self.key, "recipe": self.recipe, "versions": versions,
                "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_seconds": round(time.monotonic() - t0, 1),
                "size_bytes": _dir_size(root)}
        (tmp / "complete.json").write_text(json.dumps(info, indent=1) + "\n")   # last
        os.rename(tmp, self.dir)
        self.log(f"container: root file system built in {info['build_seconds']} s, "
                 f"{info['size_bytes'] / 1e6:.0f} MB, sysbench {versions['sysbench']}")
        return info


# --------------------------------------------------------------------------
# cgroups: layout, a process's cgroup directories, limits and usage

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


class Outcome:
    """One container's run: status, output, and what its cgroup said."""
    exit_code = None        # the process's exit code, or -signal
    oom_killed = False
    timed_out = False
    stdout = stderr = ""
    wall_s = None           # from start to exit
    timeout = None          # seconds it was given
    overhead_s = None       # create + start + delete
    dirs = None
    limits = None
    usage = None


# --------------------------------------------------------------------------
# Engines

class _RuncEngine:
    """runc, on the cached directory.  `runc create` leaves the container's
    process waiting in its cgroup before sysbench starts: the limits are read
    back there, then `runc start`.  This process is made a child subreaper
    while `runc create` runs, so that the container's process becomes its child
    and its exit status (a signal for an OOM kill) can be had from waitpid."""

    name = "runc"

    def __init__(self, root=RUNC_ROOT):
        self.root = root
        self.binary = shutil.which("runc") or "runc"
        self._template = None
        self._libc = ctypes.CDLL(None, use_errno=True)

    def version(self):
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout
        m = re.search(r"runc version (\S+)", out)
        return m.group(1) if m else _tail(out, 1)

    def works(self):
        try:
            return subprocess.run([self.binary, "--version"], capture_output=True,
                                  timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def prepare(self, rootfs_info, rootfs_path, workdir):
        self.rootfs = Path(rootfs_path)
        tdir = Path(workdir) / "runc-spec"
        tdir.mkdir(parents=True, exist_ok=True)
        (tdir / "config.json").unlink(missing_ok=True)
        p = subprocess.run([self.binary, "spec", "--bundle", str(tdir)], capture_output=True, text=True)
        if p.returncode:
            raise PlatformError(f"container: runc spec failed: {_tail(p.stderr)}")
        self._template = json.loads((tdir / "config.json").read_text())
        remove_tree(tdir)

    def config(self, cid, args, limits, work):
        """The OCI config: runc spec's, with our process, mounts and limits."""
        c = json.loads(json.dumps(self._template))
        proc = c["process"]
        proc.update(terminal=False, args=list(args), cwd="/work")
        proc.pop("consoleSize", None)
        c["root"] = {"path": str(self.rootfs), "readonly": True}   # shared by all runs
        c["hostname"] = "vmbench"
        c["mounts"] = c.get("mounts", []) + [
            {"destination": "/work", "type": "bind", "source": str(work),
             "options": ["rbind", "rw"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777", "size=64m"]}]
        lx = c.setdefault("linux", {})
        lx["cgroupsPath"] = f"/{cid}"
        res = lx.setdefault("resources", {})
        res.pop("cpu", None)
        res.pop("memory", None)
        if limits.cpus is not None:
            res["cpu"] = {"quota": limits.quota_us, "period": PERIOD_US}
        if limits.mem_bytes is not None:
            res["memory"] = {"limit": limits.mem_bytes}
            if _swap_accounting():
                res["memory"]["swap"] = limits.mem_bytes       # memory + swap: no swap
        return c

    def _subreaper(self, on):
        ul = ctypes.c_ulong
        if self._libc.prctl(_PR_SET_CHILD_SUBREAPER, ul(int(on)), ul(0), ul(0), ul(0)) != 0:
            e = ctypes.get_errno()
            raise PlatformError(f"container: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(e)}")

    def _runc(self, *args, timeout=60):
        return subprocess.run([self.binary, "--root", self.root, *args], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def run(self, cid, args, limits, rundir, work, ready, started, timeout):
        out = Outcome()
        bundle = rundir / "bundle"
        bundle.mkdir(parents=True, exist_ok=True)
        (bundle / "config.json").write_text(json.dumps(self.config(cid, args, limits, work), indent=1))
        pidfile, logfile = rundir / "pid", rundir / "runc.log"
        pid = None
        t0 = time.monotonic()
        try:
            with open(rundir / "stdout", "wb") as so, open(rundir / "stderr", "wb") as se:
                self._subreaper(True)
                try:
                    p = subprocess.run([self.binary, "--root", self.root, "--log", str(logfile),
                                        "create", "--bundle", str(bundle), "--pid-file",
                                        str(pidfile), cid],
                                       stdin=subprocess.DEVNULL, stdout=so, stderr=se, timeout=60)
                finally:
                    self._subreaper(False)
            if p.returncode:
                why = _tail((rundir / "stderr").read_text(errors="replace"), 2)
                why = re.sub(r"^(runc create failed: )+", "", why)
                raise PlatformError(f"container: runc create failed: {why}")
            pid = int(pidfile.read_text())
            created = time.monotonic()
            out.dirs = cgroup_dirs(pid)
            out.limits = read_limits(out.dirs)
            ready(out)                           # raises when the limits are wrong
            p = self._runc("start", cid)
            if p.returncode:
                raise PlatformError(f"container: runc start failed: {_tail(p.stderr)}")
            started_at = time.monotonic()
            started({"id": cid, "pid": pid, "dirs": out.dirs, "engine": self.name})
            status = self._wait(pid, started_at + timeout)
            out.wall_s = time.monotonic() - started_at
            if status is None:
                out.timed_out = True
                self._runc("kill", cid, "KILL")
                status = self._wait(pid, time.monotonic() + 30)
            pid = None if status is not None else pid
            out.exit_code = None if status is None else os.waitstatus_to_exitcode(status)
            out.usage = read_usage(out.dirs)
            out.oom_killed = bool(out.usage.get("oom_kills")) and out.exit_code == -9
            out.overhead_s = (created - t0) + (started_at - created)
        finally:
            t1 = time.monotonic()
            d = self._runc("delete", "--force", cid)
            if pid is not None:                   # reap it if it is our child
                with contextlib.suppress(ChildProcessError):
                    self._wait(pid, time.monotonic() + 10)
            if out.overhead_s is not None:
                out.overhead_s += time.monotonic() - t1
            if d.returncode and "does not exist" not in (d.stderr or ""):
                raise PlatformError(f"container: runc delete {cid} failed: {_tail(d.stderr)}")
        out.stdout = (rundir / "stdout").read_text(errors="replace")
        out.stderr = (rundir / "stderr").read_text(errors="replace")
        return out

    @staticmethod
    def _wait(pid, deadline):
        """The wait status of our child `pid`, or None at the deadline."""
        fd = None
        with contextlib.suppress(OSError, AttributeError):
            fd = os.pidfd_open(pid)
        try:
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return status
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if fd is not None:
                    select.select([fd], [], [], left)
                else:
                    time.sleep(min(0.02, left))
        finally:
            if fd is not None:
                os.close(fd)


class _CliEngine:
    """docker or podman, when its engine answers: the cached directory is
    imported once as an image (vmbench-sysbench:<key>).  The limits are read
    back from the container's cgroup as soon as it runs (its process's
    /proc/PID/cgroup names it)."""

    def __init__(self, command):
        self.name = command
        self.binary = shutil.which(command) or command

    def _cli(self, *args, timeout=60, **kw):
        return subprocess.run([self.binary, *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, **kw)

    def works(self):
        try:
            return self._cli("info", timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def version(self):
        fmt = "{{.Server.Version}}" if self.name == "docker" else "{{.Version}}"
        p = self._cli("version", "--format", fmt)
        return p.stdout.strip() or "?"

    def prepare(self, rootfs_info, rootfs_path, workdir):
        self.image = f"vmbench-sysbench:{rootfs_info['key'].rsplit('-', 1)[-1]}"
        if self._cli("image", "inspect", self.image).returncode == 0:
            return
        tar = subprocess.Popen(["tar", "-C", str(rootfs_path), "-c", "."], stdout=subprocess.PIPE)
        p = subprocess.run([self.binary, "import", "-", self.image], stdin=tar.stdout,
                           capture_output=True, text=True)
        tar.stdout.close()
        if tar.wait() or p.returncode:
            raise PlatformError(f"container: {self.name} import failed: {_tail(p.stderr)}")

    def run(self, cid, args, limits, rundir, work, ready, started, timeout):
        out = Outcome()
        opts = ["--name", cid, "--network", "none", "--read-only", "--tmpfs", "/tmp",
                "-v", f"{work}:/work", "-w", "/work"]
        if limits.cpus is not None:
            opts += ["--cpu-period", str(PERIOD_US), "--cpu-quota", str(limits.quota_us)]
        if limits.mem_bytes is not None:
            opts += ["--memory", f"{limits.mem_bytes}b", "--memory-swap", f"{limits.mem_bytes}b"]
        t0 = time.monotonic()
        try:
            p = self._cli("create", *opts, self.image, *args)
            if p.returncode:
                raise PlatformError(f"container: {self.name} create failed: {_tail(p.stderr)}")
            p = self._cli("start", cid)
            started_at = time.monotonic()
            if p.returncode:
                raise PlatformError(f"container: {self.name} start failed: {_tail(p.stderr)}")
            pid = self._cli("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip()
            if not pid.isdigit() or pid == "0":
                raise PlatformError(f"container: {cid} exited before its limits could be read back")
            out.dirs = cgroup_dirs(int(pid))
            out.limits = read_limits(out.dirs)
            ready(out)
            started({"id": cid, "pid": int(pid), "dirs": out.dirs, "engine": self.name})
            try:
                w = self._cli("wait", cid, timeout=timeout)
                out.exit_code = int(w.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                out.timed_out = True
                self._cli("kill", cid)
            out.wall_s = time.monotonic() - started_at
            out.usage = read_usage(out.dirs)
            oom = self._cli("inspect", "-f", "{{.State.OOMKilled}}", cid).stdout.strip()
            out.oom_killed = oom == "true" or (out.exit_code == 137 and bool(out.usage.get("oom_kills")))
            logs = self._cli("logs", cid)
            out.stdout, out.stderr = logs.stdout, logs.stderr
            out.overhead_s = time.monotonic() - t0 - out.wall_s
        finally:
            self._cli("rm", "-f", cid)
        return out


def _swap_accounting():
    """Whether the memory controller can limit swap (memsw in v1, swap.max in v2)."""
    for fs, _, mp, opts in _cgroup_mounts():
        if fs == "cgroup" and "memory" in opts:
            return os.path.exists(f"{mp}/memory.memsw.limit_in_bytes")
    return any(Path("/sys/fs/cgroup").glob("*/memory.swap.max"))


# --------------------------------------------------------------------------
# The platform

class ContainerPlatform(Platform):
    """sysbench in an OCI container with a CPU quota and a memory limit."""

    name = "container"

    def __init__(self, *, cache_dir=None, engine=None, check_seconds=2, check_attempts=3,
                 timeout=None, mirror=None, log=_log_stderr, scratch_dir=None):
        """cache_dir: where the root file system and per-run directories go
        (build/cache); engine: "runc", "docker" or "podman" (default: docker
        or podman if one answers, else runc); check_seconds: length of each of
        the check's two runs; check_attempts: how often the check may be
        tried before the quota counts as not in force; timeout: seconds a run
        may take (default: twice its --time plus a minute, 600 s for
        --time=0); mirror: the Debian mirror (default: the one apt uses);
        log: where progress lines go (default stderr; None: nowhere);
        scratch_dir: where a fileio run's directory (the container's /work,
        bind-mounted) is made on the host (default: the run's own directory
        under cache_dir)."""
        self.scratch_dir = Path(scratch_dir) if scratch_dir else None
        self.cache = Path(cache_dir) if cache_dir else CACHE
        self.engine_choice = engine
        self.check_seconds = check_seconds
        self.check_attempts = check_attempts
        self.timeout = timeout
        self.mirror = mirror
        self.log = log or (lambda message: None)
        self.engine = None
        self.rootfs = None
        self.check = None
        self.timings = {}
        self._session = None
        self._count = 0

    # -- hooks ---------------------------------------------------------

    def _container_started(self, info):
        """Called as soon as a container's sysbench runs, with {"id", "pid",
        "dirs" (its cgroup directories), "engine"}; does nothing.  A test
        overrides it to take a container's CPU quota away behind the
        harness's back, which the CPU-limit check must then catch."""

    # -- Platform ------------------------------------------------------

    def prepare(self, cases):
        t0 = time.monotonic()
        if os.geteuid() != 0:
            raise PlatformError("container: needs root (debootstrap, runc and cgroup limits)")
        layout = cgroup_layout()
        if layout == "none":
            raise PlatformError("container: no cgroup file system mounted under /sys/fs/cgroup")
        self._ensure_tools(["debootstrap"])
        self.engine = self._choose_engine()
        self.mirror = self.mirror or debian_mirror()
        self.rootfs = Rootfs(self.cache / "container-rootfs", self.mirror, self.log)
        t = time.monotonic()
        self.rootfs.ensure()
        self.timings["rootfs_s"] = round(time.monotonic() - t, 2)
        self._sweep()
        if self._session is None:
            self._session = self.cache / "container-runs" / f"{os.getpid()}-{secrets.token_hex(3)}"
        self._session.mkdir(parents=True, exist_ok=True)
        self.engine.prepare(self.rootfs.info, self.rootfs.path, self._session)
        t = time.monotonic()
        self.check = None
        self.check = self.cpu_limit_check()
        self.timings["check_s"] = round(time.monotonic() - t, 2)
        self.timings["prepare_s"] = round(time.monotonic() - t0, 2)

    def environment(self):
        env = {"engine": self.engine.name if self.engine else None,
               "cgroup_layout": cgroup_layout(), "cpu_period_us": PERIOD_US,
               "host_cpus": _host_cpus()}
        if self.engine:
            env["engine_version"] = self.engine.version()
        if self.rootfs and self.rootfs.info:
            info = self.rootfs.info
            env.update(rootfs=str(self.rootfs.path), rootfs_key=info["key"],
                       rootfs_suite=f"debian {SUITE} {VARIANT}", debian_mirror=self.mirror,
                       rootfs_sysbench=info["versions"].get("sysbench"))
        env["check"] = self.check
        check = self.check or {}
        env["accelerator"] = "none (the host's CPU)"
        env["limits"] = ("per case: a CPU quota of its vCPUs and a memory limit of its MiB, "
                         "read back from the container's cgroup at every run; "
                         f"quota check {'passed' if check.get('passed') else 'not passed'}"
                         f" (2 threads limited/unlimited ratio {check.get('ratio')})")
        env["pinning"] = "none (the quota is a share of all host CPUs)"
        return env

    def run(self, case):
        if self.engine is None:
            raise PlatformError("container: run() before prepare()")
        limits = Limits(case.vcpus, case.mem_mib << 20)
        timeout = self.timeout or self._default_timeout(case)
        args = ["sysbench", case.test, *case.sysbench_args()]
        rundir = self._rundir()
        work = rundir / "work"                  # the container's /work
        on_disk = case.spec.needs_disk
        if on_disk and self.scratch_dir:
            self.scratch_dir.mkdir(parents=True, exist_ok=True)
            work = self.scratch_dir / f"container-{rundir.parent.name}-{rundir.name}"
        try:
            for command in case.spec.commands[:-1]:     # fileio's files, made in /work (not timed)
                prep = self._container(args + [command], limits, rundir / command, timeout, work)
                self._fail_unless_ok(prep, limits, f"sysbench {case.test} {command}")
            out = self._container(args + [case.spec.commands[-1]], limits, rundir / "run",
                                  timeout, work)
            self._fail_unless_ok(out, limits, "sysbench")
            fs = _fs_type(work) if on_disk else None
        finally:
            remove_tree(work)                   # fileio's files can be large
        try:
            rec = sysbench.parse_report(out.stdout)
        except sysbench.SysbenchParseError as e:
            raise PlatformError(f"container: {e}") from None
        rec["platform"] = self.name
        lim = out.limits
        env = {"vcpus": case.vcpus, "mem_mib": case.mem_mib,
               "engine": self.engine.name, "cgroup_layout": cgroup_layout(),
               "cpu_quota_us": lim["cpu_quota_us"], "cpu_period_us": lim["cpu_period_us"],
               "mem_limit_bytes": lim["mem_limit_bytes"],
               "cgroups": {k: v for k, v in out.dirs.items() if k != "version"},
               "limit_files": lim["files"], "host_cpus": _host_cpus(),
               "wall_s": round(out.wall_s, 4),
               "overhead_s": None if out.overhead_s is None else round(out.overhead_s, 4)}
        for k in ("memsw_limit_bytes", "swap_max_bytes"):
            if k in lim:
                env[k] = lim[k]
        for k in ("cpu_time_s", "nr_periods", "nr_throttled", "mem_peak_bytes"):
            if out.usage.get(k) is not None:
                env[k] = round(out.usage[k], 4) if isinstance(out.usage[k], float) else out.usage[k]
        if self.rootfs and self.rootfs.info:
            env["rootfs_sysbench"] = self.rootfs.info["versions"].get("sysbench")
        if on_disk:
            env.update(disk_format="host directory (bind-mounted at /work)", file_system=fs,
                       scratch_dir=str(work.parent))
        rec["env"] = env
        return rec

    def close(self):
        if self._session is not None:
            remove_tree(self._session)
            with contextlib.suppress(OSError):
                self._session.parent.rmdir()    # only when no other session is there
            self._session = None

    # -- the CPU-limit check ---------------------------------------------

    def cpu_limit_check(self):
        """Unlimited vs 1-CPU quota, 2 threads each (1 thread and half a CPU
        on a 1-CPU host); returns the figures, or raises PlatformError
        ("container: CPU quota not in force: ..." with them).

        The quota is in force when the kernel ran CFS bandwidth control on
        the limited container for at least half of its run (cpu.stat
        nr_periods; it stays 0 when no quota applies) and the limited run gave
        CHECK_BAND of the unlimited one's events/s ("verdict": "ratio").

        On a busy host - the unlimited run got less than 90 % of a CPU per
        thread (cpuacct), as when another VM shares the machine - the ratio
        proves nothing either way (both runs get what the host leaves).  Then
        the kernel's own accounting decides: bandwidth control on, and the
        limited container used no more than its quota (x 1.15: the first
        period and start-up); "verdict": "kernel" and a "warning" say so.
        A failed attempt is tried again, up to check_attempts, except when
        the kernel ran no bandwidth control at all.  A container whose quota is
        removed fails both ways: the kernel counts no bandwidth periods for
        it, and (quiet host) it gives about the unlimited one's events/s."""
        t0 = time.monotonic()
        threads, quota = (2, 1.0) if _host_cpus() >= 2 else (1, 0.5)
        mem = 256 << 20
        args = ["sysbench", "cpu", f"--cpu-max-prime={CHECK_PRIME}", f"--threads={threads}",
                f"--time={self.check_seconds}", "run"]
        tries = []
        for attempt in range(1, max(1, self.check_attempts) + 1):
            fig = {"attempt": attempt}
            for label, limits in (("unlimited", Limits(None, mem)), ("limited", Limits(quota, mem))):
                fig[label] = self._check_run(args, limits)
            u, lim = fig["unlimited"], fig["limited"]
            fig["ratio"] = round(lim["events_per_s"] / max(u["events_per_s"], 1e-9), 3)
            fig["in_band"] = CHECK_BAND[0] <= fig["ratio"] <= CHECK_BAND[1]
            # CFS bandwidth periods the kernel ran for the limited container,
            # against the periods its run lasted.
            fig["periods_expected"] = int(lim["wall_s"] * 1e6 / PERIOD_US)
            fig["bandwidth_on"] = lim["nr_periods"] is None or \
                lim["nr_periods"] >= fig["periods_expected"] // 2
            fig["busy"] = u["cpus_used"] is not None and u["cpus_used"] < 0.9 * threads
            fig["held"] = lim["cpus_used"] is not None and lim["cpus_used"] <= quota * 1.15
            if not fig["bandwidth_on"]:
                fig["verdict"] = None
            elif fig["busy"]:
                fig["verdict"] = "kernel" if fig["held"] else None
            else:
                fig["verdict"] = "ratio" if fig["in_band"] else None
            tries.append(fig)
            if fig["verdict"] or not fig["bandwidth_on"]:
                break
        u, lim, verdict = fig["unlimited"], fig["limited"], fig["verdict"]
        result = {"passed": verdict is not None, "verdict": verdict, "threads": threads,
                  "quota_cpus": quota, "cpu_max_prime": CHECK_PRIME,
                  "seconds": self.check_seconds, "band": list(CHECK_BAND),
                  "ratio": fig["ratio"], "unlimited_events_per_s": u["events_per_s"],
                  "limited_events_per_s": lim["events_per_s"],
                  "unlimited_cpus_used": u["cpus_used"], "limited_cpus_used": lim["cpus_used"],
                  "limited_nr_periods": lim["nr_periods"],
                  "limited_nr_throttled": lim["nr_throttled"],
                  "limited_periods_expected": fig["periods_expected"],
                  "attempts": len(tries), "ratios": [t["ratio"] for t in tries],
                  "duration_s": round(time.monotonic() - t0, 2)}
        if fig["busy"]:
            result["warning"] = (f"busy host: the unlimited run got only {u['cpus_used']:.2f} of "
                                 f"{threads} CPUs, so the ratio says little"
                                 + ("; the quota was verified from the kernel's accounting"
                                    if verdict else ""))
            self.log(f"container: CPU-limit check: {result['warning']}")
        if verdict is not None:
            return result
        self.check = result
        why = [f"{threads} thread{'s' * (threads > 1)} gave {lim['events_per_s']:.0f} events/s "
               f"under a {quota:g}-CPU quota and {u['events_per_s']:.0f} without one: ratio "
               f"{fig['ratio']:.2f}"
               + ("" if fig["in_band"] else f", outside {CHECK_BAND[0]}-{CHECK_BAND[1]}")]
        if lim["nr_periods"] is not None:
            why.append(f"the kernel applied a CPU quota in {lim['nr_periods']} of its "
                       f"{fig['periods_expected']} periods and throttled it {lim['nr_throttled']} "
                       "times")
        if lim["cpus_used"] is not None:
            why.append(f"it used {lim['cpus_used']:.2f} CPUs"
                       + (f" (more than {quota * 1.15:.2f})" if not fig["held"] else ""))
        if fig["busy"]:
            why.append(result["warning"])
        if len(tries) > 1:
            why.append(f"{len(tries)} attempts, ratios "
                       + ", ".join(f"{t['ratio']:.2f}" for t in tries))
        raise PlatformError("container: CPU quota not in force: " + "; ".join(why))

    def _check_run(self, args, limits):
        """One of the check's containers: its events/s and what its cgroup saw."""
        rundir = self._rundir()
        try:
            out = self._container(args, limits, rundir, self._check_timeout())
        finally:
            remove_tree(rundir / "work")
        self._fail_unless_ok(out, limits, "the CPU-limit check's sysbench")
        try:
            rec = sysbench.parse_report(out.stdout)
        except sysbench.SysbenchParseError as e:
            raise PlatformError(f"container: CPU-limit check: {e}") from None
        use = out.usage or {}
        cpu = use.get("cpu_time_s")
        return {"events_per_s": rec["events_per_s"], "wall_s": out.wall_s,
                "cpus_used": round(cpu / out.wall_s, 3) if cpu is not None and out.wall_s else None,
                "nr_periods": use.get("nr_periods"), "nr_throttled": use.get("nr_throttled")}

    # -- internals ---------------------------------------------------------

    def _ensure_tools(self, tools):
        """Installs the Debian packages of missing tools (binary = package)."""
        missing = [t for t in tools if not shutil.which(t)]
        if not missing:
            return
        self.log(f"container: installing {' '.join(missing)} (apt-get)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
        if subprocess.run(cmd, capture_output=True, env=env).returncode:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode:
                raise PlatformError(f"container: cannot install {' '.join(missing)}: {_tail(p.stderr)}")

    def _choose_engine(self):
        choice = self.engine_choice
        if choice in ("docker", "podman"):
            e = _CliEngine(choice)
            if not e.works():
                raise PlatformError(f"container: {choice} was asked for, but '{choice} info' fails")
            return e
        if choice not in (None, "runc"):
            raise PlatformError(f"container: unknown engine {choice!r} (runc, docker, podman)")
        if choice is None:
            for name in ("docker", "podman"):
                if shutil.which(name):
                    e = _CliEngine(name)
                    if e.works():
                        return e
        self._ensure_tools(["runc"])
        e = _RuncEngine()
        if not e.works():
            raise PlatformError("container: 'runc --version' fails, and no docker or podman "
                                "engine answers")
        return e

    def _sweep(self):
        """Removes what harness processes that are gone left behind: their
        runc containers (vmbench-PID-...) and run directories (PID-...)."""
        def gone(name):
            m = re.match(r"(?:vmbench-)?(\d+)-", name)
            return m is not None and int(m.group(1)) != os.getpid() \
                and not os.path.exists(f"/proc/{m.group(1)}")
        if isinstance(self.engine, _RuncEngine):
            p = self.engine._runc("list", "-q")
            for cid in p.stdout.split() if p.returncode == 0 else []:
                if cid.startswith("vmbench-") and gone(cid):
                    self.engine._runc("delete", "--force", cid)
        runs = self.cache / "container-runs"
        if runs.is_dir():
            for d in runs.iterdir():
                if gone(d.name):
                    with contextlib.suppress(OSError, PlatformError):
                        remove_tree(d)

    def _rundir(self):
        self._count += 1
        d = self._session / f"c{self._count:04d}"
        d.mkdir(parents=True)
        return d

    def _container(self, args, limits, rundir, timeout, work=None):
        """Runs one container to its end, with `work` (default rundir/work) as
        its /work; raises PlatformError when its limits, read back from its
        cgroup, are not `limits`."""
        rundir.mkdir(parents=True, exist_ok=True)
        work = work or rundir / "work"
        work.mkdir(parents=True, exist_ok=True)
        cid = f"vmbench-{os.getpid()}-{rundir.parent.name}-{rundir.name}-{secrets.token_hex(2)}"

        def ready(out):
            bad = limits.differences(out.limits)
            if bad:
                where = ", ".join(v for k, v in out.dirs.items() if k != "version")
                raise PlatformError(f"container: limits not in force ({limits.describe()} "
                                    f"asked): {'; '.join(bad)} (read back from {where})")

        try:
            out = self.engine.run(cid, args, limits, rundir, work, ready,
                                  self._container_started, timeout)
        except subprocess.TimeoutExpired as e:
            raise PlatformError(f"container: {' '.join(map(str, e.cmd[:4]))} ... did not answer "
                                f"in {e.timeout:g} s") from None
        except OSError as e:
            raise PlatformError(f"container: {self.engine.name}: {e}") from None
        out.timeout = timeout
        return out

    def _fail_unless_ok(self, out, limits, what):
        if out.timed_out:
            raise PlatformError(f"container: {what} did not finish within its {out.timeout:g} s "
                                "timeout (killed)")
        if out.oom_killed:
            raise PlatformError(f"container: {what} was OOM killed under a "
                                f"{limits.mem_bytes >> 20} MiB limit")
        if out.exit_code != 0:
            code = out.exit_code
            how = f"was killed by signal {-code}" if code is not None and code < 0 \
                else f"exited with status {code}"
            text = out.stdout + "\n" + out.stderr
            fatal = [line.strip() for line in text.splitlines() if "FATAL" in line]
            raise PlatformError(f"container: {what} {how}: "
                                f"{fatal[0] if fatal else _tail(text, 2)}")

    def _default_timeout(self, case):
        t = case.option("time", 10)
        try:
            t = float(t)
        except (TypeError, ValueError):
            t = 10
        return 600 if t <= 0 else 2 * t + 60

    def _check_timeout(self):
        return 2 * self.check_seconds + 60


def _fs_type(path):
    """The file system type of path ("ext4", "overlay" ...), as stat -f says."""
    res = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return res.stdout.strip() or "unknown"


def _host_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


register("container",
         lambda options: ContainerPlatform(scratch_dir=getattr(options, "scratch_dir", None)),
         options=[SCRATCH_DIR])
