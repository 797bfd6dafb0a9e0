"""The report's views (tools/vmbench/views): the isolation scenarios and the
per-exit cost table, from recorded fake results (tests/bench/fixtures/
isolation and exits, see their README), through report.write_report as
bench/compare and bench/report call it."""

import copy
import json
import re
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from vmbench import report, views
from vmbench.views import exits, references

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load(name):
    records = [json.loads(line) for line in
               (FIXTURES / name / "results.jsonl").read_text().splitlines() if line.strip()]
    return records, json.loads((FIXTURES / name / "environment.json").read_text())


def section_table(markdown, title):
    """{first cell: {header: cell}} of the first table after '## title'."""
    lines = markdown.splitlines()
    start = lines.index(f"## {title}")
    rows, head = {}, None
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if not line.startswith("|"):
            if head:
                break
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if set("".join(cells)) <= set("-: "):
            continue
        if head is None:
            head = cells
        else:
            rows[cells[0]] = dict(zip(head, cells))
    return rows


class Report(unittest.TestCase):
    def write(self, records, environment, gnuplot="gnuplot"):
        tmp = tempfile.TemporaryDirectory(prefix="vmbench-views-")
        self.addCleanup(tmp.cleanup)
        out = Path(tmp.name)
        paths = report.write_report(records, environment, out, gnuplot=gnuplot)
        return out, paths, (out / "report.md").read_text()


class Isolation(Report):
    def test_one_row_per_scenario(self):
        out, paths, md = self.write(*load("isolation"))
        rows = section_table(md, views.isolation.TITLE)
        self.assertEqual(list(rows), ["vmm", "vmm-pinned", "vmm-isolated"])
        vmm, pinned, isolated = rows.values()
        # Medians of the three runs; the largest latency and gap of all.
        self.assertEqual((vmm["cpu latency stddev (ms)"], vmm["cpu latency max (ms)"]),
                         ("0.118", "6.1"))
        self.assertEqual((vmm["jitter gaps/s"], vmm["largest gap (µs)"], vmm["time lost"]),
                         ("951", "5,210", "1.21 %"))
        self.assertEqual((isolated["cpu latency stddev (ms)"], isolated["cpu latency max (ms)"],
                          isolated["jitter gaps/s"], isolated["largest gap (µs)"],
                          isolated["time lost"]), ("0.021", "0.52", "61.2", "410", "0.061 %"))
        self.assertEqual(vmm["pinning in force"], "not pinned")
        self.assertEqual(pinned["pinning in force"], "vCPU0→CPU1 (affinity 1) SCHED_OTHER")
        self.assertEqual(isolated["pinning in force"],
                         "vCPU0→CPU1 (affinity 1) SCHED_OTHER; isolated CPUs: 1")
        self.assertEqual(isolated["runs"], "cpu 3, jitter 3")
        for name in ("isolation", "isolation-gaps"):
            self.assertEqual(paths["plots"][name].read_bytes()[:8], PNG_SIGNATURE)
            self.assertIn(f"![", md.split(f"(plot-{name}.png)")[0].splitlines()[-1])
        gaps = (out / "plot-isolation-gaps.dat").read_text()
        self.assertEqual(gaps.count('"vmm'), 3)

    def test_a_skipped_scenario_says_why(self):
        records, env = load("isolation")
        records = [r for r in records if r["platform"] != "vmm-isolated"]
        why = "vmm-isolated: isolation/apply 1 failed: isolation/apply: must be root"
        env["skipped"] = [{"platform": "vmm-isolated", "case": f"{t} threads=1 (1 vCPU, 256 MiB)",
                           "why": why} for t in ("cpu", "jitter")]
        _, paths, md = self.write(records, env)
        rows = section_table(md, views.isolation.TITLE)
        self.assertEqual(rows["vmm-isolated"]["cpu latency stddev (ms)"], "—")
        self.assertEqual(rows["vmm-isolated"]["runs"], "cpu 0, jitter 0")
        self.assertIn(f"- vmm-isolated: cpu skipped: {why}", md)
        self.assertIn(f"- vmm-isolated: jitter skipped: {why}", md)
        self.assertIn("isolation", paths["plots"])

    def test_without_gnuplot_the_scripts_are_written(self):
        out, paths, md = self.write(*load("isolation"), gnuplot=None)
        self.assertEqual(paths["plots"], {})
        self.assertTrue((out / "plot-isolation.gp").exists())
        self.assertIn("Plot isolation: not drawn (plotting was turned off)", md)

    def test_bench_report_draws_the_view_again(self):
        records, env = load("isolation")
        with tempfile.TemporaryDirectory() as out:
            for name in ("results.jsonl", "environment.json"):
                Path(out, name).write_text((FIXTURES / "isolation" / name).read_text())
            self.assertEqual(report.main([out]), 0)
            self.assertIn(f"## {views.isolation.TITLE}", Path(out, "report.md").read_text())


class Exits(Report):
    def test_one_row_per_operation(self):
        _, paths, md = self.write(*load("exits"))
        rows = section_table(md, exits.TITLE)
        self.assertEqual(list(rows)[:4], ["cpuid", "hypercall", "pio_read", "pio_write"])
        self.assertEqual(list(rows)[-1], "hlt")
        w = rows["pio_write"]
        self.assertEqual((w["vmm cycles/op"], w["qemu-guest cycles/op"], w["vmm / qemu-guest"],
                          w["ring"], w["handled"], w["skipped"]),
                         ("36,000", "50,000", "0.72", "3", "user", ""))
        self.assertEqual(rows["pio_write_ioeventfd"]["handled"], "kernel")
        self.assertEqual(rows["ipi"]["ring"], "0")
        h = rows["hypercall"]
        self.assertEqual((h["vmm cycles/op"], h["vmm / qemu-guest"]), ("—", ""))
        self.assertRegex(h["skipped"], r"^vmm: vmcall in ring 0 hangs KVM_RUN .*; qemu-guest: ")
        self.assertEqual(paths["plots"]["exits"].read_bytes()[:8], PNG_SIGNATURE)
        # The headline of the vmexit table: cpuid's cycles, lower is better.
        self.assertIn("Figure: cpuid round trip, cycles/op, lower is better.", md)

    def test_goals(self):
        _, _, md = self.write(*load("exits"))
        self.assertIn("- Goal: vmm's port-I/O round trip to user space ≤ 0.8× qemu-guest's "
                      "cycles (pio_write): 0.72× — **PASS**", md)
        self.assertIn("pio_write_ioeventfd/pio_write 0.61×, mmio_write_ioeventfd/mmio_write "
                      "0.62× — **PASS**", md)

    def test_goals_fail_and_unmeasured(self):
        records, env = load("exits")
        slow = copy.deepcopy(records)
        for r in slow:
            for op in r["vmexit"]["ops"]:
                if r["platform"] == "vmm" and op["name"].endswith("ioeventfd"):
                    op["cycles"] = 39000
                if r["platform"] == "vmm" and op["name"] == "pio_write":
                    op["cycles"] = 45000
        _, _, md = self.write(slow, env)
        self.assertIn("(pio_write): 0.90× — **FAIL**", md)
        self.assertRegex(md, r"pio_write_ioeventfd/pio_write 0.8\d×, mmio_write_ioeventfd/"
                             r"mmio_write 0.9\d× — \*\*FAIL\*\*")
        only_vmm = [r for r in records if r["platform"] == "vmm"]
        _, _, md = self.write(only_vmm, env)
        self.assertIn("cycles: not measured (pio_write and pio_read lack a figure on vmm or "
                      "qemu-guest)", md)
        rows = section_table(md, exits.TITLE)
        self.assertEqual(rows["cpuid"]["qemu-guest cycles/op"], "—")

    def test_ring0_ops_are_compared_without_the_engines_loop(self):
        """Where port I/O runs in ring 0 (PVM: ring 3 may not use ports),
        each platform's ring0_loop is taken off before the ratios."""
        records, env = load("exits")
        ring0 = copy.deepcopy(records)
        for r in ring0:
            for op in r["vmexit"]["ops"]:
                if op["name"].startswith("pio_") and "cycles" in op:
                    op["ring"] = 0
            r["vmexit"]["ops"].append({"name": "ring0_loop", "ring": 0, "iterations": 64,
                                       "cycles": 10000, "ns": 4761.9})
        _, _, md = self.write(ring0, env)
        net = (36000 - 10000) / (50000 - 10000)
        self.assertIn(f"(pio_write): {net:.2f}× (with the ring-0 loop: 0.72×) — **PASS**", md)
        self.assertIn("taken off first", md)

    def test_published_cells_are_empty_until_read_from_the_papers(self):
        _, _, md = self.write(*load("exits"))
        rows = section_table(md, exits.TITLE)
        for paper in references.PAPERS:
            self.assertTrue(all(row[paper.short] == "" for row in rows.values()))
        self.assertIn("Published figures: empty cells were not read from the papers' text", md)
        self.assertIn(references.ISCA16.source, md)
        self.assertIn(references.DVH20.source, md)

    def test_a_published_figure_fills_its_row(self):
        fake = references.Figure("Hypercall", 1234)
        figures = dict(references.FIGURES, hypercall={"isca16": fake})
        with mock.patch.object(references, "FIGURES", figures):
            _, _, md = self.write(*load("exits"))
            rows = section_table(md, exits.TITLE)
            self.assertEqual(rows["hypercall"][references.ISCA16.short], "1,234 (Hypercall)")
            self.assertEqual(rows["hypercall"][references.DVH20.short], "")
            self.assertNotIn("ISCA'16 x86 KVM Hypercall;", md)

    def test_the_mapping_to_the_papers_rows(self):
        self.assertEqual(references.figure("hypercall", references.ISCA16).row, "Hypercall")
        self.assertEqual(references.figure("ipi", references.DVH20).row, "SendIPI")
        self.assertEqual(references.figure("timer", references.DVH20).row, "ProgramTimer")
        self.assertEqual(references.figure("mmio_write_ioeventfd", references.DVH20).row,
                         "DevNotify")
        self.assertEqual(references.figure("eoi", references.ISCA16).row,
                         "Virtual IRQ Completion")
        self.assertIsNone(references.figure("cpuid", references.ISCA16))
        self.assertIsNone(references.figure("pio_write", references.DVH20))


class UnknownView(Report):
    def test_an_unknown_view_is_a_line_not_a_crash(self):
        records, env = load("exits")
        env["views"] = [{"view": "nope"}]
        _, _, md = self.write(records, env)
        self.assertIn("No view named 'nope' (views: exits, isolation, levels).", md)


if __name__ == "__main__":
    unittest.main()
