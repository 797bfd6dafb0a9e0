"""qemu-guest: QEMU booting the same guest.elf (-kernel, multiboot), so the
same workload can be compared across monitors.  KVM or TCG, pc or microvm;
the accelerator QEMU really used is recorded (TCG is never called KVM)."""

import subprocess

from harness.platform import Platform, PlatformError
from harness.platforms import guest
from vmbench import results

QEMU = "qemu-system-x86_64"
PROBE_STATUS = 3


def qemu_argv(vcpus, mem_mib, append, accel, machine):
    cpu = ["-cpu", "host"] if accel == "kvm" else ["-cpu", "max"]
    return [QEMU, "-M", machine, "-accel", accel, *cpu, "-smp", str(vcpus),
            "-m", f"{mem_mib}M", "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-no-reboot", "-kernel", str(guest.GUEST), "-append", append]


class QemuGuestPlatform(Platform):
    name = "qemu-guest"

    def __init__(self, accel="auto", machine="pc"):
        self.asked, self.machine = accel, machine
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

    def run(self, case):
        limit = 3 * int(case.option("time", 10)) + 120
        try:
            argv = qemu_argv(case.vcpus, case.mem_mib, " ".join(guest.guest_args(case)),
                             self.accel, self.machine)
            res = subprocess.run(argv, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            raise PlatformError(f"qemu-guest: QEMU did not finish in {limit} s")
        status = results.qemu_guest_status(res.returncode)
        if status is None:
            raise PlatformError(f"qemu-guest: QEMU stopped without a guest status "
                                f"({res.returncode}): {res.stderr.strip()[-300:]}")
        record = guest.read_result(self.name, case, res.stdout, status)
        record["env"]["qemu"] = {"accel": self.accel, "machine": self.machine}
        return record
