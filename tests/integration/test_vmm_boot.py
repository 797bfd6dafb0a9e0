"""The real guest under vmm: every vCPU count and memory size the contract
names, the --json and --stats reports, vCPU threads and pinning."""

import json
import re
import shutil
import struct
import subprocess
import unittest

import guest_runner
from guest_runner import GUEST, run_sh, run_vmm

KVM_TIMEOUT = guest_runner.HANG_GUARD_S


class InfoMatrix(unittest.TestCase):
    """`info` with --smp 1, 2, 8 and --mem 64M, 2G, 5G (above the hole)."""

    def check_info(self, smp, mem, mem_mib):
        res = run_vmm("--smp", smp, "--mem", mem, "--timeout", 300, GUEST, "info",
                      "--touch-ram", timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr + res.stdout)
        self.assertNotIn("Sanitizer", res.stderr)
        r = guest_runner.one_result(self, res.stdout)
        self.assertEqual(r["schema"], "vmbench.result/1")
        self.assertEqual(r["test"], "info")
        self.assertEqual(r["platform"], "vmm")
        self.assertEqual(r["threads"], smp, "every vCPU ran a ring-3 thread")
        self.assertTrue(r["ram_ok"], "every RAM range holds what was written")
        env = r["env"]
        self.assertEqual(env["vcpus"], smp)
        self.assertEqual(env["mem_mib"], mem_mib)
        self.assertEqual(env["hypervisor"], "KVMKVMKVM")
        self.assertEqual(env["tsc_source"], "cpuid-0x40000010")
        self.assertGreater(env["tsc_hz"], 100_000_000)
        self.assertTrue(env["boot_loader"].startswith("vmbench vmm"))
        self.assertTrue(env["cpu_brand"], "the brand string is filled in")
        guest_runner.assert_info_syscalls_bounded(self, r, smp)
        return r

    def test_smp1_mem64m(self):
        self.check_info(1, "64M", 64)

    def test_smp2_mem64m(self):
        self.check_info(2, "64M", 64)

    def test_smp8_mem64m(self):
        self.check_info(8, "64M", 64)

    def test_smp1_mem2g(self):
        self.check_info(1, "2G", 2048)

    def test_smp2_mem2g(self):
        self.check_info(2, "2G", 2048)

    def test_smp8_mem2g(self):
        self.check_info(8, "2G", 2048)

    def test_smp1_mem5g(self):
        r = self.check_info(1, "5G", 5120)
        self.assertGreaterEqual(r["mapped_bytes"], 5 << 30)

    def test_smp2_mem5g(self):
        self.check_info(2, "5G", 5120)

    def test_smp8_mem5g(self):
        self.check_info(8, "5G", 5120)

    def test_more_vcpus_than_host_cpus(self):
        # The machines this runs on have 2 cores; 16 vCPUs share them.
        self.check_info(16, "128M", 128)

    def test_up_to_kvms_limit(self):
        # APIC ID 255 is xAPIC's broadcast address, so from 256 vCPUs on the
        # guest uses x2APIC (MADT x2APIC entries, 32-bit APIC IDs); 1024 is
        # the guest's own limit.
        check = run_vmm("--check", timeout=KVM_TIMEOUT)
        kvm_max = int(re.search(r"up to (\d+) vCPUs", check.stdout)[1])
        for smp in sorted({255, 256, min(kvm_max, 1024)}):
            with self.subTest(smp=smp):
                res = run_vmm("--smp", smp, "--mem", "1G", "--timeout", 600, GUEST, "info",
                              vmm=guest_runner.RELEASE_VMM, timeout=900)
                self.assertEqual(res.returncode, 0, res.stderr[-3000:])
                r = guest_runner.one_result(self, res.stdout)
                self.assertEqual((r["threads"], r["env"]["vcpus"]), (smp, smp))
                self.assertIn("Interrupt controller: x2APIC" if smp > 255 else
                              "Interrupt controller: xAPIC", res.stdout)

    def test_release_build_boots_too(self):
        res = run_vmm("--smp", 2, "--mem", "256M", GUEST, "info", vmm=guest_runner.RELEASE_VMM,
                      timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(guest_runner.one_result(self, res.stdout)["env"]["vcpus"], 2)


class Reports(unittest.TestCase):
    def test_json_report(self):
        path = guest_runner.kvm().scratch_dir / "info.json"
        res = run_vmm("--smp", 2, "--mem", "512M", "--json", path, GUEST, "info",
                      timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        doc = json.loads(path.read_text())
        self.assertEqual(doc["schema"], "vmbench.vmm/1")
        self.assertRegex(doc["vmm_version"], r"^\d+\.\d+\.\d+$")
        self.assertTrue(doc["host"]["cpu"])
        self.assertGreaterEqual(doc["host"]["cpus_online"], 1)
        self.assertTrue(doc["host"]["kernel"])
        self.assertIn(doc["host"]["kvm_kind"], ("hardware", "pvm", "nested-tcg", "nested"))
        self.assertIn(doc["host"]["kvm_module"], ("kvm_intel", "kvm_amd", "kvm_pvm"))
        if guest_runner.kvm().mode == "nested":
            self.assertEqual((doc["host"]["kvm_kind"], doc["host"]["hypervisor"]),
                             ("nested-tcg", "TCGTCGTCGTCG"))
        self.assertEqual(doc["config"], {"vcpus": 2, "mem_mib": 512, "hugepages": False,
                                         "nested": "none", "timeout_s": 0, "pin": None,
                                         "io_pin": None, "rt_priority": None})
        self.assertEqual(doc["exit_status"], 0)
        self.assertEqual(doc["stop_reason"], "guest-exit")
        self.assertGreater(doc["wall_time_s"], 0)
        kinds = doc["exits"]["by_kind"]
        self.assertEqual(kinds["debug-exit"]["count"], 1)
        # Output reaches the console by exits or through KVM's coalesced ring.
        self.assertGreater(doc["serial"]["bytes_out"], 0)
        self.assertLessEqual(doc["serial"]["coalesced_writes"], doc["serial"]["bytes_out"])
        self.assertEqual(doc["coalesced_io"]["enabled"], doc["coalesced_io"]["off_why"] is None)
        self.assertEqual(len(doc["exits"]["per_vcpu"]), 2)
        self.assertEqual([r["test"] for r in doc["results"]], ["info"])
        self.assertEqual(doc["results"][0], guest_runner.one_result(self, res.stdout))
        self.assertEqual(doc["invalid_results"], [])
        t = doc["timeline_ms"]
        # The guest is loaded while KVM creates the VM (two lanes); both
        # are done before the vCPUs start.
        self.assertTrue(0 < t["guest_loaded"] <= t["vcpus_started"], t)
        self.assertTrue(0 < t["kvm_open"] <= t["vm_ready"]
                        <= t["vcpus_started"] <= t["first_output"] <= t["stopped"]
                        <= t["reports_started"], t)
        rss = doc["rss_kib"]
        self.assertEqual(rss["peak"], rss["guest"] + rss["vmm"])
        self.assertGreater(rss["guest"], 0)
        self.assertEqual(doc["cmdline"], f"{GUEST} info")

    def test_rss_is_vmms_own_not_its_parents(self):
        # getrusage's ru_maxrss survives exec: whoever forked vmm (this
        # Python process, made bigger here) counted as vmm's own memory.
        ballast = b"x" * (128 << 20)
        path = guest_runner.kvm().scratch_dir / "rss.json"
        res = run_vmm("--json", path, "--mem", "64M", GUEST, "info", timeout=KVM_TIMEOUT)
        del ballast
        self.assertEqual(res.returncode, 0, res.stderr)
        rss = json.loads(path.read_text())["rss_kib"]
        self.assertLess(rss["vmm"], 64 << 10, rss)

    @unittest.skipUnless(guest_runner.kvm().mode == "host", "timecmd runs on this host only")
    def test_rss_peak_is_the_whole_runs(self):
        # vmm measured its peak, then filled a 1-byte-per-guest-page mincore
        # vector (2 MiB for 8 GiB): its real peak, as wait4 sees it from
        # outside, was that much above the reported one.
        path = guest_runner.kvm().scratch_dir / "rss-peak.json"
        out = subprocess.run([str(guest_runner.BUILD / "timecmd"), "-q", "--",
                              str(guest_runner.RELEASE_VMM), "--json", str(path), "--mem", "8G",
                              str(GUEST), "info"],
                             capture_output=True, text=True, timeout=KVM_TIMEOUT)
        run = json.loads(out.stdout.splitlines()[-1])
        self.assertEqual(run["status"], 0, out.stderr)
        rss = json.loads(path.read_text())["rss_kib"]
        # The kernel's RSS counters are per CPU and read with some lag.
        self.assertLess(run["maxrss_kib"], rss["peak"] + 512, rss)

    def test_stats_report(self):
        res = run_vmm("--stats", "--smp", 2, "--mem", "256M", GUEST, "info",
                      timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stderr, r"vmm: exits to userspace on (hardware|pvm|nested-tcg|nested) "
                                     r"KVM \(time = handling in vmm")
        self.assertRegex(res.stderr, r"vcpu\s+exit\s+count\s+total_us\s+avg_us\s+max_us")
        self.assertRegex(res.stderr, r"\n\s+all\s+debug-exit\s+1\s")
        self.assertRegex(res.stderr, r"vmm: coalesced I/O ring: (on \(\d+ entries\)|off \(.+\))")
        self.assertRegex(res.stderr, r"vmm: serial: \d+ bytes out; \d+ data-port writes came "
                                     r"from the coalesced ring")
        # The timeline is the last line: every phase up to vmm's exit.
        self.assertRegex(res.stderr.splitlines()[-1],
                         r"^vmm: host timeline \(ms since start\): guest loaded [\d.]+, "
                         r"/dev/kvm open [\d.]+, VM ready [\d.]+, vCPUs started [\d.]+, "
                         r"first output [\d.]+, stopped [\d.]+, reports written [\d.]+, "
                         r"exit [\d.]+$")

    def test_trace_shows_exits_with_instructions(self):
        # Every exit names the device and the guest instruction behind it.
        # Through COM1: one exit per byte of output, then the status.
        res = run_vmm("--trace", "--mem", "64M", GUEST, "selftest", "--kind=spin", "--ms=1",
                      "--console=com1", timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("spun for 1 ms", res.stdout)
        serial = re.findall(r"\[vcpu 0\] io out port 0x3f8 size 1 count 1 "
                            r"\(serial\)\s+<- [0-9a-f]+: rep outsb", res.stderr)
        self.assertEqual(len(serial), len("vmbench: spun for 1 ms\n"), res.stderr)
        self.assertRegex(res.stderr, r"\[vcpu 0\] io out port 0xf4 size 4 count 1 "
                                     r"\(debug-exit\)\s+<- [0-9a-f]+: out 0xf4, eax")
        # Through the buffer console: one exit for the line, and what it wrote.
        res = run_vmm("--trace", "--mem", "64M", GUEST, "selftest", "--kind=spin", "--ms=1",
                      timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("spun for 1 ms", res.stdout)
        port = re.findall(r"\[vcpu 0\] io out port 0x4f8 size 4 count 1 "
                          r"\(buffer-console\)\s+<- [0-9a-f]+: out dx, eax", res.stderr)
        self.assertEqual(len(port), 1, res.stderr)
        self.assertRegex(res.stderr, r"\[vcpu 0\] buffer-console: descriptor 0x[0-9a-f]+: "
                         rf"{len('vmbench: spun for 1 ms')+1} bytes at 0x[0-9a-f]+\n")
        self.assertNotIn("(serial)", res.stderr)

    def test_trace_names_the_io_instruction_wherever_kvm_leaves_rip(self):
        # Hardware KVM exits with RIP at the in/out instruction, PVM-style
        # KVM with RIP past it; either way the trace names the instruction.
        res = run_vmm("--trace", "--smp", 1, "--mem", "64M", GUEST, "info",
                      "--console=com1", timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr[-3000:])
        io_lines = [l for l in res.stderr.splitlines() if re.match(r"\[vcpu \d+\] io ", l)]
        self.assertTrue(io_lines, res.stderr[-3000:])
        for line in io_lines:
            self.assertRegex(line, r"<- [0-9a-f]+: (rep )?(in|out|ins|outs)[bwd]? ")
        serial = [l for l in io_lines if "(serial)" in l]
        self.assertTrue(serial)
        for line in serial:
            self.assertRegex(line, r"port 0x3f8 .*\(serial\)\s+<- [0-9a-f]+: (out|rep outsb) ")
        exit_line = re.search(r"port 0xf4 .*debug-exit\)\s+<- ([0-9a-f]+): out 0xf4, eax",
                              res.stderr)
        self.assertIsNotNone(exit_line, res.stderr[-3000:])
        # ... at the address of an `out 0xf4, eax` in the guest's code.
        if shutil.which("objdump"):
            dis = subprocess.run(["objdump", "-d", "-M", "intel", "-m", "i386:x86-64",
                                  str(GUEST)], capture_output=True, text=True, check=True)
            outs = re.findall(r"^\s*([0-9a-f]+):\s+e7 f4\s+out\s+0xf4,eax", dis.stdout, re.M)
            self.assertIn(exit_line[1], outs)

    def test_guest_help_lists_tests(self):
        res = run_vmm("--mem", "64M", GUEST, "help", timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        for test in ("info", "cpu", "memory", "fileio", "selftest"):
            self.assertRegex(res.stdout, rf"\n  {test} +\S", test)
        self.assertIn("--syscall-gate=", res.stdout)

    def test_no_test_named_runs_info(self):
        res = run_vmm("--mem", "64M", GUEST, timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(guest_runner.one_result(self, res.stdout)["test"], "info")


def tiny_guest(code):
    """A Multiboot image (a.out kludge, loaded at 1 MiB) that runs `code` in
    32-bit protected mode, paging off; returns (path, address of code[0])."""
    load, entry = 0x100000, 0x100020
    magic, flags = 0x1BADB002, 1 << 16
    header = struct.pack("<8I", magic, flags, -(magic + flags) & 0xffffffff, load, load,
                         0, 0, entry)
    path = guest_runner.kvm().scratch_dir / f"tiny-{bytes(code).hex()[:40]}.elf"
    path.write_bytes(header + bytes(code))
    return path, entry


class IoInstructions(unittest.TestCase):
    """Hand-made code, so the trace and the dump can be checked to the byte."""

    def test_trace_names_each_out(self):
        code = [0xbe, 0xf8, 0x03, 0x00, 0x00,  # 00 mov esi, 0x3f8
                0xb0, 0x41,                    # 05 mov al, 'A'
                0x89, 0xf2,                    # 07 mov edx, esi (f2 is also REPNE)
                0xee,                          # 09 out dx, al
                0xb0, 0x0a,                    # 0a mov al, '\n'
                0xee,                          # 0c out dx, al
                0x31, 0xc0,                    # 0d xor eax, eax
                0xe7, 0xf4,                    # 0f out 0xf4, eax
                0xf4]                          # 11 hlt
        path, at = tiny_guest(code)
        res = run_vmm("--trace", "--mem", "64M", path, timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, "A\n")
        traced = re.findall(r"io out port (0x[0-9a-f]+) size (\d) count 1 \(([a-z-]+)\)\s+"
                            r"<- ([0-9a-f]+): (.*)", res.stderr)
        self.assertEqual(traced, [("0x3f8", "1", "serial", f"{at + 0x09:x}", "out dx, al"),
                                  ("0x3f8", "1", "serial", f"{at + 0x0c:x}", "out dx, al"),
                                  ("0xf4", "4", "debug-exit", f"{at + 0x0f:x}",
                                   "out 0xf4, eax")], res.stderr)

    def test_dump_marks_the_out_to_a_port_no_device_handles(self):
        code = [0xbe, 0x99, 0x00, 0x00, 0x00,  # 00 mov esi, 0x99
                0x89, 0xf2,                    # 05 mov edx, esi
                0xee,                          # 07 out dx, al
                0xf4]                          # 08 hlt
        path, at = tiny_guest(code)
        res = run_vmm("--mem", "64M", path, timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 122, res.stderr)
        self.assertIn("write of port 0x99 (1 bytes) that no device handles", res.stderr)
        self.assertIn("32-bit mode, ring 0, paging off", res.stderr)
        out = f"{at + 7:x}: ee\\s+out dx, al"
        if re.search(r"rip 0*" + f"{at + 8:x}" + r"\b", res.stderr):
            # RIP is past it: RIP marked "=>", the out marked "io".
            self.assertRegex(res.stderr, r"io " + out)
            self.assertRegex(res.stderr, f"=> {at + 8:x}: f4\\s+hlt")
            self.assertIn(f"the port-I/O instruction is at {at + 7:x}", res.stderr)
        else:
            self.assertRegex(res.stderr, r"=> " + out)


class Threads(unittest.TestCase):
    """Each vCPU is a thread named "vcpu N"; --pin places them (--io-pin,
    --rt, --mlock: test_vmm_placement.py)."""

    def running_vmm(self, options):
        # A guest that hangs until it is killed, looked at once it has said
        # so (every vCPU thread exists by then): no race with a clock.
        return (f"out=$(mktemp); {guest_runner.VMM} {options} --mem 64M {GUEST} selftest "
                f"--kind=hang > $out & pid=$!; "
                f"until grep -q 'failing on purpose' $out || ! kill -0 $pid 2>/dev/null; "
                f"do sleep 0.05; done; ")

    # SIGTERM ends the hung guest cleanly: vmm's status is 128 + 15.
    STOP = "; kill $pid; wait $pid; status=$?; rm -f $out; [ $status -eq 143 ]"

    def test_vcpu_threads_are_named(self):
        res = run_sh(self.running_vmm("--smp 3") + "cat /proc/$pid/task/*/comm" + self.STOP)
        self.assertEqual(res.returncode, 0, res.stderr)
        names = res.stdout.split()
        for i in range(3):
            self.assertIn(f"vcpu {i}", res.stdout.splitlines(), names)

    def test_pinning(self):
        res = run_sh(self.running_vmm("--smp 2 --pin 1,0") +
                     "for t in /proc/$pid/task/*; do echo \"$(cat $t/comm)=$(grep "
                     "Cpus_allowed_list $t/status | cut -f2)\"; done" + self.STOP)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("vcpu 0=1", res.stdout.splitlines(), res.stdout)
        self.assertIn("vcpu 1=0", res.stdout.splitlines(), res.stdout)

    def test_pin_to_missing_cpu_fails_clearly(self):
        # Checked before any thread starts (more in test_vmm_placement.py).
        res = run_vmm("--pin", "4000", "--mem", "64M", GUEST, timeout=KVM_TIMEOUT)
        self.assertEqual(res.returncode, 125)
        self.assertRegex(res.stderr, r"^vmm: --pin: host CPU 4000 does not exist \(this host has "
                                     r"CPUs [0-9,-]+\)\n$")


if __name__ == "__main__":
    unittest.main()
