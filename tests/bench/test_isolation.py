"""The isolation scenarios without touching the host: vmbench.isolation.session
against fake isolation tools (sh scripts that log their calls), the CPU
lists of vmm-pinned and vmm-isolated, and vmm-isolated's runs (vmm itself
faked) with apply failing, restore always following apply, and the runner
recording a skipped scenario."""

import json
import os
import signal
import stat
import tempfile
import textwrap
import unittest
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[2]
from vmbench import runner
from vmbench.isolation import session as isolation
from vmbench.platforms.base import Case, CaseSkipped, PlatformError
from vmbench.platforms.vmm import VmmPlatform
from vmbench.platforms.vmm_pinned import (PinnedVmmPlatform, choose_cpus, format_cpulist,
                                          parse_cpulist)

CPU = Case("cpu", (("cpu-max-prime", 2000), ("threads", 1), ("time", 1)), 1, 256)
JITTER = Case("jitter", (("threads", 1), ("time", 1)), 1, 256)


def fake_tools(directory, apply_status=0, restore_status=0, check_json='{"isolated": [1]}'):
    """apply, restore and check scripts in `directory` that append their
    arguments to calls.log; apply writes the state file it is given."""
    log = Path(directory) / "calls.log"
    scripts = {
        "apply": f"""
            echo "apply $*" >> {log}
            while [ $# -gt 1 ]; do [ "$1" = --state ] && echo applied > "$2"; shift; done
            [ {apply_status} = 0 ] || {{ echo "isolation/apply: must be root" >&2; exit {apply_status}; }}
            """,
        "restore": f"""
            echo "restore $*" >> {log}
            [ {restore_status} = 0 ] || {{ echo "isolation/restore: cannot write" >&2; exit {restore_status}; }}
            """,
        "check": f"""
            echo "check $*" >> {log}
            echo '{check_json}'
            """,
    }
    for name, body in scripts.items():
        path = Path(directory) / name
        path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return log


def calls(log):
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


class Tools(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="fake-isolation-")
        self.addCleanup(self.dir.cleanup)

    def iso(self, **kw):
        log = fake_tools(self.dir.name, **kw)
        iso = isolation.Isolation(root="/fake/root", tools=self.dir.name)
        self.addCleanup(iso.close)
        return iso, log

    def test_apply_then_restore_with_root_and_state(self):
        iso, log = self.iso()
        with iso.applied("1"):
            self.assertEqual(iso.check("1"), {"isolated": [1]})
        lines = log.read_text().splitlines()
        self.assertEqual([line.split()[0] for line in lines], ["apply", "check", "restore"])
        self.assertEqual(lines[0], f"apply --root /fake/root --state {iso.state} 1")
        self.assertEqual(lines[2], f"restore --root /fake/root --state {iso.state}")
        self.assertIn("--json", lines[1])

    def test_restore_follows_apply_when_the_run_raises(self):
        for exc in (PlatformError("boom"), KeyboardInterrupt(), ValueError("bug")):
            with self.subTest(exc=type(exc).__name__):
                iso, log = self.iso()
                log.unlink(missing_ok=True)
                with self.assertRaises(type(exc)):
                    with iso.applied("1"):
                        raise exc
                self.assertEqual(calls(log), ["apply", "restore"])

    def test_sigterm_while_applied_restores_then_exits(self):
        iso, log = self.iso()
        with self.assertRaises(SystemExit) as done:
            with iso.applied("1"):
                os.kill(os.getpid(), signal.SIGTERM)
                signal.sigtimedwait([], 0)         # let the handler run
                self.fail("SIGTERM did not interrupt the run")
        self.assertEqual(done.exception.code, 128 + signal.SIGTERM)
        self.assertEqual(calls(log), ["apply", "restore"])
        self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_DFL)

    def test_a_failed_apply_is_unavailable_and_puts_back_what_it_wrote(self):
        iso, log = self.iso(apply_status=1)
        ran = []
        with self.assertRaisesRegex(isolation.IsolationUnavailable,
                                    r"^isolation/apply 1 failed: isolation/apply: must be root$"):
            with iso.applied("1"):
                ran.append(1)
        self.assertEqual(ran, [])
        # The fake apply wrote its state file before failing: restore ran.
        self.assertEqual(calls(log), ["apply", "restore"])

    def test_a_failed_restore_says_the_host_may_still_be_isolated(self):
        iso, log = self.iso(restore_status=3)
        with self.assertRaisesRegex(isolation.IsolationError,
                                    r"isolation/restore failed: isolation/restore: cannot "
                                    r"write; the host may still be isolated: run "
                                    r"isolation/restore --state "):
            with iso.applied("1"):
                pass

    def test_missing_tools(self):
        iso = isolation.Isolation(tools=Path(self.dir.name) / "none")
        self.assertRegex(iso.missing(), r"none/apply is missing or not executable$")
        with self.assertRaisesRegex(isolation.IsolationUnavailable, "is missing"):
            iso.apply("1")

    def test_check_that_says_no_json(self):
        iso, _ = self.iso(check_json="not json")
        self.assertEqual(iso.check("1"), {"error": "isolation/check 1: not json"})


class CpuLists(unittest.TestCase):
    def test_parse_and_format(self):
        self.assertEqual(parse_cpulist("0-3,6"), [0, 1, 2, 3, 6])
        self.assertEqual(parse_cpulist("5,1"), [5, 1])
        self.assertEqual(format_cpulist([1, 3]), "1,3")
        for bad, message in (("", "an empty entry"), ("3-1", "runs backwards"),
                             ("1,1", "CPU 1 is listed twice"), ("a", "'a' is not a CPU")):
            with self.subTest(bad=bad), self.assertRaisesRegex(ValueError, message):
                parse_cpulist(bad)

    def test_the_last_cpus_leaving_the_first_to_the_host(self):
        self.assertEqual(choose_cpus(1, [0, 1]), ("1", None))
        self.assertEqual(choose_cpus(2, range(8)), ("6,7", None))
        cpus, why = choose_cpus(2, [0, 1])
        self.assertIsNone(cpus)
        self.assertEqual(why, "2 vCPUs on 2 host CPUs would leave none to the host "
                              "(choose them with --isolate-cpus)")

    def test_asked_cpus(self):
        self.assertEqual(choose_cpus(1, [0, 1], "0,1"), ("0", None))
        self.assertEqual(choose_cpus(2, [0, 1], "0-1"), ("0,1", None))
        self.assertEqual(choose_cpus(2, [0, 1], "1")[1],
                         "--isolate-cpus 1 has 1 CPU, the case has 2 vCPUs")
        self.assertEqual(choose_cpus(1, [0, 1], "7")[1],
                         "--isolate-cpus 7: CPU 7 is not one this host lets us use (0,1)")


def fake_vmm_run(self, case):
    """VmmPlatform.run without vmm: a result that says where it ran."""
    FakeRuns.ran.append((self.name, case.test, self.pin_for(case)))
    if FakeRuns.fail:
        raise FakeRuns.fail
    return {"schema": "vmbench.result/1", "test": case.test, "platform": self.name,
            "options": {}, "events_per_s": 100.0, "total_time_s": 1.0,
            "env": {"vcpus": case.vcpus, "vmm": {"pin": [int(self.pin_for(case))]}}}


@mock.patch.object(VmmPlatform, "run", fake_vmm_run)
class FakeRuns(unittest.TestCase):
    ran, fail = [], None

    def setUp(self):
        FakeRuns.ran, FakeRuns.fail = [], None
        self.dir = tempfile.TemporaryDirectory(prefix="fake-isolation-")
        self.addCleanup(self.dir.cleanup)

    def platform(self, **kw):
        log = fake_tools(self.dir.name, **kw)
        p = PinnedVmmPlatform(name="vmm-isolated", isolate=True, host_cpus=[0, 1],
                              isolation_root="/fake/root", tools=self.dir.name)
        p.place = mock.Mock(host=True)         # prepare() without vmm
        self.addCleanup(p.isolation.close)
        return p, log

    def test_an_isolated_run_records_what_was_in_force(self):
        p, log = self.platform()
        record = p.run(CPU)
        self.assertEqual(FakeRuns.ran, [("vmm-isolated", "cpu", "1")])
        self.assertEqual(record["env"]["isolation"], {"cpus": "1", "root": "/fake/root",
                                                      "check": {"isolated": [1]}})
        self.assertEqual(calls(log), ["apply", "check", "restore"])

    def test_restore_follows_a_failed_run(self):
        p, log = self.platform()
        FakeRuns.fail = PlatformError("vmm-isolated: exited with 122")
        with self.assertRaisesRegex(PlatformError, "exited with 122"):
            p.run(CPU)
        self.assertEqual(calls(log), ["apply", "check", "restore"])

    def test_a_failed_restore_fails_the_run(self):
        p, _ = self.platform(restore_status=1)
        with self.assertRaisesRegex(PlatformError, r"^vmm-isolated: isolation/restore failed"):
            p.run(CPU)

    def test_a_failed_apply_skips_this_case_and_the_others(self):
        p, log = self.platform(apply_status=1)
        with self.assertRaisesRegex(CaseSkipped, r"^vmm-isolated: isolation/apply 1 failed: "
                                                 r"isolation/apply: must be root$"):
            p.run(CPU)
        self.assertEqual(FakeRuns.ran, [])
        self.assertRegex(p.skip(JITTER), "must be root")
        with self.assertRaises(CaseSkipped):
            p.run(JITTER)
        self.assertEqual(calls(log), ["apply", "restore"])     # apply tried once

    def test_the_runner_reports_a_skipped_scenario_and_does_not_fail(self):
        pinned = PinnedVmmPlatform(name="vmm-pinned", host_cpus=[0, 1])
        isolated, log = self.platform(apply_status=1)
        for p in (pinned, isolated):
            p.prepare = lambda cases: None
            p.environment = lambda: {"pinning": "test"}
        with tempfile.TemporaryDirectory(dir=REPO / "build") as out:
            r = runner.Runner([pinned, isolated], [CPU, JITTER], 2, Path(out), command="test")
            env = r.run()
            records = [json.loads(line) for line in
                       Path(out, "results.jsonl").read_text().splitlines()]
        self.assertEqual(r.failed, {})
        self.assertEqual(sorted({x["platform"] for x in records}), ["vmm-pinned"])
        self.assertEqual(len(records), 4)
        why = {s["case"]: s["why"] for s in env["skipped"]}
        self.assertEqual(set(why), {CPU.label(), JITTER.label()})
        self.assertTrue(all("must be root" in w for w in why.values()), why)
        self.assertEqual(calls(log), ["apply", "restore"])
        self.assertTrue(all(pin == "1" for _, _, pin in FakeRuns.ran))

    def test_pinned_skips_a_case_that_leaves_no_cpu_to_the_host(self):
        p = PinnedVmmPlatform(name="vmm-pinned", host_cpus=[0, 1])
        two = Case("cpu", (("threads", 2), ("time", 1)), 2, 256)
        self.assertRegex(p.skip(two), r"^vmm-pinned: 2 vCPUs on 2 host CPUs would leave none")
        self.assertIsNone(p.skip(CPU))
        self.assertEqual(p.pin_for(CPU), "1")

    def test_nested_vmm_skips_both(self):
        p = PinnedVmmPlatform(name="vmm-pinned", host_cpus=[0, 1])
        with mock.patch("vmbench.platforms.vmm_pinned.VmmPlatform._find_place",
                        lambda self, cases: setattr(self, "place", mock.Mock(host=False))
                        or setattr(self, "why", "no /dev/kvm")):
            p.prepare([CPU])
        self.assertRegex(p.skip(CPU), r"vmm runs nested in a Linux VM here \(no /dev/kvm\); "
                                      r"this host's CPUs are not the VM's")


if __name__ == "__main__":
    unittest.main()
