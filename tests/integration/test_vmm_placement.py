"""vmm --pin, --io-pin, --rt and --mlock: what the host cannot honour is
refused before anything runs (status 125, one line, no guest output), and
what it does honour is read back from the kernel into --json and --stats.

The guest runs `info` only: with SCHED_FIFO vCPUs on a 2-CPU host, a long
guest would leave the rest of the machine 5% of the CPUs."""

import json
import re
import unittest

import guest_runner
from guest_runner import GUEST, run_sh, run_vmm

# Host-side limit; each vmm run also has its own --timeout.  Both only guard
# against a hang (each run takes seconds): generous, so that a slow or loaded
# machine does not fail a test for nothing.
T = guest_runner.HANG_GUARD_S
VMM_LIMIT = 300

# What vmm says when the host (not the command line) refuses --rt or --mlock:
# a test that meets one is skipped with vmm's reason, not failed.
HOST_REFUSALS = r"^vmm: (--rt: the host refuses SCHED_FIFO|--mlock: cannot lock) .*"


def online_cpus():
    """The CPUs online where vmm runs (this host, or the nested VM)."""
    res = run_sh("cat /sys/devices/system/cpu/online", timeout=T)
    cpus = set()
    for item in res.stdout.strip().split(","):
        lo, _, hi = item.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


class Refusals(unittest.TestCase):
    """Checked before the first thread: no vCPU ever starts."""

    def assert_refused(self, res, message):
        self.assertEqual(res.returncode, 125, res.stdout + res.stderr)
        self.assertRegex(res.stderr, message)
        self.assertEqual(len(res.stderr.strip().splitlines()), 1, "one line:\n" + res.stderr)
        self.assertEqual(res.stdout, "", "the guest must not have run")
        self.assertNotIn("Sanitizer", res.stderr)

    def test_pin_to_a_cpu_that_does_not_exist(self):
        if 99 in online_cpus():
            self.skipTest("this host has a CPU 99")
        # Before, vCPU 0 started on CPU 0 and pthread_create failed for vCPU 1.
        res = run_vmm("--smp", 2, "--pin", "0,99", "--mem", "64M", GUEST, "info", timeout=T)
        self.assert_refused(res, r"^vmm: --pin: host CPU 99 does not exist "
                                 r"\(this host has CPUs [0-9,-]+\)$")

    def test_pin_shorter_than_smp(self):
        self.assert_refused(run_vmm("--smp", 2, "--pin", "0", "--mem", "64M", GUEST, "info",
                                    timeout=T),
                            r"^vmm: --pin '0' names 1 host CPUs for 2 vCPUs; give one per vCPU$")

    def test_rt_priority_out_of_range(self):
        for prio in ("0", "1000"):
            with self.subTest(rt=prio):
                self.assert_refused(run_vmm(f"--rt={prio}", "--mem", "64M", GUEST, "info",
                                            timeout=T),
                                    rf"^vmm: --rt={prio}: expected a SCHED_FIFO priority from "
                                    r"1 to \d+$")

    def test_io_pin_to_a_cpu_that_does_not_exist(self):
        online = online_cpus()
        if {7, 99} <= online:
            self.skipTest("this host has CPUs 7 and 99")
        missing = 7 if 7 not in online else 99
        res = run_vmm("--io-pin", "7,99", "--mem", "64M", GUEST, "info", timeout=T)
        self.assert_refused(res, rf"^vmm: --io-pin: host CPU {missing} does not exist "
                                 r"\(this host has CPUs [0-9,-]+\)$")

    def test_cpu_outside_the_process_affinity(self):
        if not {0, 1} <= online_cpus():
            self.skipTest("needs host CPUs 0 and 1")
        for option in ("--pin", "--io-pin"):
            with self.subTest(option=option):
                res = run_sh(f"command -v taskset >/dev/null || exit 97; taskset -c 0 "
                             f"{guest_runner.VMM} {option} 1 --mem 64M {GUEST} info", timeout=T)
                if res.returncode == 97:
                    self.skipTest("no taskset where vmm runs")
                self.assert_refused(res, rf"^vmm: {option}: host CPU 1 is not allowed for this "
                                         r"process \(allowed: 0\)$")

    def without_capability(self, cap, setup, vmm_args):
        """vmm run with `cap` dropped (setpriv) after `setup` (ulimit ...)."""
        res = run_sh(f"command -v setpriv >/dev/null && [ $(id -u) -eq 0 ] || exit 97; {setup}"
                     f"setpriv --bounding-set=-{cap} --inh-caps=-{cap} {guest_runner.VMM} "
                     f"{vmm_args} --mem 64M {GUEST} info", timeout=T)
        if res.returncode == 97:
            self.skipTest("needs root and setpriv where vmm runs")
        return res

    def test_rt_refused_by_the_host(self):
        res = self.without_capability("sys_nice", "ulimit -r 0 || exit 97; ", "--rt")
        self.assert_refused(res, r"^vmm: --rt: the host refuses SCHED_FIFO priority 10: "
                                 r"Operation not permitted \(vmm needs root, CAP_SYS_NICE")

    def test_mlock_refused_by_the_host(self):
        res = self.without_capability("ipc_lock", "ulimit -l 1024 || exit 97; ", "--mlock")
        self.assert_refused(res, r"^vmm: --mlock: cannot lock 64 MiB of guest RAM: "
                                 r"RLIMIT_MEMLOCK is 1024 KiB \(raise it with ulimit -l")


class InForce(unittest.TestCase):
    """What each thread runs with, as the kernel reports it."""

    def run_reported(self, *args, name="placement"):
        disk = guest_runner.kvm().scratch_dir / f"{name}.img"
        disk.write_bytes(bytes(1 << 20))
        report = guest_runner.kvm().scratch_dir / f"{name}.json"
        res = run_vmm(*args, "--mem", "64M", "--stats", "--json", report, "--disk", disk,
                      "--timeout", VMM_LIMIT, GUEST, "info", timeout=T)
        refused = re.search(HOST_REFUSALS, res.stderr, re.M)
        if res.returncode == 125 and refused:
            self.skipTest(refused.group(0))
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("Sanitizer", res.stderr)
        return json.loads(report.read_text()), res.stderr

    def test_pin_io_pin_rt_mlock(self):
        if not {0, 1} <= online_cpus():
            self.skipTest("needs host CPUs 0 and 1")
        doc, stats = self.run_reported("--smp", 2, "--pin", "0,1", "--io-pin", "1", "--rt",
                                       "--mlock")
        self.assertEqual(doc["config"]["pin"], [0, 1])
        self.assertEqual(doc["config"]["io_pin"], [1])
        self.assertEqual(doc["config"]["rt_priority"], 10)
        vcpus = doc["exits"]["per_vcpu"]
        self.assertEqual([v["host_cpu"] for v in vcpus], [0, 1])
        self.assertEqual([v["affinity"] for v in vcpus], ["0", "1"])
        self.assertEqual([v["policy"] for v in vcpus], ["SCHED_FIFO"] * 2)
        self.assertEqual([v["rt_priority"] for v in vcpus], [10, 10])
        io = doc["io_threads"]
        self.assertEqual(len(io), 1, io)
        self.assertEqual((io[0]["name"], io[0]["host_cpu"], io[0]["affinity"]), ("blk 0", 1, "1"))
        # --rt is for the vCPUs; the I/O thread keeps vmm's own policy.
        self.assertEqual((io[0]["policy"], io[0]["rt_priority"]), ("SCHED_OTHER", 0))
        tids = [v["tid"] for v in vcpus] + [io[0]["tid"]]
        self.assertEqual(len(set(tids)), 3, tids)
        self.assertTrue(all(t > 0 for t in tids), tids)
        self.assertTrue(doc["mlock"]["requested"])
        # All of guest RAM (64 MiB) is locked, not only what the guest touched.
        self.assertGreaterEqual(doc["mlock"]["locked_kib"], 64 * 1024)
        self.assertEqual(doc["rss_kib"]["guest"], 64 * 1024)
        # --stats says the same.
        self.assertRegex(stats, r"\n  vcpu 0 +\d+ +0 0 +SCHED_FIFO +10\n")
        self.assertRegex(stats, r"\n  vcpu 1 +\d+ +1 1 +SCHED_FIFO +10\n")
        self.assertRegex(stats, r"\n  blk 0 +\d+ +1 1 +SCHED_OTHER +0\n")
        locked = re.search(r"vmm: memory locked \(VmLck\): (\d+) KiB; --mlock on", stats)
        self.assertIsNotNone(locked, stats)
        self.assertGreaterEqual(int(locked.group(1)), 64 * 1024)

    def test_without_the_options(self):
        doc, stats = self.run_reported("--smp", 2, name="unplaced")
        self.assertEqual((doc["config"]["pin"], doc["config"]["io_pin"],
                          doc["config"]["rt_priority"]), (None, None, None))
        threads = doc["exits"]["per_vcpu"] + doc["io_threads"]
        self.assertEqual(len(threads), 3)
        for t in threads:
            self.assertEqual((t["policy"], t["rt_priority"]), ("SCHED_OTHER", 0), t)
            # Unpinned: wherever vmm itself may run.
            self.assertEqual(t["affinity"], threads[0]["affinity"], t)
            self.assertEqual(t["host_cpu"], -1 if re.search(r"[-,]", t["affinity"])
                             else int(t["affinity"]), t)
        self.assertEqual(doc["mlock"]["requested"], False)
        self.assertIn("--mlock off", stats)

    def test_threads_run_where_reported(self):
        # From outside, while the guest runs: /proc says what the JSON says.
        if not {0, 1} <= online_cpus():
            self.skipTest("needs host CPUs 0 and 1")
        disk = guest_runner.kvm().scratch_dir / "outside.img"
        disk.write_bytes(bytes(1 << 20))
        res = run_sh(f"out=$(mktemp); {guest_runner.VMM} --smp 2 --pin 1,0 --io-pin 0 "
                     f"--disk {disk} --mem 64M {GUEST} selftest --kind=hang > $out & pid=$!; "
                     f"until grep -q 'failing on purpose' $out || ! kill -0 $pid 2>/dev/null; "
                     f"do sleep 0.05; done; "
                     f"for t in /proc/$pid/task/*; do echo \"$(cat $t/comm)=$(grep "
                     f"Cpus_allowed_list $t/status | cut -f2)\"; done; "
                     f"kill $pid; wait $pid; status=$?; rm -f $out; [ $status -eq 143 ]",
                     timeout=T)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        lines = res.stdout.splitlines()
        for want in ("vcpu 0=1", "vcpu 1=0", "blk 0=0"):
            self.assertIn(want, lines, res.stdout)


if __name__ == "__main__":
    unittest.main()
