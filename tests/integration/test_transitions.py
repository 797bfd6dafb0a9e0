"""The CPU transitions the guest relies on (docs/guest.md), under vmm and
under QEMU TCG: `selftest` passes, and the system call's fallback path --
forced with --syscall-gate=closed -- carries every workload, so the path a
PVM-style KVM needs is tested on every machine."""

import shutil
import tempfile
import unittest
from pathlib import Path

import guest_runner
from vmbench import kvmkind
from guest_runner import GUEST, run_qemu_guest, run_vmm

# Generous: these only guard against a hang (a PVM-style host runs the
# guest's ring 0 at about a million instructions per second).
T = 300
MIB = 1 << 20

# Small workloads: what matters is that they pass, not their speed.
WORKLOADS = (
    ("info",),
    ("cpu", "--cpu-max-prime=2000", "--events=20", "--threads=2"),
    ("memory", "--memory-total-size=16M", "--threads=2"),
    ("fileio", "--file-num=4", "--file-total-size=4M", "--file-test-mode=rndrw",
     "--events=200", "--threads=2", "prepare", "run", "cleanup"),
    ("fileio", "--file-num=4", "--file-total-size=4M", "--file-test-mode=rndrd",
     "--file-completion=irq", "--events=100", "--threads=2", "prepare", "run"),
)


class Transitions:
    """Mixed into one TestCase per platform."""

    def boot(self, args, disk=None, smp=2):
        """Boots the guest; returns (status, stdout)."""
        raise NotImplementedError

    def gate_path(self):
        """The path an open gate takes on this platform."""
        raise NotImplementedError

    def disk(self):
        raise NotImplementedError

    def selftest(self, *args, smp=2):
        status, out = self.boot(["selftest", *args], disk=self.disk(), smp=smp)
        self.assertEqual(status, 0, out)
        self.assertIn("SUMMARY: ", out)
        self.assertNotIn("FAIL: ", out)
        r = guest_runner.one_result(self, out)
        self.assertEqual(r["test"], "selftest")
        self.assertEqual(r["failed"], 0)
        return r

    def test_selftest_passes_every_check(self):
        r = self.selftest()
        self.assertEqual(r["checks"], {"syscall": "pass", "exceptions": "pass", "timer": "pass",
                                       "ap_startup": "pass", "ipi": "pass",
                                       "device_irq": "pass"})
        self.assertEqual(r["syscall"]["path"], self.gate_path())
        self.assertGreater(r["syscall"]["ns_per_call"], 0)

    def test_selftest_on_one_vcpu_skips_what_needs_two(self):
        r = self.selftest(smp=1)
        self.assertEqual(r["checks"]["ap_startup"], "skip")
        self.assertEqual(r["checks"]["ipi"], "skip")
        self.assertEqual(r["checks"]["timer"], "pass")
        # The disk's reader is a shared thread beside the bound main thread
        # on the one vCPU: it runs only if a bound thread's yield gives way
        # to shared ones (the scheduler once let it starve).
        self.assertEqual(r["checks"]["device_irq"], "pass")
        self.assertEqual(r["skipped"], 2)

    def test_selftest_without_a_disk_skips_the_device_interrupt(self):
        status, out = self.boot(["selftest"], disk=None, smp=1)
        self.assertEqual(status, 0, out)
        self.assertIn("SKIP: device interrupt: no virtio-blk disk", out)

    def test_closed_gate_takes_the_fallback(self):
        r = self.selftest("--syscall-gate=closed")
        self.assertEqual(r["checks"]["syscall"], "pass")
        self.assertIn(r["syscall"]["path"], ("gp", "ud"))
        self.assertEqual(r["env"]["syscalls"]["gate"], 0)

    def test_every_workload_passes_on_the_fallback(self):
        for args in WORKLOADS:
            with self.subTest(test=" ".join(args)):
                status, out = self.boot([*args, "--syscall-gate=closed"], disk=self.disk())
                self.assertEqual(status, 0, out)
                for r in guest_runner.results(out):
                    calls = r["env"]["syscalls"]
                    self.assertEqual(calls["gate"], 0, r)
                    self.assertGreater(calls["gp"] + calls["ud"], 0, r)

    def test_selftest_passes_in_x2apic_mode(self):
        """--apic=x2apic: the timer, wake IPIs and MSI with the LAPIC's MSRs."""
        status, out = self.boot(["selftest", "--apic=x2apic"], disk=self.disk())
        if status == 3:
            # A CPU without x2APIC (QEMU 7.2's TCG): one clear line.
            self.assertIn("--apic=x2apic: this CPU has no x2APIC", out)
            return
        self.assertEqual(status, 0, out)
        self.assertNotIn("FAIL: ", out)
        self.assertEqual(guest_runner.one_result(self, out)["failed"], 0)
        status, out = self.boot(["info", "--apic=x2apic"])
        self.assertEqual(status, 0, out)
        self.assertIn("Interrupt controller: x2APIC", out)

    def test_the_gate_option_is_checked(self):
        status, out = self.boot(["info", "--syscall-gate=ajar"])
        self.assertEqual(status, 2, out)
        self.assertIn("syscall-gate", out)


class VmmTransitions(Transitions, unittest.TestCase):
    def boot(self, args, disk=None, smp=2):
        disk_args = ("--disk", str(disk)) if disk is not None else ()
        res = run_vmm("--smp", smp, "--mem", "256M", "--timeout", T, *disk_args, GUEST, *args,
                      timeout=T + 60)
        self.assertNotIn("Sanitizer", res.stderr)
        return res.returncode, res.stdout

    def gate_path(self):
        # A PVM-style KVM raises #UD for int $0x80 from ring 3: the point
        # of the fallback.  Every other kind delivers the gate.
        check = guest_runner.kvm().run([guest_runner.RELEASE_VMM, "--check"], timeout=60)
        return "ud" if kvmkind.from_check(check.stdout) == "pvm" else "gate"

    def disk(self):
        d = Path(tempfile.mkdtemp(prefix="transitions-", dir=guest_runner.kvm().scratch_dir))
        self.addCleanup(shutil.rmtree, d, True)
        path = d / "disk.img"
        with open(path, "wb") as f:
            f.truncate(8 * MIB)
        return path


class QemuTransitions(Transitions, unittest.TestCase):
    def boot(self, args, disk=None, smp=2):
        extra = ()
        if disk is not None:
            extra = ("-drive", f"file={disk},format=raw,if=none,id=d0",
                     "-device", "virtio-blk-pci,drive=d0")
        status, out, _ = run_qemu_guest(" ".join(args), smp=smp, mem="256M", timeout=T,
                                        extra=extra)
        return status, out

    def gate_path(self):
        return "gate"

    def disk(self):
        d = tempfile.TemporaryDirectory(prefix="vmbench-transitions-", dir=guest_runner.BUILD)
        self.addCleanup(d.cleanup)
        path = Path(d.name) / "disk.img"
        with open(path, "wb") as f:
            f.truncate(8 * MIB)
        return path


if __name__ == "__main__":
    unittest.main()
