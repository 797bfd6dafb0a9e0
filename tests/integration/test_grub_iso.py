"""The GRUB ISO (`make iso`) boots guest.elf as it would on real hardware:
SeaBIOS boots it as a CD or as a USB stick, GRUB shows its menu on COM1 and
boots the default entry when nobody answers, and the other entry can be
picked and edited from the serial line (as docs/bare-metal.md tells users).

A boot takes 1-1.5 s under TCG here, plus GRUB's 2 s countdown in the one
test that lets it run out: about 8 s for the four.  Standard library only."""

import json
import re
import subprocess
import threading
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ISO = REPO / "build" / "vmbench.iso"
# Seconds.  A boot takes a few; the limit only guards against a hang, so it
# is generous: a slow or loaded machine must not fail a test for nothing.
BOOT_TIMEOUT = 300

QEMU = ["qemu-system-x86_64", "-accel", "tcg",
        "-smp", "2", "-m", "2G", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        "-display", "none", "-serial", "stdio", "-no-reboot"]
AS_CD = ["-cdrom", str(ISO)]
# The image written to a USB stick is a hard disk to the BIOS (the ISO has
# an MBR for that); snapshot=on leaves the file untouched.
AS_DISK = ["-drive", f"file={ISO},format=raw,snapshot=on"]

# GRUB draws its menu with VT100 escapes, so a result line need not start
# a line of the raw output: search for it anywhere.
RESULT = re.compile(r"VMBENCH-RESULT (\{[^\r\n]*\})")

MENU_READY = "Use the ^ and v keys"  # GRUB's help under the menu
CPU_TITLE = "cpu benchmark (sysbench cpu --cpu-max-prime=10000)"
# How GRUB's editor shows each entry's command (the cpu one wraps there).
INFO_LINE = "multiboot /boot/guest.elf info"
CPU_LINE = "multiboot /boot/guest.elf cpu --cpu-max-prime=10000"

# GRUB's keys, as a serial terminal sends them.  In the editor an entry
# reads: "setparams 'TITLE'", an empty line, the multiboot command.
DOWN, EDIT, ENTER = "v", "e", "\r"
TO_COMMAND = "\x0e\x0e"  # Ctrl-N twice
END_OF_LINE, BOOT = "\x05", "\x18"  # Ctrl-E, Ctrl-X


def setUpModule():
    # `make test-integration` has built it already (then this does nothing);
    # run alone, the test builds it, or rebuilds it when guest.elf changed.
    res = subprocess.run(["make", "iso"], cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"make iso failed:\n{res.stdout}{res.stderr}")


class Qemu:
    """QEMU booting the ISO, its COM1 on our pipes."""

    def __init__(self, medium):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(QEMU + medium, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._out = bytearray()
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while chunk := self.proc.stdout.read1(65536):
            with self._changed:
                self._out += chunk
                self._changed.notify_all()

    @property
    def output(self):
        with self._changed:
            return self._out.decode(errors="replace")

    def wait_for(self, text):
        """Waits until `text` appears on COM1, or fails the boot."""
        deadline = self.started + BOOT_TIMEOUT
        with self._changed:
            while text.encode() not in self._out:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no {text!r} on COM1:\n{self.output}")
                self._changed.wait(min(left, 0.1))

    def type(self, keys):
        self.proc.stdin.write(keys.encode())
        self.proc.stdin.flush()

    def finish(self):
        """Waits for QEMU to exit; returns (exit code, COM1 output, stderr)."""
        try:
            code = self.proc.wait(timeout=max(0.0, self.started + BOOT_TIMEOUT - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"QEMU still running after {BOOT_TIMEOUT} s:\n{self.output}")
        self._reader.join()
        return code, self.output, self.proc.stderr.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(5)  # QEMU is gone: its stdout ends
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


class GrubIso(unittest.TestCase):
    def boot(self, medium=AS_CD):
        qemu = Qemu(medium)
        self.addCleanup(qemu.close)
        return qemu

    def result(self, code, out, err):
        # isa-debug-exit: QEMU exits with status*2+1, so 1 is guest status 0.
        self.assertEqual(code, 1, f"QEMU exit {code} (guest status 0 gives 1)\n{err}{out}")
        found = [json.loads(m) for m in RESULT.findall(out)]
        self.assertEqual(len(found), 1, f"expected one VMBENCH-RESULT line in:\n{out}")
        return found[0]

    def test_default_entry_unattended(self):
        qemu = self.boot()
        code, out, err = qemu.finish()
        # The menu itself went to COM1, countdown included.
        self.assertIn("vmbench info:", out)
        self.assertIn(CPU_TITLE, out)
        self.assertIn("executed automatically", out)

        r = self.result(code, out, err)
        self.assertEqual(r["test"], "info")
        self.assertEqual(r["env"]["vcpus"], 2)
        # GRUB passes on the BIOS's E820 map, as QEMU's -kernel loader does:
        # 639 KiB below the VGA hole, then 1 MiB up to 2 GiB less the 128 KiB
        # SeaBIOS reserves at the top: 2047.5 MiB, which the guest rounds up
        # to 2048.  The 8 MiB of slack is for firmware that reserves more.
        self.assertLessEqual(r["env"]["mem_mib"], 2048)
        self.assertGreaterEqual(r["env"]["mem_mib"], 2040)
        # GRUB 2 says "GRUB 2.06..."; GRUB Legacy said "GNU GRUB 0.97".
        self.assertRegex(r["env"]["boot_loader"], r"^(GNU )?GRUB ")
        # Unattended, GRUB waits for its countdown only: grub.cfg's 2 s (read
        # from the menu, not from a clock, which a loaded machine slows down).
        self.assertEqual(re.search(r"executed automatically in (\d+)s", out)[1], "2", out)

    def test_usb_stick(self):
        qemu = self.boot(AS_DISK)
        qemu.wait_for(MENU_READY)
        qemu.type(ENTER)  # boot the default entry now, not after the countdown
        r = self.result(*qemu.finish())
        self.assertEqual(r["test"], "info")
        self.assertEqual(r["env"]["vcpus"], 2)

    def edit_and_boot(self, keys, command, append):
        """What docs/bare-metal.md tells users: pick an entry ('v'), edit it
        ('e'), add to its command line, boot it (Ctrl-X)."""
        qemu = self.boot()
        qemu.wait_for(MENU_READY)
        qemu.type(keys + EDIT)
        qemu.wait_for(command)
        qemu.type(TO_COMMAND + END_OF_LINE + append + BOOT)
        return qemu.finish()

    def test_edited_info_entry(self):
        r = self.result(*self.edit_and_boot("", INFO_LINE, " --touch-ram"))
        self.assertEqual(r["test"], "info")
        self.assertIs(r["options"]["touch-ram"], True)
        self.assertIs(r["ram_ok"], True)
        self.assertEqual(r["threads"], 2)

    def test_cpu_entry(self):
        # --time=1 keeps the run short once the guest has a cpu test.
        code, out, err = self.edit_and_boot(DOWN, CPU_LINE, " --time=1")
        if "unknown test 'cpu'" in out:
            # A guest without a cpu test yet: the entry reached it intact
            # (a misparsed command line names another word) and it exits 2.
            self.assertEqual(code, 2 * 2 + 1, out)
            return
        r = self.result(code, out, err)
        self.assertEqual(r["test"], "cpu")
        self.assertEqual(r["options"]["cpu-max-prime"], 10000)
        self.assertEqual(r["options"]["threads"], 1)
        self.assertEqual(r["options"]["time"], 1)


if __name__ == "__main__":
    unittest.main()
