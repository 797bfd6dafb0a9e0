"""Tests of tools/vmbench/kvmkind.py and tools/vmbench/environment.kvm():
the kind of KVM as `vmm --check` and `vmm --json` say it, on every kind,
with fake vmm programs (the real one is asked once, whatever this host is)."""

import os
import shlex
import stat
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
from vmbench import environment
from vmbench import kvmkind

# `vmm --check` as vmm/kvm_kind.c words it on each kind.
CHECK_LINES = {
    "hardware": "vmm: /dev/kvm is usable: hardware KVM (kvm_intel, VMX/SVM on bare metal: "
                "both guest rings run natively), KVM API 12, up to 1024 vCPUs, TSC 2100.000 MHz",
    "pvm": "vmm: /dev/kvm is usable: pvm KVM (kvm_pvm, PVM-style: guest ring 3 native, guest "
           "ring 0 emulated at ~1M instructions/s, exits cost 5-20 us), KVM API 12, up to "
           "1024 vCPUs, TSC 2100.000 MHz",
    "nested-tcg": "vmm: /dev/kvm is usable: nested-tcg KVM (kvm_amd, in a VM under QEMU's TCG: "
                  "every guest instruction is emulated), KVM API 12, up to 1024 vCPUs, "
                  "TSC 2100.000 MHz",
    "nested": 'vmm: /dev/kvm is usable: nested KVM (kvm_intel in a VM under "KVMKVMKVM": guest '
              "code runs natively, exits also go through the outer hypervisor), KVM API 12, "
              "up to 710 vCPUs, TSC 2450.000 MHz",
    "unknown": "vmm: /dev/kvm is usable: unknown KVM (no kvm_intel, kvm_amd or kvm_pvm module "
               "in /sys/module), KVM API 12, up to 1024 vCPUs, TSC 2100.000 MHz",
}
OLD_LINE = "vmm: /dev/kvm is usable: KVM API 12, up to 1024 vCPUs, TSC 2100.000 MHz"
FAILED = "vmm: cannot run guests here: /dev/kvm does not exist: load the kvm module"


class Parse(unittest.TestCase):
    def test_every_kind_from_check(self):
        for kind, line in CHECK_LINES.items():
            self.assertEqual(kvmkind.from_check(line + "\n"), kind)
            self.assertIn(kind, kvmkind.MEANING)
            self.assertTrue(kvmkind.describe(kind).startswith(f"{kind}: "))
        self.assertEqual(set(CHECK_LINES), set(kvmkind.KINDS))

    def test_no_kind(self):
        for text in (OLD_LINE, FAILED, "", None,
                     "vmm: /dev/kvm is usable: quantum KVM (kvm_q, ...), KVM API 12"):
            self.assertIsNone(kvmkind.from_check(text))
        self.assertEqual(kvmkind.describe(None), "not recorded")

    def test_from_vmm_json(self):
        self.assertEqual(kvmkind.from_vmm_json({"host": {"kvm_kind": "nested-tcg"}}),
                         "nested-tcg")
        for doc in ({}, None, {"host": {}}, {"host": {"kvm_kind": 3}}, {"host": None}):
            self.assertIsNone(kvmkind.from_vmm_json(doc))

    def test_meanings_say_what_the_figures_are(self):
        self.assertIn("both guest rings run natively", kvmkind.MEANING["hardware"])
        self.assertIn("ring 0 is emulated", kvmkind.MEANING["pvm"])
        self.assertIn("5-20", kvmkind.MEANING["pvm"])
        self.assertIn("measure TCG", kvmkind.MEANING["nested-tcg"])
        self.assertIn("outer hypervisor", kvmkind.MEANING["nested"])


class FakeVmm(unittest.TestCase):
    """environment.kvm() and kvmkind.check() against programs that answer
    --check as vmm does on each kind."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def fake(self, status, stdout="", stderr=""):
        path = Path(self.dir.name) / f"vmm{len(os.listdir(self.dir.name))}"
        path.write_text("#!/bin/sh\n"
                        '[ "$1" = --check ] || exit 99\n'
                        f"printf '%s\\n' {shlex.quote(stdout)}\n"
                        f"printf '%s\\n' {shlex.quote(stderr)} >&2\n"
                        f"exit {status}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path

    def test_every_kind(self):
        for kind, line in CHECK_LINES.items():
            self.assertEqual(environment.kvm(self.fake(0, line)),
                             {"kvm_kind": kind, "kvm_check": line})

    def test_no_usable_kvm(self):
        self.assertEqual(environment.kvm(self.fake(125, stderr=FAILED)),
                         {"kvm_kind": None, "kvm_check": FAILED})
        # A vmm from before the kinds: usable, kind unknown to the harness.
        self.assertEqual(environment.kvm(self.fake(0, OLD_LINE))["kvm_kind"], None)

    def test_missing_vmm(self):
        missing = Path(self.dir.name) / "nope"
        got = environment.kvm(missing)
        self.assertIsNone(got["kvm_kind"])
        self.assertIn("is missing: run make", got["kvm_check"])

    def test_check_elsewhere(self):
        asked = []

        def run(argv):
            asked.append(argv)
            return 0, CHECK_LINES["nested-tcg"] + "\n", ""
        self.assertEqual(kvmkind.check("/somewhere/vmm", run),
                         ("nested-tcg", CHECK_LINES["nested-tcg"]))
        self.assertEqual(asked, [["/somewhere/vmm", "--check"]])


class ThisHost(unittest.TestCase):
    @unittest.skipUnless((REPO / "build" / "vmm").exists(), "build/vmm is not built")
    def test_host_records_the_kind(self):
        host = environment.host()
        self.assertIn("kvm_kind", host)
        self.assertIn(host["kvm_kind"], kvmkind.KINDS + (None,))
        self.assertTrue(host["kvm_check"].startswith("vmm: "), host["kvm_check"])


if __name__ == "__main__":
    unittest.main()
