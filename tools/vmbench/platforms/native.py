"""native: Debian's sysbench on the host itself, the reference every other
platform is divided by.

fileio runs in a scratch directory on the host's file system (scratch_dir,
default build/cache/fileio-scratch; bench/compare passes --scratch-dir, by
default its results folder): every run gets a fresh directory there, where
`sysbench fileio ... prepare` makes the files (not timed), then `run` is
measured, then `cleanup` deletes them and the directory goes.  So every
repetition starts from freshly written files, as on the container and the
VMs; the host's page cache is in the path unless --file-extra-flags=direct.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from vmbench import sysbench
from vmbench.paths import CACHE
from vmbench.platforms.base import Platform, PlatformError
from vmbench.platforms.registry import SCRATCH_DIR, register

SYSBENCH_VERSION = "1.0.20"


def sysbench_version():
    if not shutil.which("sysbench"):
        raise PlatformError("native: sysbench is not installed (apt-get install sysbench)")
    out = subprocess.run(["sysbench", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"sysbench (\S+)", out)
    return m[1] if m else "unknown"


def run_timeout(case):
    """Generous: --time, plus start-up, plus a memory test's total size."""
    return 3 * int(case.option("time", 10)) + 120


def filesystem_type(path):
    """The file system type of path ("ext4", "overlay" ...), as stat -f says."""
    res = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return res.stdout.strip() or "unknown"


def disk_steps(case, directory, timeout, who):
    """Runs the sysbench commands of a case that needs a disk (its spec's:
    fileio prepare, not timed, output checked; then run) in `directory`;
    returns the last one's stdout.  cleanup is the caller's (finally)."""
    test_args = [case.test, *case.sysbench_args()]
    out = None
    for command in case.spec.commands:
        try:
            res = subprocess.run(["sysbench", *test_args, command], capture_output=True,
                                 text=True, timeout=timeout, cwd=directory)
        except subprocess.TimeoutExpired:
            raise PlatformError(f"{who}: sysbench {case.test} {command} did not finish in "
                                f"{timeout} s") from None
        if res.returncode != 0:
            fatal = next((line for line in res.stdout.splitlines() if "FATAL" in line),
                         res.stderr.strip() or f"status {res.returncode}")
            raise PlatformError(f"{who}: sysbench {case.test} {command} failed: {fatal}")
        out = res.stdout
    return out


class NativePlatform(Platform):
    name = "native"

    def __init__(self, scratch_dir=None):
        self.scratch_dir = Path(scratch_dir) if scratch_dir else \
            CACHE / "fileio-scratch"

    def prepare(self, cases):
        self.version = sysbench_version()
        if not self.version.startswith(SYSBENCH_VERSION):
            raise PlatformError(f"native: sysbench {self.version}, the figures need "
                                f"{SYSBENCH_VERSION}")

        if any(c.spec.needs_disk for c in cases):
            try:
                self.scratch_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise PlatformError(f"native: scratch directory {self.scratch_dir}: "
                                    f"{e.strerror}") from None

    def environment(self):
        return {"accelerator": "none (the host's CPU)", "limits": "none", "pinning": "none",
                "sysbench": self.version, "cpus": os.cpu_count(),
                "scratch_dir": str(self.scratch_dir)}

    def run(self, case):
        if case.spec.needs_disk:
            return self._on_disk(case)
        argv = ["sysbench", case.test, *case.sysbench_args(), "run"]
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=run_timeout(case))
        except subprocess.TimeoutExpired:
            raise PlatformError(f"native: sysbench did not finish in {run_timeout(case)} s")
        if res.returncode != 0:
            fatal = next((line for line in res.stdout.splitlines() if "FATAL" in line),
                         res.stderr.strip() or f"status {res.returncode}")
            raise PlatformError(f"native: sysbench failed: {fatal}")
        return self._record(res.stdout, {})

    def _record(self, text, env):
        try:
            record = sysbench.parse_report(text)
        except sysbench.SysbenchParseError as e:
            raise PlatformError(f"native: {e}") from None
        record["platform"] = self.name
        record["env"] = {"cpus": os.cpu_count(), "sysbench": self.version, **env}
        return record

    def _on_disk(self, case):
        work = Path(tempfile.mkdtemp(prefix="native-", dir=self.scratch_dir))
        try:
            out = disk_steps(case, work, run_timeout(case) + case.spec.setup_s, "native")
            if case.spec.cleanup:
                subprocess.run(["sysbench", case.test, *case.sysbench_args(), case.spec.cleanup],
                               capture_output=True, cwd=work, timeout=600)
            return self._record(out, {"disk_format": "host directory",
                                      "file_system": filesystem_type(work),
                                      "scratch_dir": str(self.scratch_dir)})
        finally:
            shutil.rmtree(work, ignore_errors=True)


register("native",
         lambda options: NativePlatform(scratch_dir=getattr(options, "scratch_dir", None)),
         options=[SCRATCH_DIR])
