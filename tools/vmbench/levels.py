"""Where vmm runs at each depth of nesting, for the nested platform.

Depth n is the number of Linux VMs between this host and vmm; vmm's guest
(guest.elf) runs one level further down.  Columns and records call the
levels "L0 (this host)", "L1", "L2":

- depth 0: vmm on this host's /dev/kvm.  Where `vmm --check` refuses, the
  level is skipped with vmm's line; it is never replaced by a VM.
- depth 1: vmm in a Linux VM (linuxvm.Session).  The VM runs under QEMU
  with KVM where this host's KVM is hardware KVM with nested virtualization
  on (kvm_amd/kvm_intel parameter nested), `-cpu host`; elsewhere (PVM-style
  KVM, no KVM, nested off) under TCG with `-cpu max`, whose emulated SVM
  gives the VM a kvm_amd: labelled "tcg" in every record.
- depth 2: vmm in a Linux VM inside that one (linuxvm.InnerSession): the
  L1 VM as at depth 1, and in it QEMU `-accel kvm -cpu host` on the L1's
  own /dev/kvm.

    place = levels.place(depth, vmm, mem="4G")   # a VmmRunner-like object
    place.start()              # boots what the depth needs; LevelSkipped when it cannot
    place.run(argv, timeout)   # a CompletedProcess (text) where vmm runs
    place.layers               # [{what, accelerator, cpu_model, kvm_kind}], this host first
    place.close()
"""

import os
from pathlib import Path

from vmbench import environment, kvmkind, linuxvm, vmmrun
from vmbench.linuxvm import inner

DEPTHS = (0, 1, 2)


class LevelSkipped(Exception):
    """A level that cannot run on this host; one line saying why."""


def label(depth):
    """A level's column heading (the levels view's too)."""
    return "L0 (this host)" if depth == 0 else f"L{depth}"


def nested_param(root="/"):
    """(module, value) of the host's kvm_amd or kvm_intel `nested`
    parameter, or (None, None) when neither module is loaded."""
    for module in ("kvm_amd", "kvm_intel"):
        path = Path(root, "sys/module", module, "parameters/nested")
        try:
            return module, path.read_text().strip()
        except OSError:
            continue
    return None, None


def l1_accelerator(host_kind, root="/"):
    """(accel, cpu, why) of the L1 VM: QEMU with KVM and `-cpu host` where
    this host's KVM is hardware KVM with nested virtualization on, else TCG
    with `-cpu max` (emulated SVM), and why."""
    module, nested = nested_param(root)
    if host_kind == "hardware" and nested in ("Y", "1"):
        return "kvm", "host", f"{module} nested={nested}: KVM offers SVM/VMX to its guests"
    if host_kind == "hardware":
        return "tcg", "max", (f"{module} nested={nested}: this host's KVM offers no nested "
                              "virtualization; TCG emulates SVM")
    return "tcg", "max", (f"this host's KVM is {host_kind or 'not usable'}: QEMU -accel kvm "
                          "cannot offer SVM or VMX to its guest here; TCG emulates SVM")


class Level0:
    """vmm on this host (depth 0)."""

    depth = 0

    def __init__(self, vmm, scratch_dir=None):
        self.vmm = vmm
        self._scratch_dir = scratch_dir
        self.runner = None
        self.layers = []

    def start(self):
        works, said = vmmrun.check(self.vmm)
        if not works:
            raise LevelSkipped(f"vmm cannot run on this host: {said}")
        self.runner = vmmrun.VmmRunner(self.vmm, mode="host", scratch_dir=self._scratch_dir)
        self.layers = [{"what": "vmm on this host", "accelerator": "kvm",
                        "cpu_model": environment.cpu_model(),
                        "kvm_kind": self.runner.kvm_kind}]

    @property
    def kvm_kind(self):
        return self.runner.kvm_kind if self.runner else None

    @property
    def scratch_dir(self):
        return self.runner.scratch_dir

    def run(self, argv, timeout=None, env=None):
        return self.runner.run(argv, timeout=timeout, env=env)

    def close(self):
        if self.runner:
            self.runner.close()


class LevelVM(Level0):
    """vmm inside one Linux VM (depth 1) or inside a VM in a VM (depth 2)."""

    def __init__(self, depth, vmm, mem="4G", smp=2, host_kind=None, boot_timeout=600):
        super().__init__(vmm)
        self.depth, self.mem, self.smp = depth, mem, smp
        self.host_kind = host_kind
        self.boot_timeout = boot_timeout
        self.accel, self.cpu, self.why_accel = l1_accelerator(host_kind)

    def _session(self, **kwargs):
        if self.depth == 1:
            return linuxvm.Session(accel=self.accel, cpu=self.cpu,
                                   boot_timeout=self.boot_timeout, **kwargs)
        # The L1 gets QEMU and its firmware; the L2 gets vmm's libraries.
        # One vCPU for this L1: with two (one TCG thread runs both), the L2's
        # boot stalled for good in 4 of 6 tries here (where its console was
        # read, it stopped at 12 and 19 s of L2 time while the L1 kept a host
        # CPU busy); with one it booted (2026-12-01, docs/results.md).
        outer = linuxvm.Session(accel=self.accel, cpu=self.cpu, smp=1,
                                mem=kwargs["mem"], boot_timeout=self.boot_timeout,
                                binaries=[inner.qemu_path()], files=inner.outer_files())
        # One vCPU: an L2 with two had not booted after 7 minutes (4.4 min
        # of the L1's CPU time; stopped there).
        try:
            return inner.InnerSession(outer, binaries=kwargs["binaries"],
                                      libraries=kwargs["libraries"], smp=1,
                                      mem=_inner_mem(kwargs["mem"]), boot_timeout=self.boot_timeout)
        except BaseException:
            outer.close()
            raise

    def start(self):
        self.runner = vmmrun.VmmRunner(self.vmm, mode="nested", mem=self.mem, smp=self.smp,
                                       make_session=self._session)
        try:
            session = self.runner.start()
        except linuxvm.LinuxVMError as e:
            raise LevelSkipped(f"{label(self.depth)}: {e}") from None
        outer = getattr(session, "outer", session)
        self.layers = [{"what": "this host", "accelerator": "\u2014",
                        "cpu_model": environment.cpu_model(), "kvm_kind": self.host_kind},
                       {"what": "L1 Linux VM (QEMU)",
                        "accelerator": _accel_label(outer.accel_used, outer.cpu_model),
                        "cpu_model": outer.cpu_model, "why": self.why_accel}]
        if self.depth == 2:
            self.layers.append({"what": "L2 Linux VM (QEMU in L1)",
                                "accelerator": "kvm (on the L1's kvm_amd/kvm_intel)",
                                "cpu_model": session.cpu_model})
        self.layers.append({"what": f"vmm in L{self.depth}", "accelerator": "kvm",
                            "kvm_kind": self.runner.kvm_kind})
        if self.runner.kvm_kind is None:
            raise LevelSkipped(f"{label(self.depth)}: vmm cannot use /dev/kvm there: "
                               + kvmkind.check(self.vmm, kvmkind.session_runner(session))[1])

    def close(self):
        if self.runner and self.runner.session is not None:
            session = self.runner.session
            self.runner.close()
            outer = getattr(session, "outer", None)
            if outer is not None:
                outer.close()


def _accel_label(accel, cpu):
    if accel == "tcg":
        return f"tcg (SVM emulated, -cpu {cpu})"
    return f"{accel} (nested virtualization)" if accel == "kvm" else str(accel)


def _inner_mem(mem):
    """The L2 VM's memory, from the L1's QEMU size ("4G" -> "1024M"): the
    L1's less 3 GiB for the L1 itself, at least 1 GiB.  Measured here: an
    L2 of 2 GiB in a 4 GiB L1 did not boot within 600 s (the host's load
    average 60-160), one of 1 GiB booted in under a minute (load average
    about 50)."""
    units = {"G": 1024, "M": 1}
    mib = int(mem[:-1]) * units[mem[-1].upper()] if mem[-1].upper() in units else int(mem) >> 20
    return f"{max(mib - 3072, 1024)}M"


def place(depth, vmm, *, mem="4G", smp=2, scratch_dir=None, host_kind=None, boot_timeout=600):
    """Where vmm runs at `depth` (see the module's docstring); ValueError
    for a depth not in DEPTHS."""
    if depth not in DEPTHS:
        raise ValueError(f"depth {depth!r}: expected one of {', '.join(map(str, DEPTHS))}")
    if depth == 0:
        return Level0(vmm, scratch_dir)
    if host_kind is None:
        host_kind = kvmkind.check(vmm)[0] if os.path.exists(vmm) else None
    return LevelVM(depth, vmm, mem=mem, smp=smp, host_kind=host_kind, boot_timeout=boot_timeout)
