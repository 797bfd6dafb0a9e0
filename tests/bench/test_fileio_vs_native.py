"""bench/fileio-vs-native: its case list, --only, the table and the targets,
computed without running anything (the platforms it drives, native, vmm and
qemu-guest, are run by test_guest_platforms and test_compare)."""

import unittest

from vmbench import fileio_vs_native as fvn


class Cases(unittest.TestCase):
    def test_the_issues_cases(self):
        cases = fvn.all_cases()
        self.assertEqual(len(cases), 5 * 2 * 2 * 2)
        self.assertEqual(len({c[0] for c in cases}), 40)
        self.assertEqual({c[1] for c in cases}, {"seqwr", "seqrd", "rndrd", "rndwr", "rndrw"})
        self.assertEqual({(c[2], c[3], c[4]) for c in cases if c[1] == "seqrd"},
                         {(b, t, d) for b in ("16K", "4K") for t in (1, 2) for d in (True, False)})
        self.assertIn(fvn.TARGET_CASE, [c[0] for c in cases])

    def test_only(self):
        cases = fvn.all_cases()
        self.assertEqual([c[0] for c in fvn.select(cases, ["rndrd 16K 1t direct"])],
                         ["rndrd 16K 1t direct"])
        self.assertEqual(len(fvn.select(cases, ["rndrd"])), 8)
        self.assertEqual(len(fvn.select(cases, ["rndrd direct", "seqwr 4K 2t"])), 4 + 2)
        self.assertEqual(fvn.select(cases, ["rndrd 1K"]), [])      # words, not substrings
        self.assertEqual(fvn.select(cases, []), cases)
        self.assertEqual(len(fvn.select(cases, list(fvn.QUICK_CASES))), 2)

    def test_case_options(self):
        case = fvn.make_case("rndrd", "16K", 1, True, "256M", 5)
        self.assertEqual(case.sysbench_args(),
                         ["--file-test-mode=rndrd", "--file-total-size=256M",
                          "--file-block-size=16K", "--threads=1", "--time=5",
                          "--file-extra-flags=direct"])
        self.assertEqual(case.disk_format(), "raw")
        buffered = fvn.make_case("seqwr", "4K", 2, False, "16M", 1)
        self.assertIsNone(buffered.option("file-extra-flags"))


class Figures(unittest.TestCase):
    FIGURES = {"rndrd 16K 1t direct": {"native": [100.0, 110.0, 90.0],
                                       "vmm": [90.0, 85.0, 95.0], "qemu": [40.0, 50.0, 45.0]},
               "seqwr 4K 2t buffered": {"native": [10.0], "vmm": [], "qemu": [5.0]}}

    def test_figure_is_reads_plus_writes(self):
        self.assertEqual(fvn.figure({"metrics": {"reads_per_s": 3.5, "writes_per_s": 1.5,
                                                 "fsyncs_per_s": 9.0}}), 5.0)

    def test_table_and_targets(self):
        summary = fvn.summarise(self.FIGURES)
        s = summary["rndrd 16K 1t direct"]
        self.assertEqual((s["native"]["median"], s["vmm"]["median"], s["qemu"]["median"]),
                         (100.0, 90.0, 45.0))
        lines = fvn.table(summary, {"native": "native", "vmm": "vmm", "qemu": "QEMU-TCG"})
        self.assertEqual(lines[0], "| case | native median | native min-max | vmm median | "
                                   "vmm min-max | QEMU-TCG median | QEMU-TCG min-max | "
                                   "vmm / native | vmm / QEMU-TCG |")
        self.assertEqual(lines[2], "| rndrd 16K 1t direct | 100.0 | 90.0-110.0 | 90.0 | "
                                   "85.0-95.0 | 45.0 | 40.0-50.0 | 0.900 | 2.000 |")
        self.assertEqual(lines[3], "| seqwr 4K 2t buffered | 10.0 | 10.0-10.0 | - | - | 5.0 | "
                                   "5.0-5.0 | - | - |")
        self.assertEqual(fvn.targets(summary),
                         [("rndrd 16K 1t direct: vmm / native = 0.900 (target >= 0.85)", True),
                          ("rndrd 16K 1t direct: vmm / qemu = 2.000 (target >= 1.2)", True)])
        # The issue's goals: 0.85x native (0.84 is short) and 1.2x QEMU.
        slow = dict(self.FIGURES, **{"rndrd 16K 1t direct": {
            "native": [100.0], "vmm": [84.0], "qemu": [71.0]}})
        self.assertEqual([met for _, met in fvn.targets(fvn.summarise(slow))], [False, False])
        self.assertEqual([met for _, met in fvn.targets({})], [None, None])

    def test_qemu_with_an_iothread_is_a_fourth_side(self):
        self.assertEqual(fvn.sides_of(False), ("native", "vmm", "qemu"))
        sides = fvn.sides_of(True)
        self.assertEqual(sides, ("native", "vmm", "qemu", "qemu-iothread"))
        figures = {"rndrd 16K 1t direct": {"native": [100.0], "vmm": [90.0], "qemu": [60.0],
                                           "qemu-iothread": [80.0]}}
        summary = fvn.summarise(figures)
        labels = {"native": "native", "vmm": "vmm", "qemu": "QEMU-KVM",
                  "qemu-iothread": "QEMU-KVM,iothread"}
        lines = fvn.table(summary, labels, sides)
        self.assertTrue(lines[0].endswith("| QEMU-KVM,iothread median | QEMU-KVM,iothread min-max "
                                          "| vmm / native | vmm / QEMU-KVM | "
                                          "vmm / QEMU-KVM,iothread |"), lines[0])
        self.assertTrue(lines[2].endswith("| 80.0 | 80.0-80.0 | 0.900 | 1.500 | 1.125 |"), lines[2])
        # Both QEMU ratios are held to the issue's 1.2x.
        self.assertEqual(fvn.targets(summary, sides),
                         [("rndrd 16K 1t direct: vmm / native = 0.900 (target >= 0.85)", True),
                          ("rndrd 16K 1t direct: vmm / qemu = 1.500 (target >= 1.2)", True),
                          ("rndrd 16K 1t direct: vmm / qemu-iothread = 1.125 (target >= 1.2)",
                           False)])


class Caveats(unittest.TestCase):
    def test_the_kind_of_kvm_is_a_caveat_unless_hardware(self):
        qemu_kvm = {"accelerator": "kvm"}

        def vmm(where, kind):
            return {"vmm": {"where": where, "kvm_kind": kind}, "qemu": qemu_kvm}
        self.assertEqual(fvn.caveats(vmm("host", "hardware")), [])
        self.assertEqual(fvn.caveats(vmm("host", "pvm")),
                         ["vmm here runs on pvm KVM, not hardware KVM"])
        self.assertEqual(fvn.caveats(vmm("host", "nested")),
                         ["vmm here runs on nested KVM, not hardware KVM"])
        self.assertEqual(fvn.caveats(vmm("nested-kvm-in-tcg", "nested-tcg")),
                         ["vmm here runs nested under QEMU's TCG"])
        env = vmm("host", "pvm")
        env["qemu"] = {"accelerator": "tcg"}
        self.assertEqual(fvn.caveats(env), ["vmm here runs on pvm KVM, not hardware KVM",
                                            "QEMU here is TCG, not KVM"])


if __name__ == "__main__":
    unittest.main()
