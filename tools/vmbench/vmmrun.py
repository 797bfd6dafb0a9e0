"""Run vmm here, or in a Linux VM where this host has no KVM.

vmm runs on this host's /dev/kvm when `vmm --check` says it can; else in a
Linux VM under QEMU's TCG whose CPU offers nested KVM (linuxvm.Session,
docs/linuxvm.md), which sees the checkout at its own path.  Everything that
runs vmm decides here: tools/run-guest, bench/boot, bench/guest-vs-native,
bench/compare's vmm platform and the integration tests.

    place = VmmRunner(vmm)                 # asks `vmm --check` once
    place.host                             # True: vmm runs on this host
    place.why                              # vmm's line saying why not, when it cannot
    place.run([vmm, ...], timeout=60)      # a CompletedProcess (text), here or in the VM
    place.kvm_kind                         # hardware, pvm, nested-tcg ... (kvmkind)
    place.scratch_dir                      # for files vmm reads or writes (nested: shared)
    place.close()

VMBENCH_KVM=host|nested|auto (default auto) forces the choice.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vmbench import kvmkind, linuxvm
from vmbench.paths import BUILD, VMM

MODES = ("auto", "host", "nested")
# vmm loads Capstone only for crash dumps (dlopen), so ldd does not list it.
CAPSTONE = "libcapstone.so.4"


def check(vmm=VMM):
    """(True, stdout) when `vmm --check` says this host can run guests,
    else (False, what it said, on one line)."""
    try:
        res = subprocess.run([str(vmm), "--check"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"vmm --check could not run: {e}"
    if res.returncode == 0:
        return True, res.stdout
    return False, " ".join((res.stderr or res.stdout).split())


class VmmRunner:
    """Where vmm runs, and running commands there; see the module's docstring.

    mode: auto, host or nested (default: $VMBENCH_KVM, else auto).  The
    nested VM starts at the first run() or start(), and gets vmm, the other
    `binaries` (with their libraries), `libraries` vmm loads with dlopen,
    `files` and `shares` as linuxvm.Session takes them, `mem` and `smp`.
    note: a line printed on stderr when the VM starts.  scratch_dir: the
    directory for files on this host (default: a fresh one under build/).
    make_session: builds the VM's session from those keyword arguments
    instead of linuxvm.Session (vmbench.levels: a VM under KVM, or a VM in
    a VM)."""

    def __init__(self, vmm=VMM, mode=None, *, binaries=(), libraries=(CAPSTONE,), files=(),
                 shares=(), mem="4G", smp=2, note=None, scratch_dir=None, make_session=None):
        mode = mode or os.environ.get("VMBENCH_KVM") or "auto"
        if mode not in MODES:
            raise ValueError(f"VMBENCH_KVM={mode}: expected host, nested or auto")
        self.vmm = Path(vmm)
        works, said = check(self.vmm) if mode != "nested" else (False, "VMBENCH_KVM=nested")
        self.host = works if mode == "auto" else mode == "host"
        self.why = None if works else said
        self.kvm_kind = kvmkind.from_check(said) if works and self.host else None
        self.session = None
        self._session_args = dict(binaries=[str(self.vmm), *map(str, binaries)],
                                  libraries=list(libraries), files=list(files),
                                  shares=list(shares), mem=mem, smp=smp)
        self._note = note
        self._make_session = make_session or linuxvm.Session
        self._scratch_parent = scratch_dir
        self._scratch = None

    def start(self):
        """The nested VM's linuxvm.Session, started once (LinuxVMError when
        it cannot); kvm_kind is then the VM's."""
        if self.session is None:
            if self._note:
                print(self._note, file=sys.stderr, flush=True)
            self.session = self._make_session(**self._session_args)
            self.kvm_kind, _ = kvmkind.check(self.vmm, kvmkind.session_runner(self.session))
        return self.session

    @property
    def scratch_dir(self):
        """A directory for the files commands read and write: the session's
        shared scratch directory when nested, else one made here."""
        if not self.host:
            return Path(self.start().scratch_dir)
        if self._scratch is None:
            parent = Path(self._scratch_parent or BUILD)
            parent.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix="vmbench-vmm-", dir=parent))
        return self._scratch

    def run(self, argv, timeout=None, env=None):
        """Runs argv where vmm runs: a CompletedProcess with text output.
        env: variables added to the environment."""
        argv = [str(a) for a in argv]
        if self.host:
            res = subprocess.run(argv, capture_output=True, timeout=timeout,
                                 env=dict(os.environ, **env) if env else None)
        else:
            res = self.start().run(argv, timeout=timeout or 3600, env=env)
        return subprocess.CompletedProcess(argv, res.returncode,
                                           res.stdout.decode(errors="replace"),
                                           res.stderr.decode(errors="replace"))

    def close(self):
        if self.session:
            self.session.close()
            self.session = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
