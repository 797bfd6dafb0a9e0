"""The guest's fileio test: sysbench 1.0.20's fileio on a virtio-blk-pci disk,
the driver's two completion modes, the refusals, and the bytes on the disk
(sysbench's --validate block format: random bytes, crc32, offset in the
file), checked from the host side both ways.

Each platform (a Guest subclass) boots build/guest.elf with a raw image as
its virtio-blk disk; FileioTests runs on each (one TestCase per platform):
QEMU, vmm (whose I/O thread polls adaptively where it has a CPU of its
own), and vmm with a fixed polling window (--disk FILE,poll), which tells
the driver not to notify.
The files are disk regions: file i at byte i * stride (stride: the file
size rounded up to the block size), the layout block in the last 4 KiB of
the disk (guest/workloads/fileio.c)."""

import json
import shutil
import tempfile
import unittest
from pathlib import Path

import guest_runner
from guest_runner import GUEST, run_qemu_guest, run_vmm

from vmbench import results, sysbench
from vmbench.fileio_image import LAYOUT_SIZE, check_block, layout_block, make_block, read_layout

T = 240
MIB = 1 << 20
# I/O-thread wake-ups of a `run` boot that its io block does not count:
# the layout block's read and vmm's kick when the driver is ready.
WAKEUPS_OUTSIDE_THE_RUN = 2


# ---- the on-disk format, from the host's side: vmbench.fileio_image ------------------

# The small layout the tests use: 4 files of 1 MiB, 16 KiB blocks.
NUM, TOTAL, BLOCK = 4, 4 * MIB, 16384
LAYOUT = [f"--file-num={NUM}", f"--file-total-size={TOTAL}"]


def write_image(path, size, num=NUM, total=TOTAL, block=BLOCK, seed=1):
    """An image as the guest's `prepare --validate=on` would leave it."""
    import random
    rng = random.Random(seed)
    file_size = total // num
    with open(path, "wb") as f:
        f.truncate(size)
        for i in range(num):
            f.seek(i * file_size)
            for off in range(0, file_size, block):
                f.write(make_block(rng, block, off))
        f.seek(size - LAYOUT_SIZE)
        f.write(layout_block(num, file_size, block, flags=1))


# ---- platforms ----------------------------------------------------------------------

class Guest:
    """One way of booting the guest with a disk; FileioTests runs on each."""

    def scratch(self):
        """A directory for disk images that the guest's runner can read."""
        raise NotImplementedError

    def run(self, args, disk=None, smp=2, mem="256M"):
        """Boots the guest with `args` and `disk` (a raw image or None);
        returns (guest status, stdout)."""
        raise NotImplementedError


class UnderQemu(Guest):
    def scratch(self):
        return Path(tempfile.mkdtemp(prefix="vmbench-fileio-", dir=guest_runner.BUILD))

    def run(self, args, disk=None, smp=2, mem="256M", machine="pc", device="", drive=""):
        extra = ("-M", machine)
        if disk is not None:
            extra += ("-drive", f"file={disk},format=raw,if=none,id=d0{',' if drive else ''}{drive}",
                      "-device", f"virtio-blk-pci,drive=d0{',' if device else ''}{device}")
        status, out, _ = run_qemu_guest(" ".join(args), smp=smp, mem=mem, timeout=T, extra=extra)
        return status, out


class UnderVmm(Guest):
    """vmm (the sanitizer build), here or in the nested-KVM VM: images live
    in the runner's scratch directory, which the VM shares.  disk_options:
    words after --disk FILE (",poll")."""

    def __init__(self, disk_options=""):
        self.disk_options = disk_options

    def scratch(self):
        return Path(tempfile.mkdtemp(prefix="fileio-", dir=guest_runner.kvm().scratch_dir))

    def run(self, args, disk=None, smp=2, mem="256M"):
        disk_args = ("--disk", f"{disk}{self.disk_options}") if disk is not None else ()
        res = run_vmm("--smp", smp, "--mem", mem, "--timeout", 200, *disk_args, GUEST, *args,
                      timeout=T)
        assert "Sanitizer" not in res.stderr, res.stderr
        return res.returncode, res.stdout


# ---- the tests ------------------------------------------------------------------------

class FileioTests:
    """Mixed into one TestCase per platform."""

    platform: Guest

    def setUp(self):
        self.dir = self.platform.scratch()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def image(self, name, size=8 * MIB):
        path = self.dir / name
        with open(path, "wb") as f:
            f.truncate(size)
        return path

    def run_ok(self, args, disk, **kw):
        status, out = self.platform.run(args, disk, **kw)
        self.assertEqual(status, 0, out)
        return out

    def report(self, out):
        """The run's report, read by the parser native sysbench goes through, and
        its VMBENCH-RESULT line; the two must agree."""
        text = out[out.index("Running the test with following options:"):]
        parsed, result = results.check_guest_output(text)
        self.assertEqual(parsed["test"], "fileio")
        return parsed, result

    def test_every_mode_after_prepare_and_the_bytes_on_disk(self):
        disk = self.image("modes.img")
        out = self.run_ok(["fileio", *LAYOUT, "--validate=on", "prepare"], disk)
        prep = sysbench.parse_prepare(out)
        self.assertEqual((prep["files_created"], prep["bytes_written"]), (NUM, TOTAL))
        self.assertEqual(prep["file_size_bytes"], TOTAL // NUM)
        self.assertEqual(read_layout(disk), {"version": 1, "num": NUM, "file_size": TOTAL // NUM,
                                             "stride": TOTAL // NUM, "block": BLOCK,
                                             "validate": True, "generations": False})
        self.assert_image_valid(disk)
        # Reads check every block they read; writes keep the format, so the
        # image is still valid after all of them.  A count of events, not a
        # time: the checks below need a few hundred requests (the periodic
        # fsyncs come every 100, the read/write ratio settles), which a slow
        # machine may not reach in a second.
        for mode in ("seqrd", "rndrd", "rndrw", "rndwr", "seqrewr", "seqwr"):
            with self.subTest(mode=mode):
                out = self.run_ok(["fileio", *LAYOUT, "--validate=on", f"--file-test-mode={mode}",
                                   "--events=400", "--time=0", "--threads=2", "run"], disk)
                parsed, result = self.report(out)
                self.assertEqual(parsed["options"]["file-test-mode"], mode)
                io, m = result["io"], result["metrics"]
                self.assertEqual(parsed["events"], result["events"])
                self.assertGreater(result["events"], 0)
                reads, writes, fsyncs = io["read_ops"], io["write_ops"], io["fsync_ops"]
                if mode in ("seqrd", "rndrd"):
                    self.assertEqual((writes, fsyncs), (0, 0))
                    self.assertEqual(reads, result["events"])
                    self.assertEqual(m["written_mib_per_s"], 0)
                elif mode == "rndrw":
                    self.assertGreater(writes, 0)
                    # sysbench's choice: a read while (reads+1)/(writes+1) < 1.5
                    self.assertAlmostEqual((reads + 1) / (writes + 1), 1.5, delta=0.1)
                else:
                    self.assertEqual(reads, 0)
                    # fsync every 100 requests (one event per file), and each of
                    # the 2 threads syncs the 4 files at the end.
                    self.assertGreater(fsyncs, NUM * 2)
                if mode != "seqrd" and mode != "rndrd":
                    self.assertEqual(reads + writes + fsyncs - 2 * NUM, result["events"])
                self.assertEqual(io["bytes_read"] + io["bytes_written"],
                                 (reads + writes) * BLOCK)
                self.assertEqual(io["completion"], "poll")
                self.assertEqual(io["irq_waits"], 0)
        self.assert_image_valid(disk)

    def assert_image_valid(self, disk):
        """Every block of every file is a sysbench --validate block for its offset."""
        layout = read_layout(disk)
        bad = []
        with open(disk, "rb") as f:
            for i in range(layout["num"]):
                f.seek(i * layout["stride"])
                for off in range(0, layout["file_size"], layout["block"]):
                    why = check_block(f.read(layout["block"]), off)
                    if why:
                        bad.append(f"file {i} block {off}: {why}")
        self.assertEqual(bad[:5], [], f"{len(bad)} bad blocks")

    def test_prepare_without_validate_writes_zeros_and_cleanup_clears_the_layout(self):
        disk = self.image("zeros.img")
        with open(disk, "r+b") as f:       # something for prepare to overwrite
            f.write(b"\xff" * TOTAL)
        status, out = self.platform.run(["fileio", *LAYOUT, "--file-test-mode=rndrd", "prepare",
                                         "cleanup", "run"], disk)
        self.assertIn("Removing test files...", out)
        # run after cleanup: sysbench's "Did you forget to run the prepare step?"
        self.assertEqual(status, 2, out)
        self.assertIn("Did you forget to run the prepare step?", out)
        data = disk.read_bytes()
        self.assertEqual(data[:TOTAL], bytes(TOTAL))
        self.assertIsNone(read_layout(disk))

    def test_prepare_twice_reuses_the_files(self):
        disk = self.image("reuse.img")
        out = self.run_ok(["fileio", *LAYOUT, "prepare", "prepare"], disk)
        second = out[out.index("vmbench guest", 1):]
        self.assertEqual(second.count("Reusing existing file test_file."), NUM)
        self.assertIn("No bytes written.", second)

    def test_the_guest_verifies_a_host_written_image(self):
        disk = self.dir / "host.img"
        write_image(disk, 8 * MIB)
        for args in (["--file-test-mode=seqrd", "--events=256", "--time=0"],
                     ["--file-test-mode=rndrd", "--time=1", "--threads=3"]):
            out = self.run_ok(["fileio", *LAYOUT, "--validate=on", *args, "run"], disk)
            _, result = self.report(out)
            self.assertGreater(result["io"]["read_ops"], 0)
        # One corrupt byte in file 1's third block, then two blocks swapped.
        with open(disk, "r+b") as f:
            f.seek(TOTAL // NUM + 2 * BLOCK + 100)
            f.write(bytes([f.read(1)[0] ^ 1]))
        status, out = self.platform.run(["fileio", *LAYOUT, "--validate=on",
                                         "--file-test-mode=seqrd", "--time=0",
                                         f"--events={NUM * 64}", "run"], disk)
        self.assertEqual(status, 1, out)
        self.assertIn("FATAL: Checksum mismatch in block with offset: 32768", out)
        self.assertIn("FATAL: Validation failed on file 1, block offset 32768", out)
        write_image(disk, 8 * MIB)
        with open(disk, "r+b") as f:
            a, b = f.read(BLOCK), f.read(BLOCK)
            f.seek(0)
            f.write(b + a)
        status, out = self.platform.run(["fileio", *LAYOUT, "--validate=on",
                                         "--file-test-mode=seqrd", "--events=4", "--time=0",
                                         "run"], disk)
        self.assertEqual(status, 1, out)
        self.assertIn("FATAL:    Actual offset: 0    Stored offset: 16384", out)

    def test_irq_completions_with_more_threads_than_vcpus(self):
        disk = self.dir / "irq.img"
        write_image(disk, 8 * MIB)
        out = self.run_ok(["fileio", *LAYOUT, "--validate=on", "--file-test-mode=rndrw",
                           "--file-completion=irq", "--threads=3", "--time=1", "run"], disk)
        _, result = self.report(out)
        io = result["io"]
        self.assertEqual(io["completion"], "irq")
        self.assertGreater(io["interrupts"], 0)
        self.assertGreater(io["irq_waits"], 0)
        self.assertGreater(io["write_ops"], 0)
        # Threads outnumber vCPUs: none spins (it would hold a sibling's
        # vCPU), so a request is caught without sleeping only when another
        # thread reaped it first; the rest asked for an interrupt.
        self.assertEqual(io["irq_spun"] + io["irq_armed"], io["requests"], io)
        self.assertEqual(result["options"]["file-completion"], "irq")
        # Prepare takes the same path.
        disk = self.image("irq-prepare.img")
        self.run_ok(["fileio", *LAYOUT, "--file-completion=irq", "--validate=on", "prepare"],
                    disk, smp=1)
        self.assert_image_valid(disk)

    def test_irq_waiter_spins_before_it_asks_for_an_interrupt(self):
        disk = self.dir / "hybrid.img"
        write_image(disk, 8 * MIB)
        out = self.run_ok(["fileio", *LAYOUT, "--file-test-mode=rndrd", "--file-completion=irq",
                           "--events=300", "--time=0", "run"], disk)
        _, result = self.report(out)
        io = result["io"]
        # Each request either completed while its thread spun, or asked for
        # an interrupt and slept; how many of each depends on the disk's
        # speed, not asserted.  Only a request that asked can get an
        # interrupt (one: the thread takes the request back when it wakes),
        # plus at most one late from the layout block's read before the run.
        self.assertEqual(io["irq_spun"] + io["irq_armed"], io["requests"], io)
        self.assertLessEqual(io["interrupts"], io["irq_armed"] + 1, io)

    def test_polling_threads_share_one_vcpu(self):
        disk = self.dir / "share.img"
        write_image(disk, 8 * MIB)
        # A fixed amount of work, not --time=1: on a host busy with other
        # work one second may be a few slices of the vCPU, too few for the
        # threads to take turns in.
        out = self.run_ok(["fileio", *LAYOUT, "--file-test-mode=rndrd", "--threads=4",
                           "--events=800", "--time=0", "run"], disk, smp=1)
        parsed, result = self.report(out)
        io = result["io"]
        self.assertEqual(parsed["threads"], 4)
        self.assertEqual(io["irq_waits"], 0)
        # All four ran on the one vCPU and the run got all its work done.
        # How they shared it -- yields while waiting, timer slices, how
        # evenly -- depends on how fast the disk answers and how much CPU
        # the host gives the vCPU and the I/O thread, so it is not asserted.
        self.assertEqual(result["events"], 800)
        self.assertEqual(result["fairness"]["events_avg"], 200)
        self.assertGreaterEqual(result["sched"]["context_switches"], 4)

    def test_fsync_options_and_merged_requests(self):
        disk = self.dir / "fsync.img"
        write_image(disk, 8 * MIB)
        # --file-fsync-all: a FLUSH inside every write event, not an event itself;
        # it turns off the periodic and the final fsyncs.
        out = self.run_ok(["fileio", *LAYOUT, "--file-test-mode=rndwr", "--file-fsync-all=on",
                           "--events=200", "--time=0", "run"], disk)
        parsed, result = self.report(out)
        io = result["io"]
        self.assertEqual((result["events"], io["write_ops"], io["fsync_ops"]), (200, 200, 200))
        self.assertTrue(parsed["options"]["file-fsync-all"])
        self.assertEqual(parsed["options"]["file-fsync-freq"], 0)
        self.assertFalse(parsed["options"]["file-fsync-end"])
        # Every 10 requests with writes pending, one fsync event per file.
        out = self.run_ok(["fileio", *LAYOUT, "--file-test-mode=rndwr", "--file-fsync-freq=10",
                           "--file-fsync-end=off", "--events=140", "--time=0", "run"], disk)
        _, result = self.report(out)
        self.assertEqual((result["io"]["write_ops"], result["io"]["fsync_ops"]), (100, 40))
        # Merged sequential requests: 4 blocks each; extra flags accepted.
        out = self.run_ok(["fileio", *LAYOUT, "--file-test-mode=seqrewr", "--file-merged-requests=4",
                           "--file-fsync-freq=0", "--file-fsync-end=off",
                           "--file-extra-flags=direct", "--events=32", "--time=0", "run"], disk)
        parsed, result = self.report(out)
        self.assertEqual(parsed["options"]["file-merged-requests"], 4)
        self.assertEqual(parsed["options"]["file-extra-flags"], "direct")
        self.assertEqual(result["io"]["bytes_written"], 32 * 4 * BLOCK)

    def test_refusals_write_nothing(self):
        # No disk at all.
        status, out = self.platform.run(["fileio", *LAYOUT, "prepare"], None)
        self.assertEqual(status, 3, out)
        self.assertEqual([ln for ln in out.splitlines() if ln.strip()],
                         ["vmbench: fileio needs a disk: no virtio-blk-pci device found "
                          "(vmm --disk FILE, or QEMU -drive file=FILE,format=raw,if=none,id=d0 "
                          "-device virtio-blk-pci,drive=d0)"])
        # A disk smaller than the files and the layout block.
        disk = self.dir / "small.img"
        with open(disk, "wb") as f:
            f.write(b"\xa5" * (4 * MIB))
        status, out = self.platform.run(["fileio", *LAYOUT, "prepare"], disk)
        self.assertEqual(status, 3, out)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, out)
        self.assertRegex(lines[0], r"^vmbench: the disk \(virtio-blk at [0-9a-f:.]+\) has 4194304 "
                                   r"bytes; fileio with --file-num=4 --file-total-size=4194304 "
                                   r"needs 4198400 ")
        self.assertEqual(disk.read_bytes(), b"\xa5" * (4 * MIB))
        # A layout other than the prepared one.
        disk = self.dir / "other.img"
        write_image(disk, 8 * MIB)
        status, out = self.platform.run(["fileio", "--file-num=2", f"--file-total-size={TOTAL}",
                                         "--file-test-mode=rndrd", "run"], disk)
        self.assertEqual(status, 2, out)
        self.assertIn("FATAL: the disk was prepared with --file-num=4 with files of 1048576 bytes",
                      out)
        status, out = self.platform.run(["fileio", *LAYOUT, "run"], disk)
        self.assertEqual(status, 2, out)
        self.assertIn("FATAL: Missing required argument: --file-test-mode", out)
        status, out = self.platform.run(["fileio", *LAYOUT, "--file-test-mode=rndrd",
                                         "--file-io-mode=async", "run"], disk)
        self.assertEqual(status, 2, out)
        self.assertIn("--file-io-mode=async is not available in the guest", out)


class QemuFileio(FileioTests, unittest.TestCase):
    platform = UnderQemu()

    def test_device_flavours(self):
        """QEMU's default virtio-blk-pci is transitional (1af4:1001, the tests
        above); modern-only (1af4:1042) on pc and q35 works too; legacy-only
        is refused in one line."""
        disk = self.dir / "flavours.img"
        write_image(disk, 8 * MIB)
        args = ["fileio", *LAYOUT, "--validate=on", "--file-test-mode=rndrd", "--events=100",
                "--time=0", "run"]
        for machine in ("pc", "q35"):
            with self.subTest(machine=machine):
                status, out = self.platform.run(args, disk, machine=machine,
                                                device="disable-legacy=on")
                self.assertEqual(status, 0, out)
                self.assertEqual(self.report(out)[1]["io"]["read_ops"], 100)
        # A read-only disk (VIRTIO_BLK_F_RO) reads, and refuses prepare up front.
        status, out = self.platform.run(args, disk, drive="readonly=on")
        self.assertEqual(status, 0, out)
        status, out = self.platform.run(["fileio", *LAYOUT, "prepare"], disk, drive="readonly=on")
        self.assertEqual(status, 3, out)
        self.assertIn("is read-only: fileio's prepare, cleanup and write modes need a writable",
                      out)
        status, out = self.platform.run(args, disk, device="disable-modern=on")
        self.assertEqual(status, 3, out)
        self.assertRegex(out.strip(), r"^vmbench: virtio-blk at [0-9a-f:.]+: no VIRTIO 1.x "
                                      r"capabilities \(a legacy-only device[^\n]*$")


class VmmFileio(FileioTests, unittest.TestCase):
    """vmm's default: an adaptive polling window where the I/O thread has a
    CPU of its own (vmm/poll_window.h)."""
    platform = UnderVmm()

    def run_counted(self, name, events, *vmm_args, disk_words=""):
        """rndrd of `events` requests, one thread; (the guest's io block,
        vmm's --json disk)."""
        disk = self.dir / f"{name}.img"
        write_image(disk, 8 * MIB)
        report = self.dir / f"{name}.json"
        res = run_vmm("--json", report, "--timeout", 200, *vmm_args, "--disk",
                      f"{disk}{disk_words}", GUEST, "fileio", *LAYOUT, "--file-test-mode=rndrd",
                      f"--events={events}", "--time=0", "run", timeout=T)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("Sanitizer", res.stderr)
        _, result = self.report(res.stdout)
        io, d = result["io"], json.loads(report.read_text())["disks"][0]
        self.assertGreaterEqual(d["reads"], events)    # and the layout block
        self.assertEqual(io["notifies"] + io["notifies_skipped"], io["requests"])
        # A guest that polls its completions gets no interrupt, polled or not.
        self.assertEqual((d["interrupts"], io["interrupts"], io["irq_waits"]), (0, 0, 0))
        return io, d

    def assert_never_polled(self, io, d):
        """Every request came by doorbell: no poll window ever ran."""
        self.assertFalse(d["polling"], d)
        self.assertEqual((d["polled"], d["poll_window_ns"]), (0, 0), d)
        # Each wake-up is a doorbell at least (the eventfd adds them up):
        # the run's, the layout block's read and vmm's own kick at
        # DRIVER_OK (a guest's io block counts the run's alone).
        self.assertGreater(d["notifies"], 0, d)
        self.assertLessEqual(d["notifies"], io["notifies"] + WAKEUPS_OUTSIDE_THE_RUN, (d, io))

    def test_poll_off_takes_every_request_by_doorbell(self):
        io, d = self.run_counted("off", 300, disk_words=",poll=off")
        self.assertEqual(d["poll"], "off")
        self.assert_never_polled(io, d)

    def test_no_adaptive_polling_on_a_vcpus_cpu(self):
        # The I/O thread's one CPU is the vCPU's: polling would take the
        # time the vCPU needs to make the next request.
        io, d = self.run_counted("shared", 300, "--smp", 1, "--pin", 0, "--io-pin", 0)
        self.assertEqual(d["poll"], "adaptive")
        self.assert_never_polled(io, d)

    def test_adaptive_polling_with_a_cpu_of_its_own(self):
        from test_vmm_placement import online_cpus
        if not {0, 1} <= online_cpus():
            self.skipTest("needs host CPUs 0 and 1")
        io, d = self.run_counted("own", 2000, "--smp", 1, "--pin", 0, "--io-pin", 1)
        self.assertEqual((d["poll"], d["polling"]), ("adaptive", True), d)
        # Whether the window grows depends on how soon the guest's next
        # request comes (the host's speed): not asserted.  What it found
        # needed no doorbell, so no wake-up either.
        self.assertLessEqual(d["poll_window_ns"], d["poll_window_max_ns"])
        self.assertLessEqual(d["notifies"], io["notifies"] + WAKEUPS_OUTSIDE_THE_RUN, (d, io))


class VmmPollingFileio(FileioTests, unittest.TestCase):
    """Every test again with vmm's I/O thread polling the queue: prepare,
    validated reads and writes, fsyncs, irq completions."""
    platform = UnderVmm(",poll")

    def test_polled_requests_need_no_doorbell(self):
        EVENTS = 20000
        disk = self.dir / "polled.img"
        write_image(disk, 8 * MIB)
        report = self.dir / "vmm.json"
        # A window of a second: the thread is still polling whenever the
        # guest's next request comes.  Enough requests that the run
        # outlasts the 50 ms back-offs a preempted poller takes (one early
        # preemption once covered all of a 300-request run).
        res = run_vmm("--json", report, "--timeout", 200, "--disk", f"{disk},poll=1000000",
                      GUEST, "fileio", *LAYOUT, "--file-test-mode=rndrd", f"--events={EVENTS}",
                      "--time=0", "run", timeout=T)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("Sanitizer", res.stderr)
        _, result = self.report(res.stdout)
        d = json.loads(report.read_text())["disks"][0]
        self.assertGreaterEqual(d["reads"], EVENTS)    # and the layout block
        # The driver skipped the doorbell for what the poller found.
        self.assertGreater(result["io"]["notifies_skipped"], 0, result["io"])
        self.assertGreater(d["polled"], 0, d)
        self.assertEqual(result["io"]["notifies"] + result["io"]["notifies_skipped"],
                         result["io"]["requests"])


if __name__ == "__main__":
    unittest.main()
