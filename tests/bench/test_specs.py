"""The table of tests (tools/vmbench/specs.py): what each test needs, its
commands, its headline figure and unit; the matrix, the platforms' cases
and the report all read it."""

import math
import unittest
from unittest import mock

from vmbench import matrix, report, specs
from vmbench.platforms.base import Case


class Table(unittest.TestCase):
    def test_the_tests_in_the_reports_order(self):
        self.assertEqual(specs.NAMES, ("cpu", "memory", "fileio", "vmexit", "jitter"))
        self.assertEqual(specs.disk_tests(), ("fileio",))

    def test_what_each_needs_and_runs(self):
        cpu, memory, fileio, vmexit, jitter = (specs.TESTS[n] for n in specs.NAMES)
        for spec in (cpu, memory):
            self.assertFalse(spec.needs_disk)
            self.assertEqual(spec.commands, ("run",))
            self.assertIsNone(spec.cleanup)
            self.assertEqual((spec.setup_s, spec.secondary, spec.quick_sets), (0, (), ()))
        self.assertTrue(fileio.needs_disk)
        self.assertEqual((fileio.commands, fileio.cleanup), (("prepare", "run"), "cleanup"))
        self.assertEqual(fileio.setup_s, 600)
        self.assertEqual([k for k, _ in fileio.secondary], ["read_mib_per_s", "written_mib_per_s"])
        self.assertEqual(fileio.quick_sets, ("file-total-size", "file-num"))
        # The guest's own tests: no disk, no sysbench report; vmexit needs
        # the PCI test device and --quick gives it few ticks per operation.
        for spec in (vmexit, jitter):
            self.assertFalse(spec.needs_disk)
            self.assertFalse(spec.sysbench)
            self.assertEqual(spec.commands, ("run",))
        self.assertTrue(all(s.sysbench for s in (cpu, memory, fileio)))
        self.assertEqual((vmexit.testdev, jitter.testdev, cpu.testdev), (True, False, False))
        self.assertEqual(vmexit.quick_sets, ("min-ticks",))

    def test_headline_figures_and_units(self):
        self.assertEqual(specs.get("cpu").headline({}).unit, "events/s")
        self.assertEqual(specs.get("memory").headline({"memory-oper": "read"}).unit, "MiB/s")
        self.assertEqual(specs.get("memory").headline({"memory-oper": "none"}).unit, "events/s")
        fileio = specs.get("fileio").headline({})
        self.assertEqual((fileio.unit, fileio.what), ("ops/s", "reads/s + writes/s"))
        record = {"events_per_s": 12.5, "metrics": {"reads_per_s": 3, "writes_per_s": 4.5,
                                                    "mib_per_s": 7.0}}
        self.assertEqual(specs.get("cpu").headline().value(record), 12.5)
        self.assertEqual(specs.get("memory").headline().value(record), 7.0)
        self.assertEqual(fileio.value(record), 7.5)

    def test_guest_tests_figures_lower_is_better(self):
        vmexit, jitter = specs.get("vmexit").headline(), specs.get("jitter").headline()
        self.assertEqual((vmexit.unit, vmexit.lower_better), ("cycles/op", True))
        self.assertEqual((jitter.unit, jitter.lower_better), ("share of time lost", True))
        self.assertFalse(specs.get("cpu").headline().lower_better)
        record = {"vmexit": {"ops": [{"name": "hypercall", "skipped": "no"},
                                     {"name": "cpuid", "ring": 3, "cycles": 1234}]},
                  "jitter": {"total": {"lost_share": 0.004}}}
        self.assertEqual(vmexit.value(record), 1234)
        self.assertEqual(jitter.value(record), 0.004)
        # An op that is not there, or skipped, has no figure.
        self.assertIsNone(specs.Figure(("vmexit.ops.hypercall.cycles",), "c").value(record))
        self.assertIsNone(specs.Figure(("vmexit.ops.hlt.cycles",), "c").value(record))
        self.assertEqual(specs.field(record, "vmexit.ops.cpuid.ring"), 3)

    def test_a_missing_or_odd_field_gives_no_figure(self):
        fileio = specs.get("fileio").figure
        self.assertIsNone(fileio.value({"metrics": {"reads_per_s": 3.0}}))
        self.assertIsNone(fileio.value({"metrics": {"reads_per_s": 3.0, "writes_per_s": True}}))
        self.assertIsNone(fileio.value({"metrics": {"reads_per_s": math.nan,
                                                    "writes_per_s": 1.0}}))
        self.assertIsNone(specs.EVENTS.value({"metrics": None}))

    def test_a_test_not_in_the_table_gets_the_defaults(self):
        spec = specs.get("threads")
        self.assertEqual((spec.name, spec.figure, spec.commands, spec.needs_disk),
                         ("threads", specs.EVENTS, ("run",), False))


class OneRowIsEnough(unittest.TestCase):
    """A new test takes one row: the matrix, the cases and the report follow."""

    TOY = specs.TestSpec("toy", specs.Figure(("metrics.toys_per_s",), "toys/s"),
                         needs_disk=True, commands=("setup", "run"), setup_s=5,
                         quick_sets=("file-num",))

    def setUp(self):
        patcher = mock.patch.dict(specs.TESTS, {"toy": self.TOY})
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_matrix_cases_and_report(self):
        spec = {"shapes": [[1, 512]], "tests": [{"test": "toy", "disks": ["raw", "qcow2"],
                                                 "options": [{"toy-size": 3}]}],
                "reps": 1, "time": 2}
        matrix.check(spec)
        cases = matrix.cases(spec)
        self.assertEqual([c.disk_format() for c in cases], ["raw", "qcow2"])
        self.assertEqual(cases[0].spec, self.TOY)
        self.assertEqual(matrix.quick(spec)["tests"][0]["options"][0]["file-num"],
                         matrix.QUICK_CAPS["file-num"])
        self.assertEqual(report.figure({"test": "toy", "metrics": {"toys_per_s": 9.0}}),
                         (9.0, "toys/s"))

    def test_only_disk_tests_take_disks(self):
        with self.assertRaisesRegex(matrix.MatrixError, r'only fileio and toy take "disks"'):
            matrix.check({"shapes": [[1, 512]], "tests": [
                {"test": "cpu", "disks": ["raw"], "options": [{}]}]})

    def test_cpu_has_no_disk(self):
        self.assertIsNone(Case("cpu", (("time", 1),), 1, 512).disk_format())


if __name__ == "__main__":
    unittest.main()
