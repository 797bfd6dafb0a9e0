"""Tests of tools/vmbench/report.py: the comparison's CSV, Markdown report and plots.

The fixture (tests/bench/fixtures/results.jsonl, environment.json) is a
three-repetition run of native, container and vmm on two cpu cases and one
memory case, on a busy 2-CPU host, as tools/vmbench/runner.py records it:
qemu-linux failed in prepare() (no records, an "error" in the environment);
the 4-vCPU cpu case is overcommitted, one vmm cpu run is short (0.8 s), the
container's 4-vCPU runs disagree (CV about 8 %) and one vmm memory run
failed.
"""

import copy
import csv
import json
import re
import struct
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
from vmbench.report import write_report, figure
from vmbench import report
from vmbench import kvmkind, stats

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QEMU_LINUX_ERROR = "Linux did not boot under -accel kvm within 120 s"
SHORT, VARIABLE, OVER, PARTIAL = (report.MARKERS[k][0]
                                  for k in ("short", "variable", "overcommitted", "partial"))


def load_fixture():
    records = [json.loads(line) for line in
               (FIXTURES / "results.jsonl").read_text().splitlines() if line.strip()]
    environment = json.loads((FIXTURES / "environment.json").read_text())
    return records, environment


def tables(markdown):
    """{test: (header cells, [row cells])} of every '### test' table."""
    out, section = {}, None
    for line in markdown.splitlines():
        if line.startswith("### "):
            section = line[4:].strip()
        elif line.startswith("## "):
            section = None
        elif section and line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if set("".join(cells)) <= set("-: "):
                continue
            if section not in out:
                out[section] = (cells, [])
            else:
                out[section][1].append(cells)
    return out


def by_case(table):
    head, rows = table
    return {(row[0], row[1]): dict(zip(head, row)) for row in rows}


def fixture_values(records, test, vcpus, platform):
    return [figure(r)[0] for r in records
            if r["test"] == test and r["case"]["vcpus"] == vcpus and r["platform"] == platform
            and figure(r)[0] is not None]


def assert_png(case, path):
    data = path.read_bytes()
    case.assertEqual(data[:8], PNG_SIGNATURE, f"{path} is not a PNG")
    case.assertEqual(data[12:16], b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    case.assertGreater(width, 100)
    case.assertGreater(height, 100)


class Figure(unittest.TestCase):
    def test_cpu(self):
        self.assertEqual(figure({"test": "cpu", "events_per_s": 2853.9}), (2853.9, "events/s"))

    def test_memory(self):
        rec = {"test": "memory", "events_per_s": 10240.0, "options": {"memory-oper": "write"},
               "metrics": {"mib_per_s": 10240.5}}
        self.assertEqual(figure(rec), (10240.5, "MiB/s"))

    def test_memory_oper_none_is_events(self):
        rec = {"test": "memory", "events_per_s": 812345.6, "options": {"memory-oper": "none"},
               "metrics": {"mib_per_s": 0.0}}
        self.assertEqual(figure(rec), (812345.6, "events/s"))
        # a failed run has no options of its own: the case's say it
        failed = {"test": "memory", "error": "boom",
                  "case": {"test": "memory", "options": {"memory-oper": "none"}}}
        self.assertEqual(figure(failed), (None, "events/s"))

    def test_fileio_sums_reads_and_writes(self):
        rec = {"test": "fileio", "events_per_s": 999.0,
               "metrics": {"reads_per_s": 1200.25, "writes_per_s": 800.5, "fsyncs_per_s": 1024.0,
                           "read_mib_per_s": 18.75, "written_mib_per_s": 12.5}}
        self.assertEqual(figure(rec), (2000.75, "ops/s"))
        self.assertEqual(report.secondary_figures(rec),
                         {"read_mib_per_s": 18.75, "written_mib_per_s": 12.5})

    def test_failed_or_missing(self):
        self.assertEqual(figure({"test": "cpu", "error": "no /dev/kvm"}), (None, "events/s"))
        self.assertEqual(figure({"test": "cpu", "events_per_s": 10.0, "error": "late"}),
                         (None, "events/s"))
        self.assertEqual(figure({"test": "memory", "metrics": {}}), (None, "MiB/s"))
        self.assertEqual(figure({"test": "fileio", "metrics": {"reads_per_s": 1.0}}),
                         (None, "ops/s"))


class FixtureReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vmbench-report-")
        cls.out = Path(cls.tmp.name) / "out"
        cls.records, cls.environment = load_fixture()
        cls.paths = write_report(copy.deepcopy(cls.records), cls.environment, cls.out)
        cls.md = (cls.out / "report.md").read_text()
        cls.tables = tables(cls.md)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_paths(self):
        for key, name in (("jsonl", "results.jsonl"), ("csv", "results.csv"),
                          ("report", "report.md"), ("environment", "environment.json")):
            self.assertEqual(self.paths[key], self.out / name)
            self.assertTrue(self.paths[key].is_file())
        self.assertEqual(set(self.paths["plots"]), {"cpu", "memory"})
        self.assertEqual(self.paths["plot_errors"], {})

    def test_jsonl_holds_the_records(self):
        lines = (self.out / "results.jsonl").read_text().splitlines()
        self.assertEqual([json.loads(line) for line in lines], self.records)

    def test_csv_rows_and_columns(self):
        with open(self.out / "results.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), len(self.records))
        self.assertEqual(len(rows), 27)
        self.assertEqual(tuple(rows[0]), report.CSV_COLUMNS)
        for col in ("run_id", "platform", "test", "case_options", "vcpus", "mem_mib", "rep",
                    "figure", "unit", "total_time_s", "events", "latency_avg_ms",
                    "latency_pct_ms", "error", "flags"):
            self.assertIn(col, rows[0])
        first = rows[0]
        self.assertEqual((first["run_id"], first["platform"], first["test"]),
                         ("20261122-101500", "native", "cpu"))
        self.assertEqual(first["case_options"], "cpu-max-prime=10000;threads=2;time=10")
        self.assertEqual((first["vcpus"], first["mem_mib"], first["rep"]), ("2", "2048", "1"))
        self.assertEqual((first["figure"], first["unit"]), ("2412.3", "events/s"))
        self.assertEqual((first["total_time_s"], first["events"]), ("10.0001", "24123"))
        self.assertEqual((first["latency_avg_ms"], first["latency_percentile"],
                          first["latency_pct_ms"]), ("0.83", "95", "0.86"))
        self.assertEqual((first["error"], first["flags"]), ("", ""))

        failed = [r for r in rows if r["error"]]
        self.assertEqual([(r["platform"], r["test"], r["rep"], r["figure"]) for r in failed],
                         [("vmm", "memory", "3", "")])
        self.assertIn("status 124", failed[0]["error"])
        self.assertNotIn("qemu-linux", {r["platform"] for r in rows})   # it never ran

        short = [r for r in rows if "short" in r["flags"].split(";")]
        self.assertEqual([(r["platform"], r["rep"], r["total_time_s"]) for r in short],
                         [("vmm", "2", "0.8003")])
        over = [r for r in rows if "overcommitted" in r["flags"].split(";")]
        self.assertEqual(len(over), 9)             # 3 platforms x 3 reps
        self.assertTrue(all(r["vcpus"] == "4" for r in over))

        memory = [r for r in rows if r["test"] == "memory" and r["figure"]]
        self.assertTrue(all(r["unit"] == "MiB/s" for r in memory))
        self.assertIn("10240.52", {r["figure"] for r in memory})

    def test_a_table_per_test_with_every_platform(self):
        self.assertEqual(set(self.tables), {"cpu", "memory"})
        self.assertLess(self.md.index("### cpu"), self.md.index("### memory"))
        number = re.compile(r"^\d+\.\d \u00b1 \d+\.\d \(\d+\.\d\u2013\d+\.\d\)")
        for test, (head, rows) in self.tables.items():
            self.assertEqual(head[:3], ["case", "vCPUs", "MiB"])
            self.assertEqual(head[3:7], ["native", "container", "qemu-linux", "vmm"])
            self.assertEqual(len(rows), 2 if test == "cpu" else 1)
            for row in rows:
                self.assertEqual(len(row), len(head))
                cells = dict(zip(head, row))
                for platform in ("native", "container", "vmm"):
                    self.assertRegex(cells[platform], number, f"{test} {platform}: {row}")
                self.assertIn(QEMU_LINUX_ERROR, cells["qemu-linux"])
                self.assertTrue(cells["qemu-linux"].startswith("failed: "))
        cpu = by_case(self.tables["cpu"])
        self.assertEqual(set(cpu), {("cpu-max-prime=10000 threads=2", "2"),
                                    ("cpu-max-prime=10000 threads=4", "4")})
        self.assertTrue(cpu[("cpu-max-prime=10000 threads=2", "2")]["native"]
                        .startswith("2412.3 \u00b1 7.2 (2405.8\u20132420.1)"))

    def test_ratios_are_of_medians(self):
        for test, (head, rows) in self.tables.items():
            self.assertIn("container \u00d7 native", head)
            self.assertIn("vmm \u00d7 native", head)
            self.assertNotIn("qemu-linux \u00d7 native", head)   # it has no figures
        cpu = by_case(self.tables["cpu"])
        row = cpu[("cpu-max-prime=10000 threads=2", "2")]
        self.assertEqual(row["vmm \u00d7 native"], "0.987")       # 2380.5 / 2412.3
        self.assertEqual(stats.ratio(2380.5, 2412.3), 2380.5 / 2412.3)
        for (case, vcpus), row in cpu.items():
            for platform in ("container", "vmm"):
                expected = stats.ratio(
                    stats.median(fixture_values(self.records, "cpu", int(vcpus), platform)),
                    stats.median(fixture_values(self.records, "cpu", int(vcpus), "native")))
                self.assertEqual(row[f"{platform} \u00d7 native"], f"{expected:.3f}")
        mem = by_case(self.tables["memory"])
        (row,) = mem.values()
        # vmm's memory median is of its two good runs: (9875.33 + 9901.27) / 2
        self.assertEqual(row["vmm \u00d7 native"], f"{9888.3 / 10240.52:.3f}")
        self.assertIn("median over native's median", self.md)

    def test_flag_markers(self):
        cpu = by_case(self.tables["cpu"])
        small = cpu[("cpu-max-prime=10000 threads=2", "2")]
        big = cpu[("cpu-max-prime=10000 threads=4", "4")]
        self.assertIn(SHORT, small["vmm"])
        for platform in ("native", "container"):
            self.assertNotIn(SHORT, small[platform])
        for platform in ("native", "container", "qemu-linux", "vmm"):
            self.assertNotIn(OVER, small[platform])
            self.assertIn(OVER, big[platform])
        self.assertIn(VARIABLE, big["container"])              # CV about 8 %
        for platform in ("native", "vmm"):
            self.assertNotIn(VARIABLE, big[platform])
        self.assertNotIn(PARTIAL, "".join(small.values()) + "".join(big.values()))
        (mem,) = by_case(self.tables["memory"]).values()
        self.assertIn(PARTIAL, mem["vmm"])
        self.assertNotIn(PARTIAL, mem["native"])
        # each table explains the markers it uses, and only those
        cpu_text = self.md[self.md.index("### cpu"):self.md.index("### memory")]
        mem_text = self.md[self.md.index("### memory"):self.md.index("## Plots")]
        for marker in (SHORT, VARIABLE, OVER):
            self.assertRegex(cpu_text, rf"(?m)^{marker} \S")
        self.assertNotRegex(cpu_text, rf"(?m)^{PARTIAL} ")
        self.assertRegex(mem_text, rf"(?m)^{PARTIAL} \S")
        self.assertNotRegex(mem_text, rf"(?m)^{OVER} ")

    def test_environment(self):
        env = self.md[self.md.index("## Environment"):self.md.index("## Results")]
        self.assertIn("bench/compare --preset smp-mem-grid --reps 3", self.md.split("\n## ")[0])
        self.assertIn("2026-11-22T10:15:00Z", self.md.split("\n## ")[0])
        self.assertIn("AMD EPYC 7B13, 2 CPUs", env)
        self.assertIn("6.1.0-26-amd64", env)
        self.assertIn("virtual machine: yes, hypervisor: kvm", env)
        self.assertIn("governor: none (no cpufreq", env)
        self.assertIn("Memory: 7940 MiB", env)
        self.assertIn("before 2.31 1.12 0.58", env)
        self.assertIn("after 1.97 1.85 1.20", env)
        self.assertIn("**Warning:** the host was busy", env)
        for platform in ("native", "container", "vmm"):
            self.assertIn(f"- **{platform}**: accelerator:", env)
        self.assertIn(f"- **qemu-linux**: could not run: qemu-linux: {QEMU_LINUX_ERROR}", env)
        self.assertIn("kvm (nested, no hardware virtualization: PVM)", env)
        self.assertIn("cpu_quota=vCPUs", env)
        # The kind of KVM, once, with what it means (host and vmm share it).
        self.assertIn("- KVM: **pvm** (this host's /dev/kvm, vmm): PVM-style KVM (kvm_pvm): "
                      "guest ring 3 runs natively", env)
        self.assertEqual(env.count("- KVM:"), 1)
        self.assertNotIn("kvm_check", env)

    def test_errors_listed_at_the_end(self):
        errors = self.md[self.md.index("## Errors"):]
        self.assertEqual(errors.count(QEMU_LINUX_ERROR), 1)
        self.assertIn("- qemu-linux: could not run at all: qemu-linux: " + QEMU_LINUX_ERROR,
                      errors)
        self.assertIn("- vmm, memory memory-block-size=1M", errors)
        self.assertIn("rep 3: vmm: the guest did not finish within 60 s (--timeout), status 124",
                      errors)
        self.assertIn("Runs: 27, of which 1 failed. Could not run at all: qemu-linux.", self.md)

    def test_plots(self):
        for test in ("cpu", "memory"):
            png = self.out / f"plot-{test}.png"
            assert_png(self, png)
            gp, dat = self.out / f"plot-{test}.gp", self.out / f"plot-{test}.dat"
            self.assertTrue(gp.is_file() and dat.is_file())
            script = gp.read_text()
            self.assertIn(f"'{dat.name}'", script)
            self.assertIn(f"set output '{png.name}'", script)
            self.assertIn(f"![{test}", self.md)
            self.assertIn(f"(plot-{test}.png)", self.md)
            rows = [line for line in dat.read_text().splitlines() if not line.startswith("#")]
            self.assertEqual(len(rows), 2 if test == "cpu" else 1)
        data = (self.out / "plot-cpu.dat").read_text()
        self.assertIn("2412.3 2405.8 2420.1", data)            # median, min, max
        self.assertNotIn("qemu-linux", data)
        self.assertIn("Not drawn (no figures): qemu-linux.", self.md)

    def test_idempotent(self):
        before = {n: (self.out / n).read_text() for n in ("results.jsonl", "results.csv",
                                                          "report.md", "plot-cpu.gp",
                                                          "plot-cpu.dat")}
        write_report(self.records, self.environment, self.out)
        after = {n: (self.out / n).read_text() for n in before}
        self.assertEqual(before, after)
        assert_png(self, self.out / "plot-cpu.png")
        self.assertEqual(sorted(p.name for p in self.out.iterdir() if p.name.startswith(".")),
                         [])


class Variants(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vmbench-report-")
        self.out = Path(self.tmp.name)
        self.records, self.environment = load_fixture()

    def tearDown(self):
        self.tmp.cleanup()

    def test_without_native_no_ratio_columns(self):
        records = [r for r in self.records if r["platform"] != "native"]
        write_report(records, self.environment, self.out)
        md = (self.out / "report.md").read_text()
        self.assertNotIn("\u00d7 native", md)
        self.assertIn("No ratios: there is no native platform in this comparison.", md)
        found = tables(md)
        self.assertEqual(set(found), {"cpu", "memory"})
        for head, rows in found.values():
            self.assertEqual(head, ["case", "vCPUs", "MiB", "container", "qemu-linux", "vmm"])
            for row in rows:
                self.assertEqual(len(row), len(head))
        assert_png(self, self.out / "plot-cpu.png")

    def test_a_platform_failing_every_run(self):
        env = dict(self.environment, platforms=dict(self.environment["platforms"]))
        del env["platforms"]["qemu-linux"]
        records = []
        for r in self.records:
            if r["platform"] == "container" and r["test"] == "cpu":
                r = {k: r[k] for k in ("schema", "test", "platform", "case", "rep", "harness")}
                r["error"] = "container: runc: cgroup memory limit not in force"
            records.append(r)
        write_report(records, env, self.out)
        md = (self.out / "report.md").read_text()
        head, rows = tables(md)["cpu"]
        self.assertEqual(head[3:6], ["native", "container", "vmm"])
        self.assertNotIn("container \u00d7 native", head)
        self.assertIn("vmm \u00d7 native", head)
        for row in rows:
            cells = dict(zip(head, row))
            self.assertTrue(cells["container"].startswith(
                "failed: container: runc: cgroup memory limit not in force"))
            self.assertNotIn(report.MARKERS["partial"][0], cells["container"])
        self.assertRegex(tables(md)["memory"][1][0][4], r"^\d+\.\d \u00b1")
        self.assertEqual(md[md.index("## Errors"):].count("cgroup memory limit not in force"), 6)
        self.assertIn("Runs: 27, of which 7 failed.", md)
        data = (self.out / "plot-cpu.dat").read_text()
        self.assertNotIn("container", data)
        self.assertIn("container", (self.out / "plot-memory.dat").read_text())

    def test_without_gnuplot_the_report_is_still_written(self):
        paths = write_report(self.records, self.environment, self.out,
                             gnuplot=str(self.out / "no-such-gnuplot"))
        md = (self.out / "report.md").read_text()
        self.assertIn("Plots skipped:", md)
        self.assertIn("no-such-gnuplot", md)
        self.assertEqual(paths["plots"], {})
        self.assertFalse(list(self.out.glob("*.png")))
        self.assertNotIn("![", md)
        for test in ("cpu", "memory"):
            self.assertTrue((self.out / f"plot-{test}.gp").is_file())
            self.assertTrue((self.out / f"plot-{test}.dat").is_file())
        self.assertEqual(set(tables(md)), {"cpu", "memory"})

    def test_quiet_host_no_warning_and_single_runs(self):
        env = dict(self.environment, busy_before=False)
        env["host"] = dict(env["host"], virtualization="none", governor="performance")
        records = [r for r in self.records if r.get("rep") == 1]
        write_report(records, env, self.out)
        md = (self.out / "report.md").read_text()
        self.assertNotIn("Warning", md)
        self.assertIn("virtual machine: no", md)
        self.assertIn("governor: performance", md)
        cpu = by_case(tables(md)["cpu"])
        self.assertEqual(cpu[("cpu-max-prime=10000 threads=2", "2")]["native"], "2412.3")

    def test_mixed_units_and_fileio(self):
        case = {"test": "memory", "options": {"memory-oper": "none", "threads": 1, "time": 1},
                "vcpus": 1, "mem_mib": 512}
        records = [
            {"schema": "vmbench.result/1", "test": "memory", "platform": p,
             "options": {"memory-oper": "none"}, "threads": 1, "total_time_s": 1.0001,
             "events": 100, "events_per_s": v, "metrics": {"mib_per_s": 0.0},
             "case": case, "rep": 1, "harness": {"run_id": "x", "flags": []}}
            for p, v in (("native", 5000000.0), ("vmm", 4000000.0))]
        fcase = {"test": "fileio", "options": {"file-test-mode": "rndrw", "threads": 1, "time": 1},
                 "vcpus": 1, "mem_mib": 512}
        records += [
            {"schema": "vmbench.result/1", "test": "fileio", "platform": p, "threads": 1,
             "total_time_s": 1.0001, "events": 100, "events_per_s": r + w,
             "metrics": {"reads_per_s": r, "writes_per_s": w, "fsyncs_per_s": 10.0,
                         "read_mib_per_s": r / 64, "written_mib_per_s": w / 64},
             "case": fcase, "rep": 1, "harness": {"run_id": "x", "flags": []}}
            for p, r, w in (("native", 1200.0, 800.0), ("vmm", 600.0, 400.0))]
        records.append(dict(records[0], case=dict(case, options={"threads": 1, "time": 1}),
                            options={}, metrics={"mib_per_s": 3000.0}))
        write_report(records, {"host": {"cpus": 2}}, self.out)
        md = (self.out / "report.md").read_text()
        found = tables(md)
        head, rows = found["memory"]
        self.assertIn("unit", head)
        self.assertEqual(sorted(dict(zip(head, r))["unit"] for r in rows), ["MiB/s", "events/s"])
        head, rows = found["fileio"]
        cells = dict(zip(head, rows[0]))
        self.assertEqual(cells["native"], "2000.0")
        self.assertEqual(cells["vmm \u00d7 native"], "0.500")
        self.assertEqual(cells["vmm read MiB/s / written MiB/s"], "9.38 / 6.25")
        with open(self.out / "results.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["test"] == "fileio"]
        self.assertEqual([(r["figure"], r["unit"], r["read_mib_per_s"]) for r in rows],
                         [("2000.0", "ops/s", "18.75"), ("1000.0", "ops/s", "9.375")])
        assert_png(self, self.out / "plot-fileio.png")

    def test_skipped_cases(self):
        """A qcow2 case that vmm skips: its cell reads "not run", the
        environment says why."""
        def rec(platform, disk):
            case = {"test": "fileio", "vcpus": 1, "mem_mib": 512,
                    "options": {"file-test-mode": "rndrw", "threads": 1, "time": 1,
                                "disk-format": disk}}
            return {"schema": "vmbench.result/1", "test": "fileio", "platform": platform,
                    "threads": 1, "total_time_s": 1.0, "events": 100, "events_per_s": 100.0,
                    "metrics": {"reads_per_s": 60.0, "writes_per_s": 40.0, "fsyncs_per_s": 0.0,
                                "read_mib_per_s": 1.0, "written_mib_per_s": 0.5},
                    "case": case, "rep": 1, "harness": {"run_id": "x", "flags": []}}
        records = [rec("native", "raw"), rec("vmm", "raw"), rec("native", "qcow2")]
        why = "vmm: the guest's fileio takes raw disks only (disk-format=qcow2)"
        env = {"host": {"cpus": 2}, "skipped": [
            {"platform": "vmm", "case": "fileio file-test-mode=rndrw threads=1 "
                                        "disk-format=qcow2 (1 vCPU, 512 MiB)", "why": why}]}
        write_report(records, env, self.out)
        md = (self.out / "report.md").read_text()
        head, rows = tables(md)["fileio"]
        cells = {dict(zip(head, r))["case"]: dict(zip(head, r)) for r in rows}
        self.assertEqual(cells["file-test-mode=rndrw threads=1 disk-format=qcow2"]["vmm"],
                         "not run")
        self.assertEqual(cells["file-test-mode=rndrw threads=1 disk-format=raw"]["vmm"], "100.0")
        self.assertIn("### Cases not run\n\n- **vmm**, fileio file-test-mode=rndrw threads=1 "
                      "disk-format=qcow2 (1 vCPU, 512 MiB): " + why, md)

    def test_a_line_per_kind_of_kvm(self):
        def kvm_lines(env, records=()):
            write_report(list(records), env, self.out)
            md = (self.out / "report.md").read_text()
            host = md[md.index("### Host"):md.index("### Platforms") if "### Platforms" in md
                      else md.index("## Results")]
            return [line for line in host.splitlines() if line.startswith("- KVM:")]

        # Each kind named once, with its meaning; a vmm record counts too.
        for kind, words in (("hardware", "both guest rings run natively"),
                            ("pvm", "guest ring 0 is emulated (~1M instructions/s)"),
                            ("nested-tcg", "the figures measure TCG"),
                            ("nested", "goes through the outer hypervisor"),
                            ("unknown", "could not tell")):
            lines = kvm_lines({"host": {"cpus": 2, "kvm_kind": kind}})
            self.assertEqual(len(lines), 1, lines)
            self.assertIn(f"- KVM: **{kind}** (this host's /dev/kvm): ", lines[0])
            self.assertIn(words, lines[0])
        # No usable /dev/kvm here, vmm nested under TCG: both said.
        record = {"schema": "vmbench.result/1", "test": "cpu", "platform": "vmm",
                  "events_per_s": 10.0, "env": {"vmm": {"where": "nested-kvm-in-tcg",
                                                        "kvm_kind": "nested-tcg"}},
                  "case": {"test": "cpu", "options": {"time": 1}, "vcpus": 1, "mem_mib": 512}}
        lines = kvm_lines({"host": {"cpus": 2, "kvm_kind": None,
                                    "kvm_check": "vmm: cannot run guests here: KVM_CREATE_VM "
                                                 "failed: Device or resource busy"}},
                          [record])
        self.assertEqual(lines, [
            "- KVM: no usable /dev/kvm on this host (vmm: cannot run guests here: "
            "KVM_CREATE_VM failed: Device or resource busy)",
            "- KVM: **nested-tcg** (vmm): " + kvmkind.MEANING["nested-tcg"]])
        # Two kinds: two lines, the host's first.
        lines = kvm_lines({"host": {"cpus": 2, "kvm_kind": "pvm"},
                           "platforms": {"vmm": {"accelerator": "kvm",
                                                 "kvm_kind": "nested-tcg"}}})
        self.assertEqual([line.split("**")[1] for line in lines], ["pvm", "nested-tcg"])
        # Older environments did not record it.
        self.assertEqual(kvm_lines({"host": {"cpus": 2}}), ["- KVM: not recorded"])

    def test_no_records(self):
        paths = write_report([], {}, self.out)
        md = paths["report"].read_text()
        self.assertIn("No runs were recorded.", md)
        self.assertEqual((self.out / "results.jsonl").read_text(), "")


if __name__ == "__main__":
    unittest.main()
