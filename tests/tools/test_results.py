"""Tests of tools/vmbench/results.py: VMBENCH-RESULT lines, QEMU's exit
status, and the agreement of the guest's text report with its own result.

The guest fixtures (tests/fixtures/sysbench/guest-*.txt) are real output of
build/guest.elf under QEMU TCG; numbers asserted here were copied from them.
"""

import copy
import json
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
from vmbench import results, sysbench
from vmbench.results import ReportMismatch, ResultError

FIXTURES = REPO / "tests" / "fixtures" / "sysbench"
GUEST_REPORTS = ["guest-cpu-t2.txt", "guest-cpu-histogram.txt", "guest-cpu-percentile0.txt",
                 "guest-memory-write-1M.txt", "guest-memory-none.txt"]


def fixture(name):
    return (FIXTURES / name).read_text()


def line(obj):
    return "VMBENCH-RESULT " + json.dumps(obj) + "\n"


def guest_result(name="guest-cpu-t2.txt"):
    return results.result_lines(fixture(name))[0]


class ResultLines(unittest.TestCase):
    def test_guest_cpu(self):
        found = results.result_lines(fixture("guest-cpu-t2.txt"))
        self.assertEqual(len(found), 1)
        r = found[0]
        self.assertEqual(r["schema"], "vmbench.result/1")
        self.assertEqual((r["test"], r["platform"], r["threads"], r["events"]),
                         ("cpu", "qemu-guest", 2, 1690))
        self.assertEqual(r["total_time_s"], 1.001324815)
        self.assertEqual(r["events_per_s"], 1687.764025)
        self.assertEqual(r["options"]["cpu-max-prime"], 10000)
        self.assertEqual(r["env"]["hypervisor"], "TCGTCGTCGTCG")

    def test_guest_memory(self):
        r = results.result_lines(fixture("guest-memory-write-1M.txt"))[0]
        self.assertEqual((r["test"], r["events"], r["events_per_s"]), ("memory", 4360, 4358.170814))
        self.assertEqual(r["options"]["memory-block-size"], 1048576)

    def test_every_guest_report_has_one(self):
        for name in GUEST_REPORTS:
            with self.subTest(name):
                self.assertEqual(len(results.result_lines(fixture(name))), 1)

    def test_none_in_sysbench_or_error_output(self):
        self.assertEqual(results.result_lines(fixture("cpu-prime10000-t1.txt")), [])
        self.assertEqual(results.result_lines(fixture("guest-error-histogram-percentile0.txt")), [])
        self.assertEqual(results.result_lines(""), [])

    def test_crlf_and_several_lines(self):
        a, b = guest_result("guest-cpu-t2.txt"), guest_result("guest-memory-none.txt")
        text = ("boot noise\r\n" + line(a).replace("\n", "\r\n") + "  " + line(b)
                + "trailing junk")
        self.assertEqual(results.result_lines(text), [a, b])

    def test_invalid_json(self):
        with self.assertRaisesRegex(ResultError, "line 2: .*not valid JSON"):
            results.result_lines('x\nVMBENCH-RESULT {"schema": "vmbench.result/1",\n')
        with self.assertRaisesRegex(ResultError, "line 1: no JSON"):
            results.result_lines("VMBENCH-RESULT\n")

    def test_not_an_object(self):
        with self.assertRaisesRegex(ResultError, "JSON object"):
            results.result_lines("VMBENCH-RESULT [1, 2]\n")

    def test_wrong_schema(self):
        r = guest_result()
        r["schema"] = "vmbench.result/2"
        with self.assertRaisesRegex(ResultError, "unknown schema 'vmbench.result/2'"):
            results.result_lines(line(r))

    def test_missing_keys(self):
        for key in ("schema", "test", "options", "platform", "env", "events", "latency_ms",
                    "fairness", "total_time_s", "threads", "events_per_s"):
            r = guest_result()
            del r[key]
            with self.subTest(key), self.assertRaisesRegex(ResultError, key):
                results.result_lines(line(r))
        r = guest_result()
        del r["latency_ms"]["sum"]
        with self.assertRaisesRegex(ResultError, "'latency_ms' lacks sum"):
            results.result_lines(line(r))
        r = guest_result()
        del r["fairness"]["time_avg_s"]
        with self.assertRaisesRegex(ResultError, "'fairness' lacks time_avg_s"):
            results.result_lines(line(r))

    def test_bad_values(self):
        for path, value in ((("events",), 1.5), (("events",), -1), (("threads",), True),
                            (("total_time_s",), "1.0"), (("latency_ms", "avg"), "fast"),
                            (("latency_ms", "percentile"), 0), (("metrics", "mib_per_s"), None),
                            (("options",), []), (("env",), "qemu"), (("test",), "")):
            r = guest_result("guest-memory-none.txt")
            d = r
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = value
            with self.subTest(path=path, value=value), self.assertRaises(ResultError):
                results.result_lines(line(r))

    def test_percentile_without_value(self):
        r = guest_result()
        del r["latency_ms"]["pct_value"]
        with self.assertRaisesRegex(ResultError, "percentile and pct_value"):
            results.result_lines(line(r))

    def test_null_for_nan(self):
        # The guest writes NaN as null (JSON has none): allowed in latency and fairness.
        r = guest_result()
        r["fairness"]["time_stddev_s"] = None
        self.assertEqual(results.result_lines(line(r)), [r])

    def test_latency_stddev_is_optional(self):
        # The guest writes it; sysbench's text has none, nor does its record.
        r = guest_result()
        r["latency_ms"]["stddev"] = 0.012
        self.assertEqual(results.result_lines(line(r)), [r])
        self.assertNotIn("stddev", sysbench.parse_report(fixture("cpu-prime10000-t2.txt"))
                         ["latency_ms"])
        for bad, message in ((-0.5, "'latency_ms.stddev' must be >= 0"),
                             ("0.1", "'latency_ms.stddev' must be a number")):
            r["latency_ms"]["stddev"] = bad
            with self.subTest(bad=bad), self.assertRaisesRegex(ResultError, message):
                results.result_lines(line(r))

    def test_info_needs_no_benchmark_fields(self):
        info = {"schema": "vmbench.result/1", "test": "info", "platform": "vmm", "options": {},
                "threads": 2, "env": {"vcpus": 2}}
        self.assertEqual(results.result_lines(line(info)), [info])

    def test_parser_output_is_a_valid_record(self):
        # What parse_report makes of native sysbench is the same schema (minus
        # platform and env, which the harness adds).
        for name in ("cpu-prime10000-t2.txt", "memory-none-rnd-1M.txt", "fileio-rndrw-fsync0.txt",
                     "cpu-percentile0.txt"):
            with self.subTest(name):
                rec = sysbench.parse_report(fixture(name))
                results.validate_result(rec)
                with self.assertRaisesRegex(ResultError, "platform"):
                    results.validate_result(rec, guest=True)


def vmexit_result():
    """A vmexit result as the guest writes it (trimmed from a QEMU TCG run
    with -device pci-testdev)."""
    return {"schema": "vmbench.result/1", "test": "vmexit", "platform": "qemu-guest",
            "options": {"min-ticks": 4194304, "ops": "all"},
            "vmexit": {"min_ticks": 4194304, "tsc_khz": 2099973,
                       "host": {"kind": "tcg", "source": "measured", "ring0_emulated": False,
                                "vmcall_hangs": False, "signature": "TCGTCGTCGTCG",
                                "ring0_loop_ratio": 1.81},
                       "pci_testdev": {"device": "00:02.0", "ports_in_ring3": True},
                       "ops": [{"name": "ring0_loop", "ring": 0, "iterations": 524288,
                                "cycles": 19.94, "ns": 9.50},
                               {"name": "hypercall",
                                "skipped": "vmmcall raised #UD in ring 3: no hypervisor "
                                           "answers it (TCGTCGTCGTCG)"},
                               {"name": "pio_write_ioeventfd", "ring": 3, "iterations": 8192,
                                "cycles": 4270.08, "ns": 2033.40, "handled": "user"},
                               {"name": "timer", "ring": 3, "iterations": 2048,
                                "cycles": 39462.3, "ns": 18791.4, "mode": "one-shot",
                                "wait": 3},
                               {"name": "hlt", "ring": 0, "iterations": 16384,
                                "cycles": 4155.4, "ns": 1978.8, "wait": 0,
                                "note": "x2APIC mode: the LAPIC is MSRs, ring 0 only"}],
                       "ring0_loop_cycles": 19.94},
            "env": {"vcpus": 2, "hypervisor": "TCGTCGTCGTCG"}}


class VmexitResults(unittest.TestCase):
    def test_valid(self):
        r = vmexit_result()
        self.assertEqual(results.result_lines(line(r)), [r])

    def test_needs_its_block(self):
        r = vmexit_result()
        del r["vmexit"]
        with self.assertRaisesRegex(ResultError, "lacks its 'vmexit' object"):
            results.result_lines(line(r))

    def test_bad_values(self):
        cases = ((("min_ticks",), 0), (("tsc_khz",), "2 GHz"), (("host", "kind"), "xen"),
                 (("host", "source"), "guessed"), (("host", "ring0_emulated"), 1),
                 (("ops",), {}), (("ops", 0, "name"), "vmcall"), (("ops", 0, "ring"), 1),
                 (("ops", 0, "ring"), False), (("ops", 0, "iterations"), 0),
                 (("ops", 0, "cycles"), 0), (("ops", 0, "ns"), None),
                 (("ops", 1, "skipped"), ""), (("ops", 2, "handled"), "hypervisor"),
                 (("ops", 3, "wait"), 1), (("ops", 3, "wait"), True), (("ops", 3, "wait"), "3"),
                 (("ops", 4, "note"), 7),
                 (("ring0_loop_cycles",), -1.0))
        for path, value in cases:
            r = vmexit_result()
            d = r["vmexit"]
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = value
            with self.subTest(path=path, value=value), self.assertRaises(ResultError):
                results.result_lines(line(r))

    def test_an_op_is_measured_or_skipped(self):
        r = vmexit_result()
        del r["vmexit"]["ops"][0]["cycles"]
        with self.assertRaisesRegex(ResultError, "ring0_loop: 'cycles'"):
            results.result_lines(line(r))
        r = vmexit_result()
        r["vmexit"]["ops"][1]["cycles"] = 10.0
        with self.assertRaisesRegex(ResultError, "hypercall: a skipped op"):
            results.result_lines(line(r))

    def test_each_op_once(self):
        r = vmexit_result()
        r["vmexit"]["ops"].append(dict(r["vmexit"]["ops"][0]))
        with self.assertRaisesRegex(ResultError, "'ring0_loop' is not an op, or comes twice"):
            results.result_lines(line(r))


def nested_result():
    """A nested result as the guest writes it (trimmed from vmm --nested in
    tools/linuxvm's VM)."""
    return {"schema": "vmbench.result/1", "test": "nested", "platform": "vmm",
            "options": {"nested-exits": 200, "nested-primes": 2000},
            "nested": {"route": "svm", "tsc_khz": 2100001,
                       "host": {"signature": "KVMKVMKVM", "vmm_kind": "nested-tcg",
                                "guest_level": 2},
                       "svm_features": 268501025, "nrips": False, "iterations": 200,
                       "ops": [{"name": "cpuid", "l2_exits": 200, "l2_cycles": 1486895.7,
                                "l2_ns": 708045.3, "l1_cycles": 582299.3, "l1_ns": 277285.2,
                                "ratio": 2.55},
                               {"name": "vmmcall", "l2_exits": 200, "l2_cycles": 1677754.6,
                                "l2_ns": 798930.4},
                               {"name": "hlt", "error": "L2 exited unexpectedly",
                                "exit_code": 64},
                               {"name": "pio_write", "l2_exits": 200, "l2_cycles": 1514163.9,
                                "l2_ns": 721030.1, "l1_cycles": 1073815.6, "l1_ns": 511340.5,
                                "ratio": 1.41}],
                       "l2_workload": {"name": "primes", "limit": 2000, "completed": True,
                                       "primes": 303, "l2_ms": 0.29, "expected": 303,
                                       "l1_ms": 0.28}},
            "env": {"vcpus": 1, "hypervisor": "KVMKVMKVM"}}


class NestedResults(unittest.TestCase):
    def test_valid_run_and_skip(self):
        r = nested_result()
        self.assertEqual(results.result_lines(line(r)), [r])
        skipped = nested_result()
        skipped["nested"] = {"route": "none", "tsc_khz": 2100000,
                             "host": {"signature": "KVMKVMKVM", "vmm_kind": "pvm",
                                      "guest_level": 2},
                             "skipped": "the CPU offers neither SVM nor VMX"}
        self.assertEqual(results.result_lines(line(skipped)), [skipped])

    def test_bad_values(self):
        cases = ((("route",), "ept"), (("host",), None), (("iterations",), 0),
                 (("ops", 0, "ratio"), 0), (("ops", 1, "l2_ns"), None),
                 (("ops", 1, "l2_exits"), 1.5), (("ops", 3, "name"), "cpuid"),
                 (("ops", 3, "name"), None), (("ops", 3), 7),   # once a TypeError
                 (("l2_workload", "completed"), "yes"), (("skipped",), ""))
        for path, value in cases:
            r = nested_result()
            d = r["nested"]
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = value
            with self.subTest(path=path, value=value), self.assertRaises(ResultError):
                results.result_lines(line(r))
        r = nested_result()
        del r["nested"]
        with self.assertRaisesRegex(ResultError, "lacks its 'nested' object"):
            results.result_lines(line(r))
        r = nested_result()
        r["nested"]["skipped"] = "no SVM"
        with self.assertRaisesRegex(ResultError, "a skipped nested test has a reason and no "
                                                 "figures"):
            results.result_lines(line(r))


class QemuStatus(unittest.TestCase):
    def test_mapping(self):
        self.assertEqual(results.qemu_guest_status(1), 0)
        self.assertEqual(results.qemu_guest_status(3), 1)
        self.assertEqual(results.qemu_guest_status(5), 2)
        self.assertEqual(results.qemu_guest_status(255), 127)

    def test_no_status(self):
        for rc in (0, 2, 4, 254, -9, -15):
            self.assertIsNone(results.qemu_guest_status(rc), rc)

    def test_not_a_number(self):
        for rc in (None, "1", 1.0, True):
            with self.assertRaises(TypeError):
                results.qemu_guest_status(rc)

    def test_fixtures(self):
        # README.md records QEMU's exit statuses: 1 for the reports, 5 for the error.
        readme = (FIXTURES / "README.md").read_text()
        self.assertIn("| guest error: FATAL line, guest status 2 (QEMU exit status 5) "
                      "| exit status 5 (guest status 2)", readme)
        self.assertEqual(results.qemu_guest_status(5), 2)


class GuestReportAgreement(unittest.TestCase):
    """The guest's text, read by the sysbench parser, says what its JSON says."""

    def test_every_guest_report_agrees(self):
        for name in GUEST_REPORTS:
            with self.subTest(name):
                report, result = results.check_guest_output(fixture(name))
                self.assertEqual(report["events"], result["events"])

    def test_cpu_numbers(self):
        report, result = results.check_guest_output(fixture("guest-cpu-t2.txt"))
        self.assertEqual(report["total_time_s"], 1.0013)        # printed
        self.assertEqual(result["total_time_s"], 1.001324815)   # JSON
        self.assertEqual(report["events_per_s"], 1687.76)
        self.assertEqual(report["events"], 1690)

    def test_percentile_disabled(self):
        report, result = results.check_guest_output(fixture("guest-cpu-percentile0.txt"))
        self.assertNotIn("percentile", report["latency_ms"])
        self.assertNotIn("percentile", result["latency_ms"])
        self.assertEqual(report["options"]["percentile"], result["options"]["percentile"])

    def test_histogram(self):
        report, result = results.check_guest_output(fixture("guest-cpu-histogram.txt"))
        self.assertEqual(report["histogram"][1], (1.163, 87))
        self.assertEqual(sum(c for _, c in report["histogram"]), 200)
        self.assertIs(result["options"]["histogram"], True)

    def test_memory_none(self):
        report, result = results.check_guest_output(fixture("guest-memory-none.txt"))
        self.assertEqual(report["metrics"], {"mib_per_s": 0.0, "mib_transferred": 0.0})
        self.assertEqual(result["metrics"], {"mib_per_s": 0, "mib_transferred": 0})

    def test_crlf(self):
        text = fixture("guest-memory-write-1M.txt").replace("\n", "\r\n")
        report, _ = results.check_guest_output(text)
        self.assertEqual(report["events"], 4360)

    def test_mismatches_are_named(self):
        text = fixture("guest-cpu-t2.txt")
        report = sysbench.parse_report(text)
        for path, value, words in (
                (("events",), 1691, "events: text says 1690, JSON says 1691"),
                (("threads",), 1, "threads"),
                (("test",), "memory", "test"),
                (("total_time_s",), 1.0015, "total_time_s"),
                (("events_per_s",), 1687.80, "events_per_s"),
                (("latency_ms", "avg"), 1.20, "latency_ms.avg"),
                (("latency_ms", "percentile"), 99, "latency_ms.percentile"),
                (("fairness", "events_stddev"), 25.0, "fairness.events_stddev"),
                (("options", "cpu-max-prime"), 20000, "options.cpu-max-prime")):
            result = copy.deepcopy(guest_result())
            d = result
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = value
            with self.subTest(path=path):
                diffs = results.compare_report(report, result)
                self.assertEqual(len(diffs), 1, diffs)
                self.assertIn(words, diffs[0])

    def test_stddev_is_in_the_json_only(self):
        report = sysbench.parse_report(fixture("guest-cpu-t2.txt"))
        result = guest_result()
        result["latency_ms"]["stddev"] = 0.05
        self.assertEqual(results.compare_report(report, result), [])

    def test_within_print_precision(self):
        report = sysbench.parse_report(fixture("guest-cpu-t2.txt"))
        result = guest_result()
        self.assertEqual(results.compare_report(report, result), [])
        result["total_time_s"] = 1.0013 + 0.00009     # under one unit of the 4th decimal
        result["latency_ms"]["max"] = 3.35 - 0.0099   # under one unit of the 2nd decimal
        self.assertEqual(results.compare_report(report, result), [])

    def test_fileio_end_fsyncs_are_no_events(self):
        """fileio: the text's reads/s + writes/s + fsyncs/s may exceed the JSON's
        events/s by the fsyncs that are no events (--file-fsync-end), no more."""
        report = sysbench.parse_report(fixture("fileio-rndrw-fsync100.txt"))
        fsyncs = report["metrics"]["fsyncs_per_s"]
        self.assertGreater(fsyncs, 1)
        for delta, agree in ((0, True), (fsyncs / 2, True), (fsyncs, True),
                             (fsyncs + 1, False), (-1, False)):
            result = copy.deepcopy(report)
            result["events_per_s"] = report["events_per_s"] - delta
            with self.subTest(delta=delta):
                diffs = results.compare_report(report, result)
                self.assertEqual(diffs == [], agree, diffs)
                if not agree:
                    self.assertIn("events_per_s", diffs[0])

    def test_missing_on_one_side(self):
        report = sysbench.parse_report(fixture("guest-cpu-t2.txt"))
        result = guest_result()
        del result["latency_ms"]["pct_value"], result["latency_ms"]["percentile"]
        diffs = results.compare_report(report, result)
        self.assertTrue(any("pct_value" in d and "JSON lacks" in d for d in diffs), diffs)

    def test_check_raises_mismatch(self):
        text = fixture("guest-memory-none.txt").replace('"events":4225623,', '"events":4225624,')
        with self.assertRaises(ReportMismatch) as cm:
            results.check_guest_output(text)
        self.assertEqual(cm.exception.differences,
                         ["events: text says 4225623, JSON says 4225624"])
        self.assertIn("disagree", str(cm.exception))

    def test_native_report_is_not_a_guest_output(self):
        with self.assertRaisesRegex(ResultError, "expected one VMBENCH-RESULT line, found 0"):
            results.check_guest_output(fixture("cpu-prime10000-t1.txt"))

    def test_two_results(self):
        text = fixture("guest-cpu-t2.txt")
        with self.assertRaisesRegex(ResultError, "found 2"):
            results.check_guest_output(text + line(guest_result()))

    def test_guest_error_is_quoted(self):
        with self.assertRaisesRegex(sysbench.SysbenchParseError,
                                    "FATAL: --histogram cannot be used with --percentile=0"):
            results.check_guest_output(fixture("guest-error-histogram-percentile0.txt"))
        self.assertEqual(fixture("guest-error-histogram-percentile0.stderr.txt"), "")


def jitter_figures(gaps_per_bucket, threshold=5000, reads=1000, run_ns=10**9):
    """A vCPU's (or the total's) figures with these gaps per bucket, each at
    its bucket's lower bound."""
    hist = [{"from_ns": threshold << k, "to_ns": threshold << (k + 1), "count": c}
            for k, c in enumerate(gaps_per_bucket)]
    gaps = sum(gaps_per_bucket)
    lost = sum(b["from_ns"] * b["count"] for b in hist)
    largest = max((b["from_ns"] for b in hist if b["count"]), default=0)
    return {"reads": reads, "min_period_ns": 15.2, "mean_period_ns": 19.5, "run_ns": run_ns,
            "gaps": gaps, "gaps_per_s": gaps * 1e9 / run_ns, "largest_ns": largest,
            "lost_ns": lost, "lost_share": lost / run_ns, "tsc_backwards": 0, "histogram": hist}


def jitter_result():
    cpus = [dict(jitter_figures([3, 1]), cpu=0), dict(jitter_figures([2, 0, 1]), cpu=1)]
    total = jitter_figures([5, 1, 1], reads=2000, run_ns=2 * 10**9)
    total["gaps_per_s"] = total["gaps"] / 2
    return {"schema": "vmbench.result/1", "test": "jitter", "platform": "vmm",
            "options": {"jitter-threshold": 5000, "time": 1}, "threads": 2,
            "jitter": {"threshold_ns": 5000, "duration_s": 1.0000005, "tsc_khz": 2100000,
                       "guest_interrupts": {"timer": 0, "wake_ipi": 0, "device": 0},
                       "cpus": cpus, "total": total},
            "env": {"vcpus": 2}}


class JitterResults(unittest.TestCase):
    """The jitter test's block must be whole and add up."""

    def test_valid(self):
        r = jitter_result()
        self.assertEqual(results.result_lines(line(r)), [r])

    def test_no_gaps_and_every_step_a_gap(self):
        r = jitter_result()
        for f in r["jitter"]["cpus"] + [r["jitter"]["total"]]:
            f.update(gaps=0, gaps_per_s=0, largest_ns=0, lost_ns=0, lost_share=0, histogram=[])
        results.validate_result(r)
        r = jitter_result()
        r["jitter"]["cpus"][0]["mean_period_ns"] = None     # the guest's NaN: no normal step
        results.validate_result(r)

    def test_inconsistencies(self):
        def total(r):
            return r["jitter"]["total"]

        def cpu0(r):
            return r["jitter"]["cpus"][0]

        for change, message in [
                (lambda r: r.pop("jitter"), "lacks its 'jitter' object"),
                (lambda r: r["jitter"].pop("cpus"), "'jitter' lacks cpus"),
                (lambda r: r["jitter"].update(cpus=[]), "non-empty list"),
                (lambda r: r["jitter"].update(threshold_ns=0), "threshold_ns"),
                (lambda r: cpu0(r).update(cpu=1), "vCPUs 0, 1, ... in order"),
                (lambda r: cpu0(r).update(gaps=-1), r"cpus\[0\]\.gaps' must be a whole number"),
                (lambda r: cpu0(r).update(gaps=5), "counts 4 gaps, not 5"),
                (lambda r: cpu0(r)["histogram"][1].update(from_ns=9000), r"must span \[10000"),
                (lambda r: cpu0(r).update(lost_share=1.5), "more time lost"),
                (lambda r: cpu0(r).update(lost_ns=2 * 10**9), "more time lost"),
                (lambda r: cpu0(r).update(largest_ns=4000), "below the threshold"),
                (lambda r: cpu0(r).update(largest_ns=50000), "not in the histogram's last bucket"),
                (lambda r: cpu0(r).update(min_period_ns=None), "min_period_ns"),
                (lambda r: total(r).update(reads=1999), "total.reads' 1999 is not the vCPUs' sum"),
                (lambda r: total(r)["histogram"][0].update(count=4), "counts 6 gaps, not 7"),
                (lambda r: (total(r)["histogram"][0].update(count=4),
                            total(r)["histogram"][1].update(count=2)),
                 "not the sum of the vCPUs' histograms")]:
            r = jitter_result()
            change(r)
            with self.subTest(message), self.assertRaisesRegex(ResultError, message):
                results.validate_result(r, guest=True)


if __name__ == "__main__":
    unittest.main()
