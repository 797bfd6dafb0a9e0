"""Tests of the qemu-linux platform (tools/vmbench/platforms/qemu_linux.py).

python3 -m unittest tests/bench/test_qemu_linux.py

The first classes need no VM.  The last ones boot real VMs: Debian's kernel
under QEMU's TCG (about 3 s each here), with short sysbench runs (--time=1,
--cpu-max-prime=2000); the first run fetches the kernel into build/cache
(about 10 s) and builds the sysbench initramfs (under a second)."""

import shutil
import time
import unittest
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[2]
from vmbench.platforms.base import Case, PlatformError
from vmbench.platforms import qemu_linux
from vmbench.platforms.qemu_linux import QemuLinuxPlatform
from vmbench import linuxvm

HAVE_VM_TOOLS = all(shutil.which(tool) for tool in ("qemu-system-x86_64", "sysbench", "busybox"))
KVM_USABLE = qemu_linux.kvm_usable()[0] if shutil.which("qemu-system-x86_64") else False


def cpu_case(vcpus=2, mem_mib=1024):
    return Case("cpu", (("cpu-max-prime", 2000), ("threads", vcpus), ("time", 1)), vcpus, mem_mib)


def guest_view(nproc=2, mem_total_mib=960, ram_mib=1024):
    return {"nproc": nproc, "mem_total_mib": mem_total_mib, "ram_mib": ram_mib}


class ClockJump:
    """Stands in for linuxvm's `time` module and is the platform's console stream:
    the clock is the real one until a console line contains `text`, then it jumps
    `by` seconds ahead.  A timeout then expires right after the VM has printed the
    line, because of that line, however long this machine took to boot it."""

    def __init__(self, text, by):
        self.text, self.by, self.jumped = text, by, 0.0
        self.sleep = time.sleep

    def monotonic(self):
        return time.monotonic() + self.jumped

    def write(self, line):
        if self.text in line:
            self.jumped = self.by

    def flush(self):
        pass


class ConsoleAndShape(unittest.TestCase):
    CONSOLE = "\n".join([
        "[    1.2] a kernel line before the script",
        "VMBENCH-GUEST uptime_s=1.94",
        "VMBENCH-GUEST nproc=2",
        "VMBENCH-GUEST mem_total_kib=983496",
        "VMBENCH-GUEST ram_bytes=1073085440",
        "VMBENCH-GUEST kernel=6.1.0-56-amd64",
        "VMBENCH-GUEST cpu_model=QEMU TCG CPU version 2.5+",
        "VMBENCH-OUTPUT-BEGIN",
        "VMBENCH-GUEST disk_bytes=1073741824",
        "sysbench 1.0.20",
        "LINUXVM-EXIT 0",
        "[    2.1] reboot: Power down",
    ])

    def test_guest_view_and_report_are_separated(self):
        guest, report = qemu_linux.parse_console(self.CONSOLE)
        self.assertEqual(report, "sysbench 1.0.20\n")
        self.assertEqual((guest["nproc"], guest["mem_total_mib"], guest["ram_mib"]), (2, 960, 1024))
        self.assertEqual((guest["disk_mib"], guest["uptime_s"]), (1024, 1.94))
        self.assertEqual(guest["cpu_model"], "QEMU TCG CPU version 2.5+")

    def test_missing_lines_give_none(self):
        guest, report = qemu_linux.parse_console("Kernel panic - not syncing: oops\n")
        self.assertIsNone(guest["nproc"])
        self.assertEqual(report, "\n")

    def test_shape_checks(self):
        self.assertIsNone(qemu_linux.shape_mismatch(guest_view(), 2, 1024))
        self.assertIn("nproc says 1", qemu_linux.shape_mismatch(guest_view(nproc=1), 2, 1024))
        self.assertIn("512 MiB of RAM", qemu_linux.shape_mismatch(guest_view(ram_mib=512), 2, 1024))
        self.assertIn("MemTotal", qemu_linux.shape_mismatch(guest_view(mem_total_mib=700), 2, 1024))
        self.assertIn("did not report", qemu_linux.shape_mismatch(guest_view(ram_mib=None), 2, 1024))


class Refusals(unittest.TestCase):
    def test_bad_options(self):
        for kwargs in ({"accel": "hvf"}, {"disk_format": "vmdk"}, {"cpu": "max; rm"},
                       {"disk_cache": "fast"}):
            with self.subTest(kwargs), self.assertRaises(PlatformError):
                QemuLinuxPlatform(**kwargs)

    def test_fileio_disk_formats_and_tests_are_known(self):
        platform = QemuLinuxPlatform(accel="tcg")
        with self.assertRaisesRegex(PlatformError, "fileio disk format 'vmdk'"):
            platform.prepare([Case("fileio", (("time", 1), ("disk-format", "vmdk")), 1, 512)])
        with self.assertRaisesRegex(PlatformError, "test 'oltp'"):
            platform.prepare([Case("oltp", (), 1, 512)])

    def test_disk_format_and_cache_per_case(self):
        platform = QemuLinuxPlatform(accel="tcg")
        direct = Case("fileio", (("file-extra-flags", "direct"), ("disk-format", "qcow2")), 1, 512)
        buffered = Case("fileio", (("file-extra-flags", "sync"),), 1, 512)
        self.assertEqual(platform._disk_format(direct), "qcow2")
        self.assertEqual(platform._disk_format(buffered), "raw")
        self.assertIsNone(platform._disk_format(cpu_case()))
        self.assertEqual(platform._disk_cache(direct), "none")     # O_DIRECT on the host too
        self.assertIsNone(platform._disk_cache(buffered))          # QEMU's default
        self.assertEqual(QemuLinuxPlatform(accel="tcg", disk_cache="unsafe")._disk_cache(direct),
                         "unsafe")
        self.assertNotIn("--disk-format=qcow2", direct.sysbench_args())

    def test_run_before_prepare(self):
        with self.assertRaisesRegex(PlatformError, "prepare"):
            QemuLinuxPlatform(accel="tcg").run(cpu_case())

    def test_tcg_is_never_recorded_as_kvm(self):
        """Should QEMU ever run a VM with TCG when KVM was chosen, the run is refused."""
        platform = QemuLinuxPlatform(accel="tcg")
        platform.accel, platform.cpu, platform.initrd = "kvm", "host", Path("/nonexistent")
        platform.kernel = mock.Mock(package="linux-image-x", package_version="1")
        ran_with_tcg = linuxvm.Result(status=0, output="", accel_used="tcg", wall_s=1.0)
        with mock.patch.object(linuxvm, "run", return_value=ran_with_tcg), \
                self.assertRaisesRegex(PlatformError, "with tcg although kvm was asked"):
            platform.run(cpu_case())

    @unittest.skipIf(KVM_USABLE, "KVM can run Linux VMs on this host")
    def test_kvm_asked_where_it_cannot_work_is_an_error_without_booting(self):
        with mock.patch.object(linuxvm, "run") as run, \
                self.assertRaisesRegex(PlatformError, r"accel=kvm asked, but KVM cannot run"):
            QemuLinuxPlatform(accel="kvm").prepare([cpu_case()])
        run.assert_not_called()

    @unittest.skipIf(KVM_USABLE, "KVM can run Linux VMs on this host")
    def test_auto_chooses_tcg_and_says_why(self):
        platform = QemuLinuxPlatform(accel="auto")
        self.assertEqual(platform._choose_accel()[0], "tcg")
        self.assertTrue(platform._choose_accel()[1])


@unittest.skipUnless(HAVE_VM_TOOLS, "needs qemu-system-x86, sysbench and busybox-static")
class SysbenchInTheVM(unittest.TestCase):
    """One prepared platform (TCG), several runs."""

    @classmethod
    def setUpClass(cls):
        cls.platform = QemuLinuxPlatform(accel="tcg")
        cls.platform.prepare([cpu_case()])

    @classmethod
    def tearDownClass(cls):
        cls.platform.close()

    def test_prepare_recorded_the_vm(self):
        env = self.platform.environment()
        self.assertEqual((env["accelerator"], env["cpu"]), ("tcg", "max"))
        self.assertRegex(env["kernel"], r"^\d+\.\d+")
        self.assertIn("qemu-linux", env["initramfs"])
        self.assertTrue(Path(env["initramfs"]).is_file())
        self.assertEqual(self.platform.checked[(2, 1024)]["nproc"], 2)

    def test_cpu_run(self):
        record = self.platform.run(cpu_case())
        self.assertEqual((record["platform"], record["test"]), ("qemu-linux", "cpu"))
        self.assertGreater(record["events_per_s"], 0)
        self.assertEqual(record["options"]["cpu-max-prime"], 2000)
        env = record["env"]
        self.assertEqual(env["accel"], "tcg")
        self.assertEqual((env["vcpus"], env["guest_nproc"]), (2, 2))
        self.assertEqual((env["mem_mib"], env["guest_ram_mib"]), (1024, 1024))
        self.assertLessEqual(env["guest_mem_total_mib"], 1024)
        self.assertEqual(env["kernel"], self.platform.kernel.version)

    def test_memory_run_on_another_shape(self):
        case = Case("memory", (("memory-block-size", "1M"), ("memory-total-size", "64M"),
                               ("threads", 1), ("time", 1)), 1, 512)
        record = self.platform.run(case)
        self.assertEqual(record["test"], "memory")
        self.assertGreater(record["metrics"]["mib_per_s"], 0)
        self.assertEqual(record["options"]["memory-block-size"], 1 << 20)
        self.assertEqual((record["env"]["guest_nproc"], record["env"]["guest_ram_mib"]), (1, 512))

    def test_sysbench_failure_quotes_fatal(self):
        case = Case("memory", (("memory-block-size", 3), ("time", 1)), 2, 1024)
        with self.assertRaisesRegex(PlatformError,
                                    r"status 1\): FATAL: Invalid value for memory-block-size"):
            self.platform.run(case)

    def test_panic_and_timeout_are_errors_with_the_reason(self):
        # Through _boot, which run() uses: sysbench itself neither panics nor hangs.
        # 600 s only guards against a hang: the panic comes as soon as the VM runs the command.
        with self.assertRaisesRegex(PlatformError, r"the kernel panicked; last console lines: "
                                                   r".*Kernel panic - not syncing: sysrq"):
            self.platform._boot(1, 512, "echo c > /proc/sysrq-trigger", None, timeout=600,
                                what="a crash")
        # The timeout expires once the VM has started the command (its output marker
        # on the console), not after a fixed time that a slow boot may use up first.
        clock = ClockJump(qemu_linux.OUTPUT_MARK, by=300)
        with mock.patch.object(linuxvm.vm, "time", clock), \
                mock.patch.object(self.platform, "console", clock), \
                self.assertRaisesRegex(PlatformError, r"timed out after 300 s; the VM booted, "
                                                      r"a sleep printed nothing"):
            self.platform._boot(1, 512, "sleep 3600", None, timeout=300, what="a sleep")
        self.assertTrue(clock.jumped, "the VM never started the command")


@unittest.skipUnless(HAVE_VM_TOOLS and shutil.which("qemu-img") and shutil.which("mke2fs"),
                     "needs qemu-img (qemu-utils) and mke2fs (e2fsprogs)")
class DiskInTheVM(unittest.TestCase):
    def test_fileio_on_a_qcow2_disk(self):
        # The case chooses the disk format (the matrix's "disks"), not the platform.
        case = Case("fileio", (("file-total-size", "16M"), ("file-test-mode", "rndrw"),
                               ("threads", 1), ("time", 1), ("disk-format", "qcow2")), 1, 512)
        platform = QemuLinuxPlatform(accel="tcg")
        try:
            platform.prepare([case])
            record = platform.run(case)
            scratch = platform._scratch
            self.assertEqual(list(scratch.iterdir()), [])  # each run's disk is gone after it
        finally:
            platform.close()
        self.assertFalse(scratch.exists())
        self.assertEqual(record["test"], "fileio")
        self.assertEqual(record["options"]["file-total-size"], 16 << 20)
        self.assertGreater(record["metrics"]["reads_per_s"] + record["metrics"]["writes_per_s"], 0)
        self.assertEqual((record["env"]["disk_format"], record["env"]["disk_mib"]), ("qcow2", 1024))


if __name__ == "__main__":
    unittest.main()
