"""The platforms that need no image of their own: native (sysbench on this
host), qemu-guest (QEMU booting guest.elf) and vmm."""

import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
from vmbench import runner
from vmbench.platforms.base import Case, Platform, PlatformError
from vmbench.platforms import guest
from vmbench.platforms.qemu_guest import qemu_argv
from vmbench.platforms.native import NativePlatform
from vmbench.platforms.qemu_guest import QemuGuestPlatform
from vmbench.platforms.vmm import VmmPlatform

CPU = Case("cpu", (("cpu-max-prime", 2000), ("threads", 2), ("time", 1)), 2, 512)
FILEIO = Case("fileio", (("file-test-mode", "rndrd"), ("file-total-size", "8M"),
                         ("file-num", 2), ("file-block-size", "4K"),
                         ("file-extra-flags", "direct"), ("threads", 1), ("time", 1),
                         ("disk-format", "raw")), 1, 256)


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


class NativeFileio(unittest.TestCase):
    def test_files_in_the_scratch_directory_then_gone(self):
        with tempfile.TemporaryDirectory(dir=REPO / "build") as scratch:
            p = NativePlatform(scratch_dir=scratch)
            p.prepare([FILEIO])
            r = p.run(FILEIO)
            self.assertEqual(os.listdir(scratch), [])    # cleanup, and its directory removed
        self.assertEqual((r["test"], r["options"]["file-test-mode"],
                          r["options"]["file-extra-flags"]), ("fileio", "rndrd", "direct"))
        self.assertGreater(r["metrics"]["reads_per_s"], 0)
        self.assertEqual(r["env"]["disk_format"], "host directory")
        self.assertTrue(r["env"]["file_system"])

    def test_prepare_failure_is_quoted(self):
        with tempfile.TemporaryDirectory(dir=REPO / "build") as scratch:
            p = NativePlatform(scratch_dir=scratch)
            p.prepare([FILEIO])
            bad = Case("fileio", (("file-test-mode", "rndrd"), ("file-num", 0), ("time", 1)),
                       1, 256)
            with self.assertRaisesRegex(PlatformError, r"native: sysbench fileio prepare "
                                                       r"failed: FATAL: Invalid value for "
                                                       r"file-num: 0"):
                p.run(bad)


class GuestDisks(unittest.TestCase):
    def test_raw_disk_size(self):
        # sysbench's defaults: 128 files of 16 MiB, plus the 4 KiB layout block.
        self.assertEqual(guest.raw_disk_bytes(Case("fileio", (), 1, 256)), (2048 + 1) << 20)
        # 10M in 3 files of 3495253 bytes, each rounded up to 16 KiB blocks: 3506176.
        odd = Case("fileio", (("file-total-size", "10M"), ("file-num", 3)), 1, 256)
        self.assertEqual(guest.raw_disk_bytes(odd), 11 << 20)
        self.assertEqual(guest.raw_disk_bytes(FILEIO), 9 << 20)

    def test_raw_disks_only_and_direct(self):
        qcow2 = Case("fileio", (("disk-format", "qcow2"),), 1, 256)
        self.assertRegex(guest.skip_fileio("vmm", qcow2),
                         r"^vmm: the guest's fileio takes raw disks only \(disk-format=qcow2\)$")
        self.assertIsNone(guest.skip_fileio("vmm", FILEIO))
        self.assertIsNone(guest.skip_fileio("vmm", CPU))
        self.assertTrue(guest.direct(FILEIO))
        self.assertFalse(guest.direct(Case("fileio", (("file-extra-flags", "dsync"),), 1, 256)))
        self.assertEqual(guest.guest_args(FILEIO, "prepare")[-1], "prepare")
        self.assertNotIn("--disk-format=raw", guest.guest_args(FILEIO))
        self.assertRegex(QemuGuestPlatform(machine="microvm").skip(FILEIO), "no PCI bus")

    def test_qemu_drive(self):
        argv = qemu_argv(1, 256, "fileio run", "tcg", "pc", "/d/a,b.raw", direct=True)
        drive = argv.index("-drive")
        self.assertEqual(argv[drive:drive + 4],
                         ["-drive", "file=/d/a,,b.raw,format=raw,if=none,id=d0,cache=none",
                          "-device", "virtio-blk-pci,drive=d0"])
        argv = qemu_argv(1, 256, "fileio run", "tcg", "pc", "/d/a.raw")
        self.assertEqual(argv[argv.index("-drive") + 1], "file=/d/a.raw,format=raw,if=none,id=d0")
        self.assertNotIn("-drive", qemu_argv(1, 256, "cpu", "tcg", "pc"))
        self.assertNotIn("iothread", " ".join(argv))     # QEMU's default: the main loop

    def test_qemu_drive_in_an_iothread(self):
        argv = qemu_argv(1, 256, "fileio run", "kvm", "pc", "/d/a.raw", direct=True,
                         iothread=True)
        obj = argv.index("-object")
        self.assertEqual(argv[obj:obj + 6],
                         ["-object", "iothread,id=io0",
                          "-drive", "file=/d/a.raw,format=raw,if=none,id=d0,cache=none",
                          "-device", "virtio-blk-pci,drive=d0,iothread=io0"])
        self.assertNotIn("-object", qemu_argv(1, 256, "cpu", "kvm", "pc", iothread=True))

    def test_qemu_pci_testdev_on_pc_only(self):
        # The guest's vmexit test needs it, as vmm has it; microvm has no PCI.
        argv = qemu_argv(1, 256, "fileio run", "tcg", "pc", "/d/a.raw")
        self.assertEqual(argv[-2:], ["-device", "pci-testdev"])   # after the disk
        self.assertIn("pci-testdev", qemu_argv(1, 256, "cpu", "kvm", "pc"))
        self.assertNotIn("pci-testdev", qemu_argv(1, 256, "cpu", "tcg", "microvm"))


class GuestOwnTests(unittest.TestCase):
    """vmexit and jitter: the guest's own tests (specs: sysbench False)."""

    VMEXIT = Case("vmexit", (("threads", 1), ("time", 1), ("min-ticks", 1 << 24)), 2, 256)

    def test_only_the_platforms_that_boot_the_guest_run_them(self):
        self.assertEqual(NativePlatform().skip(self.VMEXIT),
                         "native: vmexit is the guest's own test; sysbench has none")
        self.assertIsNone(NativePlatform().skip(CPU))
        self.assertIsNone(VmmPlatform().skip(self.VMEXIT))
        self.assertIsNone(QemuGuestPlatform().skip(self.VMEXIT))
        self.assertRegex(QemuGuestPlatform(machine="microvm").skip(self.VMEXIT),
                         r"microvm has no PCI bus for pci-testdev")

    def test_qemu_adds_the_pci_test_device_for_vmexit(self):
        argv = qemu_argv(2, 256, "vmexit run", "kvm", "pc")
        i = argv.index("pci-testdev")
        self.assertEqual(argv[i - 1], "-device")

    def test_a_result_line_alone_is_the_result(self):
        line = json.dumps({"schema": "vmbench.result/1", "test": "vmexit", "platform": "vmm",
                           "options": {}, "env": {"vcpus": 2},
                           "vmexit": {"min_ticks": 1 << 24, "tsc_khz": 2100000,
                                      "host": {"kind": "kvm", "source": "measured",
                                               "ring0_emulated": False},
                                      "ops": [{"name": "cpuid", "ring": 3, "iterations": 64,
                                               "cycles": 900, "ns": 428.6}]}})
        out = f"vmexit: cpuid 900 cycles\nVMBENCH-RESULT {line}\n"
        record = guest.read_result("qemu-guest", self.VMEXIT, out, 0)
        self.assertEqual((record["platform"], record["vmexit"]["ops"][0]["cycles"]),
                         ("qemu-guest", 900))
        with self.assertRaisesRegex(PlatformError, r"^vmm: expected one VMBENCH-RESULT line, "
                                                   r"found 0$"):
            guest.read_result("vmm", self.VMEXIT, "vmexit: no result\n", 0)
        with self.assertRaisesRegex(PlatformError, r"^vmm: asked for jitter, the guest ran "
                                                   r"'vmexit'$"):
            guest.read_result("vmm", Case("jitter", (), 2, 256), out, 0)


class Skips(unittest.TestCase):
    def test_a_skipped_case_is_not_run_and_says_why(self):
        class Fake(Platform):
            def __init__(self, name, skips):
                self.name, self.skips, self.ran = name, skips, []

            def skip(self, case):
                return f"{self.name}: no {case.test} here" if case.test in self.skips else None

            def run(self, case):
                self.ran.append(case.test)
                return {"schema": "vmbench.result/1", "test": case.test,
                        "platform": self.name, "events_per_s": 1.0, "total_time_s": 1.0}

        a, b = Fake("native", ()), Fake("vmm", ("fileio",))
        with tempfile.TemporaryDirectory(dir=REPO / "build") as out:
            r = runner.Runner([a, b], [CPU, FILEIO], 2, Path(out), command="test")
            env = r.run()
            records = [json.loads(line) for line in
                       Path(out, "results.jsonl").read_text().splitlines()]
        # A warm-up per shape (CPU and FILEIO differ), then the repetitions.
        self.assertEqual(a.ran, ["cpu", "fileio"] * 3)
        self.assertEqual(b.ran, ["cpu", "cpu", "cpu"])
        self.assertEqual(sorted((x["platform"], x["test"]) for x in records),
                         sorted([("native", "cpu"), ("native", "fileio"), ("vmm", "cpu")] * 2))
        self.assertEqual(r.failed, {})
        self.assertEqual(env["skipped"], [{"platform": "vmm", "case": FILEIO.label(),
                                           "why": "vmm: no fileio here"}])


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


    def test_fileio_prepare_then_run_on_a_raw_disk(self):
        p = QemuGuestPlatform(accel="tcg")
        p.prepare([FILEIO])
        r = p.run(FILEIO)
        self.assertEqual((r["test"], r["options"]["file-test-mode"]), ("fileio", "rndrd"))
        self.assertGreater(r["metrics"]["reads_per_s"], 0)
        self.assertEqual((r["env"]["disk_format"], r["env"]["disk_bytes"], r["env"]["disk_cache"]),
                         ("raw", 9 << 20, "none"))
        self.assertEqual([d for d in (REPO / "build").iterdir()
                          if d.name.startswith("bench-qemu-guest-")], [])

    def test_fileio_prepare_failure_is_reported(self):
        p = QemuGuestPlatform(accel="tcg")
        p.prepare([FILEIO])
        # The guest does direct I/O only: blocks must be whole 512-byte sectors.
        bad = Case("fileio", (("file-test-mode", "rndrd"), ("file-total-size", "1M"),
                              ("file-num", 1), ("file-block-size", 1000), ("time", 1)), 1, 256)
        with self.assertRaisesRegex(PlatformError, r"qemu-guest: the guest's fileio prepare "
                                                   r"ended with status \d+: .*FATAL: "):
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
        # The kind of KVM vmm ran on, from its --json, as its --check said.
        self.assertIn(host["kvm_kind"], ("hardware", "pvm", "nested-tcg", "nested"))
        self.assertEqual(p.environment()["kvm_kind"], host["kvm_kind"])
        if host["where"] == "nested-kvm-in-tcg":
            self.assertEqual(host["kvm_kind"], "nested-tcg")

    def test_fileio_with_disk_options(self):
        """disk_options reach vmm's --disk (fileio-vs-native --vmm-disk): a
        polling disk works and the record says so; a bad word is vmm's
        refusal."""
        p = VmmPlatform(disk_options=("poll",))
        try:
            p.prepare([FILEIO])
            r = p.run(FILEIO)
        finally:
            p.close()
        self.assertGreater(r["metrics"]["reads_per_s"], 0)
        self.assertEqual((r["env"]["disk_direct"], r["env"]["disk_options"]), (True, ["poll"]))
        p = VmmPlatform(disk_options=("bogus",))
        try:
            p.prepare([FILEIO])
            with self.assertRaisesRegex(PlatformError, r"vmm: exited with 125 .*unknown disk "
                                                       r"option 'bogus'"):
                p.run(FILEIO)
        finally:
            p.close()

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
