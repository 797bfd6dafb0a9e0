"""native: Debian's sysbench on the host itself, the reference every other
platform is divided by."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from harness.platform import Platform, PlatformError

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from vmbench import sysbench  # noqa: E402

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


class NativePlatform(Platform):
    name = "native"

    def prepare(self, cases):
        self.version = sysbench_version()
        if not self.version.startswith(SYSBENCH_VERSION):
            raise PlatformError(f"native: sysbench {self.version}, the figures need "
                                f"{SYSBENCH_VERSION}")

    def environment(self):
        return {"accelerator": "none (the host's CPU)", "limits": "none", "pinning": "none",
                "sysbench": self.version, "cpus": os.cpu_count()}

    def run(self, case):
        argv = ["sysbench", case.test, *case.sysbench_args(), "run"]
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=run_timeout(case))
        except subprocess.TimeoutExpired:
            raise PlatformError(f"native: sysbench did not finish in {run_timeout(case)} s")
        if res.returncode != 0:
            fatal = next((line for line in res.stdout.splitlines() if "FATAL" in line),
                         res.stderr.strip() or f"status {res.returncode}")
            raise PlatformError(f"native: sysbench failed: {fatal}")
        try:
            record = sysbench.parse_report(res.stdout)
        except sysbench.SysbenchParseError as e:
            raise PlatformError(f"native: {e}") from None
        record["platform"] = self.name
        record["env"] = {"cpus": os.cpu_count(), "sysbench": self.version}
        return record
