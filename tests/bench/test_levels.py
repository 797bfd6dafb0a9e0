"""The nested platform and the levels preset (tools/vmbench/levels.py,
platforms/nested.py, views/levels.py), without booting anything: the levels
table rendered from recorded results (tests/bench/fixtures/levels), a level
that cannot run reported skipped with its reason, the depth option checked,
and the L1 accelerator chosen from the host's KVM.  vmm really running at
depth 1 is tests/integration/test_nested_levels.py."""

import stat
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from vmbench import compare, levels, matrix, platforms, report
from vmbench.platforms import nested
from vmbench.platforms.base import Case, CaseSkipped
from vmbench.runner import Runner
from vmbench.views import levels as levels_view
from tests.bench.test_views import load, section_table

REFUSED = "vmm: cannot run guests here: /dev/kvm does not exist: load the kvm module"


def where_rows(markdown):
    """The where-it-ran table: [(level, platform, layer, accelerator, CPU, kind)]."""
    lines = markdown.split(f"## {levels_view.TITLE}")[1].splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("| level |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(tuple(c.strip() for c in line.strip().strip("|").split("|")))
    return rows


class Table(unittest.TestCase):
    """The levels table from recorded results: L0 on PVM-style KVM, L1 under
    TCG, L2 skipped (its VM did not boot in time)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vmbench-levels-")
        records, env = load("levels")
        report.write_report(records, env, Path(cls.tmp.name), gnuplot=None)
        cls.md = (Path(cls.tmp.name) / "report.md").read_text()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def benchmarks(self):
        """The benchmark table (the second of the section), by row."""
        rest = self.md.split(f"## {levels_view.TITLE}")[1]
        head = rest.index("| benchmark |")
        return section_table(f"## {levels_view.TITLE}\n" + rest[head:], levels_view.TITLE)

    def test_one_column_per_level_with_the_ratio_to_the_level_above(self):
        rows = self.benchmarks()
        self.assertEqual(list(rows)[:5], ["cpu", "memory", "fileio", "vmexit cpuid",
                                          "vmexit pio_write"])
        cpu = rows["cpu"]
        self.assertEqual((cpu["L0 (this host)"], cpu["L1"], cpu["L2"]),
                         ("1,680", "170 (0.10×)", "skipped"))
        self.assertEqual(rows["fileio"]["L0 (this host)"], "5,150")    # reads + writes
        self.assertEqual(rows["vmexit pio_write"]["L1"], "720,000 (20.00×)")
        self.assertEqual(rows["vmexit cpuid"]["unit"], "cycles/op (lower is better)")
        # An op the guest skipped says so, and why, under the table.
        self.assertEqual(rows["vmexit hypercall"]["L0 (this host)"], "skipped")
        self.assertIn("- vmexit hypercall at L1: skipped by the guest: vmcall in ring 0 hangs "
                      "KVM_RUN on this kind of KVM (pvm)", self.md)

    def test_nested_ops_are_rows_with_their_l2_figure(self):
        # nested's ops carry l2_cycles, not vmexit's cycles; a failed op
        # gives its error as the reason (every cell was "—" before).
        rec = {"schema": "vmbench.result/1", "test": "nested", "platform": "nested-1",
               "rep": 1, "case": {"test": "nested", "options": {}},
               "nested": {"ops": [{"name": "cpuid", "l2_cycles": 5000.0},
                                  {"name": "hlt", "error": "exit code 0x7f"}]}}
        rows = {r[0]: r for r in levels_view._rows([rec], ["nested-1"])}
        self.assertEqual(rows["nested cpuid"][3], {"nested-1": [5000.0]})
        self.assertEqual(rows["nested hlt"][4], {"nested-1": "exit code 0x7f"})

    def test_where_each_level_ran(self):
        rows = where_rows(self.md)
        self.assertIn(("L0 (this host)", "nested-0", "vmm on this host", "kvm",
                       "Intel(R) Xeon(R) Processor", "pvm"), rows)
        self.assertIn(("L1", "nested-1", "L1 Linux VM (QEMU)", "tcg (SVM emulated, -cpu max)",
                       "max", "—"), rows)
        self.assertIn(("L1", "nested-1", "vmm in L1", "kvm", "—", "nested-tcg"), rows)
        skipped = [r for r in rows if r[0] == "L2"]
        self.assertEqual(len(skipped), 1)
        self.assertEqual(skipped[0][2], "skipped: L2: the inner VM did not boot within 600 s "
                                        "(timed out)")
        self.assertIn("- L1: its Linux VM booted in 25 s.", self.md)
        # What vmm --json said of its level, when it says it.
        self.assertIn("- L1: vmm --json says virt_level 2, hypervisor_below KVMKVMKVM, "
                      "kvm_kind nested-tcg.", self.md)

    def test_absent_level_fields_are_tolerated(self):
        records, env = load("levels")
        for r in records:
            for key in ("virt_level", "hypervisor_below"):
                r["env"]["vmm"].pop(key)
        del env["platforms"]["nested-1"]["levels"]
        section = levels_view.render(env["views"][0], records, env, Path(self.tmp.name),
                                     None, "off")
        text = "\n".join(section.lines)
        self.assertIn("| L1 | nested-1 | (not recorded) |", text)
        self.assertNotIn("virt_level", text)


class Skipped(unittest.TestCase):
    """A level that cannot run here is skipped with the reason, every case,
    never run somewhere else instead; the run still succeeds."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        fake = Path(self.dir.name) / "vmm"
        fake.write_text(f"#!/bin/sh\necho '{REFUSED}' >&2\nexit 125\n")
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
        for target in ("vmbench.platforms.nested.VMM", "vmbench.platforms.vmm.VMM"):
            patcher = mock.patch(target, fake)
            patcher.start()
            self.addCleanup(patcher.stop)
        patcher = mock.patch("vmbench.platforms.guest.check_products")
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_depth_0_where_vmm_is_refused(self):
        case = Case(test="cpu", options=(("threads", 1), ("time", 1)), vcpus=1, mem_mib=64)
        p = nested.NestedPlatform(0, name="nested-0")
        out = Path(self.dir.name)
        runner = Runner([p], [case], 1, out, command="test")
        env = runner.run()
        why = f"vmm cannot run on this host: {REFUSED}"
        self.assertEqual(runner.failed, {})
        self.assertEqual(runner.records, [])
        self.assertEqual(env["platforms"]["nested-0"]["skipped"], why)
        self.assertEqual(env["skipped"], [{"platform": "nested-0", "case": case.label(),
                                           "why": f"nested-0: {why}"}])
        with self.assertRaises(CaseSkipped):
            p.run(case)
        # And the levels table says so in its column.
        env["views"] = [{"view": "levels", "platforms": ["nested-0"]}]
        report.write_report(runner.records, env, out, gnuplot=None)
        md = (out / "report.md").read_text()
        self.assertIn(f"| L0 (this host) | nested-0 | skipped: {why} |", md)


class Budget(unittest.TestCase):
    """A level in VMs that is too slow here ends at its time budget: the run
    in progress is stopped there and every case from then on is skipped,
    saying what the time went to."""

    class Place:
        def __init__(self):
            self.limits = []

        def run(self, argv, timeout=None, env=None):
            self.limits.append(timeout)
            return subprocess.CompletedProcess(argv, 124, "", "linuxvm: timed out after "
                                               f"{timeout:g} s: killed\n")

    def test_the_budget_ends_the_level(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        p = nested.NestedPlatform(2, name="nested-2", budget=100)
        p.place, p.scratch, p.boot_s, p.spent = self.Place(), Path(tmp.name), 90.0, 99.5
        case = Case(test="cpu", options=(("threads", 1), ("time", 10)), vcpus=1, mem_mib=64)
        with self.assertRaises(CaseSkipped) as stopped:
            p.run(case)
        self.assertEqual(p.place.limits, [1])          # what was left, at least a second
        self.assertRegex(str(stopped.exception),
                         r"^nested-2: cpu was stopped after 0 s and L2's time budget of 100 s "
                         r"\(--level-budget\) is spent: boot 90 s, 0 run\(s\) finished")
        with self.assertRaisesRegex(CaseSkipped, r"L2's time budget of 100 s .* is spent"):
            p.run(case)
        self.assertEqual(p.place.limits, [1])          # not run again

    def test_depth_0_has_no_budget(self):
        p = nested.NestedPlatform(0, budget=100)
        self.assertIsNone(p.budget)
        self.assertEqual(p.time_limit(330), 330)


class Depth(unittest.TestCase):
    def test_the_option_takes_0_to_2(self):
        self.assertEqual(compare.parse_args(["--preset", "levels"]).depth, 1)
        args = compare.parse_args(["--preset", "levels", "--depth", "2",
                                   "--level-boot-timeout", "30"])
        made = platforms.create("nested", args)
        self.assertEqual((made.name, made.depth, made.boot_timeout), ("nested", 2, 30))
        for bad in ("3", "-1", "one"):
            with mock.patch("sys.stderr") as err, self.assertRaises(SystemExit) as done:
                compare.parse_args(["--depth", bad])
            self.assertEqual(done.exception.code, 2)
            self.assertIn("--depth", "".join(c.args[0] for c in err.write.call_args_list))

    def test_the_variants_have_their_depth(self):
        args = compare.parse_args(["--preset", "levels"])
        for d in levels.DEPTHS:
            made = platforms.create(f"nested-{d}", args)
            self.assertEqual((made.name, made.depth), (f"nested-{d}", d))
        with self.assertRaisesRegex(ValueError, r"--depth 3: expected one of 0, 1, 2"):
            nested.NestedPlatform(3)
        with self.assertRaisesRegex(ValueError, r"depth 3: expected one of 0, 1, 2"):
            levels.place(3, "build/vmm")

    def test_the_l2_vm_leaves_the_l1_room(self):
        self.assertEqual(levels._inner_mem("4G"), "1024M")
        self.assertEqual(levels._inner_mem("10G"), "7168M")
        self.assertEqual(levels._inner_mem("2048M"), "1024M")

    def test_labels(self):
        self.assertEqual([levels.label(d) for d in levels.DEPTHS], ["L0 (this host)", "L1", "L2"])

    def test_the_preset(self):
        spec = matrix.load("levels")
        self.assertEqual(spec["platforms"], ["nested-0", "nested-1", "nested-2"])
        self.assertEqual(spec["views"], [{"view": "levels", "platforms": spec["platforms"]}])
        self.assertEqual([t["test"] for t in matrix.quick(spec)["tests"]],
                         ["cpu", "memory", "fileio", "vmexit"])


class Accelerator(unittest.TestCase):
    """KVM with -cpu host for the L1 only where this host's KVM is hardware
    KVM with nested on; TCG with an SVM CPU everywhere else, saying why."""

    def root(self, module, value):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        if module:
            path = Path(tmp.name, "sys/module", module, "parameters")
            path.mkdir(parents=True)
            (path / "nested").write_text(value + "\n")
        return tmp.name

    def test_choice(self):
        self.assertEqual(levels.l1_accelerator("hardware", self.root("kvm_amd", "1"))[:2],
                         ("kvm", "host"))
        self.assertEqual(levels.l1_accelerator("hardware", self.root("kvm_intel", "Y"))[:2],
                         ("kvm", "host"))
        accel, cpu, why = levels.l1_accelerator("hardware", self.root("kvm_intel", "N"))
        self.assertEqual((accel, cpu), ("tcg", "max"))
        self.assertIn("kvm_intel nested=N", why)
        accel, cpu, why = levels.l1_accelerator("pvm", self.root(None, ""))
        self.assertEqual((accel, cpu), ("tcg", "max"))
        self.assertIn("this host's KVM is pvm", why)
        self.assertIn("not usable", levels.l1_accelerator(None, self.root(None, ""))[2])


if __name__ == "__main__":
    unittest.main()
