"""The guest's jitter test: a TSC loop on each vCPU, its gaps counted,
under vmm and under QEMU TCG.

Nothing here bounds how many gaps a host makes (that is what the test
measures, and it depends on the machine): the checks are that the figures
are whole and add up, that the run lasts --time by the guest's own TSC, and
that the guest itself interrupts no measuring vCPU.
"""

import unittest

import guest_runner
from guest_runner import GUEST, run_qemu_guest, run_vmm

from vmbench import results

T = 300


class Guest:
    """One way of booting the guest; the tests below run on each."""

    def run(self, testcase, *args, smp=2, status=0):
        """(the guest's output, its one result or None when it failed)"""
        raise NotImplementedError

    def checked(self, testcase, out, status, expected_status):
        testcase.assertEqual(status, expected_status, out)
        found = results.result_lines(out)     # validates the jitter block too
        if expected_status:
            testcase.assertEqual(found, [], out)
            return out, None
        testcase.assertEqual(len(found), 1, out)
        return out, found[0]


class UnderVmm(Guest):
    def run(self, testcase, *args, smp=2, status=0):
        res = run_vmm("--smp", smp, "--mem", "256M", "--timeout", 240, GUEST, "jitter", *args,
                      timeout=T)
        testcase.assertNotIn("Sanitizer", res.stderr)
        return self.checked(testcase, res.stdout, res.returncode, status)


class UnderQemu(Guest):
    def run(self, testcase, *args, smp=2, status=0):
        code, out, err = run_qemu_guest(" ".join(("jitter",) + args), smp=smp, timeout=T)
        return self.checked(testcase, out + err, code, status)


class JitterTests:
    """Mixed into one TestCase per platform."""

    platform: Guest

    def check_figures(self, r, time_s, threads, threshold_ns=5000):
        jit = r["jitter"]
        self.assertEqual(r["threads"], threads)
        self.assertEqual(jit["threshold_ns"], threshold_ns)
        self.assertEqual(jit["tsc_khz"], r["env"]["tsc_hz"] // 1000)
        cpus, total = jit["cpus"], jit["total"]
        self.assertEqual([c["cpu"] for c in cpus], list(range(threads)))
        for f in cpus + [total]:
            self.assertGreaterEqual(f["gaps"], 0)
            self.assertGreaterEqual(f["reads"], 2)
            self.assertGreater(f["min_period_ns"], 0)
            self.assertEqual(sum(b["count"] for b in f["histogram"]), f["gaps"], f)
            if f["gaps"]:
                self.assertGreaterEqual(f["largest_ns"], threshold_ns, f)
            self.assertTrue(0 <= f["lost_share"] <= 1, f)
        self.assertEqual(sum(c["gaps"] for c in cpus), total["gaps"])
        self.assertEqual(sum(c["lost_ns"] for c in cpus), total["lost_ns"])
        # --time by the guest's TSC: from the common start to the last read,
        # the first past the deadline.  It overruns by that read's step: a
        # gap (at most largest_ns) or less than the threshold.
        duration = jit["duration_s"]
        self.assertGreaterEqual(duration, time_s)
        overrun = max(total["largest_ns"], threshold_ns) / 1e9
        self.assertLessEqual(duration, time_s + overrun + 1e-9, jit)
        for c in cpus:
            self.assertLessEqual(c["run_ns"], duration * 1e9 + 1, c)
        # One thread per vCPU: the guest arms no timer and sends no IPI.
        self.assertEqual(jit["guest_interrupts"], {"timer": 0, "wake_ipi": 0, "device": 0})

    def test_one_thread_on_each_vcpu(self):
        out, r = self.platform.run(self, "--time=2", smp=2)
        self.check_figures(r, 2, 2)
        self.assertIn("Number of threads: 2, one bound to each of vCPUs 0-1", out)
        self.assertIn("Guest interrupts while measuring: 0 timer, 0 wake IPI, 0 device", out)

    def test_threads_limit_the_vcpus(self):
        out, r = self.platform.run(self, "--time=1", "--threads=1", "--jitter-threshold=2000",
                                   smp=2)
        self.check_figures(r, 1, 1, threshold_ns=2000)
        self.assertEqual(r["options"]["jitter-threshold"], 2000)

    def test_refusals(self):
        for args, message in [
                (["--jitter-threshold=0"],
                 "FATAL: Invalid value for --jitter-threshold: 0 (nanoseconds, 1 to 1000000000)"),
                (["--jitter-threshold=5us"], "vmbench: invalid value '5us' for option "
                                             "'--jitter-threshold': expected a whole number"),
                (["--jitter-threshold=2000000000"],
                 "FATAL: Invalid value for --jitter-threshold: 2000000000"),
                (["--time=0"], "FATAL: Invalid value for --time: 0 (jitter runs 1 to"),
                (["--threads=3"], "FATAL: Invalid value for --threads: 3 (jitter binds one "
                                  "thread to each vCPU: 1 to 2)"),
                (["--threads=0"], "FATAL: Invalid value for --threads: 0")]:
            with self.subTest(args=args):
                out, _ = self.platform.run(self, *args, smp=2, status=2)
                self.assertIn(message, out)
                # Refused before anything ran.
                self.assertNotIn("Gap threshold", out)


class Vmm(JitterTests, unittest.TestCase):
    platform = UnderVmm()

    def test_every_step_a_gap_and_a_long_result_line(self):
        # A threshold below the loop's period makes every step a gap; with 8
        # vCPUs the result line (nine histograms from 1 ns up) is longer than
        # printf's 4 KiB buffer and must still come out whole.
        out, r = self.platform.run(self, "--time=1", "--jitter-threshold=1", smp=8)
        self.check_figures(r, 1, 8, threshold_ns=1)
        for c in r["jitter"]["cpus"]:
            self.assertEqual(c["gaps"], c["reads"] - 1, c)
            self.assertEqual(c["lost_ns"], c["run_ns"], c)
            self.assertIsNone(c["mean_period_ns"], c)
        line = next(s for s in out.splitlines() if s.startswith(results.PREFIX))
        self.assertGreater(len(line), 4096)


class Qemu(JitterTests, unittest.TestCase):
    platform = UnderQemu()


if __name__ == "__main__":
    unittest.main()
