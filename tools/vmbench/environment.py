"""What the host is: recorded with every run, so a figure can be judged.

The studies this harness replaces could not say whether their host was
itself a virtual machine, or busy; this module always says.
"""

import os
import platform as py_platform
import re
import shutil
import subprocess
from pathlib import Path

from vmbench import kvmkind
from vmbench.paths import VMM


def _read(path, default=None):
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def cpu_model():
    for line in (_read("/proc/cpuinfo", "") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _detect_virt(flag):
    """systemd-detect-virt's answer for --vm or --container, or None."""
    if not shutil.which("systemd-detect-virt"):
        return None
    res = subprocess.run(["systemd-detect-virt", flag], capture_output=True, text=True)
    name = res.stdout.strip()
    return name if res.returncode == 0 and name and name != "none" else None


def virtualization():
    """(kind, hypervisor): ("vm", "kvm") for a virtual machine, ("none",
    None) on bare metal, ("unknown", None) when nothing tells."""
    name = _detect_virt("--vm")
    if name:
        return "vm", name
    cpuinfo = _read("/proc/cpuinfo", "") or ""
    if re.search(r"^flags\s*:.*\bhypervisor\b", cpuinfo, re.M):
        return "vm", "unknown hypervisor"
    return ("none", None) if shutil.which("systemd-detect-virt") else ("unknown", None)


def governor():
    return _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
                 "none (no cpufreq: fixed or hypervisor-managed frequency)")


def kvm(vmm=VMM):
    """{"kvm_kind": "hardware"|"pvm"|"nested-tcg"|"nested"|"unknown" or None,
    "kvm_check": vmm's line}: which kind of KVM this host's /dev/kvm is, as
    `vmm --check` says (None: no usable /dev/kvm, or no vmm built)."""
    if not Path(vmm).exists():
        return {"kvm_kind": None, "kvm_check": f"{vmm} is missing: run make"}
    kind, line = kvmkind.check(vmm)
    return {"kvm_kind": kind, "kvm_check": line}


def host():
    kind, hypervisor = virtualization()
    return {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "kernel": py_platform.release(),
            "virtualization": kind, "hypervisor": hypervisor,
            "container": _detect_virt("--container"), "governor": governor(),
            "mem_mib": _mem_total_mib(), **kvm()}


def _mem_total_mib():
    m = re.search(r"MemTotal:\s+(\d+) kB", _read("/proc/meminfo", "") or "")
    return int(m[1]) // 1024 if m else None


def load():
    return list(os.getloadavg())


def busy(load_avg, cpus):
    """A host whose 1-minute load is above a quarter of its CPUs was doing
    something else when the run started: its figures are suspect."""
    return load_avg[0] > 0.25 * cpus
