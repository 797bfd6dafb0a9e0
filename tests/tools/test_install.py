"""make install puts the two products where docs/design.md says."""

import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class InstallTest(unittest.TestCase):
    def test_install_under_prefix(self):
        with tempfile.TemporaryDirectory() as prefix:
            res = subprocess.run(["make", "-s", "install", f"PREFIX={prefix}"], cwd=REPO,
                                 capture_output=True, text=True)
            self.assertEqual(res.returncode, 0, res.stderr)
            vmm = Path(prefix, "bin", "vmm")
            guest = Path(prefix, "share", "vmbench", "guest.elf")
            self.assertTrue(vmm.stat().st_mode & 0o111, "vmm is executable")
            self.assertEqual(guest.read_bytes()[:4], b"\x7fELF")
            self.assertEqual(guest.read_bytes()[4], 1, "ELF32, as multiboot loaders need")
            version = subprocess.run([vmm, "--version"], capture_output=True, text=True)
            self.assertRegex(version.stdout, r"^vmm \d+\.\d+\.\d+ \(vmbench\)")


if __name__ == "__main__":
    unittest.main()
