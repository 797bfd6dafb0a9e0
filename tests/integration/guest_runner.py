"""What the integration tests share: where the products are, how to run
vmm (on this host's KVM, or inside a Linux VM that offers nested KVM when
this host cannot run guests), how to boot the guest under QEMU, and how to
read the guest's VMBENCH-RESULT lines.

VMBENCH_KVM=host|nested|auto (default auto) picks how vmm runs;
VMBENCH_VMM=PATH picks the vmm binary (default: the ASan+UBSan build).
"""

import atexit
import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
GUEST = BUILD / "guest.elf"
VMM = Path(os.environ.get("VMBENCH_VMM", BUILD / "san" / "vmm"))
RELEASE_VMM = BUILD / "vmm"

from vmbench import vmmrun

# Sanitizer findings must fail a test: give them statuses no test expects.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:exitcode=86:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}

RESULT_PREFIX = "VMBENCH-RESULT "


def results(stdout):
    """The JSON objects of every VMBENCH-RESULT line in `stdout`."""
    return [json.loads(line[len(RESULT_PREFIX):])
            for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]


def one_result(testcase, stdout):
    found = results(stdout)
    testcase.assertEqual(len(found), 1, f"expected one VMBENCH-RESULT line in:\n{stdout}")
    return found[0]


def assert_info_syscalls_bounded(testcase, r, smp):
    """`info` makes few system calls (docs/guest.md, "Output"): before its
    result line SYS_SYSINFO, and per AP a spawn, that thread's exit and a
    join if its report came late; each costs 100 us or more where ring 0 is
    emulated.  Printing line by line once made it 25 with two vCPUs."""
    calls = sum(r["env"]["syscalls"].values())
    testcase.assertLessEqual(calls, 1 + 3 * (smp - 1), r["env"]["syscalls"])


class _Runner:
    """Runs commands where /dev/kvm works: here, or in a nested-KVM VM (vmmrun)."""

    def __init__(self):
        self._place = vmmrun.VmmRunner(
            RELEASE_VMM, binaries=[VMM], mem="8G", smp=2,
            note="guest_runner: this host cannot run KVM guests; running vmm in a Linux VM "
                 "with nested KVM (tools/linuxvm)")
        self.mode = "host" if self._place.host else "nested"
        self.scratch_dir = self._place.scratch_dir     # nested: starts the VM
        atexit.register(self._place.close)

    def run(self, argv, timeout, env=None):
        return self._place.run(argv, timeout=timeout, env=dict(SANITIZER_ENV, **(env or {})))


_runner = None


def kvm():
    """The one runner of this test process (starting the nested VM once)."""
    global _runner
    if _runner is None:
        _runner = _Runner()
    return _runner


# The default host-side limits below only guard against a hang: the runs take
# seconds, but a loaded machine, or vmm nested under TCG, may be many times
# slower, and a limit that expires on a slow machine fails a test for nothing.
HANG_GUARD_S = 600


def run_vmm(*args, timeout=HANG_GUARD_S, vmm=None, env=None):
    return kvm().run([vmm or VMM, *args], timeout=timeout, env=env)


# Shell, for run_sh scripts: sets $r to the pid of the vmm-reaper whose
# parent is vmm, $v (empty when there is none).
FIND_REAPER = r"""
r=
for p in /proc/[0-9]*; do
    if [ "$(cat $p/comm 2>/dev/null)" = vmm-reaper ] &&
       [ "$(awk '{print $4}' $p/stat 2>/dev/null)" = "$v" ]; then r=${p#/proc/}; fi
done
"""


def run_sh(script, timeout=HANG_GUARD_S):
    return kvm().run(["sh", "-c", script], timeout=timeout)


def run_qemu_guest(append, smp=1, mem="256M", timeout=HANG_GUARD_S, extra=()):
    """Boots build/guest.elf under QEMU TCG, with a pci-testdev as vmm has
    one (unless `extra` picks microvm, which has no PCI bus).  Returns
    (guest status or None when the guest never wrote one, stdout, stderr)."""
    extra = list(extra)
    machine = extra[extra.index("-M") + 1] if "-M" in extra else "pc"
    testdev = ["-device", "pci-testdev"] if machine != "microvm" else []
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-kernel", str(GUEST),
            "-smp", str(smp), "-m", mem, "-append", append,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-display", "none", "-serial", "stdio", "-no-reboot", *extra, *testdev]
    res = subprocess.run(argv, capture_output=True, timeout=timeout)
    # isa-debug-exit makes QEMU exit with status*2+1; 0 means QEMU stopped
    # some other way (a triple fault with -no-reboot, for one).
    status = (res.returncode - 1) // 2 if res.returncode % 2 == 1 else None
    return status, res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")
