"""vmm one level down: the nested platform at depth 1 (bench/compare
--platforms nested --depth 1) boots one Linux VM (QEMU with nested KVM
where this host's KVM offers it, else TCG with an SVM CPU) and runs vmm
there: the guest's `info`, then `cpu --events=N` as a benchmark case, with
where each layer ran recorded.  One VM for both (a few seconds of boot
under TCG).  Depth 2 is too slow for the suite under TCG; the levels preset
measures it (docs/results.md)."""

import json
import unittest

import guest_runner

from vmbench import levels
from vmbench.platforms.base import Case
from vmbench.platforms.nested import NestedPlatform

EVENTS = 300
CPU = Case(test="cpu", options=(("cpu-max-prime", 2000), ("events", EVENTS), ("threads", 1),
                                ("time", 0)), vcpus=1, mem_mib=256)


class VmmInL1(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.platform = NestedPlatform(1, name="nested-1")
        cls.platform.prepare([CPU])

    @classmethod
    def tearDownClass(cls):
        cls.platform.close()

    def test_the_level_is_recorded(self):
        p = self.platform
        self.assertIsNone(p.skipped, p.skipped)
        env = p.environment()
        self.assertEqual((env["depth"], env["level"]), (1, "L1"))
        what = [layer["what"] for layer in env["levels"]]
        self.assertEqual(what, ["this host", "L1 Linux VM (QEMU)", "vmm in L1"])
        vm = env["levels"][1]
        self.assertIn(vm["accelerator"].split()[0], ("kvm", "tcg"))
        self.assertEqual(vm["cpu_model"], "host" if vm["accelerator"].startswith("kvm")
                         else "max")
        # vmm --check in the VM: KVM nested in QEMU's TCG, or in another hypervisor.
        expected = "nested-tcg" if vm["accelerator"].startswith("tcg") else "nested"
        self.assertEqual(env["levels"][-1]["kvm_kind"], expected)

    def test_info(self):
        res = self.platform.place.run([guest_runner.RELEASE_VMM, "--smp", 1, "--mem", "256M",
                                       guest_runner.GUEST, "info"], timeout=600)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(guest_runner.one_result(self, res.stdout)["test"], "info")

    def test_cpu_events(self):
        record = self.platform.run(CPU)
        self.assertEqual((record["test"], record["platform"], record["events"]),
                         ("cpu", "nested-1", EVENTS))
        self.assertEqual(record["env"]["vmm"]["depth"], 1)
        self.assertEqual(record["env"]["vmm"]["where"], levels.label(1))
        self.assertEqual(record["env"]["levels"], self.platform.level.layers)
        json.dumps(record)      # what the runner writes to results.jsonl


if __name__ == "__main__":
    unittest.main()
