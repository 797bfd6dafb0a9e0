"""bench/compare's two studies end to end, --quick: `--preset isolation`
(vmm unpinned, pinned, and pinned on CPUs isolated in a FAKE /proc and /sys
tree: --isolation-root; the host itself is left alone and checked to be)
and `--preset exits` (the guest's vmexit test under vmm and QEMU-KVM).

Each is skipped, saying why, until build/guest.elf lists the tests it runs
(its `help`), and exits also until QEMU can use KVM here."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
from vmbench import vmmrun
from vmbench.paths import GUEST, VMM
from vmbench.platforms.qemu_guest import qemu_argv
from vmbench.views import exits, isolation
from tests.bench.test_guest_platforms import qemu_kvm_works
from tests.bench.test_views import section_table


def guest_tests():
    """The test names build/guest.elf's `help` lists (booted by vmm here,
    else by QEMU's TCG); () when it cannot be asked."""
    if not (GUEST.exists() and VMM.exists()):
        return ()
    if vmmrun.check(VMM)[0]:
        argv = [str(VMM), str(GUEST), "help"]
    else:
        argv = qemu_argv(1, 64, "help", "tcg", "pc")
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    m = re.search(r"^Tests:\n((?:  \S.*\n)+)", out, re.M)
    return tuple(line.split()[0] for line in m.group(1).splitlines()) if m else ()


TESTS = guest_tests()


def compare(*args):
    # Only a guard against a hang: a --quick run takes under a minute here.
    return subprocess.run([str(REPO / "bench" / "compare"), *args, "--quick"],
                          capture_output=True, text=True, timeout=1800)


# The host's own isolation settings, which the isolation test must not change.
HOST_FILES = ["/proc/sys/kernel/timer_migration", "/proc/irq/default_smp_affinity",
              "/sys/devices/virtual/workqueue/cpumask", "/sys/devices/system/cpu/isolated"]


def host_state():
    state = {}
    for path in HOST_FILES + sorted(str(p) for p in Path("/proc/irq").glob("*/smp_affinity_list")):
        try:
            state[path] = Path(path).read_text()
        except OSError:
            pass
    return state


def fake_root(root):
    """A copy of the files the isolation tools read and write, under root."""
    for path, text in host_state().items():
        dest = Path(root) / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
    online = Path("/sys/devices/system/cpu/online")
    dest = Path(root) / "sys/devices/system/cpu/online"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(online.read_text() if online.exists() else f"0-{os.cpu_count() - 1}\n")


@unittest.skipUnless({"cpu", "jitter"} <= set(TESTS),
                     f"build/guest.elf has no jitter test yet (its tests: "
                     f"{', '.join(TESTS) or 'unknown'})")
class IsolationPreset(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="preset-isolation-", dir=REPO / "build"))
        cls.root, cls.out = cls.tmp / "root", cls.tmp / "out"
        fake_root(cls.root)
        cls.before = host_state()
        cls.res = compare("--preset", "isolation", "--isolation-root", str(cls.root),
                          "--out", str(cls.out))
        cls.md = (cls.out / "report.md").read_text() if (cls.out / "report.md").exists() else ""

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_three_scenarios_side_by_side(self):
        self.assertEqual(self.res.returncode, 0, self.res.stderr[-3000:])
        rows = section_table(self.md, isolation.TITLE)
        self.assertEqual(list(rows), ["vmm", "vmm-pinned", "vmm-isolated"])
        for name in ("vmm", "vmm-pinned"):
            self.assertRegex(rows[name]["cpu latency max (ms)"], r"^\d", name)
            self.assertRegex(rows[name]["jitter gaps/s"], r"^\d", name)
            self.assertRegex(rows[name]["time lost"], r"^\d.* %$", name)
        self.assertEqual(rows["vmm"]["pinning in force"], "not pinned")
        self.assertRegex(rows["vmm-pinned"]["pinning in force"], r"vCPU0→CPU\d")
        self.assertEqual((self.out / "plot-isolation.png").read_bytes()[:4], b"\x89PNG")

    def test_the_isolated_scenario_ran_on_the_fake_tree_or_says_why(self):
        records = [json.loads(line) for line in
                   (self.out / "results.jsonl").read_text().splitlines()]
        isolated = [r for r in records if r["platform"] == "vmm-isolated"]
        env = json.loads((self.out / "environment.json").read_text())
        if isolated:
            for r in isolated:
                self.assertEqual(r["env"]["isolation"]["root"], str(self.root))
        else:
            why = [s["why"] for s in env.get("skipped", []) if s["platform"] == "vmm-isolated"]
            self.assertTrue(why, "vmm-isolated neither ran nor said why")
            self.assertIn(f"- vmm-isolated: cpu skipped: {why[0]}", self.md)

    def test_the_host_is_left_alone(self):
        self.assertEqual(host_state(), self.before)


@unittest.skipUnless("vmexit" in TESTS, f"build/guest.elf has no vmexit test yet (its tests: "
                                        f"{', '.join(TESTS) or 'unknown'})")
@unittest.skipUnless(qemu_kvm_works(), "QEMU cannot use KVM here: the exits preset compares "
                                       "vmm with QEMU-KVM")
class ExitsPreset(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = Path(tempfile.mkdtemp(prefix="preset-exits-", dir=REPO / "build"))
        cls.res = compare("--preset", "exits", "--out", str(cls.out))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, ignore_errors=True)

    def test_a_row_per_operation_on_both(self):
        self.assertEqual(self.res.returncode, 0, self.res.stderr[-3000:])
        md = (self.out / "report.md").read_text()
        rows = section_table(md, exits.TITLE)
        self.assertIn("cpuid", rows)
        self.assertRegex(rows["cpuid"]["vmm cycles/op"], r"^\d")
        self.assertRegex(rows["cpuid"]["qemu-guest cycles/op"], r"^\d")
        self.assertRegex(rows["cpuid"]["vmm / qemu-guest"], r"^\d+\.\d\d$")
        self.assertRegex(md, r"- Goal: vmm's port-I/O round trip to user space .*"
                             r"(PASS|FAIL|not measured)")
        self.assertRegex(md, r"- Goal: in-kernel doorbell .*(PASS|FAIL|not measured)")
        env = json.loads((self.out / "environment.json").read_text())
        self.assertEqual(env["platforms"]["qemu-guest"]["accelerator"], "kvm")
        records = [json.loads(line) for line in
                   (self.out / "results.jsonl").read_text().splitlines()]
        self.assertEqual(sorted(r["platform"] for r in records), ["qemu-guest", "vmm"])
        self.assertTrue(all(r["options"].get("min-ticks") == 1 << 24 for r in records))


if __name__ == "__main__":
    unittest.main()
