"""vmm --disk: every refusal is one clear line with status 125, and a disk
the guest uses shows up in --stats and --json; a readonly disk serves
reads and is offered as VIRTIO_BLK_F_RO, and the image does not change (that
writes to it fail with VIRTIO_BLK_S_IOERR is tests/unit/test_virtio_blk.c's).  Runs in the same runner (nested-KVM VM session) as the other
test_vmm*.py files; the guest's fileio test itself is tests/integration/
test_fileio.py."""

import json
import os
import re
import unittest

import guest_runner
from guest_runner import GUEST, run_vmm

# Host-side limit; each vmm run also has its own --timeout (VMM_LIMIT).  Both
# only guard against a hang (each run takes seconds): generous, so that a
# slow or loaded machine does not fail a test for nothing.
T = guest_runner.HANG_GUARD_S
VMM_LIMIT = 300
SMALL = ["fileio", "--file-num=1", "--file-total-size=256K"]


class DiskRefusals(unittest.TestCase):
    def scratch(self, name, data):
        path = guest_runner.kvm().scratch_dir / name
        path.write_bytes(data)
        return path

    def assert_refused(self, res, message):
        self.assertEqual(res.returncode, 125, res.stderr)
        self.assertRegex(res.stderr, message)
        self.assertEqual(len(res.stderr.strip().splitlines()), 1, "one line:\n" + res.stderr)
        self.assertNotIn("Sanitizer", res.stderr)

    def test_refusals(self):
        disk = self.scratch("ok.img", bytes(1 << 20))
        qcow = self.scratch("image.qcow2", b"QFI\xfb\x00\x00\x00\x03" + bytes(4096))
        cases = [
            (["--disk", "/no/such.img"], r"^vmm: cannot open disk '/no/such.img': No such file"),
            (["--disk", qcow], r"is a qcow2 image; .*qemu-img convert -O raw"),
            (["--disk", f"{disk},format=qcow2"], r"qcow2 images are not supported; convert "
                                                 r"to raw with: qemu-img convert -O raw"),
            (["--disk", f"{disk},fast"], r"unknown disk option 'fast'"),
            (["--disk", f"{disk},poll=0"], r"poll=0: expected off or a number of microseconds "
                                          r"from 1 to 1000000"),
            (["--disk", f"{disk},poll=fast"], r"poll=fast: expected off or a number"),
            (["--disk", guest_runner.kvm().scratch_dir], r"not a regular file or block device"),
            (["--disk", self.scratch("tiny.img", b"x" * 100)], r"smaller than one 512-byte"),
        ]
        for args, message in cases:
            with self.subTest(args=[str(a) for a in args]):
                self.assert_refused(run_vmm(*args, GUEST, "info", timeout=T), message)


# Each refusal below comes before vmm opens /dev/kvm and takes well under a
# second; this limit guards only against the hang the FIFO test is about
# (vmm blocked in open()), so that an old vmm fails the test in minutes.
OPEN_HANG_GUARD_S = 120


class DiskInputs(unittest.TestCase):
    """Issue 14: a disk path that would block, a read-only block device, and
    an image used twice (in one vmm, or by two processes) are refused at
    start-up with one line."""

    def assert_one_line(self, stderr, message):
        self.assertRegex(stderr, message)
        self.assertEqual(len(stderr.strip().splitlines()), 1, "one line:\n" + stderr)
        self.assertNotIn("Sanitizer", stderr)

    def image(self, name):
        path = guest_runner.kvm().scratch_dir / name
        path.write_bytes(bytes(1 << 20))
        return path

    def test_fifo_disk_is_refused_at_once(self):
        # Created where vmm runs (the nested VM's scratch may not hold FIFOs).
        # open(O_RDONLY) on a FIFO waits for a writer: vmm hung there forever,
        # --timeout 2 notwithstanding.
        for opts in (",readonly", ""):
            with self.subTest(opts=opts):
                res = guest_runner.run_sh(
                    f"d=$(mktemp -d) && mkfifo $d/fifo || exit 99\n"
                    f"{guest_runner.VMM} --timeout 2 --disk $d/fifo{opts} {GUEST} info\n"
                    f"status=$?; rm -r $d; exit $status\n", timeout=OPEN_HANG_GUARD_S)
                self.assertEqual(res.returncode, 125, res.stderr)
                self.assert_one_line(res.stderr, r"^vmm: disk '.*/fifo' is not a regular file "
                                                 r"or block device \(it is a FIFO\)$")

    def test_character_device_is_refused(self):
        res = run_vmm("--disk", "/dev/null", GUEST, "info", timeout=OPEN_HANG_GUARD_S)
        self.assertEqual(res.returncode, 125, res.stderr)
        self.assert_one_line(res.stderr, r"'/dev/null' is not a regular file or block device "
                                         r"\(it is a character device\)")

    def test_same_image_twice(self):
        disk = self.image("twice.img")
        for a, b in (("", ""), (",readonly", ""), ("", ",readonly")):
            with self.subTest(first=a, second=b):
                res = run_vmm("--disk", f"{disk}{a}", "--disk", f"{disk}{b}", GUEST, "info",
                              timeout=T)
                self.assertEqual(res.returncode, 125, res.stderr)
                self.assert_one_line(res.stderr, rf"^vmm: disk '{disk}' is given twice: an image "
                                                 r"can be one writable disk, or any number of "
                                                 r"readonly ones$")
        # Readers share an image.
        res = run_vmm("--timeout", VMM_LIMIT, "--disk", f"{disk},readonly", "--disk",
                      f"{disk},readonly", GUEST, "info", timeout=T)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def test_image_in_use_by_another_vmm(self):
        disk = self.image("shared.img")
        out = guest_runner.kvm().scratch_dir / "holder.out"
        vmm = guest_runner.VMM
        # The first vmm holds the image (a writable disk) while its guest
        # hangs; the others try it meanwhile, then the first is stopped.
        script = (f"{vmm} --timeout {VMM_LIMIT} --disk {disk} {GUEST} selftest --kind=hang "
                  f"> {out} 2>&1 & pid=$!\n"
                  f"until grep -q 'failing on purpose' {out}; do\n"
                  f"  kill -0 $pid 2>/dev/null || exit 98; sleep 0.05\n"
                  f"done\n"
                  f"echo holder=$pid\n"
                  f"{vmm} --disk {disk} {GUEST} info 2>&1; echo writer=$?\n"
                  f"{vmm} --disk {disk},readonly {GUEST} info 2>&1; echo reader=$?\n"
                  f"{vmm} --timeout {VMM_LIMIT} --disk {disk},locking=off {GUEST} info "
                  f">/dev/null 2>&1; echo unlocked=$?\n"
                  f"kill $pid; wait $pid\n")
        res = guest_runner.run_sh(script, timeout=T)
        self.assertNotEqual(res.returncode, 98, out.read_text())
        holder = re.search(r"holder=(\d+)", res.stdout).group(1)
        refusal = (rf"vmm: disk '{disk}' is in use by another process \(pid {holder}, vmm\) "
                   r"that holds a write lock on it\n")
        self.assertRegex(res.stdout, refusal + "writer=125")
        self.assertRegex(res.stdout, refusal + "reader=125")
        self.assertIn("unlocked=0", res.stdout, "locking=off opens it all the same")
        self.assertNotIn("Sanitizer", res.stdout)

    def test_readonly_block_device(self):
        # A loop device attached read-only (losetup -r): BLKROGET says so.
        # Writable, every write failed with EPERM in the guest; now vmm
        # refuses it at start-up as it refuses a read-only file.
        img = self.image("loop.img")
        script = (f"dev=$(losetup -f --show -r {img} 2>&1) || {{ echo \"$dev\"; exit 77; }}\n"
                  f"echo dev=$dev\n"
                  f"{guest_runner.VMM} --disk $dev {GUEST} info 2>&1; echo writable=$?\n"
                  f"{guest_runner.VMM} --timeout {VMM_LIMIT} --disk $dev,readonly {GUEST} info "
                  f">/dev/null 2>&1; echo readonly=$?\n"
                  f"losetup -d $dev\n")
        res = guest_runner.run_sh(script, timeout=T)
        if res.returncode == 77:
            self.skipTest("no read-only loop device on this machine: " + res.stdout.strip())
        dev = re.search(r"dev=(\S+)", res.stdout).group(1)
        self.assertRegex(res.stdout, rf"vmm: cannot open disk '{dev}' for writing: it is a "
                                     r"read-only block device \(add ',readonly' to use it "
                                     r"read-only\)\nwritable=125")
        self.assertIn("readonly=0", res.stdout)
        self.assertNotIn("Sanitizer", res.stdout)


class DiskInUse(unittest.TestCase):
    def image(self, name, size=1 << 20, fill=b"\x00"):
        path = guest_runner.kvm().scratch_dir / name
        path.write_bytes(fill * size)
        return path

    def test_stats_and_json_count_the_requests(self):
        disk = self.image("counted.img")
        report = guest_runner.kvm().scratch_dir / "disk.json"
        res = run_vmm("--stats", "--json", report, "--timeout", VMM_LIMIT, "--disk", disk, GUEST,
                      *SMALL, "prepare", timeout=T)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("Sanitizer", res.stderr)
        line = re.search(r"vmm: disk 0 \((.*)\): (\d+) reads .* (\d+) writes .* (\d+) errors",
                         res.stderr)
        self.assertIsNotNone(line, res.stderr)
        self.assertEqual(line.group(1), str(disk))
        self.assertGreater(int(line.group(3)), 0)
        self.assertEqual(int(line.group(4)), 0)
        self.assertIn("pci-config", res.stderr)    # the guest's PCI scan, by name
        doc = json.loads(report.read_text())
        d = doc["disks"][0]
        self.assertEqual(d["path"], str(disk))
        self.assertGreaterEqual(d["write_bytes"], 256 * 1024)
        self.assertEqual(d["errors"], 0)
        self.assertEqual(d["bad_chains"], 0)
        self.assertIn("pci-config", doc["exits"]["by_kind"])

    def test_readonly_disk(self):
        disk = self.image("ro.img")
        res = run_vmm("--timeout", VMM_LIMIT, "--disk", disk, GUEST, *SMALL, "prepare", timeout=T)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        before = disk.read_bytes()
        report = guest_runner.kvm().scratch_dir / "ro.json"
        # Reads work; the guest sees VIRTIO_BLK_F_RO.
        res = run_vmm("--json", report, "--timeout", VMM_LIMIT, "--disk", f"{disk},readonly", GUEST,
                      *SMALL, "--file-test-mode=rndrd", "--time=1", "run", timeout=T)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("Sanitizer", res.stderr)
        d = json.loads(report.read_text())["disks"][0]
        self.assertGreater(d["reads"], 0)
        self.assertEqual((d["writes"], d["write_bytes"], d["errors"]), (0, 0, 0))
        # Writing is refused by the guest (its own status, not vmm's).
        res = run_vmm("--timeout", VMM_LIMIT, "--disk", f"{disk},readonly", GUEST, *SMALL, "prepare",
                      timeout=T)
        self.assertNotIn("Sanitizer", res.stderr)
        self.assertNotEqual(res.returncode, 0, res.stdout)
        self.assertLess(res.returncode, 120, res.stdout + res.stderr)
        self.assertIn("read-only", res.stdout)
        self.assertEqual(disk.read_bytes(), before)


class HostErrors(unittest.TestCase):
    """Host I/O errors reach the guest as VIRTIO_BLK_S_IOERR: the guest says
    which request failed and why, and exits with its own failure status;
    vmm neither crashes nor hangs, and counts the errors."""

    def disk_error_line(self, stderr):
        m = re.search(r"vmm: disk 0 \(.*\): .* (\d+) errors", stderr)
        self.assertIsNotNone(m, stderr)
        return int(m.group(1))

    def test_backing_file_on_a_full_tmpfs(self):
        if guest_runner.kvm().mode == "host" and os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        mnt = guest_runner.kvm().scratch_dir / "full"
        # An 8 MiB sparse image on a 1 MiB tmpfs: prepare's 4 MiB of writes
        # run out of space after about 1 MiB (ENOSPC on the host).
        script = (f"mkdir -p {mnt} && mount -t tmpfs -o size=1m vmbench-full {mnt} || exit 99\n"
                  f"truncate -s 8M {mnt}/disk.img\n"
                  f"{guest_runner.VMM} --stats --timeout {VMM_LIMIT} --disk {mnt}/disk.img {GUEST} "
                  f"fileio --file-num=1 --file-total-size=4M prepare\n"
                  f"status=$?\numount {mnt}\nexit $status\n")
        res = guest_runner.run_sh(script, timeout=T)
        self.assertNotEqual(res.returncode, 99, "could not mount a tmpfs: " + res.stderr)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertRegex(res.stdout, r"FATAL: Failed to write file! file: 0 pos: \d+ "
                                     r"\(disk .*I/O error\)")
        self.assertNotIn("Sanitizer", res.stderr)
        self.assertGreater(self.disk_error_line(res.stderr), 0)

    def test_file_truncated_under_the_guest(self):
        disk = guest_runner.kvm().scratch_dir / "shrinking.img"
        disk.write_bytes(bytes(1 << 20))
        res = run_vmm("--timeout", VMM_LIMIT, "--disk", disk, GUEST, *SMALL, "prepare", timeout=T)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        out = guest_runner.kvm().scratch_dir / "shrinking.out"
        # Random reads for up to 200 s; once the guest's threads run, the
        # host cuts the file to nothing: reads past its end are IOERR.  The
        # 200 s only need to outlast the host's reaction (a tenth of a second
        # or so), on a machine of any speed; the wait for the threads (up to
        # 250 s) only guards against a guest that never starts them.
        script = (f"{guest_runner.VMM} --stats --timeout {VMM_LIMIT} --disk {disk} {GUEST} "
                  f"{' '.join(SMALL)} --file-test-mode=rndrd --time=200 run > {out} 2>&1 &\n"
                  f"pid=$!\n"
                  f"n=0; until grep -q 'Threads started' {out}; do\n"
                  f"  n=$((n+1)); [ $n -gt 2500 ] && {{ kill $pid; exit 98; }}; sleep 0.1\n"
                  f"done\n"
                  f"truncate -s 0 {disk}\n"
                  f"wait $pid\n")
        res = guest_runner.run_sh(script, timeout=T)
        text = out.read_text()
        self.assertNotEqual(res.returncode, 98, "the guest never started its threads:\n" + text)
        self.assertEqual(res.returncode, 1, text)
        self.assertRegex(text, r"FATAL: Failed to read file! file: 0 pos: \d+ \(disk .*I/O error\)")
        self.assertNotIn("Sanitizer", text)
        self.assertGreater(self.disk_error_line(text), 0)


if __name__ == "__main__":
    unittest.main()
