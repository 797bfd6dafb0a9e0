"""vmm: the guest's own tests under vmm, with vmm's options recorded.

Where this host's /dev/kvm cannot run guests, vmm runs in a Linux VM that
offers nested KVM (tools/linuxvm); the environment says so, since the
guest's CPU is then QEMU's TCG and its figures measure that.
"""

import json
import os
import subprocess
import tempfile
from pathlib import Path

from harness.platform import Platform, PlatformError
from harness.platforms import guest
from vmbench import linuxvm

VMM = guest.REPO / "build" / "vmm"


class VmmPlatform(Platform):
    name = "vmm"

    def __init__(self, pin=None, hugepages=False):
        self.pin, self.hugepages = pin, hugepages
        self.session = None
        self.where = None

    def prepare(self, cases):
        guest.check_products()
        if not VMM.exists():
            raise PlatformError(f"vmm: {VMM} is missing: run make")
        check = subprocess.run([VMM, "--check"], capture_output=True, text=True)
        if check.returncode == 0:
            self.where = "host"
            self.scratch = Path(tempfile.mkdtemp(prefix="bench-vmm-", dir=guest.REPO / "build"))
        else:
            self.where = "nested-kvm-in-tcg"
            self.why = check.stderr.strip()
            # Room for the largest guest plus the VM's own needs, but never
            # more than this host has: a case too big for it then fails
            # inside with vmm's own message.
            host_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 30
            mem_gib = min(max(c.mem_mib for c in cases) // 1024 + 2, max(host_gib * 3 // 4, 2))
            try:
                self.session = linuxvm.Session(binaries=[str(VMM)], mem=f"{mem_gib}G",
                                               libraries=["libcapstone.so.4"])
            except linuxvm.LinuxVMError as e:
                raise PlatformError(f"vmm: cannot start the nested-KVM VM: {e}") from None
            self.scratch = Path(self.session.scratch_dir)

    def environment(self):
        env = {"accelerator": "kvm" if self.where == "host" else
                              "kvm, nested in a Linux VM under QEMU TCG",
               "limits": "the VM's vCPUs and RAM", "pinning": self.pin or "none",
               "where": self.where, "hugepages": self.hugepages}
        if self.session:
            env["why_nested"] = self.why
            env["note"] = ("vmm ran inside a Linux VM under QEMU's TCG (nested KVM): "
                           "the guest's figures measure TCG, not vmm on hardware")
        return env

    def run(self, case):
        report = self.scratch / "vmm.json"
        options = ["--smp", str(case.vcpus), "--mem", f"{case.mem_mib}M",
                   "--timeout", str(3 * int(case.option("time", 10)) + 120),
                   "--json", str(report)]
        if self.pin:
            options += ["--pin", self.pin]
        if self.hugepages:
            options.append("--hugepages")
        argv = [str(VMM), *options, str(guest.GUEST), *guest.guest_args(case)]
        limit = 3 * int(case.option("time", 10)) + 300
        try:
            if self.session:
                res = self.session.run(argv, timeout=limit)
                out, status = res.stdout.decode(errors="replace"), res.returncode
                err = res.stderr.decode(errors="replace")
            else:
                res = subprocess.run(argv, capture_output=True, text=True, timeout=limit)
                out, status, err = res.stdout, res.returncode, res.stderr
        except (subprocess.TimeoutExpired, linuxvm.LinuxVMError) as e:
            raise PlatformError(f"vmm: {e}") from None
        if status >= 120:
            raise PlatformError(f"vmm: exited with {status}: {err.strip()[-300:]}")
        record = guest.read_result(self.name, case, out, status)
        host = json.loads(report.read_text())
        record["env"]["vmm"] = {"where": self.where, "pin": host["config"]["pin"],
                                "hugepages": host["config"]["hugepages"],
                                "wall_time_s": host["wall_time_s"],
                                "exits": host["exits"]["total"], "rss_kib": host["rss_kib"]}
        return record

    def close(self):
        if self.session:
            self.session.close()
