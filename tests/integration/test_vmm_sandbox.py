"""vmm's sandbox (docs/sandbox.md): every thread runs under its seccomp
filter with no_new_privs, a forbidden system call stops vmm with one line
and status 126, --no-seccomp turns the filters off, --user drops every
thread to another user.  The rest of the integration suite runs with the
filters on (they are the default), which shows the allow-lists suffice."""

import os
import re
import select
import signal
import subprocess
import time
import unittest

import guest_runner
from guest_runner import GUEST, run_vmm

T = guest_runner.HANG_GUARD_S
SANDBOX_STATUS = 126
NOBODY = 65534


def host_only(test):
    """These tests read vmm's /proc entries: vmm must run on this host."""
    return unittest.skipUnless(guest_runner.kvm().mode == "host",
                               "vmm runs in a Linux VM here: its /proc is not ours")(test)


def reaper_status(vmm_pid):
    """{field: value} from /proc/PID/status of vmm's reaper (its child
    named vmm-reaper), or None when there is none."""
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:]
        if name == "vmm-reaper" and int(rest.split()[1]) == vmm_pid:
            return fields
    return None


def thread_status(pid):
    """{thread name: {field: value}} from /proc/PID/task/*/status."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        threads[fields["Name"]] = fields
    return threads


class Sandbox(unittest.TestCase):
    def setUp(self):
        self.dir = guest_runner.kvm().scratch_dir
        self.disk = self.dir / f"sandbox-{os.getpid()}.img"
        with open(self.disk, "wb") as f:
            f.truncate(16 << 20)
        self.addCleanup(self.disk.unlink)

    def start_long_run(self, *options):
        """vmm with 2 vCPUs and a disk, its guest busy for a minute: returns
        the process once the guest has printed its first lines (every thread
        is up and filtered by then)."""
        proc = subprocess.Popen(
            [str(guest_runner.VMM), "--smp", "2", "--timeout", "300", "--disk", str(self.disk),
             *options, str(GUEST), "cpu", "--threads=2", "--time=120"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, **guest_runner.SANITIZER_ENV))
        def end():
            proc.kill()
            proc.communicate()
        self.addCleanup(end)
        seen = ""
        deadline = time.monotonic() + T
        while "Number of threads" not in seen:
            ready, _, _ = select.select([proc.stdout], [], [], max(0, deadline - time.monotonic()))
            line = proc.stdout.readline() if ready else ""
            if not line:
                self.fail(f"vmm ended or hung before the guest started: {seen}\n"
                          f"{proc.stderr.read() if proc.poll() is not None else ''}")
            seen += line
        return proc

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=T)
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM, err)
        self.assertNotIn("sandbox", err)
        self.assertNotIn("Sanitizer", err)
        return err

    @host_only
    def test_every_thread_is_filtered(self):
        proc = self.start_long_run()
        threads = thread_status(proc.pid)
        self.assertLessEqual({"vcpu 0", "vcpu 1", "blk 0"}, set(threads), threads.keys())
        for name, fields in threads.items():
            # 2 is SECCOMP_MODE_FILTER; one filter, the thread kind's own.
            self.assertEqual(fields["Seccomp"], "2", name)
            self.assertEqual(fields.get("Seccomp_filters", "1"), "1", name)
            self.assertEqual(fields["NoNewPrivs"], "1", name)
        # The stop path (signalfd, kicks, joins, --stats) works filtered.
        self.stop(proc)

    def probe_hung_guest(self, options, ready, probes):
        """vmm OPTIONS on a guest that hangs: once the shell test READY
        holds, the shell PROBES run ($v is vmm's pid, $r its reaper's, $err
        the file of vmm's stderr), then vmm gets SIGTERM.  Returns what the
        probes printed and vmm's stderr, checked to have ended with 143."""
        err = self.dir / f"sandbox-probe-{os.getpid()}.txt"
        err.unlink(missing_ok=True)
        self.addCleanup(lambda: err.unlink(missing_ok=True))
        script = f"""
        err={err}
        {guest_runner.VMM} {options} --mem 64M --timeout 300 {GUEST} selftest --kind=hang \
            </dev/null >/dev/null 2>$err &
        v=$!
        while ! {ready}; do
            kill -0 $v 2>/dev/null || {{ echo "vmm ended first"; exit 1; }}
            sleep 0.01
        done
        {guest_runner.FIND_REAPER}
        {probes}
        kill -TERM $v
        wait $v
        echo "vmm status $?"
        """
        out = guest_runner.run_sh(script, timeout=T)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertTrue(out.stdout.endswith("vmm status 143\n"), out.stdout)
        return out.stdout, err.read_text()

    @host_only
    def test_capstone_stays_out_of_vmm(self):
        # A normal run never maps Capstone: the reaper loads it at the
        # first disassembly request, and none came.  (It was loaded before
        # any thread existed: a vCPU thread means it would be there.)
        out, _ = self.probe_hung_guest(
            "", '[ "$(ls /proc/$v/task 2>/dev/null | wc -l)" -ge 2 ]',
            'echo "capstone in vmm: $(grep -c libcapstone /proc/$v/maps)"')
        self.assertIn("capstone in vmm: 0\n", out)

    @host_only
    def test_the_reaper_disassembles_under_a_narrower_filter(self):
        # --trace disassembles every exit: by the time a trace line is out,
        # the reaper has loaded Capstone and stacked its second filter;
        # vmm itself still has no Capstone.
        out, err = self.probe_hung_guest(
            "--trace", "grep -q ' <- [0-9a-f]*: [a-z]' $err",
            """
            echo "reaper $(awk '/^Seccomp_filters:/{print $2}' /proc/$r/status) filters"
            echo "capstone in vmm: $(grep -c libcapstone /proc/$v/maps)"
            echo "capstone in the reaper: $(grep -c libcapstone /proc/$r/maps)"
            """)
        self.assertIn("reaper 2 filters\n", out)
        self.assertIn("capstone in vmm: 0\n", out)
        self.assertNotIn("capstone in the reaper: 0\n", out)
        self.assertNotIn("sandbox", err)

    @host_only
    def test_no_seccomp_leaves_no_new_privs_only(self):
        proc = self.start_long_run("--no-seccomp")
        for name, fields in thread_status(proc.pid).items():
            self.assertEqual(fields["Seccomp"], "0", name)
            self.assertEqual(fields["NoNewPrivs"], "1", name)
        self.stop(proc)

    def test_forbidden_call_stops_vmm_with_one_line(self):
        for kind, thread in (("main", "main"), ("vcpu", "vcpu 0"), ("io", "blk 0")):
            with self.subTest(kind=kind):
                res = run_vmm("--timeout", "60", "--disk", self.disk,
                              "--debug-seccomp-violate", kind, GUEST, "cpu", "--time=30",
                              timeout=T)
                self.assertEqual(res.returncode, SANDBOX_STATUS, res.stderr)
                self.assertRegex(
                    res.stderr,
                    rf"(?m)^vmm: sandbox: thread '{thread}' \({kind}\) made system call "
                    rf"uname \(\d+\), which its seccomp filter forbids; vmm stops "
                    rf"\(status 126\)$")
                self.assertNotIn("Sanitizer", res.stderr)

    def test_release_build_serves_a_direct_disk(self):
        # The sanitizer build has its own allocator: only the release build
        # shows what glibc's malloc does under the filters (a thread arena
        # giving memory back read /proc/sys/vm/overcommit_memory: status
        # 126 from 'blk 0' for a ,direct disk's bounce buffers).
        for options in (",direct", ",poll,direct", ""):
            with self.subTest(options=options):
                res = run_vmm("--mem", "256M", "--timeout", "300", "--disk",
                              f"{self.disk}{options}", GUEST, "fileio", "--file-num=2",
                              "--file-total-size=8M", "prepare",
                              vmm=guest_runner.RELEASE_VMM, timeout=T)
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertNotIn("sandbox", res.stderr)

    def test_no_seccomp_lets_the_call_through(self):
        res = run_vmm("--no-seccomp", "--debug-seccomp-violate", "vcpu", GUEST, "info",
                      timeout=T)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("uname was allowed (no filter)", res.stderr)

    def test_bad_violate_kind(self):
        res = run_vmm("--debug-seccomp-violate", "disk", GUEST, "info", timeout=T)
        self.assertEqual(res.returncode, 125)
        self.assertEqual(res.stderr.strip(), "vmm: --debug-seccomp-violate 'disk': expected "
                         "main, vcpu, io, reaper or disas")

    @host_only
    def test_user_drops_every_thread(self):
        json_path = self.dir / f"sandbox-{os.getpid()}.json"
        self.addCleanup(lambda: json_path.unlink(missing_ok=True))
        proc = self.start_long_run("--user", "nobody", "--json", str(json_path))
        threads = thread_status(proc.pid)
        self.assertIn("blk 0", threads)
        for name, fields in threads.items():
            self.assertEqual(fields["Uid"].split(), [str(NOBODY)] * 4, name)
            self.assertEqual(fields["Gid"].split()[0], str(NOBODY), name)
            self.assertEqual(fields["Groups"].strip(), "", name)
            self.assertEqual(fields["Seccomp"], "2", name)
        # The reaper, a process of its own, drops too.
        reaper = reaper_status(proc.pid)
        self.assertIsNotNone(reaper)
        self.assertEqual(reaper["Uid"].split(), [str(NOBODY)] * 4)
        self.assertEqual(reaper["Gid"].split(), [str(NOBODY)] * 4)
        self.assertEqual(reaper["Groups"].strip(), "")
        self.stop(proc)
        # Opened as root before the drop, written at the end as nobody.
        self.assertIn('"schema":"vmbench.vmm/1"', json_path.read_text())

    def test_user_refusals(self):
        cases = [
            (("--user", "no-such-user-vmbench"), r"^vmm: --user 'no-such-user-vmbench': no such "
                                                  r"user in /etc/passwd \(give another user by "
                                                  r"number\)$"),
            (("--user", "nobody:no-such-group"),
             r"^vmm: --user 'nobody:no-such-group': no such group 'no-such-group' in "
             r"/etc/group$"),
            (("--user", ":x"), r"^vmm: --user ':x': expected USER or USER:GROUP$"),
            # 2^32 wrapped to uid 0 (root, and no error); 2^32 - 1 is
            # setresuid's "unchanged", which left the reaper root.
            (("--user", "4294967296"),
             r"^vmm: --user '4294967296': a user number must be below 4294967295$"),
            (("--user", "4294967295"),
             r"^vmm: --user '4294967295': a user number must be below 4294967295$"),
            (("--user", "65534:4294967296"),
             r"^vmm: --user '65534:4294967296': a group number must be below 4294967295 "
             r"\('4294967296'\)$"),
        ]
        # Both builds: the release vmm is static, and glibc's getpwnam there
        # loaded systemd's NSS module, which crashed it (SIGSEGV) on a name
        # /etc/passwd lacks.
        for vmm in (guest_runner.VMM, guest_runner.RELEASE_VMM):
            for args, message in cases:
                with self.subTest(vmm=str(vmm), args=args):
                    res = run_vmm(*args, GUEST, "info", vmm=vmm, timeout=T)
                    self.assertEqual(res.returncode, 125, res.stderr)
                    self.assertRegex(res.stderr.strip(), message)

    @host_only
    def test_user_needs_root(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to start vmm as another user")
        res = subprocess.run([str(guest_runner.VMM), "--user", "nobody", str(GUEST), "info"],
                             capture_output=True, text=True, timeout=T, user=NOBODY,
                             env=dict(os.environ, **guest_runner.SANITIZER_ENV))
        self.assertEqual(res.returncode, 125, res.stderr)
        self.assertRegex(res.stderr.strip(), r"^vmm: --user 'nobody' needs vmm to start as "
                         r"root \(it runs as uid 65534\); otherwise run vmm as that user$")

    def test_json_of_a_refused_run_is_removed(self):
        # --json is opened before the VM is built (for --user): a run that
        # never started leaves no empty file behind.
        json_path = self.dir / f"sandbox-refused-{os.getpid()}.json"
        res = run_vmm("--json", json_path, "--mem", "1M", GUEST, "info", timeout=T)
        self.assertEqual(res.returncode, 125)
        res = run_vmm("--json", json_path, "--disk", "/no/such/disk", GUEST, "info", timeout=T)
        self.assertEqual(res.returncode, 125)
        self.assertFalse(json_path.exists())


if __name__ == "__main__":
    unittest.main()
