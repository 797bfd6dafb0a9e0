"""vmm: the guest's own tests under vmm, with vmm's options recorded.

Where this host's /dev/kvm cannot run guests, vmm runs in a Linux VM that
offers nested KVM (vmbench.vmmrun); the environment says so, since the
guest's CPU is then QEMU's TCG and its figures measure that.  Either way
the kind of KVM vmm ran on (`vmm --check`, and each run's `--json`:
hardware, pvm, nested-tcg, nested) is in the environment ("kvm_kind") and
in every record (env.vmm.kvm_kind), since figures mean something else on
each (tools/vmbench/kvmkind.py).

fileio: a fresh raw image per run (guest.py) given as `--disk IMG[,direct]`
(,direct: vmm opens it O_DIRECT, when the case asks for
--file-extra-flags=direct), one boot for prepare and one for run.  Nested,
the image lives in the session's scratch directory, which the VM sees over
9p; where that file system refuses O_DIRECT, vmm says so and the run fails
with its line.
"""

import json
import os
import subprocess
from pathlib import Path

from vmbench import kvmkind, linuxvm, vmmrun
from vmbench.paths import BUILD, VMM
from vmbench.platforms import guest
from vmbench.platforms.base import Platform, PlatformError
from vmbench.platforms.registry import Option, register


# What vmm --json says of each vCPU's thread that the report shows: where
# it ran and the placement and scheduling in force (vmm's --pin, --rt).
VCPU_KEYS = ("vcpu", "host_cpu", "affinity", "policy", "rt_priority")
# vmm's options about placement, as its --json "config" records them
# (--pin, --io-pin, --rt); --mlock is the top-level "mlock" object.
PLACEMENT_KEYS = ("pin", "io_pin", "rt_priority")
# What vmm --json may say of the level it runs at (how many hypervisors lie
# below it, and which): kept when this vmm reports them, in "host" or at the top.
LEVEL_KEYS = ("virt_level", "hypervisor_below")


def vcpu_placement(host):
    """[{vcpu, host_cpu, affinity, policy, rt_priority}] (the keys present) of
    each vCPU, from vmm --json: its "vcpus" list when it has one, else the
    exit table's "per_vcpu"."""
    rows = host.get("vcpus")
    if not isinstance(rows, list):
        rows = (host.get("exits") or {}).get("per_vcpu") or []
    out = []
    for i, row in enumerate(r for r in rows if isinstance(r, dict)):
        entry = {k: row[k] for k in VCPU_KEYS if k in row}
        entry.setdefault("vcpu", row.get("id", i))
        out.append(entry)
    return out


class VmmPlatform(Platform):
    name = "vmm"
    runs_sysbench = False

    def __init__(self, pin=None, hugepages=False, scratch_dir=None, disk_options=()):
        """scratch_dir: where the run's files (fileio's disk images, vmm's
        --json) go when vmm runs on this host (default build/); nested, they
        go to the VM's scratch directory, which it shares with this host.
        disk_options: words added to every --disk (e.g. "poll")."""
        self.pin, self.hugepages = pin, hugepages
        self.disk_options = tuple(disk_options)
        self.scratch_dir = Path(scratch_dir) if scratch_dir else BUILD
        self.place = None
        self.where = None
        self.kvm_kind = None

    def _check_products(self):
        guest.check_products()
        if not VMM.exists():
            raise PlatformError(f"{self.name}: {VMM} is missing: run make")

    @staticmethod
    def vm_mem_gib(cases, vms=1):
        """GiB for a Linux VM that runs vmm (`vms` nested VMs, each taking
        half of the one around it): room for the largest guest plus each
        VM's own needs, but never more than this host has: a case too big
        for it then fails inside with vmm's own message."""
        host_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 30
        need = (max(c.mem_mib for c in cases) // 1024 + 2) * vms
        return min(need, max(host_gib * 3 // 4, 2))

    def _find_place(self, cases):
        """Decides where vmm runs (this host, or nested), starting nothing."""
        self._check_products()
        self.place = vmmrun.VmmRunner(VMM, mem=f"{self.vm_mem_gib(cases)}G",
                                      scratch_dir=self.scratch_dir)
        self.where = "host" if self.place.host else "nested-kvm-in-tcg"
        self.why = self.place.why

    def _start(self):
        try:
            self.scratch = self.place.scratch_dir       # nested: starts the VM
        except linuxvm.LinuxVMError as e:
            raise PlatformError(f"{self.name}: cannot start the nested-KVM VM: {e}") from None
        self.kvm_kind = self.place.kvm_kind

    def prepare(self, cases):
        self._find_place(cases)
        self._start()

    def pin_for(self, case):
        """vmm's --pin for a case (None: no pinning)."""
        return self.pin

    def environment(self):
        env = {"accelerator": "kvm" if self.where == "host" else
                              "kvm, nested in a Linux VM under QEMU TCG",
               "limits": "the VM's vCPUs and RAM", "pinning": self.pin or "none",
               "where": self.where, "hugepages": self.hugepages,
               "kvm_kind": self.kvm_kind}
        if self.where != "host":
            env["why_nested"] = self.why
            env["note"] = ("vmm ran inside a Linux VM under QEMU's TCG (nested KVM): "
                           "the guest's figures measure TCG, not vmm on hardware")
        return env

    def skip(self, case):
        return guest.skip_fileio(self.name, case)

    def run(self, case):
        disk = None
        if case.spec.needs_disk:
            why = self.skip(case)
            if why:
                raise PlatformError(why)
            disk = guest.new_raw_disk(case, self.scratch)
        *setup, measured = case.spec.commands      # one boot each
        try:
            for step in setup:
                out, status, err = self._vmm(case, step, disk, extra_s=case.spec.setup_s)
                if status >= 120:
                    raise PlatformError(f"{self.name}: exited with {status} ({case.test} {step}): "
                                        f"{err.strip()[-300:]}")
                guest.check_prepared(self.name, case, step, out, status)
            out, status, err = self._vmm(case, measured, disk)
        finally:
            if disk:
                disk.unlink(missing_ok=True)
        if status >= 120:
            raise PlatformError(f"{self.name}: exited with {status}: {err.strip()[-300:]}")
        record = guest.read_result(self.name, case, out, status)
        host = json.loads((self.scratch / "vmm.json").read_text())
        config = host["config"]
        record["env"]["vmm"] = {"where": self.where,
                                **{k: config[k] for k in PLACEMENT_KEYS if k in config},
                                "hugepages": config["hugepages"],
                                "vcpus": vcpu_placement(host),
                                "io_threads": host.get("io_threads", []),
                                "mlock": host.get("mlock"),
                                "wall_time_s": host["wall_time_s"],
                                "exits": host["exits"]["total"], "rss_kib": host["rss_kib"],
                                "kvm_kind": kvmkind.from_vmm_json(host) or self.kvm_kind}
        for key in LEVEL_KEYS:
            value = (host.get("host") or {}).get(key, host.get(key))
            if value is not None:
                record["env"]["vmm"][key] = value
        if disk:
            record["env"].update(disk_format="raw", disk_bytes=guest.raw_disk_bytes(case),
                                 disk_direct=guest.direct(case),
                                 disk_options=list(self.disk_options))
        return record

    def _vmm(self, case, command, disk, extra_s=0):
        report = self.scratch / "vmm.json"
        options = ["--smp", str(case.vcpus), "--mem", f"{case.mem_mib}M",
                   "--timeout", str(3 * int(case.option("time", 10)) + 120 + extra_s),
                   "--json", str(report)]
        pin = self.pin_for(case)
        if pin:
            options += ["--pin", pin]
        if self.hugepages:
            options.append("--hugepages")
        if disk:
            words = (["direct"] if guest.direct(case) else []) + list(self.disk_options)
            options += ["--disk", ",".join([str(disk), *words])]
        argv = [str(VMM), *options, str(guest.GUEST), *guest.guest_args(case, command)]
        limit = self.time_limit(3 * int(case.option("time", 10)) + 300 + extra_s)
        try:
            res = self.place.run(argv, timeout=limit)
        except (subprocess.TimeoutExpired, linuxvm.LinuxVMError) as e:
            raise PlatformError(f"{self.name}: {e}") from None
        return res.stdout, res.returncode, res.stderr

    def time_limit(self, seconds):
        """The host's limit on one vmm run (a guard against a hang); a
        variant with a time budget (nested) may lower it."""
        return seconds

    def close(self):
        if self.place:
            self.place.close()


register("vmm", lambda options: VmmPlatform(pin=options.vmm_pin, hugepages=options.vmm_hugepages),
         options=[Option("--vmm-pin", help="vmm --pin CPULIST"),
                  Option("--vmm-hugepages", action="store_true", help="vmm --hugepages")])
