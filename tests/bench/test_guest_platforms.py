"""The platforms that need no image of their own: native (sysbench on this
host), qemu-guest (QEMU booting guest.elf) and vmm."""

import os
import subprocess
import sys
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tools")]
from harness.platform import Case, PlatformError  # noqa: E402
from harness.platforms.native import NativePlatform  # noqa: E402
from harness.platforms.qemu_guest import QemuGuestPlatform  # noqa: E402
from harness.platforms.vmm import VmmPlatform  # noqa: E402

CPU = Case("cpu", (("cpu-max-prime", 2000), ("threads", 2), ("time", 1)), 2, 512)


def qemu_kvm_works():
    res = subprocess.run(["qemu-system-x86_64", "-accel", "kvm", "-M", "none", "-display", "none",
                          "-S", "-qmp", "stdio"], input='{"execute": "qmp_capabilities"}\n'
                         '{"execute": "quit"}\n', capture_output=True, text=True, timeout=60)
    return res.returncode == 0


class Native(unittest.TestCase):
    def test_cpu_case(self):
        p = NativePlatform()
        p.prepare([CPU])
        r = p.run(CPU)
        self.assertEqual((r["platform"], r["test"], r["threads"]), ("native", "cpu", 2))
        self.assertGreater(r["events_per_s"], 0)
        self.assertEqual(p.environment()["sysbench"], "1.0.20")

    def test_sysbench_failure_is_quoted(self):
        p = NativePlatform()
        p.prepare([CPU])
        bad = Case("memory", (("memory-block-size", "3"), ("time", 1)), 1, 512)
        with self.assertRaisesRegex(PlatformError,
                                    "native: sysbench failed: FATAL: Invalid value for "
                                    "memory-block-size: 3"):
            p.run(bad)


class QemuGuest(unittest.TestCase):
    def test_auto_uses_what_really_boots(self):
        p = QemuGuestPlatform(accel="auto")
        p.prepare([CPU])
        env = p.environment()
        # Regression: QEMU exits with 1 when -accel kvm cannot start, which
        # is also how QEMU reports a guest status of 0; the probe took a
        # failed start for a KVM boot and labelled TCG runs "kvm".
        self.assertEqual(env["accelerator"], "kvm" if qemu_kvm_works() else "tcg")
        if env["accelerator"] == "tcg":
            self.assertIn("failed to initialize kvm", env["why_not_kvm"])
        r = p.run(CPU)
        self.assertEqual(r["platform"], "qemu-guest")
        self.assertEqual(r["env"]["qemu"]["accel"], env["accelerator"])
        self.assertEqual(r["env"]["vcpus"], 2)

    def test_kvm_when_asked_is_kvm_or_an_error(self):
        p = QemuGuestPlatform(accel="kvm")
        if qemu_kvm_works():
            p.prepare([CPU])
            self.assertEqual(p.environment()["accelerator"], "kvm")
        else:
            with self.assertRaisesRegex(PlatformError, "QEMU cannot boot the guest with -accel kvm"):
                p.prepare([CPU])

    def test_guest_error_is_reported(self):
        p = QemuGuestPlatform(accel="tcg")
        p.prepare([CPU])
        bad = Case("memory", (("memory-block-size", "3"), ("time", 1)), 1, 256)
        with self.assertRaisesRegex(PlatformError,
                                    "qemu-guest: the guest ended with status 2: .*FATAL: Invalid "
                                    "value for memory-block-size: 3"):
            p.run(bad)


class Vmm(unittest.TestCase):
    def test_cpu_case_records_the_host_side(self):
        p = VmmPlatform()
        try:
            p.prepare([CPU])
            r = p.run(CPU)
        finally:
            p.close()
        self.assertEqual((r["platform"], r["threads"], r["env"]["vcpus"]), ("vmm", 2, 2))
        host = r["env"]["vmm"]
        self.assertIn(host["where"], ("host", "nested-kvm-in-tcg"))
        self.assertGreater(host["exits"], 0)
        self.assertEqual(host["rss_kib"]["peak"], host["rss_kib"]["guest"] + host["rss_kib"]["vmm"])
        self.assertEqual(p.environment()["where"], host["where"])

    def test_too_much_memory_is_refused_clearly(self):
        huge = Case("cpu", (("cpu-max-prime", 2000), ("time", 1)), 1,
                    2 * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 20)
        p = VmmPlatform()
        try:
            p.prepare([huge])
            with self.assertRaisesRegex(PlatformError, r"vmm: exited with 125: .*more than this "
                                                       r"host's RAM and swap"):
                p.run(huge)
        finally:
            p.close()


if __name__ == "__main__":
    unittest.main()
