"""The guest's `vmexit` test (guest/workloads/vmexit.c): under vmm, under
QEMU TCG and, where this host's /dev/kvm works for QEMU, under QEMU KVM,
both with QEMU's -device pci-testdev.  Every op must come out measured or
skipped with a reason, the result must validate, and nothing may hang --
above all no hypercall on a PVM-style KVM, where a ring-0 vmcall never
returns.  In xAPIC mode (the default) the LAPIC ops must be made and waited
for in ring 3; with --apic=x2apic, in ring 0.  Figures are not checked:
they are the host's."""

import os
import subprocess
import unittest

import guest_runner
from guest_runner import GUEST, run_vmm
from vmbench import kvmkind, results
from vmbench.platforms.qemu_guest import qemu_argv

# Hang guards only: a PVM-style host takes ~10 ms per interrupt to ring 0,
# and 64 of them make one pass of each interrupt op.
T = 600
MIN_TICKS = 1 << 22
PCI_OPS = ("pio_read", "pio_write", "pio_write_ioeventfd",
           "mmio_read", "mmio_write", "mmio_write_ioeventfd")
# The ops that wait for an interrupt their LAPIC access raises.
INTERRUPT_OPS = ("self_ipi", "ipi", "ipi_halted", "timer")
LAPIC_OPS = ",".join(INTERRUPT_OPS + ("eoi", "hlt"))
X2APIC_RING0 = "x2APIC mode: the LAPIC is MSRs, ring 0 only"
QEMU_PROBE_STATUS = 3


def ops_by_name(testcase, r, names=results.VMEXIT_OPS):
    """The result's ops, checked: each measured or skipped, all of `names` present."""
    results.validate_result(r, guest=True)
    ops = {op["name"]: op for op in r["vmexit"]["ops"]}
    testcase.assertEqual(sorted(ops), sorted(names))
    for name, op in ops.items():
        if "skipped" in op:
            testcase.assertTrue(op["skipped"].strip(), name)
        else:
            testcase.assertGreater(op["iterations"], 0, name)
            testcase.assertGreater(op["cycles"], 0, name)
    return ops


def assert_lapic_rings(testcase, ops, ring):
    """Who made each LAPIC op's access and who waited: `ring` (3 in xAPIC
    mode, 0 in x2APIC mode); hlt is ring 0's everywhere."""
    for name in INTERRUPT_OPS:
        testcase.assertNotIn("skipped", ops[name], name)
        testcase.assertEqual((ops[name]["ring"], ops[name]["wait"]), (ring, ring), name)
    testcase.assertEqual(ops["eoi"]["ring"], ring)
    testcase.assertNotIn("wait", ops["eoi"])
    testcase.assertEqual((ops["hlt"]["ring"], ops["hlt"]["wait"]), (0, 0))
    if ring == 3:
        testcase.assertEqual(ops["timer"]["mode"], "one-shot")
    else:
        for name in INTERRUPT_OPS + ("eoi",):
            testcase.assertIn(X2APIC_RING0, ops[name]["note"], name)


def host_kind():
    """vmm's word for this host's KVM (None: no usable /dev/kvm here)."""
    return kvmkind.check(guest_runner.RELEASE_VMM)[0]


class Checks:
    """What every platform must show; mixed into one TestCase per platform."""

    def run_guest(self, args, smp=2):
        """Boots the guest with `vmexit ARGS`; returns (status, stdout)."""
        raise NotImplementedError

    def vmexit(self, *args, smp=2):
        status, out = self.run_guest(["vmexit", f"--min-ticks={MIN_TICKS}", *args], smp=smp)
        self.assertEqual(status, 0, out)
        r = guest_runner.one_result(self, out)
        self.assertEqual(r["test"], "vmexit")
        self.assertEqual(r["vmexit"]["min_ticks"], MIN_TICKS)
        return r, out

    def test_one_vcpu_skips_the_ipis(self):
        r, _ = self.vmexit("--ops=cpuid,ipi,ipi_halted", smp=1)
        ops = {op["name"]: op for op in r["vmexit"]["ops"]}
        self.assertEqual(sorted(ops), ["cpuid", "ipi", "ipi_halted"])
        self.assertIn("one vCPU", ops["ipi"]["skipped"])
        self.assertIn("one vCPU", ops["ipi_halted"]["skipped"])
        self.assertEqual(ops["cpuid"]["ring"], 3)

    def test_an_unknown_op_is_a_usage_error(self):
        status, out = self.run_guest(["vmexit", "--ops=cpuid,vmfunc"])
        self.assertEqual(status, 2, out)
        self.assertIn("unknown op 'vmfunc'", out)
        self.assertEqual(guest_runner.results(out), [])

    def test_lapic_ops_from_ring3_in_xapic_mode(self):
        r, out = self.vmexit(f"--ops={LAPIC_OPS}")
        ops = ops_by_name(self, r, LAPIC_OPS.split(","))
        assert_lapic_rings(self, ops, 3)
        self.assertIn("ring 3 makes the accesses and waits", out)

    def test_x2apic_mode_falls_back_to_ring0(self):
        status, out = self.run_guest(["vmexit", "--apic=x2apic", f"--min-ticks={MIN_TICKS}",
                                      f"--ops={LAPIC_OPS}"])
        if status == 3:
            # QEMU 7.2's TCG has no x2APIC: one clear line, no result.
            self.assertIn("--apic=x2apic: this CPU has no x2APIC", out)
            self.assertEqual(guest_runner.results(out), [])
            return
        self.assertEqual(status, 0, out)
        r = guest_runner.one_result(self, out)
        assert_lapic_rings(self, ops_by_name(self, r, LAPIC_OPS.split(",")), 0)
        self.assertIn(f"ring 0 makes the accesses and waits ({X2APIC_RING0})", out)

    def test_bad_values_are_usage_errors(self):
        for arg, message in (("--ops=", "--ops names no op"),
                             ("--min-ticks=0", "--min-ticks must be at least 1"),
                             ("--min-ticks=68719476737",
                              "--min-ticks must be at most 68719476736"),
                             ("--apic=x3apic", "invalid value 'x3apic' for option '--apic'")):
            with self.subTest(arg=arg):
                status, out = self.run_guest(["vmexit", arg], smp=1)
                self.assertEqual(status, 2, out)
                self.assertIn(message, out)


class VmmVmexit(Checks, unittest.TestCase):
    def run_guest(self, args, smp=2):
        res = run_vmm("--smp", smp, "--mem", "256M", "--timeout", T, GUEST, *args,
                      timeout=T + 60)
        self.assertNotIn("Sanitizer", res.stderr)
        return res.returncode, res.stdout

    def test_every_op(self):
        r, out = self.vmexit()
        ops = ops_by_name(self, r)
        host = r["vmexit"]["host"]
        check = guest_runner.kvm().run([guest_runner.RELEASE_VMM, "--check"], timeout=60)
        if kvmkind.from_check(check.stdout) == "pvm":
            self.assertEqual(host["kind"], "pvm")
            self.assertTrue(host["ring0_emulated"])
            self.assertIn("PVM-style host", ops["hypercall"]["skipped"])
        # vmm tells the guest its kind of KVM (CPUID 0x40000100) and offers
        # a pci-testdev: every write reaches vmm or KVM's ioeventfd.
        self.assertEqual(host["source"], "vmm-cpuid")
        self.assertIn("pci_testdev", r["vmexit"])
        for name in PCI_OPS:
            self.assertNotIn("skipped", ops[name], name)
        self.assertEqual(ops["pio_write"]["handled"], "user")
        self.assertEqual(ops["mmio_write"]["handled"], "user")
        self.assertEqual(ops["pio_write_ioeventfd"]["handled"], "kernel")
        self.assertEqual(ops["mmio_write_ioeventfd"]["handled"], "kernel")
        self.assertIn("ring0_loop", out)
        assert_lapic_rings(self, ops, 3)


    def test_without_the_device_the_pci_ops_are_skipped(self):
        res = run_vmm("--smp", 1, "--mem", "256M", "--no-testdev", "--timeout", T, GUEST,
                      "vmexit", f"--min-ticks={1 << 20}", "--ops=cpuid," + ",".join(PCI_OPS),
                      timeout=T + 60)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        r = guest_runner.one_result(self, res.stdout)
        results.validate_result(r, guest=True)
        ops = {op["name"]: op for op in r["vmexit"]["ops"]}
        self.assertEqual(sorted(ops), sorted(("cpuid",) + PCI_OPS))
        self.assertIn("ring", ops["cpuid"])
        for name in PCI_OPS:
            self.assertEqual(ops[name]["skipped"],
                             "no pci-testdev (QEMU: -device pci-testdev)", name)


class QemuVmexit(Checks):
    """QEMU with -device pci-testdev; ACCEL set by the subclass."""
    ACCEL = None

    def run_guest(self, args, smp=2):
        argv = qemu_argv(smp, 256, " ".join(args), self.ACCEL, "pc")   # has -device pci-testdev
        res = subprocess.run(argv, capture_output=True, text=True, timeout=T)
        return results.qemu_guest_status(res.returncode), res.stdout

    def every_op(self):
        r, _ = self.vmexit()
        ops = ops_by_name(self, r)
        self.assertIn("pci_testdev", r["vmexit"])
        for name in PCI_OPS:
            self.assertNotIn("skipped", ops[name], name)
            self.assertIn(ops[name]["ring"], (0, 3))
        for name in ("pio_write", "mmio_write"):
            self.assertEqual(ops[name]["handled"], "user", name)
        for name in ("cpuid", "mmio_read", "mmio_write", "mmio_write_ioeventfd"):
            self.assertEqual(ops[name]["ring"], 3, name)
        assert_lapic_rings(self, ops, 3)
        return r, ops


class QemuTcgVmexit(QemuVmexit, unittest.TestCase):
    ACCEL = "tcg"

    def test_every_op(self):
        r, ops = self.every_op()
        self.assertEqual(r["vmexit"]["host"]["kind"], "tcg")
        self.assertFalse(r["vmexit"]["host"]["ring0_emulated"])
        # TCG: vmcall is #UD, and no kernel takes the ioeventfd writes.
        self.assertIn("raised #UD in ring 3", ops["hypercall"]["skipped"])
        self.assertEqual(ops["pio_write_ioeventfd"]["handled"], "user")
        self.assertEqual(ops["mmio_write_ioeventfd"]["handled"], "user")
        # TCG honours IOPL: the ports are used from ring 3.
        self.assertEqual(ops["pio_write"]["ring"], 3)


class QemuKvmVmexit(QemuVmexit, unittest.TestCase):
    ACCEL = "kvm"

    @classmethod
    def setUpClass(cls):
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            raise unittest.SkipTest("no usable /dev/kvm for QEMU on this host")
        argv = qemu_argv(1, 64, f"selftest --kind=status --status={QEMU_PROBE_STATUS}", "kvm",
                         "pc")
        res = subprocess.run(argv, capture_output=True, text=True, timeout=T)
        if results.qemu_guest_status(res.returncode) != QEMU_PROBE_STATUS:
            raise unittest.SkipTest(f"QEMU cannot boot the guest with KVM: {res.stderr[-200:]}")

    def test_every_op(self):
        r, ops = self.every_op()
        self.assertEqual(ops["pio_write_ioeventfd"]["handled"], "kernel")
        self.assertEqual(ops["mmio_write_ioeventfd"]["handled"], "kernel")
        if host_kind() == "pvm":
            self.assertEqual(r["vmexit"]["host"]["kind"], "pvm")
            self.assertEqual(r["vmexit"]["host"]["source"], "measured")
            self.assertTrue(r["vmexit"]["host"]["ring0_emulated"])
            self.assertIn("PVM-style host", ops["hypercall"]["skipped"])
        else:
            self.assertEqual(ops["hypercall"]["ring"], 3)


if __name__ == "__main__":
    unittest.main()
