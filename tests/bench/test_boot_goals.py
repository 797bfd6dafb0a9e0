"""bench/boot's goals table (vmbench.boot): each figure against its goal."""

import contextlib
import io
import unittest

from vmbench import boot


class Run:
    def __init__(self, name, where, walls, **extra):
        self.name, self.where = name, where
        self.runs = [dict({"wall_ms": w}, **extra) for w in walls]


class Goals(unittest.TestCase):
    def test_figures_and_ratios(self):
        vmm = Run("vmm", "host", [20, 22, 24], exits=9, vmm_rss_kib=1536)
        microvm = Run("qemu-microvm-kvm", "host", [300, 330, 360])
        measured = boot.goals(vmm, vmm, [vmm, microvm])
        self.assertEqual(measured, {"exits": 9, "wall_ms": 22, "vs_microvm_kvm": 15.0,
                                    "vmm_rss_mib": 1.5})
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            boot.print_goals(measured)
        text = out.getvalue()
        self.assertRegex(text, r"exits to userspace per boot\s+9\.0\s+goal <= 100\s+ratio 11\.11 met")
        self.assertRegex(text, r"boot to exit, median\s+22\.0 ms\s+goal <= 25 ms\s+ratio  1\.14 met")
        self.assertRegex(text, r"faster than qemu-microvm-kvm\s+15\.0x\s+goal >= 10x\s+ratio  1\.50 met")
        self.assertRegex(text, r"vmm's own RSS\s+1\.5 MiB\s+goal <= 2 MiB\s+ratio  1\.33 met")

    def test_exits_and_rss_come_from_the_report_runs(self):
        # vmm is timed without --json; its report comes from vmm-report.
        vmm = Run("vmm", "host", [20, 22, 24])
        report = Run("vmm-report", "host", [23, 25, 27], exits=9, vmm_rss_kib=2048)
        microvm = Run("qemu-microvm-kvm", "host", [220])
        measured = boot.goals(vmm, report, [vmm, report, microvm])
        self.assertEqual(measured, {"exits": 9, "wall_ms": 22, "vs_microvm_kvm": 10.0,
                                    "vmm_rss_mib": 2.0})

    def test_missed_goal_and_other_host(self):
        vmm = Run("vmm", "host", [50], exits=1365, vmm_rss_kib=4096)
        microvm = Run("qemu-microvm-kvm", "nested VM (TCG L1)", [300])
        measured = boot.goals(vmm, vmm, [vmm, microvm])
        self.assertIsNone(measured["vs_microvm_kvm"])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            boot.print_goals(measured)
        self.assertRegex(out.getvalue(), r"exits to userspace per boot\s+1365\.0\s+goal <= 100\s+"
                                         r"ratio  0\.07 NOT met")
        self.assertIn("faster than qemu-microvm-kvm     not measured on the same host",
                      out.getvalue())


class Memory(unittest.TestCase):
    def test_the_reaper_is_shown_beside_vmm(self):
        vmm = Run("vmm", "host", [20, 22, 24], maxrss_kib=5400, guest_rss_kib=4096,
                  vmm_rss_kib=1300, others_maxrss_kib=700)
        self.assertEqual(boot.memory_line(vmm.runs),
                         "vmm memory (medians): peak RSS 5400 KiB = guest RAM touched 4096 KiB "
                         "+ vmm 1300 KiB; its reaper process (releases the VM after vmm exits) "
                         "700 KiB peak RSS of its own, most of it pages shared with vmm")


if __name__ == "__main__":
    unittest.main()
