"""The pci-testdev end to end, and vmm's CPUID leaves: a tiny guest
(pci_testdev_guest.s, assembled here) runs kvm-unit-tests' pci-testdev
sequence through both BARs, moves each BAR while a test is current, and
prints what it saw; under vmm its doorbells must have reached KVM's
ioeventfds (or vmm, if KVM refused them), and under QEMU with
`-device pci-testdev` the same code must see the same device."""

import json
import re
import shutil
import subprocess
import unittest
from pathlib import Path

import guest_runner
from guest_runner import run_vmm

SOURCE = Path(__file__).resolve().parent / "pci_testdev_guest.s"
T = guest_runner.HANG_GUARD_S
NAMES = ["mmio-no-eventfd", "mmio-wildcard-eventfd", "mmio-datamatch-eventfd",
         "portio-no-eventfd", "portio-wildcard-eventfd", "portio-datamatch-eventfd"]
# enum kvm_kind (vmm/kvm.h), as CPUID 0x40000101 EAX gives it.
KIND_NUMBERS = {"unknown": 0, "hardware": 1, "pvm": 2, "nested-tcg": 3, "nested": 4}
# What the guest prints for each test it ran, in order (the last two after
# their BAR moved).
RUNS = NAMES + ["mmio-wildcard-eventfd", "portio-datamatch-eventfd"]


def build_guest(out_dir):
    """Assembles the tiny guest; its one segment starts at 1 MiB."""
    obj, elf = out_dir / "pci_testdev_guest.o", out_dir / "pci_testdev_guest.elf"
    subprocess.run(["as", "--32", "-o", str(obj), str(SOURCE)], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-nostdlib", "-static", "-z", "noseparate-code",
                    "-z", "max-page-size=4096", "-Ttext-segment=0x100000", "-e", "_start",
                    "-o", str(elf), str(obj)], check=True)
    return elf


def counts(testcase, stdout):
    """The (test name, count) lines the guest printed."""
    found = re.findall(r"^pci-testdev ([a-z-]+): count (\d+)$", stdout, re.M)
    testcase.assertEqual([name for name, _ in found], RUNS, stdout)
    return [(name, int(n)) for name, n in found]


class PciTestdev(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not (shutil.which("as") and shutil.which("ld")):
            raise unittest.SkipTest("binutils (as, ld) are needed to build the test guest")
        cls.dir = guest_runner.kvm().scratch_dir / "pci-testdev"
        cls.dir.mkdir(parents=True, exist_ok=True)
        cls.elf = build_guest(cls.dir)

    def run_guest(self, *options):
        report = self.dir / "report.json"
        report.unlink(missing_ok=True)
        res = run_vmm("--stats", "--json", report, "--mem", "16M", "--timeout", 300, *options,
                      self.elf, timeout=T)
        self.assertNotIn("Sanitizer", res.stderr)
        return res, json.loads(report.read_text())

    def test_both_bars_every_test_and_moves(self):
        res, doc = self.run_guest()
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("\ndone\n", res.stdout)
        dev = doc["pci_testdev"]
        refused = dev["ioeventfd_refusals"] > 0
        for name, n in counts(self, res.stdout):
            # No eventfd: vmm counts every write.  With one, KVM takes them
            # all (the guest reads 0), unless KVM refused it.
            self.assertEqual(n, 16 if "no-eventfd" in name or refused else 0, name)
        tests = dev["tests"]
        for name in NAMES:
            runs = 2 if name in ("mmio-wildcard-eventfd", "portio-datamatch-eventfd") else 1
            t = tests[name]
            self.assertEqual(t["runs"], runs, name)
            if "no-eventfd" in name or refused:
                self.assertEqual((t["user_writes"], t["kernel_writes"]), (16 * runs, 0), name)
            else:
                # The moved ones too: the doorbell followed the BAR.
                self.assertEqual((t["user_writes"], t["kernel_writes"]), (0, 16 * runs), name)
        self.assertEqual(dev["kernel_doorbells"],
                         sum(t["kernel_writes"] for t in tests.values()))
        self.assertEqual((dev["mem_bar"], dev["io_bar"]), (0xd0000000, 0xd000))  # moved
        # Slot 1: the only PCI function after the host bridge.
        self.assertEqual(dev["devfn"], 8)
        self.assertIn("pci-testdev at slot 1\n", res.stdout)
        for kind in ("pci-mmio", "pci-io", "pci-config"):
            self.assertIn(kind, doc["exits"]["by_kind"])
        line = re.search(r"^vmm: pci-testdev 00:01\.0 .*: (\d+) reads, (\d+) writes reached "
                         r"vmm, (\d+) writes taken by KVM", res.stderr, re.M)
        self.assertIsNotNone(line, res.stderr)
        self.assertEqual(int(line.group(3)), dev["kernel_doorbells"])
        self.assertEqual("KVM refused" in res.stderr, refused)

    def test_cpuid_leaves_name_the_kind_of_kvm(self):
        res, doc = self.run_guest()
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        kind = doc["host"]["kvm_kind"]
        flags = 3 if kind == "pvm" else 0        # ring 0 emulated, no hypercalls
        level = doc["virt_level"] + 1            # ECX: hypervisors below the guest
        console = 0x4f8                          # EDX: the buffer console's port
        self.assertIn(f"vmm cpuid: kind {KIND_NUMBERS[kind]} flags {flags} ecx {level} "
                      f"edx {console}\n", res.stdout)

    def test_no_testdev_leaves_it_out(self):
        res, doc = self.run_guest("--no-testdev")
        self.assertEqual(res.returncode, 3, res.stdout + res.stderr)
        self.assertIn("no pci-testdev\n", res.stdout)
        self.assertNotIn("pci_testdev", doc)
        self.assertNotIn("pci-testdev", res.stderr)
        self.assertNotIn("pci-io", doc["exits"]["by_kind"])

    def test_same_guest_same_device_under_qemu(self):
        # QEMU's own pci-testdev, with SeaBIOS's BAR addresses, under TCG.
        argv = ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", "64M",
                "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-device", "pci-testdev",
                "-no-reboot", "-kernel", str(self.elf)]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=T)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)   # status 0
        self.assertIn("vmm cpuid: absent\n", res.stdout)
        self.assertIn("\ndone\n", res.stdout)
        for name, n in counts(self, res.stdout):
            self.assertIn(n, (0, 16) if "no-eventfd" not in name else (16,), name)
        vmm, _ = self.run_guest()
        # Past the CPUID and slot lines, the same lines but for the counts
        # (TCG may or may not emulate the ioeventfds).
        def shape(out):
            return re.sub(r"count \d+", "count N", out[out.index("pci-testdev mmio"):])
        self.assertEqual(shape(res.stdout), shape(vmm.stdout))


if __name__ == "__main__":
    unittest.main()
