"""Every bad input and every way a guest can fail: one clear line, a
distinct status, no crash and no hang."""

import json
import unittest

import guest_runner
from guest_runner import GUEST, run_sh, run_vmm

# Host-side limit; each vmm run below also has its own --timeout.  Both only
# guard against a hang (each run takes seconds): generous, so that a slow or
# loaded machine does not fail a test for nothing.
T = guest_runner.HANG_GUARD_S


class BadInput(unittest.TestCase):
    def assert_refused(self, res, message):
        self.assertEqual(res.returncode, 125, res.stderr)
        self.assertRegex(res.stderr, message)
        self.assertEqual(len(res.stderr.strip().splitlines()), 1, "one line:\n" + res.stderr)
        self.assertNotIn("Sanitizer", res.stderr)

    def scratch(self, name, data):
        path = guest_runner.kvm().scratch_dir / name
        path.write_bytes(data)
        return path

    def test_missing_guest_file(self):
        self.assert_refused(run_vmm("/no/such/guest.elf", timeout=T),
                            r"^vmm: cannot open guest '/no/such/guest.elf': No such file")

    def test_guest_is_a_directory(self):
        self.assert_refused(run_vmm(guest_runner.BUILD, timeout=T), r"is not a regular file")

    def test_fifo_guest_is_refused_at_once(self):
        # open() of a FIFO waits for a writer: vmm hung there forever.  The
        # FIFO is made where vmm runs; the host limit only guards that hang.
        res = run_sh(f"d=$(mktemp -d) && mkfifo $d/guest.elf || exit 99\n"
                     f"{guest_runner.VMM} --timeout 2 $d/guest.elf info\n"
                     f"status=$?; rm -r $d; exit $status\n", timeout=120)
        self.assert_refused(res, r"^vmm: guest '.*/guest.elf' is not a regular file "
                                 r"\(it is a FIFO\)$")

    def test_empty_guest(self):
        self.assert_refused(run_vmm(self.scratch("empty.elf", b""), timeout=T), r"is empty")

    def test_not_elf(self):
        self.assert_refused(run_vmm(self.scratch("text.elf", b"hello, world\n" * 100), timeout=T),
                            r"not a multiboot kernel \(neither an ELF file nor a multiboot header\)")

    def test_elf_without_multiboot_header(self):
        # Any ordinary program: an ELF file with no multiboot header.
        self.assert_refused(run_vmm("/bin/true", timeout=T),
                            r"ELF file has no multiboot header in its first 8 KiB")

    def test_truncated_guest(self):
        data = GUEST.read_bytes()[:6000]
        self.assert_refused(run_vmm(self.scratch("truncated.elf", data), timeout=T),
                            r"cannot boot .*: segment at 0x100000 extends past the end of the file")

    def test_image_errors_come_before_kvm_errors(self):
        # vmm creates the VM on a thread while it loads the guest: a bad
        # image must still be the error reported where KVM fails too, the
        # same as on a machine without /dev/kvm.  /dev/kvm is hidden in a
        # mount namespace of its own.
        bad = self.scratch("truncated-nokvm.elf", GUEST.read_bytes()[:6000])
        hide = ("command -v unshare >/dev/null || exit 99\n"
                "exec unshare --mount sh -c 'mount --bind /dev/null /dev/kvm && exec \"$@\"' "
                f"sh {guest_runner.VMM} --timeout 20 ")
        res = run_sh(hide + f"{bad} info\n", timeout=T)
        if res.returncode == 99:
            self.skipTest("no unshare(1) where vmm runs")
        self.assert_refused(res, r"cannot boot .*: segment at 0x100000 extends past the end")
        res = run_sh(hide + f"{GUEST} info\n", timeout=T)
        self.assertEqual(res.returncode, 125, res.stderr)
        self.assertRegex(res.stderr, r"KVM")
        self.assertNotIn("cannot boot", res.stderr)

    def test_bad_mem_values(self):
        for value, message in [("0", r"--mem '0': the guest needs at least 2M"),
                               ("lots", r"--mem 'lots': expected a size such as 512M or 2G"),
                               ("2X", r"--mem '2X': expected a size"),
                               ("-1G", r"--mem '-1G': expected a size"),
                               ("99999999999999999999", r"expected a size"),
                               ("1T", r"--mem 1048576 MiB is more than this host's RAM and swap")]:
            with self.subTest(mem=value):
                self.assert_refused(run_vmm("--mem", value, GUEST, timeout=T), message)

    def test_mem_too_small_for_the_guest(self):
        self.assert_refused(run_vmm("--mem", "1M", GUEST, timeout=T), r"at least 2M")

    def test_bad_smp_values(self):
        for value, message in [("0", r"--smp '0': expected a number of vCPUs from 1 to 4096"),
                               ("two", r"--smp 'two': expected a number"),
                               ("4097", r"--smp '4097': expected a number of vCPUs from 1")]:
            with self.subTest(smp=value):
                self.assert_refused(run_vmm("--smp", value, GUEST, timeout=T), message)

    def test_smp_beyond_kvm_limit(self):
        self.assert_refused(run_vmm("--smp", "4096", "--mem", "64M", GUEST, timeout=T),
                            r"--smp 4096 is more than KVM allows here \(\d+\)")

    def test_bad_options(self):
        for args, message in [(["--bogus", GUEST], r"unknown option '--bogus'"),
                              (["--json"], r"option '--json' needs a value"),
                              (["--timeout", "soon", GUEST], r"--timeout 'soon': expected"),
                              (["--pin", "0-", GUEST], r"--pin: bad CPU list"),
                              ([], r"no guest kernel given")]:
            with self.subTest(args=args):
                self.assert_refused(run_vmm(*args, timeout=T), message)

    def test_unwritable_json_path(self):
        res = run_vmm("--mem", "64M", "--json", "/no/such/dir/out.json", GUEST, timeout=T)
        self.assertEqual(res.returncode, 125)
        self.assertIn("cannot write --json file '/no/such/dir/out.json'", res.stderr)

    def test_help_and_version(self):
        res = run_vmm("--help", timeout=T)
        self.assertEqual(res.returncode, 0)
        self.assertIn("Usage: vmm [options] GUEST.elf", res.stdout)
        res = run_vmm("--version", timeout=T)
        self.assertEqual(res.returncode, 0)
        self.assertRegex(res.stdout, r"^vmm \d+\.\d+\.\d+ \(vmbench\)\n$")

    def test_check_says_kvm_is_usable(self):
        res = run_vmm("--check", timeout=T)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stdout, r"/dev/kvm is usable: (hardware|pvm|nested-tcg|nested) "
                                     r"KVM \(.+\), KVM API 12, up to \d+ vCPUs")
        if guest_runner.kvm().mode == "nested":
            # tools/linuxvm's VM: kvm_amd under QEMU's TCG ("TCGTCGTCGTCG").
            self.assertIn("nested-tcg KVM (kvm_amd, in a VM under QEMU's TCG", res.stdout)


class GuestFailures(unittest.TestCase):
    """The hidden `selftest` test fails in each way a guest can."""

    def selftest(self, kind, *vmm_args, timeout_s=300):
        return run_vmm("--timeout", timeout_s, "--mem", "64M", *vmm_args, GUEST,
                       "selftest", f"--kind={kind}", timeout=T)

    def assert_no_sanitizer(self, res):
        self.assertNotIn("Sanitizer", res.stderr)
        self.assertNotIn("runtime error", res.stderr)

    def test_guest_status_passes_through(self):
        for status in (0, 1, 7, 119):
            with self.subTest(status=status):
                res = run_vmm("--mem", "64M", GUEST, "selftest", "--kind=status",
                              f"--status={status}", timeout=T)
                self.assertEqual(res.returncode, status, res.stderr)

    def test_guest_status_beyond_119_is_clamped(self):
        res = run_vmm("--mem", "64M", GUEST, "selftest", "--kind=status", "--status=200",
                      timeout=T)
        self.assertEqual(res.returncode, 119)
        self.assertIn("guest wrote exit status 200", res.stderr)

    def test_ring3_page_fault(self):
        res = self.selftest("user-page-fault")
        self.assertEqual(res.returncode, 4, res.stderr)
        # Error code 5: a user-mode access (4) to a present page (1) that
        # is kernel-only - page 0 is mapped for ring 0 alone.
        self.assertRegex(res.stdout, r"exception #PF page fault \(vector 14\) error 0x5 at rip "
                                     r"0x[0-9a-f]+ in ring 3")
        self.assertIn("cr2 0x0 (the address that faulted)", res.stdout)
        self.assert_no_sanitizer(res)

    def test_ring0_page_fault(self):
        res = self.selftest("kernel-page-fault")
        self.assertEqual(res.returncode, 4, res.stderr)
        self.assertRegex(res.stdout, r"exception #PF page fault .* in ring 0")
        self.assertIn("cr2 0x8000000000", res.stdout)

    def test_triple_fault_dumps_registers_and_code(self):
        res = self.selftest("triple-fault")
        self.assertEqual(res.returncode, 120, res.stderr)
        self.assertIn("vmm: vCPU 0 stopped: triple fault", res.stderr)
        self.assertRegex(res.stderr, r"rip [0-9a-f]{16}  rsp [0-9a-f]{16}")
        self.assert_no_sanitizer(res)
        if "KVM re-initialised it" in res.stderr:
            # AMD: KVM resets the vCPU before reporting a shutdown, and vmm
            # must say the registers are the reset state.
            self.assertRegex(res.stderr, r"16-bit mode, ring 0, paging off\n"
                                         r"  rip 000000000000fff0")
            return
        self.assertRegex(res.stderr, r"64-bit mode, ring 0, paging on")
        self.assertRegex(res.stderr, r"idt base 0000000000000000 limit 0000")
        # The faulting instruction, disassembled by Capstone and marked.
        self.assertRegex(res.stderr, r"=> [0-9a-f]+: 0f 0b\s+ud2")

    def test_port_no_device_handles(self):
        res = self.selftest("bad-port")
        self.assertEqual(res.returncode, 122, res.stderr)
        self.assertIn("vmm: vCPU 0 stopped: read of port 0x99 (1 bytes) that no device handles",
                      res.stderr)
        self.assertRegex(res.stderr, r"=> [0-9a-f]+: e4 99\s+in al, 0x99")

    def test_dump_without_the_reaper(self):
        # The reaper disassembles (vmm/reaper.h).  Without it, vmm loads
        # Capstone itself only if no filter forbids it; under its filter
        # it shows the bytes and says why.
        res = self.selftest("bad-port", "--sync-teardown", "--no-seccomp")
        self.assertEqual(res.returncode, 122, res.stderr)
        self.assertRegex(res.stderr, r"=> [0-9a-f]+: e4 99\s+in al, 0x99")
        res = self.selftest("bad-port", "--sync-teardown")
        self.assertEqual(res.returncode, 122, res.stderr)
        self.assertIn("  (no disassembler: the reaper is off (--sync-teardown) and vmm's "
                      "seccomp filter lets it load nothing: raw bytes, RIP marked)\n",
                      res.stderr)
        self.assertRegex(res.stderr, r"\n  ([0-9a-f]{2} )*\[e4\] 99 ")
        self.assert_no_sanitizer(res)

    def test_release_build_dumps_disassembled(self):
        # The release vmm is static: its reaper's dlopen of Capstone brings
        # a libc of its own, whose start needs a call more (prlimit64).
        res = run_vmm("--timeout", 300, "--mem", "64M", GUEST, "selftest", "--kind=bad-port",
                      vmm=guest_runner.RELEASE_VMM, timeout=T)
        self.assertEqual(res.returncode, 122, res.stderr)
        self.assertRegex(res.stderr, r"=> [0-9a-f]+: e4 99\s+in al, 0x99")

    def test_dump_when_the_reaper_dies(self):
        # The reaper breaks its own narrowed filter at its first request
        # (the test hook): vmm sees end-of-file, shows the bytes, carries
        # on, and releases the VM itself.
        report = guest_runner.kvm().scratch_dir / "reaper-gone.json"
        res = self.selftest("bad-port", "--stats", "--json", report,
                            "--debug-seccomp-violate", "disas")
        self.assertEqual(res.returncode, 122, res.stderr)
        self.assertRegex(res.stderr, r"  \(the disassembler, vmm-reaper \(pid \d+\), is gone: "
                                     r"raw bytes, RIP marked\)\n  ([0-9a-f]{2} )*\[e4\] 99 ")
        self.assertRegex(res.stderr, r"released by vmm itself \(the reaper \(pid \d+\) is gone\)")
        # The report said "by reaper" here although vmm released the VM.
        self.assertEqual(json.loads(report.read_text())["vm_release"],
                         {"by": "vmm", "why": "the reaper stopped answering"})
        self.assert_no_sanitizer(res)

    def test_mmio_no_device_handles(self):
        res = self.selftest("bad-mmio")
        self.assertEqual(res.returncode, 122, res.stderr)
        self.assertIn("MMIO read of 0xfeb00000 (4 bytes) that no device handles", res.stderr)
        self.assertRegex(res.stderr, r"=> [0-9a-f]+: .*mov\s+eax, dword ptr")

    def test_hung_guest_meets_the_timeout(self):
        # The guest never stops by itself: the 2 s are what is tested, not a race.
        res = self.selftest("hang", timeout_s=2)
        self.assertEqual(res.returncode, 124, res.stderr)
        self.assertIn("vmm: timeout: guest still running after 2 s; stopping it", res.stderr)
        self.assert_no_sanitizer(res)

    def test_signals_end_the_run_cleanly(self):
        for sig, status in (("TERM", 143), ("INT", 130), ("QUIT", 131), ("HUP", 129)):
            with self.subTest(signal=sig):
                # Signal once the guest runs (it has printed): a fixed sleep
                # raced with vmm's start-up on a loaded machine.
                out = guest_runner.kvm().scratch_dir / f"hang-{sig}.out"
                res = run_sh(f"{guest_runner.VMM} --smp 2 --mem 64M --stats {GUEST} selftest "
                             f"--kind=hang > {out} & pid=$!; "
                             f"until grep -q 'failing on purpose' {out}; do sleep 0.05; done; "
                             f"kill -{sig} $pid; wait $pid; echo status=$?")
                self.assertIn(f"status={status}", res.stdout, res.stderr)
                self.assertIn("vmm: stopping on signal", res.stderr)
                self.assertIn("host timeline", res.stderr, "--stats still printed")
                self.assert_no_sanitizer(res)

    def test_guest_usage_errors(self):
        for args, message in [(["nosuchtest"], r"unknown test 'nosuchtest' \(tests: .*info"),
                              (["info", "--bogus=1"], r"unknown option '--bogus' for test 'info'"),
                              (["info", "--threads=many"],
                               r"invalid value 'many' for option '--threads': expected a whole"),
                              (["info", "--histogram=maybe"],
                               r"invalid value 'maybe' for option '--histogram': expected on or off"),
                              (["info", "prepare"], r"test 'info' has no command 'prepare'")]:
            with self.subTest(args=args):
                res = run_vmm("--mem", "64M", GUEST, *args, timeout=T)
                self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
                self.assertRegex(res.stdout, "vmbench: " + message)

    def test_guest_argument_with_space_is_refused(self):
        res = run_vmm(GUEST, "info", "--x=a b", timeout=T)
        self.assertEqual(res.returncode, 125)
        self.assertIn("contains white space", res.stderr)


if __name__ == "__main__":
    unittest.main()
