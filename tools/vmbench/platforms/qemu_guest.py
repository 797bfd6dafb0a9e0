"""qemu-guest: QEMU booting the same guest.elf (-kernel, multiboot), so the
same workload can be compared across monitors.  KVM or TCG, pc or microvm;
the accelerator QEMU really used is recorded (TCG is never called KVM).

fileio: a fresh raw image per run (guest.py), attached as
`-drive file=IMG,format=raw,if=none,id=d0[,cache=none] -device
virtio-blk-pci,drive=d0` (cache=none, QEMU's O_DIRECT, when the case asks
for --file-extra-flags=direct; else QEMU's default, writeback), one boot for
prepare and one for run.  QEMU's defaults otherwise: aio=threads (a pool
thread makes each preadv) and no IOThread, so the disk is served by the
main loop, which does not poll.  iothread=True adds `-object
iothread,id=io0` and `iothread=io0` to the device: an IOThread, which
polls its queue adaptively (poll-max-ns 32 us, QEMU's default) before it
sleeps.  microvm has no PCI bus: fileio is skipped there.

On pc the guest also gets `-device pci-testdev` (after the disk, so the
disk's slot does not change), as vmm offers it by default: the guest's
vmexit test times port and MMIO exits with it."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from vmbench.platforms.base import Platform, PlatformError
from vmbench.platforms.registry import ACCEL, Option, register
from vmbench.platforms import guest
from vmbench import results
from vmbench.paths import BUILD

QEMU = "qemu-system-x86_64"
PROBE_STATUS = 3


def qemu_argv(vcpus, mem_mib, append, accel, machine, disk=None, direct=False,
              iothread=False):
    """QEMU's command line booting guest.elf.  On pc, with QEMU's PCI test
    device (-device pci-testdev: a port and an MMIO doorbell that exit to
    QEMU, and the same with an ioeventfd in the kernel), which the guest's
    vmexit test measures, as vmm offers one by default.  iothread: the
    disk's virtio-blk device runs in an IOThread of its own."""
    cpu = ["-cpu", "host"] if accel == "kvm" else ["-cpu", "max"]
    argv = [QEMU, "-M", machine, "-accel", accel, *cpu, "-smp", str(vcpus),
            "-m", f"{mem_mib}M", "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-no-reboot", "-kernel", str(guest.GUEST), "-append", append]
    if disk:
        path = str(disk).replace(",", ",,")
        argv += ["-object", "iothread,id=io0"] if iothread else []
        argv += ["-drive", f"file={path},format=raw,if=none,id=d0"
                           + (",cache=none" if direct else ""),
                 "-device", "virtio-blk-pci,drive=d0" + (",iothread=io0" if iothread else "")]
    if machine != "microvm":          # microvm has no PCI bus
        argv += ["-device", "pci-testdev"]
    return argv


class QemuGuestPlatform(Platform):
    name = "qemu-guest"

    def __init__(self, accel="auto", machine="pc", scratch_dir=None, iothread=False):
        """scratch_dir: where fileio's disk images go (default build/);
        iothread: the disk in an IOThread (qemu_argv)."""
        self.asked, self.machine, self.iothread = accel, machine, iothread
        self.scratch_dir = Path(scratch_dir) if scratch_dir else BUILD
        self.accel = None
        self.why = None

    def prepare(self, cases):
        guest.check_products()
        # QEMU refuses -accel kvm loudly when it cannot use it: try it, and
        # fall back only when asked for "auto", saying why.  QEMU itself
        # exits with 1 when it cannot start, which is also what a guest
        # status of 0 maps to: so the probe asks the guest for status 3.
        accels = ["kvm", "tcg"] if self.asked == "auto" else [self.asked]
        for accel in accels:
            argv = qemu_argv(1, 64, f"selftest --kind=status --status={PROBE_STATUS}", accel,
                             self.machine)
            res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            if results.qemu_guest_status(res.returncode) == PROBE_STATUS:
                self.accel = accel
                return
            lines = res.stderr.strip().splitlines()
            self.why = f"{accel}: {lines[-1] if lines else f'exit status {res.returncode}'}"
        raise PlatformError(f"qemu-guest: QEMU cannot boot the guest with -accel "
                            f"{'/'.join(accels)} ({self.why})")

    def environment(self):
        env = {"accelerator": self.accel, "limits": "the VM's vCPUs and RAM",
               "pinning": "none", "asked": self.asked, "machine": self.machine}
        if self.asked == "auto" and self.accel == "tcg":
            env["why_not_kvm"] = self.why
        return env

    runs_sysbench = False

    def skip(self, case):
        if (case.spec.needs_disk or case.spec.testdev) and self.machine == "microvm":
            what = "virtio-blk-pci" if case.spec.needs_disk else "pci-testdev"
            return f"qemu-guest: microvm has no PCI bus for {what} (use --qemu-machine pc)"
        return guest.skip_fileio(self.name, case)

    def _boot(self, case, command, disk, limit):
        try:
            argv = qemu_argv(case.vcpus, case.mem_mib,
                             " ".join(guest.guest_args(case, command)), self.accel,
                             self.machine, disk, disk is not None and guest.direct(case),
                             iothread=self.iothread)
            res = subprocess.run(argv, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            raise PlatformError(f"qemu-guest: QEMU did not finish in {limit} s")
        status = results.qemu_guest_status(res.returncode)
        if status is None:
            raise PlatformError(f"qemu-guest: QEMU stopped without a guest status "
                                f"({res.returncode}): {res.stderr.strip()[-300:]}")
        return res.stdout, status

    def run(self, case):
        limit = 3 * int(case.option("time", 10)) + 120
        disk = None
        if case.spec.needs_disk:
            why = self.skip(case)
            if why:
                raise PlatformError(why)
            self.scratch_dir.mkdir(parents=True, exist_ok=True)
            scratch = tempfile.mkdtemp(prefix="bench-qemu-guest-", dir=self.scratch_dir)
            disk = guest.new_raw_disk(case, scratch)
        *setup, measured = case.spec.commands      # one boot each
        try:
            for step in setup:
                out, status = self._boot(case, step, disk, limit + case.spec.setup_s)
                guest.check_prepared(self.name, case, step, out, status)
            out, status = self._boot(case, measured, disk, limit)
        finally:
            if disk:
                shutil.rmtree(disk.parent, ignore_errors=True)
        record = guest.read_result(self.name, case, out, status)
        record["env"]["qemu"] = {"accel": self.accel, "machine": self.machine}
        if disk:
            record["env"].update(disk_format="raw", disk_bytes=guest.raw_disk_bytes(case),
                                 disk_cache="none" if guest.direct(case) else "writeback",
                                 disk_iothread=self.iothread)
        return record


register("qemu-guest",
         lambda options: QemuGuestPlatform(accel=options.accel, machine=options.qemu_machine),
         options=[ACCEL, Option("--qemu-machine", choices=("pc", "microvm"), default="pc",
                                help="QEMU machine for qemu-guest")])
