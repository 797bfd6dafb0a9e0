"""bench/compare's two studies end to end, --quick: `--preset isolation`
(vmm unpinned, pinned, and pinned on CPUs isolated in a FAKE /proc and /sys
tree: --isolation-root; the host itself is left alone and checked to be)
and `--preset exits` (the guest's vmexit test under vmm and QEMU-KVM).

Each is skipped, saying why, until build/guest.elf lists the tests it runs
(its `help`), and exits also until QEMU can use KVM here.  PresetsWithFakes
runs both through compare.main meanwhile, with vmm, QEMU and the isolation
tools faked (results from tests/bench/fixtures)."""

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

    def test_the_isolated_scenario_ran_on_the_fake_tree(self):
        records = [json.loads(line) for line in
                   (self.out / "results.jsonl").read_text().splitlines()]
        isolated = [r for r in records if r["platform"] == "vmm-isolated"]
        self.assertEqual(sorted(r["test"] for r in isolated), ["cpu", "jitter"])
        for r in isolated:
            self.assertEqual(r["env"]["isolation"]["root"], str(self.root))
        self.assertIn("isolated CPUs:", self.md)

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


class FakePlace:
    """vmmrun.VmmRunner without vmm: each run answers with a result of the
    test asked for, built from the fixtures, and writes vmm's --json."""

    host, why, kvm_kind = True, None, "pvm"

    def __init__(self, vmm, mem=None, scratch_dir=None):
        self.scratch_dir = Path(tempfile.mkdtemp(prefix="fake-vmm-", dir=REPO / "build"))

    def run(self, argv, timeout=None):
        pin = argv[argv.index("--pin") + 1] if "--pin" in argv else None
        test = argv[argv.index(str(GUEST)) + 1]
        Path(argv[argv.index("--json") + 1]).write_text(json.dumps({
            "host": {"kvm_kind": "pvm"}, "wall_time_s": 1.0, "rss_kib": {"peak": 1},
            "config": {"pin": [int(pin)] if pin else None, "hugepages": False},
            "exits": {"total": 10, "per_vcpu": [{"vcpu": 0, "host_cpu": int(pin) if pin else -1}]}}))
        return subprocess.CompletedProcess(argv, 0, result_line(test, "vmm", argv), "")

    def close(self):
        shutil.rmtree(self.scratch_dir, ignore_errors=True)


def result_line(test, platform, argv):
    """A VMBENCH-RESULT line for `test`, from the fixtures' first record of
    it, with the vCPUs and options of the command line."""
    from tests.bench.test_views import load
    fixtures = load("isolation")[0] + load("exits")[0]
    for r in sorted(fixtures, key=lambda r: r["platform"] != platform):
        if r["test"] == test:
            r = {k: v for k, v in r.items() if k not in ("case", "rep", "harness")}
            r["platform"] = platform
            smp = argv[argv.index("--smp") + 1] if "--smp" in argv else \
                argv[argv.index("-smp") + 1]
            r["env"] = {"vcpus": int(smp)}
            r["options"] = dict(a[2:].split("=", 1) for a in argv
                                if str(a).startswith("--") and "=" in str(a))
            if "min-ticks" in r["options"]:
                r["options"]["min-ticks"] = int(r["options"]["min-ticks"])
            return "VMBENCH-RESULT " + json.dumps(r) + "\n"
    raise AssertionError(f"no fixture for {test}")


class PresetsWithFakes(unittest.TestCase):
    """Both presets through compare.main, --quick, with vmm, QEMU and the
    isolation tools faked: matrix, platforms, runner and views together."""

    def run_compare(self, *args):
        from unittest import mock
        from vmbench import compare, results
        from vmbench.platforms.qemu_guest import QemuGuestPlatform
        out = Path(tempfile.mkdtemp(prefix="fake-preset-", dir=REPO / "build"))
        self.addCleanup(shutil.rmtree, out, True)

        def boot(platform, case, command, disk, limit):
            argv = qemu_argv(case.vcpus, case.mem_mib, "", "kvm", "pc") + [f"--{n}={v}" for n, v in case.options]
            self.assertIn("pci-testdev", argv)
            return result_line(case.test, "qemu-guest", argv), 0

        def prepare(platform, cases):
            platform.accel = platform.asked

        # The cpu result comes without sysbench's report: read its line alone.
        def alone(text):
            return None, results.result_lines(text)[0]

        with mock.patch("vmbench.vmmrun.VmmRunner", FakePlace), \
                mock.patch.object(QemuGuestPlatform, "_boot", boot), \
                mock.patch.object(QemuGuestPlatform, "prepare", prepare), \
                mock.patch.object(results, "check_guest_output", alone), \
                mock.patch("vmbench.isolation.session.TOOLS", self.tools), \
                mock.patch("sys.stderr"):
            status = compare.main([*args, "--quick", "--out", str(out)])
        return status, out, (out / "report.md").read_text()

    def setUp(self):
        from tests.bench.test_isolation import fake_tools
        tmp = tempfile.TemporaryDirectory(prefix="fake-isolation-")
        self.addCleanup(tmp.cleanup)
        self.tools = Path(tmp.name)
        self.log = fake_tools(self.tools)

    def test_isolation(self):
        status, out, md = self.run_compare("--preset", "isolation")
        self.assertEqual(status, 0)
        rows = section_table(md, isolation.TITLE)
        self.assertEqual(list(rows), ["vmm", "vmm-pinned", "vmm-isolated"])
        self.assertEqual(rows["vmm"]["pinning in force"], "not pinned")
        self.assertEqual(rows["vmm-pinned"]["pinning in force"], "vCPU0→CPU1")
        self.assertEqual(rows["vmm-isolated"]["pinning in force"],
                         "vCPU0→CPU1; isolated CPUs: 1")
        self.assertEqual(rows["vmm-isolated"]["jitter gaps/s"], "951")
        # Warm-up and one repetition of cpu, one of jitter: apply and
        # restore around each.
        calls = [line.split()[0] for line in self.log.read_text().splitlines()]
        self.assertEqual(calls, ["apply", "check", "restore"] * 3)
        self.assertEqual({"isolation", "isolation-gaps"} <= {p.stem[5:] for p in
                                                              out.glob("plot-*.png")}, True)

    def test_exits(self):
        status, out, md = self.run_compare("--preset", "exits")
        self.assertEqual(status, 0)
        rows = section_table(md, exits.TITLE)
        self.assertEqual(rows["pio_write"]["vmm / qemu-guest"], "0.72")
        self.assertIn("**PASS**", md)
        env = json.loads((out / "environment.json").read_text())
        self.assertEqual(env["platforms"]["qemu-guest"]["accelerator"], "kvm")
        self.assertEqual(env["views"][0]["view"], "exits")
        records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        self.assertEqual([r["case"]["options"]["min-ticks"] for r in records], [1 << 24] * 2)
