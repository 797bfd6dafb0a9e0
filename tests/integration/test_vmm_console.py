"""The console under vmm: how many exits a boot costs, and that output sent
through vmm's buffer console (one exit per buffer) or through COM1 and KVM's
coalesced PIO ring (`--console=com1`) arrives whole, in order, and the same
either way."""

import json
import unittest

import guest_runner
from guest_runner import GUEST, run_vmm

T = guest_runner.HANG_GUARD_S
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def pattern(nbytes):
    """What `selftest --kind=print --bytes=N` prints (guest/workloads/crash.c)."""
    lines = (f"{i % 1000000:06d} " + "".join(LETTERS[(i + j) % 52] for j in range(56)) + "\n"
             for i in range(nbytes // 64 + 1))
    return "".join(lines)[:nbytes]


class Console(unittest.TestCase):
    def run_json(self, name, *args):
        path = guest_runner.kvm().scratch_dir / name
        res = run_vmm("--json", path, *args, timeout=T)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertNotIn("Sanitizer", res.stderr)
        return res, json.loads(path.read_text())

    def test_info_boot_makes_at_most_100_exits(self):
        # Through the buffer console: info's output is one write at exit.
        res, doc = self.run_json("info-exits.json", "--smp", 2, "--mem", "2G", GUEST, "info")
        self.assertLessEqual(doc["exits"]["total"], 100, doc["exits"]["by_kind"])
        self.assertEqual(doc["serial"]["bytes_out"], len(res.stdout.encode()))
        self.assertEqual(doc["buffer_console"]["bytes"], doc["serial"]["bytes_out"])
        self.assertEqual(doc["buffer_console"]["rejected"], 0)
        self.assertLessEqual(doc["buffer_console"]["writes"], 3)

    def test_info_boot_through_com1_makes_at_most_100_exits(self):
        res, doc = self.run_json("info-exits-com1.json", "--smp", 2, "--mem", "2G", GUEST,
                                 "info", "--console=com1")
        if not doc["coalesced_io"]["enabled"]:
            self.skipTest(f"coalesced PIO is off here: {doc['coalesced_io']['off_why']}")
        self.assertLessEqual(doc["exits"]["total"], 100, doc["exits"]["by_kind"])
        self.assertEqual(doc["serial"]["bytes_out"], len(res.stdout.encode()))
        self.assertGreater(doc["serial"]["coalesced_writes"], 0)
        self.assertEqual(doc["buffer_console"]["writes"], 0)

    def check_big_output(self, *guest_args):
        nbytes = 65536
        res, doc = self.run_json("print.json", "--mem", "64M", GUEST, "selftest",
                                 "--kind=print", f"--bytes={nbytes}", *guest_args)
        # Byte for byte: nothing lost when the ring fills, nothing reordered.
        self.assertEqual(res.stdout, pattern(nbytes))
        self.assertEqual(doc["serial"]["bytes_out"], nbytes)
        return doc

    def test_64k_of_output_arrive_byte_for_byte(self):
        doc = self.check_big_output()
        # One buffer-console write per system call (chunks of 1 to 4096
        # bytes, crash.c), none through COM1.
        self.assertEqual(doc["buffer_console"]["bytes"], 65536)
        self.assertGreater(doc["buffer_console"]["writes"], 65536 // 4096)
        self.assertEqual(doc["serial"]["coalesced_writes"], 0)

    def test_64k_of_output_through_com1_arrive_byte_for_byte(self):
        doc = self.check_big_output("--console=com1")
        self.assertEqual(doc["buffer_console"]["writes"], 0)
        if doc["coalesced_io"]["enabled"]:
            # Far more than the ring holds: most bytes came through it.
            self.assertGreater(doc["coalesced_io"]["replayed"], doc["coalesced_io"]["ring_entries"])
            self.assertEqual(doc["serial"]["coalesced_writes"], doc["coalesced_io"]["replayed"])

    def test_output_is_the_same_through_either_console(self):
        # Ring 3's output, ring 0's crash report after ring 3's buffered
        # output, and a help text: byte for byte the same through the buffer
        # console and through COM1.
        runs = (("selftest", "--kind=print", "--bytes=20000"),
                ("selftest", "--kind=kernel-page-fault", "--bytes-first=3000"),
                ("help", "memory"))
        for args in runs:
            with self.subTest(args=args):
                port = run_vmm("--mem", "64M", GUEST, *args, timeout=T)
                com1 = run_vmm("--mem", "64M", GUEST, *args, "--console=com1", timeout=T)
                self.assertEqual(port.returncode, com1.returncode, port.stderr + com1.stderr)
                self.assertGreater(len(port.stdout), 1000)
                self.assertEqual(port.stdout, com1.stdout)

    def test_timestamps_stamp_buffer_console_lines_as_com1_lines(self):
        for args in ((), ("--console=com1",)):
            with self.subTest(args=args):
                res = run_vmm("--timestamps", "--mem", "64M", GUEST, "selftest",
                              "--kind=print", "--bytes=1000", *args, timeout=T)
                self.assertEqual(res.returncode, 0, res.stderr)
                for line in res.stdout.splitlines():
                    self.assertRegex(line, r"^\[ *\d+\.\d{6}\] ")
                lines = [line.split("] ", 1)[1] for line in res.stdout.splitlines(keepends=True)]
                self.assertEqual("".join(lines), pattern(1000))

    def test_output_through_stdout_arrives_byte_for_byte(self):
        # Appends of 1 byte to well past stdout's 16 KiB buffer (which then
        # goes out directly): every byte once, in order, written at exit.
        nbytes = 200000
        res = run_vmm("--mem", "64M", GUEST, "selftest", "--kind=print", "--print-with=stdout",
                      f"--bytes={nbytes}", timeout=T)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, pattern(nbytes))

    def test_buffered_output_comes_before_a_crash_report(self):
        # Output still in stdout's buffer when ring 3 faults (ring 0 writes
        # it out before its report) or makes the system call that crashes
        # (written out before the call).
        nbytes = 50000
        for kind, ring in (("user-page-fault", 3), ("kernel-page-fault", 0)):
            with self.subTest(kind=kind):
                res = run_vmm("--mem", "64M", GUEST, "selftest", f"--kind={kind}",
                              f"--bytes-first={nbytes}", timeout=T)
                self.assertEqual(res.returncode, 4, res.stderr)
                head = pattern(nbytes) + f"vmbench: failing on purpose: {kind}\n"
                self.assertEqual(res.stdout[:len(head)], head)
                self.assertRegex(res.stdout[len(head):],
                                 rf"^vmbench: exception #PF page fault .* in ring {ring}, ")

    def test_more_bytes_than_the_guest_holds_is_a_usage_error(self):
        # bytes + 1 once wrapped to 0 and the pattern was written past a
        # zero-size buffer.
        res = guest_runner.run_vmm("--mem", "64M", GUEST, "selftest", "--kind=print",
                                   "--bytes=18446744073709551615", timeout=T)
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        self.assertIn("FATAL: --bytes=18446744073709551615: more than the guest's free memory",
                      res.stdout)

    def test_timestamps_turn_the_ring_off_and_lose_nothing(self):
        res, doc = self.run_json("stamps.json", "--timestamps", "--mem", "64M", GUEST,
                                 "selftest", "--kind=print", "--bytes=1000",
                                 "--console=com1")
        self.assertFalse(doc["coalesced_io"]["enabled"])
        self.assertIn("--timestamps", doc["coalesced_io"]["off_why"])
        self.assertEqual(doc["serial"]["coalesced_writes"], 0)
        lines = [line.split("] ", 1)[1] for line in res.stdout.splitlines(keepends=True)]
        self.assertEqual("".join(lines), pattern(1000))


if __name__ == "__main__":
    unittest.main()
