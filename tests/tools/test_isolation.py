"""isolation/apply, restore and check, against a fake /proc and /sys tree.

The tree (make_tree) is a 4-CPU machine: CPUs 2-3 are isolated, 0-1 keep
the housekeeping.  Every test runs the commands as a user does (the sh
wrappers in isolation/) with --root on the tree, and compares the whole
tree byte for byte before and after.  Two tests read the real host
(check, apply --dry-run); none changes it.
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from vmbench.isolation import apply as apply_cmd
from vmbench.isolation import changes, cpulist, restore as restore_cmd

REPO = Path(__file__).resolve().parents[2]
ISOLATION = REPO / "isolation"

PF_NO_SETAFFINITY = 0x04000000
USER = 0x00400100               # flags of a user process (PF_RANDOMIZE | PF_FORKNOEXEC)
KTHREAD = 0x00208040            # flags of a kernel thread, PF_KTHREAD (0x00200000) among them

# pid: (comm, ppid, flags, Cpus_allowed_list)
TASKS = {
    1: ("systemd", 0, USER, "0-3"),
    2: ("kthreadd", 0, KTHREAD, "0-3"),
    3: ("rcu_preempt", 2, KTHREAD, "0-3"),
    20: ("ksoftirqd/3", 2, KTHREAD | PF_NO_SETAFFINITY, "3"),
    21: ("kworker/u8:0-events_unbound", 2, KTHREAD | PF_NO_SETAFFINITY | 0x20, "0-3"),
    22: ("kswapd0", 2, 0x00220840, "0-3"),
    23: ("irq/9-acpi", 2, KTHREAD, "2-3"),
    24: ("khungtaskd", 2, KTHREAD, "0-1"),
    100: ("bash", 1, USER, "0-3"),
    101: ("odd) name (x", 100, USER, "2"),
}
HOUSEKEEPING = "0-1"


def stat_line(pid, comm, ppid, flags, starttime=None):
    # fields 3..22 of proc(5): state ppid pgrp session tty tpgid flags, 8 counters,
    # priority nice num_threads itrealvalue starttime; then two more
    rest = ["S", ppid, pid, pid, 0, -1, flags] + [0] * 8 + [20, 0, 1, 0,
                                                        starttime or 1000 + pid, 0, 0]
    return f"{pid} ({comm}) " + " ".join(map(str, rest)) + "\n"


def status_text(pid, comm, affinity):
    mask = cpulist.fmt_mask(cpulist.parse_set(affinity, allow_empty=True))
    return (f"Name:\t{comm}\nState:\tS (sleeping)\nTgid:\t{pid}\nPid:\t{pid}\n"
            f"Cpus_allowed:\t{mask}\nCpus_allowed_list:\t{affinity}\nMems_allowed_list:\t0\n")


def make_tree(root, numa=True, cpufreq=True, workqueue=True):
    root = Path(root)
    files = {
        "proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/sda1 isolcpus=nohz,domain,3 quiet "
                        "-- nohz_full=2-3\n",
        "sys/devices/system/cpu/online": "0-3\n",
        "sys/devices/system/cpu/isolated": "3\n",
        "proc/sys/kernel/timer_migration": "1\n",
        "proc/sys/kernel/random/boot_id": "0f4a5bd2-7c8e-4a4e-9a51-1d2b3c4d5e6f\n",
        "proc/sys/kernel/sched_rt_runtime_us": "950000\n",
        "proc/irq/default_smp_affinity": "f\n",
        # irq: smp_affinity_list, handler
        "proc/irq/0/smp_affinity_list": "0\n",
        "proc/irq/1/smp_affinity_list": "0-3\n",
        "proc/irq/9/smp_affinity_list": "2-3\n",
        "proc/irq/30/smp_affinity_list": "3\n",
        "proc/irq/30/smp_affinity_list.refuse": "EIO\n",     # managed by its driver
        "proc/irq/31/smp_affinity_list": "0-3\n",
        "proc/irq/31/effective_affinity_list": "1\n",
        "proc/irq/31/smp_affinity_list.refuse": "EPERM\n",   # as on a PVM host
    }
    if numa:
        files["proc/sys/kernel/numa_balancing"] = "1\n"
    if workqueue:
        files["sys/devices/virtual/workqueue/cpumask"] = "f\n"
        files["sys/devices/virtual/workqueue/cpumask_requested"] = "f\n"
    if cpufreq:
        for cpu in range(4):
            base = f"sys/devices/system/cpu/cpufreq/policy{cpu}/"
            files[base + "scaling_governor"] = "powersave\n"
            files[base + "affected_cpus"] = f"{cpu}\n"
            files[base + "scaling_available_governors"] = "performance powersave\n"
    for pid, (comm, ppid, flags, affinity) in TASKS.items():
        files[f"proc/{pid}/stat"] = stat_line(pid, comm, ppid, flags)
        files[f"proc/{pid}/status"] = status_text(pid, comm, affinity)
        files[f"proc/{pid}/comm"] = comm + "\n"
    # irq/9-acpi refuses sched_setaffinity at run time, as a thread the
    # kernel pins to its interrupt may
    files["proc/23/status.refuse"] = "EINVAL\n"
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    for irq, handler in ((1, "i8042"), (9, "acpi"), (30, "nvme0q3"), (31, "virtio0-input")):
        (root / f"proc/irq/{irq}/{handler}").mkdir()


def snapshot(root):
    """Every file's bytes and every directory, by path under root."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        tree[rel + "/"] = "a directory"
        for name in filenames:
            tree[os.path.join(rel, name)] = Path(dirpath, name).read_bytes()
    return tree


def changed(before, after):
    return {p: after.get(p) for p in set(before) | set(after) if before.get(p) != after.get(p)}


def run(cmd, *args):
    return subprocess.run([str(ISOLATION / cmd), *map(str, args)], capture_output=True,
                          text=True)


class TreeTest(unittest.TestCase):
    """A fresh tree in self.root, the state file outside it in self.state."""
    tree = {}

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.root = Path(tmp.name, "root")
        self.state = Path(tmp.name, "state", "isolation.json")
        make_tree(self.root, **self.tree)

    def cmd(self, cmd, *args):
        return run(cmd, "--root", self.root, "--state", self.state, *args)

    def rows(self, *args):
        """check --json's document, and its rows by knob."""
        res = self.cmd("check", "--json", *args)
        self.assertOk(res)
        doc = json.loads(res.stdout)
        return doc, {r["knob"]: r for r in doc["knobs"]}

    def assertOk(self, res):
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def assertRefused(self, res, status, pattern):
        self.assertEqual(res.returncode, status, res.stdout + res.stderr)
        self.assertEqual(len(res.stderr.splitlines()), 1, res.stderr)
        self.assertRegex(res.stderr, pattern)

    def status_affinity(self, after, pid):
        text = after[f"proc/{pid}/status"].decode()
        return next(line.split("\t")[1] for line in text.splitlines()
                    if line.startswith("Cpus_allowed_list"))


class CpuListTest(unittest.TestCase):
    """The kernel's (and isolation/cpulist.c's) list syntax."""

    def test_lists(self):
        self.assertEqual(cpulist.parse("0-3,6"), [0, 1, 2, 3, 6])
        self.assertEqual(cpulist.parse("6,0-1"), [6, 0, 1])
        self.assertEqual(cpulist.parse("4095"), [4095])
        self.assertEqual(cpulist.parse("007"), [7])
        self.assertEqual(cpulist.parse("", allow_empty=True), [])

    def test_bad_lists(self):
        for text, message in (
                ("", "empty CPU list"),
                ("a", "expected a CPU number (0-4095) at 'a'"),
                ("1,,2", "at ',2'"),
                ("1,", "at ''"),
                ("-1", "at '-1'"),
                ("1-", "bad range ending at ''"),
                ("3-1", "bad range ending at ''"),
                ("1-x", "bad range ending at 'x'"),
                ("0-4096", "bad range ending at '4096'"),
                ("4096", "at '4096'"),
                ("1,1", "CPU 1 listed twice"),
                ("0-2,2", "CPU 2 listed twice"),
                ("1 ", "unexpected ' '"),
                ("1;2", "unexpected ';'"),
                ("\u0663", "expected a CPU number")):     # a non-ASCII digit
            with self.subTest(text=text):
                with self.assertRaises(cpulist.CpuListError) as cm:
                    cpulist.parse(text)
                self.assertIn(message, str(cm.exception))

    def test_format(self):
        self.assertEqual(cpulist.fmt({0, 1, 2, 3, 6, 8, 9}), "0-3,6,8-9")
        self.assertEqual(cpulist.fmt({5}), "5")
        self.assertEqual(cpulist.fmt(set()), "")
        for text in ("0", "0-1", "1,3,5-7", "0-4095"):
            self.assertEqual(cpulist.fmt(cpulist.parse(text)), text)

    def test_masks(self):
        self.assertEqual(cpulist.parse_mask("3"), {0, 1})
        self.assertEqual(cpulist.parse_mask("00000000,00000003"), {0, 1})
        self.assertEqual(cpulist.parse_mask("1,00000000"), {32})
        self.assertEqual(cpulist.fmt_mask({0}), "1")
        self.assertEqual(cpulist.fmt_mask(set(range(41))), "1ff,ffffffff")
        self.assertEqual(cpulist.fmt_mask({32}), "1,00000000")
        self.assertEqual(cpulist.fmt_mask(set()), "0")
        for bad in ("", "xyz", ","):
            with self.assertRaises(cpulist.CpuListError):
                cpulist.parse_mask(bad)


class ApplyRestoreTest(TreeTest):
    EXPECTED = {
        "proc/sys/kernel/timer_migration": b"0\n",
        "proc/sys/kernel/sched_rt_runtime_us": b"-1\n",
        "proc/sys/kernel/numa_balancing": b"0\n",
        "sys/devices/virtual/workqueue/cpumask": b"3\n",
        "proc/irq/default_smp_affinity": b"3\n",
        "proc/irq/1/smp_affinity_list": b"0-1\n",
        "proc/irq/9/smp_affinity_list": b"0-1\n",      # 2-3 less 2-3: the housekeeping CPUs
        **{f"sys/devices/system/cpu/cpufreq/policy{c}/scaling_governor": b"performance\n"
           for c in range(4)},
    }
    MOVED_TASKS = {2: "0-1", 3: "0-1", 22: "0-1"}

    def test_dry_run_changes_nothing(self):
        before = snapshot(self.root)
        res = self.cmd("apply", "--dry-run", "2-3")
        self.assertOk(res)
        self.assertEqual(snapshot(self.root), before)
        self.assertFalse(self.state.exists())
        out = res.stdout
        self.assertIn("would set kernel.timer_migration: 1 -> 0", out)
        self.assertIn("would set cpufreq policy2 governor: powersave -> performance", out)
        self.assertIn("would set workqueue cpumask: f -> 3", out)
        self.assertIn("would set irq 9 (acpi): 2-3 -> 0-1", out)
        self.assertIn("would set kthread 3 (rcu_preempt): 0-3 -> 0-1", out)
        self.assertNotIn("irq 0 ", out)
        self.assertNotIn("bash", out, "user tasks are left alone")
        self.assertIn("not movable: 2 kernel threads", out)
        self.assertIn("dry run: 17 changes, nothing changed", out)

    def test_apply_changes_exactly_the_knobs(self):
        before = snapshot(self.root)
        res = self.cmd("apply", "2-3")
        self.assertOk(res)
        after = snapshot(self.root)
        diff = changed(before, after)
        tasks = {p for p in diff if p.startswith("proc/") and p.endswith("/status")}
        self.assertEqual({p: v for p, v in diff.items() if p not in tasks}, self.EXPECTED)
        self.assertEqual(tasks, {f"proc/{pid}/status" for pid in self.MOVED_TASKS})
        for pid, want in self.MOVED_TASKS.items():
            self.assertEqual(self.status_affinity(after, pid), want)
            # only the affinity line changed
            old = before[f"proc/{pid}/status"].decode().splitlines()
            new = after[f"proc/{pid}/status"].decode().splitlines()
            self.assertEqual([a for a, b in zip(old, new) if a != b],
                             [f"Cpus_allowed_list:\t{TASKS[pid][3]}"])
        self.assertIn("not changed: irq 30 (nvme0q3) (Input/output error)", res.stdout)
        self.assertIn("not changed: irq 31 (virtio0-input) (Operation not permitted)",
                      res.stdout)
        self.assertIn("not changed: kthread 23 (irq/9-acpi) (Invalid argument)",
                      res.stdout)
        self.assertIn("not movable: 2 kernel threads (per-CPU, or PF_NO_SETAFFINITY): "
                      "ksoftirqd/3 kworker/u8:0-events_unbound", res.stdout)
        doc = json.loads(self.state.read_text())
        self.assertEqual((doc["cpus"], doc["housekeeping"], doc["complete"]), ("2-3", "0-1", True))
        self.assertEqual(len(doc["changes"]), len(self.EXPECTED) + len(self.MOVED_TASKS))
        self.assertIn({"kind": "sysctl", "knob": "kernel.timer_migration", "old": "1", "new": "0",
                       "path": "/proc/sys/kernel/timer_migration"}, doc["changes"])

    def test_restore_gives_back_the_tree(self):
        before = snapshot(self.root)
        self.assertOk(self.cmd("apply", "2-3"))
        res = self.cmd("restore")
        self.assertOk(res)
        self.assertEqual(snapshot(self.root), before)
        self.assertFalse(self.state.exists())
        self.assertIn("put back kernel.timer_migration: 0 -> 1", res.stdout)
        self.assertIn("put back kthread 2 (kthreadd): 0-1 -> 0-3", res.stdout)

    def test_apply_twice_is_refused(self):
        self.assertOk(self.cmd("apply", "2-3"))
        applied = snapshot(self.root)
        saved = self.state.read_bytes()
        for args in (("2-3",), ("--dry-run", "1")):
            res = self.cmd("apply", *args)
            self.assertRefused(res, 2, r"isolation is applied already \(state file .*\): "
                                       r"run isolation/restore first")
        self.assertEqual(snapshot(self.root), applied)
        self.assertEqual(self.state.read_bytes(), saved)

    def test_restore_without_state_is_refused(self):
        before = snapshot(self.root)
        self.assertRefused(self.cmd("restore"), 2, r"nothing to restore: no state file")
        self.assertEqual(snapshot(self.root), before)

    def test_restore_refuses_a_state_of_another_tree(self):
        self.assertOk(self.cmd("apply", "2-3"))
        with tempfile.TemporaryDirectory() as other:
            make_tree(other)
            before = snapshot(other)
            res = run("restore", "--root", other, "--state", self.state)
            self.assertRefused(res, 2, r"was saved for the tree at .*root, not ")
            self.assertEqual(snapshot(other), before)

    def test_failure_half_way_undoes_everything(self):
        # cpufreq policy2 comes after the sysctls and two policies: they are undone
        Path(self.root, "sys/devices/system/cpu/cpufreq/policy2/scaling_governor.refuse") \
            .write_text("EBUSY\n")
        before = snapshot(self.root)
        res = self.cmd("apply", "2-3")
        self.assertRefused(res, 1, r"^isolation/apply: cannot set cpufreq policy2 governor "
                                   r"\(/sys/devices/system/cpu/cpufreq/policy2/scaling_governor\)"
                                   r": Device or resource busy; the 5 changes made before it "
                                   r"were undone$")
        self.assertEqual(snapshot(self.root), before)
        self.assertFalse(self.state.exists())

    def test_write_into_a_directory_fails_and_undoes(self):
        # The workqueue mask is read, then (between plan and apply) becomes a
        # directory: its write fails with EISDIR after 7 changes were made.
        wq = Path(self.root, "sys/devices/virtual/workqueue/cpumask")
        trees = []

        def plan_then_break(*args):
            p = real_plan(*args)
            wq.unlink()
            wq.mkdir()
            trees.append(snapshot(self.root))
            return p

        real_plan = changes.plan
        err = io.StringIO()
        with mock.patch.object(changes, "plan", plan_then_break), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = apply_cmd.main(["--root", str(self.root), "--state", str(self.state),
                                     "2-3"])
        self.assertEqual(status, 1)
        self.assertEqual(err.getvalue(),
                         "isolation/apply: cannot set workqueue cpumask "
                         "(/sys/devices/virtual/workqueue/cpumask): Is a directory; "
                         "the 7 changes made before it were undone\n")
        self.assertEqual(snapshot(self.root), trees[0])
        self.assertFalse(self.state.exists())

    def test_interrupted_apply_is_restored_from_the_saved_plan(self):
        # apply saves the whole plan before its first write: killed half-way,
        # restore still puts back every value (the unchanged ones are
        # rewritten with what they hold; the kernel's refusals are tolerated)
        before = snapshot(self.root)
        calls = []
        real_set = changes.set_value

        def set_then_die(host, change, value):
            if len(calls) == 10:
                raise KeyboardInterrupt
            calls.append(change)
            real_set(host, change, value)

        with mock.patch.object(changes, "set_value", set_then_die), \
                contextlib.redirect_stdout(io.StringIO()):
            with self.assertRaises(KeyboardInterrupt):
                apply_cmd.main(["--root", str(self.root), "--state", str(self.state), "2-3"])
        self.assertNotEqual(snapshot(self.root), before)
        self.assertFalse(json.loads(self.state.read_text())["complete"])
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(restore_cmd.main(["--root", str(self.root),
                                               "--state", str(self.state)]), 0)
        self.assertEqual(snapshot(self.root), before)

    def test_restore_failure_keeps_what_is_left(self):
        before = snapshot(self.root)
        self.assertOk(self.cmd("apply", "2-3"))
        refuse = Path(self.root, "proc/sys/kernel/timer_migration.refuse")
        refuse.write_text("EPERM\n")
        res = self.cmd("restore")
        self.assertRefused(res, 1, r"^isolation/restore: could not put back "
                                   r"kernel.timer_migration \(Operation not permitted\): "
                                   r"they stay in ")
        left = json.loads(self.state.read_text())["changes"]
        self.assertEqual([c["knob"] for c in left], ["kernel.timer_migration"])
        refuse.unlink()
        self.assertOk(self.cmd("restore"))
        self.assertEqual(snapshot(self.root), before)

    def test_restore_after_a_reboot_only_removes_the_state(self):
        self.assertOk(self.cmd("apply", "2-3"))
        boot_id = Path(self.root, "proc/sys/kernel/random/boot_id")
        boot_id.write_text("9e1b7a44-0000-4000-8000-000000000001\n")
        _, rows = self.rows()
        self.assertEqual(rows["isolation/apply"]["value"], "stale")
        rebooted = snapshot(self.root)
        res = self.cmd("restore")
        self.assertOk(res)
        self.assertIn("the machine has rebooted since apply", res.stdout)
        self.assertEqual(snapshot(self.root), rebooted)
        self.assertFalse(self.state.exists())

    def test_a_task_gone_or_replaced_is_not_touched(self):
        before = snapshot(self.root)
        self.assertOk(self.cmd("apply", "2-3"))
        shutil.rmtree(self.root / "proc/22")                    # kswapd0 exited
        # PID 3 now belongs to a new task (another start time)
        Path(self.root, "proc/3/stat").write_text(stat_line(3, "rcu_preempt", 2, KTHREAD, 99999))
        newcomer = snapshot(self.root)["proc/3/status"]
        res = self.cmd("restore")
        self.assertOk(res)
        self.assertIn("kthread 22 (kswapd0): exited, nothing to put back", res.stdout)
        self.assertIn("kthread 3 (rcu_preempt): exited, nothing to put back", res.stdout)
        after = snapshot(self.root)
        self.assertEqual(after["proc/3/status"], newcomer)
        diff = changed(before, after)
        self.assertEqual(set(diff), {"proc/22/", "proc/22/stat", "proc/22/status",
                                     "proc/22/comm", "proc/3/stat", "proc/3/status"})


class MissingKnobsTest(TreeTest):
    tree = {"numa": False, "cpufreq": False, "workqueue": False}

    def test_missing_knobs_are_reported_not_fatal(self):
        before = snapshot(self.root)
        res = self.cmd("apply", "2-3")
        self.assertOk(res)
        self.assertIn("kernel.numa_balancing: absent on this kernel", res.stdout)
        self.assertIn("cpufreq: absent on this machine", res.stdout)
        self.assertIn("workqueue cpumask: absent on this kernel", res.stdout)
        check = self.cmd("check", "2-3")
        self.assertOk(check)
        self.assertRegex(check.stdout, r"kernel.numa_balancing +absent +want 0 +"
                                       r"\(absent on this kernel\)")
        self.assertRegex(check.stdout, r"cpufreq +absent .*no cpufreq driver")
        self.assertOk(self.cmd("restore"))
        self.assertEqual(snapshot(self.root), before)


class CheckTest(TreeTest):
    def test_report_of_a_known_tree(self):
        before = snapshot(self.root)
        res = self.cmd("check", "2-3")
        self.assertOk(res)
        lines = res.stdout.splitlines()
        self.assertEqual(lines[0], "checking CPU 2-3 (housekeeping 0-1, online 0-3)")
        text = "\n".join(lines)
        for pattern in (r"isolcpus +nohz,domain,3 +want 2-3 +\(boot parameter",
                        r"nohz_full +not set +want 2-3",      # the one after "--" is init's
                        r"irqaffinity +not set +want 0-1",
                        r"cpu/isolated +3 +want 2-3 +\(boot parameter",
                        r"cpu/nohz_full +absent +want 2-3 +\(absent on this kernel\)",
                        r"kernel.timer_migration +1 +want 0 +\(apply sets it\)",
                        r"kernel.sched_rt_runtime_us +950000 +want -1 +\(apply sets it\)",
                        r"cpufreq policy3 +powersave +want performance",
                        r"irq default affinity +0-3 +want 0-1 +\(apply sets it; mask f\)",
                        r"workqueue cpumask +0-3 +want 0-1",
                        r"irqs on CPU 2-3 +4 of 5 +want 0 +\(apply moves those the kernel lets go: "
                        r"1 9 30 31\)",
                        r"kthreads on CPU 2-3 +4 movable +want 0 +\(apply moves them: kthreadd "
                        r"rcu_preempt kswapd0 irq/9-acpi; 2 cannot move: ksoftirqd/3 kworker",
                        r"tasks on CPU 2-3 +3 +want - +\(user tasks: apply leaves them; pin the "
                        r"benchmark: bash odd\) name \(x systemd\)",
                        r"isolation/apply +not applied"):
            self.assertRegex(text, pattern)
        self.assertEqual(snapshot(self.root), before, "check only reads")

    def test_report_after_apply(self):
        self.assertOk(self.cmd("apply", "2-3"))
        doc, rows = self.rows()          # no CPULIST: the state file's CPUs
        self.assertEqual((doc["cpus"], doc["housekeeping"]), ("2-3", "0-1"))
        for knob in ("kernel.timer_migration", "kernel.sched_rt_runtime_us",
                     "kernel.numa_balancing", "cpufreq policy0", "irq default affinity",
                     "workqueue cpumask"):
            self.assertTrue(rows[knob]["ok"], rows[knob])
        self.assertEqual(rows["irqs on CPU 2-3"]["items"], [30, 31])     # refused: stay
        self.assertEqual(rows["irqs on CPU 2-3"]["value"], "2 of 5")
        self.assertEqual(rows["kthreads on CPU 2-3"]["value"], "1 movable")   # it refused
        self.assertFalse(rows["isolcpus"]["ok"])
        self.assertEqual(rows["isolation/apply"]["value"], "CPU 2-3")
        text = self.cmd("check").stdout
        self.assertRegex(text, r"kernel.timer_migration +0 +want 0 +ok\n")
        self.assertRegex(text, r"workqueue cpumask +0-1 +want 0-1 +ok \(mask 3\)")
        self.assertRegex(text, r"kthreads on CPU 2-3 +1 movable +want 0 +\(apply moves them: "
                               r"irq/9-acpi; 2 cannot move: ksoftirqd/3 kworker")

    def test_without_cpus_it_takes_the_kernels_isolated_ones(self):
        doc, rows = self.rows()
        self.assertEqual(doc["cpus"], "3")
        self.assertTrue(rows["isolcpus"]["ok"])
        self.assertTrue(rows["cpu/isolated"]["ok"])


class BadInputTest(TreeTest):
    def test_bad_cpu_lists(self):
        before = snapshot(self.root)
        for args, pattern in (
                (["5"], r"CPU 5 not online \(online: 0-3"),
                (["2-9"], r"CPU 4-9 not online"),
                (["0-3"], r"CPU list '0-3' names every online CPU \(0-3\): keep at least one "
                          r"for housekeeping"),
                (["3,0-2"], r"CPU list '3,0-2' names every online CPU"),
                (["1-"], r"bad CPU list '1-': bad range ending at ''"),
                (["a"], r"bad CPU list 'a'"),
                ([""], r"empty CPU list")):
            for cmd, extra in (("apply", []), ("apply", ["--dry-run"]), ("check", [])):
                with self.subTest(cmd=cmd, args=args, extra=extra):
                    res = self.cmd(cmd, *extra, *args)
                    self.assertRefused(res, 2, f"^isolation/{cmd}: " + pattern)
        self.assertEqual(snapshot(self.root), before)
        self.assertFalse(self.state.exists())

    def test_unreadable_knob_is_refused(self):
        Path(self.root, "proc/irq/default_smp_affinity").write_text("zz\n")
        before = snapshot(self.root)
        self.assertRefused(self.cmd("apply", "2-3"), 2,
                           r"^isolation/apply: cannot read this host's settings: bad CPU mask "
                           r"'zz'.*; nothing changed$")
        self.assertRefused(self.cmd("check", "2-3"), 1, r"^isolation/check: cannot read")
        self.assertEqual(snapshot(self.root), before)
        self.assertFalse(self.state.exists())

    def test_missing_cpulist_is_a_usage_error(self):
        res = self.cmd("apply")
        self.assertEqual(res.returncode, 2)
        self.assertIn("the following arguments are required: CPULIST", res.stderr)


def last_online_cpu():
    online = cpulist.parse_set(Path("/sys/devices/system/cpu/online").read_text().strip())
    return max(online) if len(online) > 1 else None


@unittest.skipIf(last_online_cpu() is None, "one CPU: nothing can be isolated")
class RealHostTest(unittest.TestCase):
    """Reads the real host; never changes it."""

    def setUp(self):
        self.cpu = last_online_cpu()

    def test_check(self):
        res = run("check", self.cpu)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stdout, r"(?m)^kernel\.timer_migration +-?\d+ +want 0")
        res = run("check", "--json", self.cpu)
        self.assertEqual(res.returncode, 0, res.stderr)
        knobs = [r["knob"] for r in json.loads(res.stdout)["knobs"]]
        self.assertIn("kernel.timer_migration", knobs)

    def knobs(self):
        """The real knobs apply would write, as they are now."""
        out = {}
        for path in ("/proc/sys/kernel/timer_migration", "/proc/sys/kernel/sched_rt_runtime_us",
                     "/proc/sys/kernel/numa_balancing", "/proc/irq/default_smp_affinity",
                     "/sys/devices/virtual/workqueue/cpumask", *map(str, Path("/proc/irq").glob(
                         "*/smp_affinity_list"))):
            with contextlib.suppress(OSError):
                out[path] = Path(path).read_text()
        return out

    def test_dry_run_changes_nothing(self):
        before = self.knobs()
        res = run("apply", "--dry-run", "--state", "/nonexistent-vmbench/isolation.json",
                  self.cpu)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("nothing changed", res.stdout)
        self.assertEqual(self.knobs(), before)
        self.assertIn("/proc/sys/kernel/timer_migration", before)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to become another user")
    def test_not_root_is_refused(self):
        before = self.knobs()
        for cmd, args in (("apply", [self.cpu]), ("restore", [])):
            res = subprocess.run([str(ISOLATION / cmd), *map(str, args),
                                  "--state", "/nonexistent-vmbench/isolation.json"]
                                 if cmd == "apply" else
                                 [str(ISOLATION / cmd), "--state", "/etc/hostname"],
                                 capture_output=True, text=True, user=65534, group=65534,
                                 cwd="/")
            self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
            self.assertRegex(res.stderr, rf"^isolation/{cmd}: only root can change kernel "
                                         r"settings \(run .* as root")
        self.assertEqual(self.knobs(), before)


if __name__ == "__main__":
    unittest.main()
