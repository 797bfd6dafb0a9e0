"""Nested virtualization (issue 13): vmm's --nested and virt_level, and the
guest's `nested` test (guest/workloads/nested.c), whose ring 0 becomes an
SVM hypervisor and runs an L2.

- Where vmm runs for the other tests (this host's KVM, or the Linux VM
  guest_runner falls back to): --json has virt_level and hypervisor_below,
  matching `vmm --check`; --nested succeeds where `vmm --check` says the
  host's KVM offers SVM or VMX and is refused with one line and status 125
  where it says none (detected, not assumed: this PVM host refuses).
- In a Linux L1 VM under QEMU's TCG with an SVM CPU (tools/linuxvm, whose
  kvm_amd offers nested SVM): `vmm --nested ... nested` runs its L2, which
  makes every exit and finishes its workload.
- Under QEMU TCG directly, -cpu max (SVM) and -cpu qemu64 (none): the guest
  is L1 on TCG's SVM, or skips with the reason.

Exits and primes are kept few: under TCG each L2 exit takes about a
millisecond.  Every limit below only guards against a hang."""

import json
import re
import unittest

import guest_runner
from guest_runner import GUEST, VMM, RELEASE_VMM, run_vmm
from vmbench import results, vmmrun

T = 900
EXITS = 100
PRIMES = 1000
PRIMES_UP_TO_1000 = 168
NESTED_ARGS = ("nested", f"--nested-exits={EXITS}", f"--nested-primes={PRIMES}")
OFFERS = re.compile(r"--nested offers the guest: (none|svm|vmx)")
LEVEL = re.compile(r"virt_level (\d+)")
REFUSAL = re.compile(r"^vmm: --nested: this host's KVM \(\S+\) offers neither VMX nor SVM "
                     r"to its guests( \(.*\))?$")


def nested_block(testcase, stdout):
    r = guest_runner.one_result(testcase, stdout)
    results.validate_result(r, guest=True)
    testcase.assertEqual(r["test"], "nested")
    return r["nested"]


def assert_l2_ran(testcase, n, out):
    """Every op's exits handled by the guest's L1, the L2 workload done."""
    testcase.assertEqual(n["route"], "svm", out)
    testcase.assertNotIn("skipped", n)
    testcase.assertEqual(n["iterations"], EXITS)
    for op in n["ops"]:
        testcase.assertNotIn("error", op, out)
        testcase.assertEqual(op["l2_exits"], EXITS, op["name"])
        testcase.assertGreater(op["l2_cycles"], 0, op["name"])
    ratios = {op["name"]: op.get("ratio") for op in n["ops"]}
    for name in ("cpuid", "pio_write"):
        testcase.assertGreater(ratios[name], 0, name)
    testcase.assertEqual(n["l2_workload"]["primes"], PRIMES_UP_TO_1000)
    testcase.assertEqual(n["l2_workload"]["expected"], PRIMES_UP_TO_1000)
    testcase.assertTrue(n["l2_workload"]["completed"])
    testcase.assertIn("ran to completion", out)


class WhereVmmRuns(unittest.TestCase):
    """vmm where the integration tests run it (guest_runner)."""

    @classmethod
    def setUpClass(cls):
        res = run_vmm("--check", timeout=T)
        assert res.returncode == 0, res.stderr
        cls.check = res.stdout
        cls.offers = OFFERS.search(cls.check)[1]

    def test_json_reports_the_level_and_the_hypervisor_below(self):
        path = guest_runner.kvm().scratch_dir / "nested-level.json"
        res = run_vmm("--json", path, GUEST, "info", timeout=T)
        self.assertEqual(res.returncode, 0, res.stderr)
        doc = json.loads(path.read_text())
        self.assertEqual(doc["virt_level"], int(LEVEL.search(self.check)[1]))
        below = doc["hypervisor_below"]
        self.assertEqual(below["kvm_kind"], doc["host"]["kvm_kind"])
        self.assertEqual(below["cpuid_signature"], doc["host"]["hypervisor"])
        self.assertIs(below["vmbench_vmm"], False)
        # A signature means a hypervisor below, and no hypervisor bit means 0.
        self.assertEqual(doc["virt_level"] > 0, below["cpuid_signature"] is not None)
        self.assertEqual(doc["config"]["nested"], "none")

    def test_stats_names_the_level(self):
        res = run_vmm("--stats", GUEST, "info", timeout=T)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stderr + res.stdout,
                         r"vmm: virt_level \d+ .*; nested virtualization for the guest: none")

    def test_nested_is_refused_in_one_line_or_runs(self):
        res = run_vmm("--nested", "--timeout", T, GUEST, *NESTED_ARGS, timeout=T + 60)
        if self.offers == "none":
            self.assertEqual(res.returncode, 125, res.stdout + res.stderr)
            lines = res.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, res.stderr)
            self.assertRegex(lines[0], REFUSAL)
            self.assertNotIn("VMBENCH-RESULT", res.stdout)
        elif self.offers == "svm":
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            assert_l2_ran(self, nested_block(self, res.stdout), res.stdout)
        else:
            # VMX offered: the guest has only the SVM route and says so.
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            n = nested_block(self, res.stdout)
            self.assertEqual(n["route"], "vmx")
            self.assertIn("VMX not implemented", n["skipped"])

    def test_without_nested_the_guest_skips_with_the_reason(self):
        res = run_vmm("--timeout", T, GUEST, *NESTED_ARGS, timeout=T + 60)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        n = nested_block(self, res.stdout)
        self.assertEqual(n["route"], "none")
        self.assertIn("the CPU offers neither SVM nor VMX (vmm: run it with --nested",
                      n["skipped"])
        self.assertIn("nested: skipped: ", res.stdout)
        self.assertGreaterEqual(n["host"]["guest_level"], 1)


class InLinuxL1VM(unittest.TestCase):
    """vmm --nested in a Linux VM under QEMU's TCG whose kvm_amd offers
    nested SVM: the guest's L2 runs, two levels below that VM's kernel."""

    @classmethod
    def setUpClass(cls):
        cls.place = vmmrun.VmmRunner(RELEASE_VMM, mode="nested", binaries=[VMM], mem="2G",
                                     smp=2)
        cls.addClassCleanup(cls.place.close)

    def run_vmm_l1(self, *args):
        return self.place.run([VMM, *args], timeout=T, env=guest_runner.SANITIZER_ENV)

    def test_check_offers_svm(self):
        res = self.run_vmm_l1("--check")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("nested-tcg KVM", res.stdout)
        self.assertIn("--nested offers the guest: svm", res.stdout)
        self.assertIn('virt_level 1 (vmm\'s host is a VM under "TCGTCGTCGTCG")', res.stdout)

    def test_l2_runs_its_exits_and_its_workload(self):
        path = self.place.scratch_dir / "nested-l1.json"
        res = self.run_vmm_l1("--nested", "--timeout", T, "--json", path, GUEST, *NESTED_ARGS)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("Sanitizer", res.stderr)
        n = nested_block(self, res.stdout)
        assert_l2_ran(self, n, res.stdout)
        self.assertEqual(n["host"]["vmm_kind"], "nested-tcg")
        self.assertEqual(n["host"]["guest_level"], 2)
        doc = json.loads(path.read_text())
        self.assertEqual(doc["config"]["nested"], "svm")
        self.assertEqual(doc["virt_level"], 1)
        self.assertEqual(doc["hypervisor_below"],
                         {"cpuid_signature": "TCGTCGTCGTCG", "vmbench_vmm": False,
                          "kvm_kind": "nested-tcg"})


class UnderQemuTcg(unittest.TestCase):
    """The guest as L1 on QEMU TCG's own SVM, and without SVM."""

    def test_svm_cpu_runs_l2(self):
        status, out, err = guest_runner.run_qemu_guest(" ".join(NESTED_ARGS),
                                                       extra=["-cpu", "max"], timeout=T)
        self.assertEqual(status, 0, out + err)
        n = nested_block(self, out)
        assert_l2_ran(self, n, out)
        self.assertEqual(n["host"]["signature"], "TCGTCGTCGTCG")

    def test_cpu_without_svm_skips_with_the_reason(self):
        status, out, err = guest_runner.run_qemu_guest(" ".join(NESTED_ARGS),
                                                       extra=["-cpu", "qemu64,-svm"],
                                                       timeout=T)
        self.assertEqual(status, 0, out + err)
        n = nested_block(self, out)
        self.assertEqual(n["route"], "none")
        self.assertIn("QEMU: -cpu ...,+svm", n["skipped"])

    def test_bad_values_are_usage_errors(self):
        # Capped: ring 0 runs them with interrupts off and no deadline.
        for arg in ("--nested-exits=0", "--nested-primes=1", "--nested-exits=1000001",
                    "--nested-primes=10000001"):
            with self.subTest(arg=arg):
                status, out, _ = guest_runner.run_qemu_guest(f"nested {arg}",
                                                             extra=["-cpu", "max"], timeout=T)
                self.assertEqual(status, 2, out)
                self.assertIn("--nested-exits must be 1..1000000 and --nested-primes 2..10000000", out)


if __name__ == "__main__":
    unittest.main()
