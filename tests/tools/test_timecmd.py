"""Tests of tools/timecmd.c (build/timecmd, built by make): wall time and
peak RSS of a command, and the peak RSS of what it leaves behind (vmm's
reaper outlives vmm on purpose)."""

import json
import subprocess
import sys
import unittest

from vmbench.paths import BUILD

TIMECMD = BUILD / "timecmd"
# A child that writes 32 MiB and outlives its parent, which exits with 3
# at once; the child waits for the parent to be gone (no race either way).
LEAVES_A_CHILD = """
import os, time
parent = os.getpid()
if os.fork() == 0:
    while os.getppid() == parent:
        time.sleep(0.01)
    data = b"x" * (32 << 20)
    os._exit(0)
os._exit(3)
"""


@unittest.skipUnless(TIMECMD.exists(), "build/timecmd is missing: run make")
class Timecmd(unittest.TestCase):
    def run_timecmd(self, *argv):
        out = subprocess.run([str(TIMECMD), *argv], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return [json.loads(line) for line in out.stdout.splitlines()]

    def test_one_run(self):
        (run,) = self.run_timecmd("--", "true")
        self.assertEqual(run["status"], 0)
        self.assertGreater(run["wall_ns"], 0)
        self.assertGreater(run["maxrss_kib"], 0)
        self.assertEqual(run["others_maxrss_kib"], 0)

    def test_what_the_command_leaves_behind_is_reaped_and_measured(self):
        (run,) = self.run_timecmd("--", sys.executable, "-c", LEAVES_A_CHILD)
        self.assertEqual(run["status"], 3)
        self.assertGreater(run["others_maxrss_kib"], 32 << 10)
        self.assertLess(run["maxrss_kib"], 32 << 10)


if __name__ == "__main__":
    unittest.main()
