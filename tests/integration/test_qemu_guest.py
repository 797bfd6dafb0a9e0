"""The same guest.elf under QEMU's TCG (the platform contract: it must boot
unchanged there), and the same `info` figures as under vmm."""

import unittest

import guest_runner
from guest_runner import GUEST, run_qemu_guest, run_vmm


class QemuInfo(unittest.TestCase):
    def qemu_info(self, smp, mem):
        status, out, err = run_qemu_guest("info --touch-ram", smp=smp, mem=mem)
        self.assertEqual(status, 0, err + out)
        r = guest_runner.one_result(self, out)
        self.assertEqual(r["platform"], "qemu-guest")
        self.assertTrue(r["ram_ok"])
        guest_runner.assert_info_syscalls_bounded(self, r, smp)
        return r

    def check_same_as_vmm(self, smp, mem):
        q = self.qemu_info(smp, mem)
        # Both limits only guard against a hang (guest_runner.HANG_GUARD_S).
        res = run_vmm("--smp", smp, "--mem", mem, "--timeout", 300, GUEST, "info")
        self.assertEqual(res.returncode, 0, res.stderr)
        v = guest_runner.one_result(self, res.stdout)
        for key in ("vcpus", "mem_mib"):
            self.assertEqual(q["env"][key], v["env"][key], key)
        self.assertEqual(q["threads"], v["threads"])
        self.assertEqual(q["env"]["vcpus"], smp)
        # vmm reads KVM's TSC rate; QEMU's guest measures its TSC against the
        # PIT.  Both are this machine's TSC.
        self.assertAlmostEqual(q["env"]["tsc_hz"] / v["env"]["tsc_hz"], 1.0, delta=0.02)

    def test_smp1_mem64m(self):
        self.check_same_as_vmm(1, "64M")

    def test_smp2_mem2g(self):
        self.check_same_as_vmm(2, "2G")

    def test_smp8_mem5g(self):
        self.check_same_as_vmm(8, "5G")

    def test_smp2_mem64m(self):
        self.assertEqual(self.qemu_info(2, "64M")["env"]["mem_mib"], 64)

    def test_smp8_mem2g(self):
        self.assertEqual(self.qemu_info(8, "2G")["env"]["vcpus"], 8)

    def test_smp1_mem5g(self):
        self.assertEqual(self.qemu_info(1, "5G")["env"]["mem_mib"], 5120)

    def test_other_machine_types(self):
        # microvm has no port 0x61 (the PIT calibration uses channel 0 for
        # that reason) and no legacy PCI; q35 has another chipset.
        for machine in ("microvm", "q35"):
            with self.subTest(machine=machine):
                status, out, err = run_qemu_guest("info", smp=2, mem="1G",
                                                  extra=("-M", machine, "-nodefaults"))
                self.assertEqual(status, 0, err + out)
                r = guest_runner.one_result(self, out)
                self.assertEqual((r["env"]["vcpus"], r["env"]["mem_mib"]), (2, 1024))
                self.assertEqual(r["env"]["tsc_source"], "pit")

    def test_tsc_calibrated_against_pit(self):
        r = self.qemu_info(1, "64M")
        self.assertEqual(r["env"]["tsc_source"], "pit")


class QemuApStartup(unittest.TestCase):
    """The APs start with the MP specification's pauses (10 ms after INIT,
    200 us before a second SIPI) only where CPUID says no hypervisor runs
    the guest (guest/kernel/smp.c): a CPU model without the hypervisor bit
    takes the bare-metal branch, which nothing else here boots.  The
    pauses are busy waits on the guest's TSC, so the boot timeline shows
    them as a lower bound, whatever the machine's speed."""

    MP_SPEC_PAUSES_MS = 10.2

    def boot(self, cpu):
        status, out, err = run_qemu_guest("info", smp=2, mem="256M", extra=("-cpu", cpu))
        self.assertEqual(status, 0, err + out)
        return guest_runner.one_result(self, out)

    def test_bare_metal_branch_pauses_and_starts_every_ap(self):
        r = self.boot("max,-hypervisor")
        self.assertEqual(r["env"]["hypervisor"], "")
        self.assertEqual(r["threads"], 2)
        b = r["boot_ms"]
        self.assertGreater(b["aps_init"], 0)
        self.assertGreaterEqual(b["aps_started"] - b["aps_init"], self.MP_SPEC_PAUSES_MS)

    def test_hypervisor_branch_starts_every_ap(self):
        r = self.boot("max")
        self.assertNotEqual(r["env"]["hypervisor"], "")
        self.assertEqual(r["threads"], 2)
        self.assertGreater(r["boot_ms"]["aps_init"], 0)


class QemuFailures(unittest.TestCase):
    def test_ring3_page_fault(self):
        status, out, _ = run_qemu_guest("selftest --kind=user-page-fault")
        self.assertEqual(status, 4)
        self.assertIn("exception #PF page fault (vector 14)", out)

    def test_ring0_page_fault(self):
        status, out, _ = run_qemu_guest("selftest --kind=kernel-page-fault")
        self.assertEqual(status, 4)
        self.assertIn("in ring 0", out)

    def test_triple_fault_stops_qemu(self):
        # With -no-reboot QEMU exits 0: no status was written.
        status, _, _ = run_qemu_guest("selftest --kind=triple-fault")
        self.assertIsNone(status)

    def test_ring3_survives_bios_timer(self):
        # Regression: the BIOS leaves the PIT ticking on legacy IRQ 0, which
        # the 8259 delivered at vector 8 (#DF) until the guest masked it.
        status, out, _ = run_qemu_guest("selftest --kind=spin --ms=300", smp=2)
        self.assertEqual(status, 0, out)
        self.assertIn("spun for 300 ms", out)

    def test_status_passes_through(self):
        status, _, _ = run_qemu_guest("selftest --kind=status --status=9")
        self.assertEqual(status, 9)

    def test_unknown_test(self):
        status, out, _ = run_qemu_guest("nosuchtest")
        self.assertEqual(status, 2)
        self.assertIn("vmbench: unknown test 'nosuchtest'", out)


if __name__ == "__main__":
    unittest.main()
