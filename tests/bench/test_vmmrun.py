"""vmbench.vmmrun: where vmm runs (this host, or a nested-KVM Linux VM), decided
once for tools/run-guest, bench/boot, bench/guest-vs-native, the vmm platform
and the integration tests.  Against programs that answer --check as vmm does;
the nested side is exercised by those users (test_guest_platforms, the
integration tests)."""

import os
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from vmbench import vmmrun

USABLE = ("vmm: /dev/kvm is usable: pvm KVM (kvm_pvm, PVM-style: guest ring 3 native, guest "
          "ring 0 emulated at ~1M instructions/s, exits cost 5-20 us), KVM API 12")
FAILED = "vmm: cannot run guests here: /dev/kvm does not exist: load the kvm module"


class Place(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        env = mock.patch.dict(os.environ)
        env.start()
        self.addCleanup(env.stop)
        os.environ.pop("VMBENCH_KVM", None)

    def fake(self, status, stdout="", stderr=""):
        path = Path(self.dir.name) / f"vmm{len(os.listdir(self.dir.name))}"
        path.write_text("#!/bin/sh\n"
                        'if [ "$1" = --check ]; then\n'
                        f"  echo '{stdout}'; echo '{stderr}' >&2; exit {status}\n"
                        "fi\n"
                        'echo "ran $* with X=$X"\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path

    def test_check(self):
        self.assertEqual(vmmrun.check(self.fake(0, USABLE)), (True, USABLE + "\n"))
        self.assertEqual(vmmrun.check(self.fake(125, stderr=FAILED)), (False, FAILED))
        works, said = vmmrun.check(Path(self.dir.name) / "missing")
        self.assertFalse(works)
        self.assertIn("could not run", said)

    def test_here_when_vmm_can_run_guests(self):
        vmm = self.fake(0, USABLE)
        place = vmmrun.VmmRunner(vmm, scratch_dir=self.dir.name)
        self.addCleanup(place.close)
        self.assertTrue(place.host)
        self.assertIsNone(place.why)
        self.assertEqual(place.kvm_kind, "pvm")
        res = place.run([vmm, "--smp", 2], timeout=30, env={"X": "1"})
        self.assertEqual((res.returncode, res.stdout), (0, "ran --smp 2 with X=1\n"))
        scratch = place.scratch_dir
        self.assertTrue(scratch.is_dir())
        self.assertEqual(scratch.parent, Path(self.dir.name))
        place.close()
        self.assertFalse(scratch.exists())
        self.assertIsNone(place.session)

    def test_nested_when_it_cannot_and_the_vm_starts_only_when_needed(self):
        place = vmmrun.VmmRunner(self.fake(125, stderr=FAILED))
        self.assertFalse(place.host)
        self.assertEqual(place.why, FAILED)
        self.assertIsNone(place.kvm_kind)
        self.assertIsNone(place.session)

    def test_vmbench_kvm_forces_the_choice(self):
        os.environ["VMBENCH_KVM"] = "nested"
        self.assertFalse(vmmrun.VmmRunner(self.fake(0, USABLE)).host)
        os.environ["VMBENCH_KVM"] = "host"
        self.assertTrue(vmmrun.VmmRunner(self.fake(125, stderr=FAILED)).host)
        os.environ["VMBENCH_KVM"] = "elsewhere"
        with self.assertRaisesRegex(ValueError, "VMBENCH_KVM=elsewhere: expected host, nested"):
            vmmrun.VmmRunner(self.fake(0, USABLE))
        self.assertTrue(vmmrun.VmmRunner(self.fake(0, USABLE), mode="host").host)


if __name__ == "__main__":
    unittest.main()
