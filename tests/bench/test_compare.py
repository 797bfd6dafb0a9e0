"""bench/compare end to end: one --quick run over every platform (cpu, and
fileio on a raw disk: a host directory for native and container), and a
platform that fails making the whole run fail with its reason."""

import csv
import json
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLATFORMS = ("native", "container", "qemu-linux", "qemu-guest", "vmm")


def compare(*args):
    # The limit only guards against a hang.  A --quick run takes a few minutes,
    # but a first one also builds the container's root file system and fetches
    # the kernel, and a slow or loaded machine (vmm nested under TCG) takes
    # longer: generous, so that it does not fail the test for nothing.
    return subprocess.run([str(REPO / "bench" / "compare"), *args], capture_output=True,
                          text=True, timeout=3600)


class QuickRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = Path(tempfile.mkdtemp(prefix="compare-", dir=REPO / "build"))
        cls.res = compare("--preset", "vm-vs-container", "--quick", "--out", str(cls.out))

    def test_every_platform_gives_a_number(self):
        self.assertEqual(self.res.returncode, 0, self.res.stderr[-3000:])
        lines = (self.out / "report.md").read_text().splitlines()
        for test, row_start in (("cpu", "| cpu-max-prime=2000 threads=1 |"),
                                ("fileio", "| file-test-mode=rndrw file-total-size=16M "
                                           "file-num=4 threads=2 disk-format=raw |")):
            table = lines[lines.index(f"### {test}"):]
            header = next(line for line in table if line.startswith("| case |"))
            row = next(line for line in table if line.startswith(row_start))
            cells = dict(zip([c.strip() for c in header.split("|")],
                             [c.strip() for c in row.split("|")]))
            for name in PLATFORMS:
                self.assertRegex(cells[name], r"^\d+\.\d", f"{name} has no number: {row}")
            self.assertRegex(cells["vmm × native"], r"^\d+\.\d+$")

    def test_records_and_files(self):
        records = [json.loads(line) for line in
                   (self.out / "results.jsonl").read_text().splitlines()]
        self.assertEqual(sorted(r["platform"] for r in records), sorted(PLATFORMS * 2))
        for r in records:
            self.assertEqual(r["schema"], "vmbench.result/1")
            self.assertNotIn("error", r)
            self.assertGreater(r["events_per_s"], 0)
        cpu = [r for r in records if r["test"] == "cpu"]
        fileio = [r for r in records if r["test"] == "fileio"]
        self.assertEqual(len(cpu), len(PLATFORMS))
        for r in cpu:
            self.assertEqual(r["case"]["options"]["cpu-max-prime"], 2000)
        for r in fileio:
            self.assertEqual(r["case"]["options"]["disk-format"], "raw")
            self.assertEqual(r["options"]["file-total-size"], 16 << 20)
            self.assertEqual(r["options"]["file-test-mode"], "rndrw")
            self.assertGreater(r["metrics"]["reads_per_s"], 0)
            self.assertGreater(r["metrics"]["writes_per_s"], 0)
            self.assertIn("disk_format", r["env"], r["platform"])
        formats = {r["platform"]: r["env"]["disk_format"] for r in fileio}
        self.assertEqual(formats["native"], "host directory")
        self.assertEqual((formats["qemu-linux"], formats["qemu-guest"], formats["vmm"]),
                         ("raw", "raw", "raw"))
        # native and container made their files in the results folder, and removed them.
        self.assertEqual([p.name for p in self.out.iterdir() if p.is_dir()], [])
        with open(self.out / "results.csv") as f:
            self.assertEqual(len(list(csv.DictReader(f))), 2 * len(PLATFORMS))
        for test in ("cpu", "fileio"):
            self.assertEqual((self.out / f"plot-{test}.png").read_bytes()[:8],
                             b"\x89PNG\r\n\x1a\n")

    def test_environment_says_what_was_in_force(self):
        env = json.loads((self.out / "environment.json").read_text())
        self.assertEqual(set(env["platforms"]), set(PLATFORMS))
        for name, p in env["platforms"].items():
            for key in ("accelerator", "limits", "pinning"):
                self.assertIn(key, p, name)
        self.assertIn(env["platforms"]["qemu-linux"]["accelerator"], ("kvm", "tcg"))
        self.assertTrue(env["platforms"]["container"]["check"]["passed"])
        self.assertIn("virtualization", env["host"])


class FailingPlatform(unittest.TestCase):
    def test_a_failing_platform_fails_the_run_with_its_reason(self):
        with tempfile.TemporaryDirectory(dir=REPO / "build") as out:
            matrix = Path(out, "matrix.json")
            # More memory than this host has: vmm refuses every case.
            matrix.write_text(json.dumps({"shapes": [[1, 4 << 20]], "reps": 1, "time": 1,
                                          "tests": [{"test": "cpu", "options": [
                                              {"cpu-max-prime": 1000}]}]}))
            res = compare("--config", str(matrix), "--platforms", "native,vmm",
                          "--out", out)
            self.assertEqual(res.returncode, 1, res.stderr[-2000:])
            self.assertRegex(res.stderr, r"compare: vmm failed: vmm: exited with 125: .*more "
                                         r"than this host's RAM and swap")
            report = Path(out, "report.md").read_text()
            self.assertRegex(report, re.escape("more than this host's RAM and swap"))


if __name__ == "__main__":
    unittest.main()
