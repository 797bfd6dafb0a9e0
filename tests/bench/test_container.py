"""The container platform, run for real: sysbench under runc (or docker or
podman) with a CPU quota and a memory limit (docs/container.md).

Needs root, cgroups, and the first time the network to the Debian mirror
(the root file system is built once, about a minute, then cached in
build/cache/container-rootfs).  Runs are kept short (--time=1).
"""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[2]

from vmbench.platforms.base import Case, PlatformError
from vmbench.platforms import container
from vmbench.platforms.container import ContainerPlatform

PERIOD = container.PERIOD_US


def _quiet(message):
    pass


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (runc, debootstrap, cgroup limits)"
    if container.cgroup_layout() == "none":
        return "no cgroup file system"
    return None


def _runc_containers():
    """Names of the containers runc still knows of in vmbench's state directory."""
    p = subprocess.run(["runc", "--root", container.RUNC_ROOT, "list", "-q"],
                       capture_output=True, text=True)
    return [n for n in p.stdout.split() if n.startswith("vmbench-")]


class QuotaRemoved(ContainerPlatform):
    """Takes every container's CPU quota away as soon as its sysbench runs,
    behind the harness's back (after the limits were read back): what the
    CPU-limit check exists to catch."""

    removed = 0

    def _container_started(self, info):
        dirs = info["dirs"]
        if dirs["version"] == 1:
            path, unlimited = Path(dirs["cpu"]) / "cpu.cfs_quota_us", "-1"
        else:
            path, unlimited = Path(dirs["unified"]) / "cpu.max", f"max {PERIOD}"
        if container.read_limits(dirs)["cpu_quota_us"] != -1:
            path.write_text(unlimited)
            self.removed += 1


@unittest.skipIf(_skip_reason(), _skip_reason())
class ContainerPlatformTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.p = ContainerPlatform(check_seconds=1, log=_quiet)
        cls.p.prepare([])

    @classmethod
    def tearDownClass(cls):
        cls.p.close()

    def test_prepare_checks_the_cpu_quota(self):
        env = self.p.environment()
        check = env["check"]
        self.assertTrue(check["passed"], check)
        self.assertEqual(check["band"], list(container.CHECK_BAND))
        self.assertIn(env["engine"], ("runc", "docker", "podman"))
        self.assertIn(env["cgroup_layout"], ("v1", "hybrid", "v2"))
        self.assertTrue(env["rootfs_sysbench"].startswith("1.0.20"), env["rootfs_sysbench"])
        # The kernel applied the quota for the whole limited run.
        self.assertGreaterEqual(check["limited_nr_periods"], check["limited_periods_expected"] // 2)
        if "warning" in check:      # a busy host: the ratio cannot tell, the kernel's figures do
            self.assertLessEqual(check["limited_cpus_used"], check["quota_cpus"] * 1.15, check)
            print(f"\n  note: {check['warning']} (ratio {check['ratio']})", file=sys.stderr)
        else:
            self.assertEqual(check["verdict"], "ratio")
            lo, hi = container.CHECK_BAND
            self.assertTrue(lo <= check["ratio"] <= hi, check)

    def test_cpu_run_reads_back_its_limits(self):
        case = Case("cpu", (("cpu-max-prime", 10000), ("threads", 2), ("time", 1)),
                    vcpus=1, mem_mib=128)
        rec = self.p.run(case)
        self.assertEqual(rec["platform"], "container")
        self.assertEqual(rec["schema"], "vmbench.result/1")
        self.assertEqual(rec["test"], "cpu")
        self.assertEqual(rec["threads"], 2)
        self.assertGreater(rec["events_per_s"], 0)
        env = rec["env"]
        self.assertEqual(env["vcpus"], 1)
        self.assertEqual(env["mem_mib"], 128)
        self.assertEqual(env["cpu_period_us"], PERIOD)
        self.assertEqual(env["cpu_quota_us"], 1 * PERIOD)
        self.assertEqual(env["mem_limit_bytes"], 128 << 20)
        self.assertLessEqual(env["cpu_time_s"], 1.15 * env["wall_s"] + 0.1)
        # The container and its cgroup are gone.
        for d in env["cgroups"].values():
            self.assertFalse(os.path.exists(d), d)
        if env["engine"] == "runc":
            self.assertEqual(_runc_containers(), [])

    def test_two_vcpus_memory_run(self):
        case = Case("memory", (("memory-block-size", "1M"), ("memory-total-size", "1G"),
                               ("threads", 2), ("time", 1)), vcpus=2, mem_mib=256)
        rec = self.p.run(case)
        self.assertEqual(rec["test"], "memory")
        self.assertGreater(rec["metrics"]["mib_per_s"], 0)
        self.assertEqual(rec["env"]["cpu_quota_us"], 2 * PERIOD)
        self.assertEqual(rec["env"]["mem_limit_bytes"], 256 << 20)

    def test_oom_kill_is_an_error(self):
        # Each of 2 threads gets its own 64 MiB block (scope local): 128 MiB
        # touched under a 64 MiB limit.  (--memory-scope=global would share one
        # block and never exceed it.)
        case = Case("memory", (("memory-block-size", "64M"), ("memory-scope", "local"),
                               ("memory-total-size", "1G"), ("threads", 2), ("time", 1)),
                    vcpus=2, mem_mib=64)
        with self.assertRaises(PlatformError) as cm:
            self.p.run(case)
        self.assertIn("OOM killed under a 64 MiB limit", str(cm.exception))
        if self.p.engine.name == "runc":
            self.assertEqual(_runc_containers(), [])

    def test_sysbench_failure_is_an_error(self):
        case = Case("cpu", (("no-such-option", 1), ("time", 1)), vcpus=1, mem_mib=64)
        with self.assertRaises(PlatformError) as cm:
            self.p.run(case)
        self.assertIn("sysbench exited with status", str(cm.exception))
        self.assertIn("no-such-option", str(cm.exception))

    def test_limit_not_in_cgroup_is_an_error(self):
        if self.p.engine.name != "runc":
            self.skipTest("drops the quota from runc's config")
        config = self.p.engine.config

        def without_quota(*args):
            c = config(*args)
            c["linux"]["resources"].pop("cpu", None)
            return c

        case = Case("cpu", (("time", 1),), vcpus=1, mem_mib=64)
        with mock.patch.object(self.p.engine, "config", without_quota):
            with self.assertRaises(PlatformError) as cm:
                self.p.run(case)
        msg = str(cm.exception)
        self.assertIn("limits not in force", msg)
        self.assertIn("cpu.cfs_quota_us is -1, asked 100000", msg.replace("cpu.max", "cpu.cfs_quota_us"))
        self.assertEqual(_runc_containers(), [])


@unittest.skipIf(_skip_reason(), _skip_reason())
class QuotaRemovedTest(unittest.TestCase):

    def test_check_catches_a_removed_quota(self):
        p = QuotaRemoved(check_seconds=1, check_attempts=2, log=_quiet)
        try:
            with self.assertRaises(PlatformError) as cm:
                p.prepare([])
        finally:
            p.close()
        self.assertGreater(p.removed, 0, "the quota was never removed: the test proves nothing")
        msg = str(cm.exception)
        self.assertTrue(msg.startswith("container: CPU quota not in force: "), msg)
        self.assertIn("events/s", msg)
        self.assertFalse(p.environment()["check"]["passed"])


class MirrorTest(unittest.TestCase):

    def test_mirror_from_deb822_and_one_line_sources(self):
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            (d / "debian.sources").write_text(
                "Types: deb\nURIs: http://security.example/debian-security\n"
                "Suites: bookworm-security\nComponents: main\n\n"
                "Types: deb\n# a comment\nURIs: http://mirror.example/debian\n"
                "Suites: bookworm bookworm-updates\nComponents: main\n")
            self.assertEqual(container.debian_mirror([d]), "http://mirror.example/debian")
            (d / "debian.sources").unlink()
            (d / "sources.list").write_text(
                "# deb http://old.example/debian bookworm main\n"
                "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n")
            self.assertEqual(container.debian_mirror([d / "sources.list"]),
                             "http://one.example/debian")
            with self.assertRaises(PlatformError):
                container.debian_mirror([d / "missing"])


if __name__ == "__main__":
    unittest.main()
