"""Who releases the VM: by default a reaper process forked by vmm (vmm/reaper.c)
closes the VM's descriptor after vmm has exited; --sync-teardown keeps it in
vmm.  The reaper must release the VM, hold nothing else (no pipe, no disk),
and never outlive vmm by more than that, also when vmm is killed."""

import json
import unittest

import guest_runner
from guest_runner import GUEST, VMM, run_sh, run_vmm

T = guest_runner.HANG_GUARD_S

# Waits (no fixed sleeps that could expire early) until process $1 is gone
# or a zombie: an orphan is reaped by whatever init this runs under, which
# need not be quick about it.
WAIT_GONE = r"""
gone() { s=$(awk '{print $3}' /proc/$1/stat 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ]; }
"""


class Teardown(unittest.TestCase):
    def run_json(self, name, *args):
        path = guest_runner.kvm().scratch_dir / name
        res = run_vmm("--json", path, *args, timeout=T)
        self.assertEqual(res.returncode, 0, res.stderr)
        return res, json.loads(path.read_text())

    def test_reaper_releases_the_vm_after_vmm_exits(self):
        res, doc = self.run_json("reaper.json", "--stats", "--smp", 2, GUEST, "info")
        release = doc["vm_release"]
        self.assertEqual(release["by"], "reaper", release)
        self.assertIn(f"released by the reaper (pid {release['pid']})", res.stderr)
        # The reaper ends once the kernel has destroyed the VM.
        out = run_sh(WAIT_GONE + f"while ! gone {release['pid']}; do sleep 0.01; done; echo ok",
                     timeout=T)
        self.assertEqual(out.stdout.strip(), "ok", out.stderr)

    def test_sync_teardown_releases_the_vm_in_vmm(self):
        res, doc = self.run_json("sync.json", "--stats", "--sync-teardown", GUEST, "info")
        self.assertEqual(doc["vm_release"], {"by": "vmm", "why": "--sync-teardown"})
        self.assertIn("released by vmm itself (--sync-teardown)", res.stderr)

    def test_an_image_is_free_again_as_soon_as_vmm_exits(self):
        # The reaper is forked before any disk is opened, so it holds no
        # image lock: a second vmm right after the first gets the image.
        img = guest_runner.kvm().scratch_dir / "teardown.img"
        with open(img, "wb") as f:
            f.truncate(16 << 20)
        for run in range(2):
            res = run_vmm("--disk", img, "--mem", "64M", GUEST, "info", timeout=T)
            self.assertEqual(res.returncode, 0, f"run {run}: {res.stderr}")

    def test_reaper_holds_nothing_and_ends_when_vmm_is_killed(self):
        # vmm runs a guest that waits; the reaper is found as vmm's child by
        # its name; it must hold only its socket; SIGKILL of vmm ends it.
        script = WAIT_GONE + f"""
        {VMM} --mem 64M {GUEST} cpu --time=600 </dev/null >/dev/null 2>&1 &
        v=$!
        # The reaper is forked before any thread: once vmm has a second
        # thread, it exists.
        while [ "$(ls /proc/$v/task 2>/dev/null | wc -l)" -lt 2 ]; do
            gone $v && {{ echo "vmm ended first"; exit 1; }}
            sleep 0.01
        done
        {guest_runner.FIND_REAPER}
        [ -n "$r" ] || {{ echo "no reaper"; kill -9 $v; exit 1; }}
        # Once it waits in recvmsg (47), its own seccomp filter is on.
        while [ "$(cut -d' ' -f1 /proc/$r/syscall 2>/dev/null)" != 47 ]; do sleep 0.01; done
        echo "seccomp: $(awk '/^Seccomp:/{{print $2}}' /proc/$r/status)"
        echo "fds: $(ls /proc/$r/fd | wc -l)"
        ls -l /proc/$r/fd | grep -c socket: | sed 's/^/sockets: /'
        kill -9 $v
        wait $v
        echo "vmm status $?"
        while ! gone $r; do sleep 0.01; done
        echo "reaper gone"
        """
        out = run_sh(script, timeout=T)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("seccomp: 2\n", out.stdout)
        self.assertIn("fds: 1\n", out.stdout)
        self.assertIn("sockets: 1\n", out.stdout)
        self.assertIn("vmm status 137\n", out.stdout)
        self.assertIn("reaper gone\n", out.stdout)


if __name__ == "__main__":
    unittest.main()
