"""The container engines: runc on the cached root file system, or docker or
podman when their engine answers.  Each runs one container to its end and
returns an Outcome, with the limits read back from its cgroup."""

import contextlib
import ctypes
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

from vmbench.platforms.base import PlatformError
from vmbench.platforms.container.cgroups import (PERIOD_US, _swap_accounting, cgroup_dirs,
                                                 read_limits, read_usage)
from vmbench.platforms.container.host import _tail, remove_tree

RUNC_ROOT = "/run/vmbench-runc"         # runc's state directory (runc --root)
_PR_SET_CHILD_SUBREAPER = 36


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
