"""vmm-pinned and vmm-isolated: vmm with its vCPUs pinned to host CPUs,
and the same after isolating those CPUs from the host's other work.

With the plain vmm platform (no pinning) they are the three scenarios of
the isolation preset (`bench/compare --preset isolation`): a platform each,
so the runner interleaves them and the report sets them side by side.
They run only when named (registered with default=False).

The host CPUs: --isolate-cpus CPULIST (vCPU i on the i-th CPU of the list,
as vmm --pin reads it), else the last V of the CPUs this process may use,
V being the case's vCPUs, so that the first ones stay with the host: on a
2-CPU host, a 1-vCPU case runs on CPU 1 and leaves CPU 0 to the host.  A
case that does not fit (no CPU left to the host, or a list shorter than
its vCPUs) is skipped, saying why.

vmm-isolated runs every case inside `isolation/apply CPULIST` ...
`isolation/restore` (vmbench.isolation.session: restored whatever happens, also on
Ctrl-C), with --isolation-root DIR passed as --root (a fake tree, for
tests).  When apply is missing or fails (not root, ...), the case is
skipped with its line, and so are the platform's other cases.  What
`isolation/check --json` says once applied is recorded in the run's env
("isolation").  Where vmm runs nested in a Linux VM (no usable KVM here),
both are skipped: this host's CPUs are not the VM's.
"""

import argparse
import os
import re

from vmbench.isolation import session as isolation
from vmbench.platforms.base import CaseSkipped, PlatformError
from vmbench.platforms.registry import Option, register
from vmbench.platforms.vmm import VmmPlatform

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_cpulist(text):
    """[cpu, ...] of a Linux CPU list ("0-3,6"), in the order written;
    ValueError with one line when it is not one (empty, a bad range, a CPU
    given twice)."""
    cpus = []
    for part in str(text).split(","):
        m = _RANGE.match(part.strip())
        if not m:
            raise ValueError(f"CPU list {text!r}: {part.strip() or 'an empty entry'!r} "
                             "is not a CPU or a range")
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if last < first:
            raise ValueError(f"CPU list {text!r}: range {part.strip()} runs backwards")
        for cpu in range(first, last + 1):
            if cpu in cpus:
                raise ValueError(f"CPU list {text!r}: CPU {cpu} is listed twice")
            cpus.append(cpu)
    return cpus


def format_cpulist(cpus):
    return ",".join(str(c) for c in cpus)


def choose_cpus(vcpus, host_cpus, asked=None):
    """(CPU list string, None) for a case of `vcpus` vCPUs on a host whose
    usable CPUs are `host_cpus`, or (None, why not).  asked: --isolate-cpus
    (its first `vcpus` CPUs); else the last `vcpus` host CPUs, one at least
    left to the host."""
    host_cpus = sorted(host_cpus)
    if asked:
        cpus = parse_cpulist(asked)
        if len(cpus) < vcpus:
            return None, (f"--isolate-cpus {asked} has {len(cpus)} CPU{'s' * (len(cpus) != 1)}, "
                          f"the case has {vcpus} vCPUs")
        outside = [c for c in cpus[:vcpus] if c not in host_cpus]
        if outside:
            return None, (f"--isolate-cpus {asked}: CPU {format_cpulist(outside)} is not one "
                          f"this host lets us use ({format_cpulist(host_cpus)})")
        return format_cpulist(cpus[:vcpus]), None
    if vcpus >= len(host_cpus):
        return None, (f"{vcpus} vCPU{'s' * (vcpus != 1)} on {len(host_cpus)} host CPU"
                      f"{'s' * (len(host_cpus) != 1)} would leave none to the host "
                      "(choose them with --isolate-cpus)")
    return format_cpulist(host_cpus[-vcpus:]), None


class PinnedVmmPlatform(VmmPlatform):
    """vmm with --pin on the chosen CPUs; isolate=True: vmm-isolated."""

    def __init__(self, name="vmm-pinned", isolate=False, isolate_cpus=None,
                 isolation_root=None, hugepages=False, scratch_dir=None,
                 host_cpus=None, tools=None):
        super().__init__(hugepages=hugepages, scratch_dir=scratch_dir)
        if isolate_cpus:
            parse_cpulist(isolate_cpus)      # ValueError: a bad list is the caller's
        self.name, self.isolate, self.asked = name, isolate, isolate_cpus
        self.host_cpus = sorted(host_cpus if host_cpus is not None
                                else os.sched_getaffinity(0))
        self.isolation = isolation.Isolation(root=isolation_root,
                                             tools=tools or isolation.TOOLS) \
            if isolate else None
        self.unavailable = None       # why none of the cases can run here

    def prepare(self, cases):
        self._find_place(cases)
        if not self.place.host:
            self.unavailable = (f"{self.name}: vmm runs nested in a Linux VM here "
                                f"({self.why}); this host's CPUs are not the VM's")
            return
        if self.isolation:
            self.unavailable = self.isolation.missing()
            if self.unavailable:
                self.unavailable = f"{self.name}: cannot isolate CPUs: {self.unavailable}"
                return
        self._start()

    def pin_for(self, case):
        return choose_cpus(case.vcpus, self.host_cpus, self.asked)[0]

    def skip(self, case):
        if self.unavailable:
            return self.unavailable
        cpus, why = choose_cpus(case.vcpus, self.host_cpus, self.asked)
        if why:
            return f"{self.name}: {why}"
        return super().skip(case)

    def environment(self):
        env = super().environment()
        env["pinning"] = (f"vCPU i on the i-th of --isolate-cpus {self.asked}" if self.asked
                          else "vCPU i on the i-th of the last host CPUs, the first left "
                               "to the host")
        env["host_cpus"] = format_cpulist(self.host_cpus)
        if self.isolation:
            env["isolation"] = ("isolation/apply CPULIST before each run, isolation/restore "
                                "after it" + (f"; --root {self.isolation.root}"
                                              if self.isolation.root else ""))
        if self.unavailable:
            env["unavailable"] = self.unavailable
        return env

    def run(self, case):
        if not self.isolation:
            return super().run(case)
        if self.unavailable:
            raise CaseSkipped(self.unavailable)
        cpus = self.pin_for(case)
        try:
            with self.isolation.applied(cpus):
                in_force = self.isolation.check(cpus)
                record = super().run(case)
        except isolation.IsolationUnavailable as e:
            self.unavailable = f"{self.name}: {e}"
            raise CaseSkipped(self.unavailable) from None
        except isolation.IsolationError as e:
            raise PlatformError(f"{self.name}: {e}") from None
        record["env"]["isolation"] = {"cpus": cpus, "root": self.isolation.root,
                                      "check": in_force}
        return record

    def close(self):
        super().close()
        if self.isolation:
            self.isolation.close()


def cpulist_option(text):
    """argparse's type for --isolate-cpus: a bad list is a usage error."""
    try:
        parse_cpulist(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


ISOLATE_CPUS = Option("--isolate-cpus", metavar="CPULIST", type=cpulist_option,
                      help="host CPUs for vmm-pinned and vmm-isolated: vCPU i on the i-th "
                           "(default: the last ones, the first left to the host); "
                           "vmm-isolated isolates them")
ISOLATION_ROOT = Option("--isolation-root", metavar="DIR",
                        help="vmm-isolated: pass --root DIR to the isolation tools (a fake "
                             "/proc and /sys tree: for tests; the host is left alone)")
HUGEPAGES = "vmm_hugepages"


def _create(name, isolate):
    def create(options):
        return PinnedVmmPlatform(name=name, isolate=isolate,
                                 isolate_cpus=getattr(options, "isolate_cpus", None),
                                 isolation_root=getattr(options, "isolation_root", None),
                                 hugepages=getattr(options, HUGEPAGES, False))
    return create


register("vmm-pinned", _create("vmm-pinned", False), options=[ISOLATE_CPUS], default=False)
register("vmm-isolated", _create("vmm-isolated", True), options=[ISOLATE_CPUS, ISOLATION_ROOT],
         default=False)
