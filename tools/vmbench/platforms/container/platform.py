"""The container platform itself: the engine chosen, the root file system
ensured, the CPU-limit check, and each case run in a fresh container
(see the package's docstring)."""

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from vmbench import sysbench
from vmbench.paths import CACHE
from vmbench.platforms.base import Platform, PlatformError
from vmbench.platforms.container.cgroups import PERIOD_US, Limits, cgroup_layout
from vmbench.platforms.container.engines import _CliEngine, _RuncEngine
from vmbench.platforms.container.host import _fs_type, _host_cpus, _tail, remove_tree
from vmbench.platforms.container.rootfs import SUITE, VARIANT, Rootfs, debian_mirror
from vmbench.platforms.registry import SCRATCH_DIR, register


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


def _log_stderr(message):
    print(message, file=sys.stderr, flush=True)


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


register("container",
         lambda options: ContainerPlatform(scratch_dir=getattr(options, "scratch_dir", None)),
         options=[SCRATCH_DIR])
