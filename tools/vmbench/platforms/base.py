"""What every platform of the comparison provides, and what a run asks of it.

A platform (native, container, qemu-linux, qemu-guest, vmm) turns a Case -
one test with its options on one machine shape - into one result in the
vmbench.result/1 schema (docs/results.md), or raises PlatformError with one
line saying why it could not.  Before the first case it is prepared
(images built, limits checked); its environment() says what was really in
force (accelerator, limits, pinning), which the report records next to
every figure.
"""

import dataclasses

from vmbench import specs


# Options of a case that are the harness's, not sysbench's: they shape the
# platform (fileio's disk image format: "raw" or "qcow2") and never reach
# sysbench's command line.  They stay in the case's options, so that the
# report's rows and results.csv show them.
HARNESS_OPTIONS = ("disk-format",)


class PlatformError(Exception):
    """A platform could not run a case, or is not what it claims; one line."""


class CaseSkipped(PlatformError):
    """Raised by run() when a case turns out, only when it is run, not to
    apply to the platform (vmm-isolated: the host's CPUs could not be
    isolated).  The runner records the case as skipped with this line, as
    it does for skip(), and does not run it there again; it is no failure."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One cell of the matrix: a sysbench test on one machine shape."""
    test: str                 # "cpu", "memory", "fileio"
    options: tuple            # sysbench options as (name, value) pairs, e.g.
                              # (("cpu-max-prime", 10000), ("threads", 2), ("time", 10));
                              # fileio: also ("disk-format", "raw"|"qcow2") (HARNESS_OPTIONS)
    vcpus: int                # CPUs the platform gets (quota for a container)
    mem_mib: int              # memory it gets (limit for a container)

    @property
    def spec(self):
        """The test's row of vmbench.specs' table."""
        return specs.get(self.test)

    def option(self, name, default=None):
        return dict(self.options).get(name, default)

    def sysbench_args(self):
        """The options as sysbench's command line: --name=value ... (without
        the harness's own, HARNESS_OPTIONS)."""
        return [f"--{name}={value}" for name, value in self.options
                if name not in HARNESS_OPTIONS]

    def disk_format(self):
        """The disk image format of a test that needs a disk (fileio), where
        the platform has one ("raw" by default); None for other tests."""
        return self.option("disk-format", "raw") if self.spec.needs_disk else None

    def label(self):
        opts = " ".join(f"{n}={v}" for n, v in self.options if n != "time")
        return f"{self.test} {opts} ({self.vcpus} vCPU, {self.mem_mib} MiB)"


class Platform:
    """Base class; see the module's docstring."""

    name = "?"
    # True for the platforms that run Debian's sysbench (native, container,
    # qemu-linux): they skip the guest's own tests (spec.sysbench False).
    runs_sysbench = True

    def prepare(self, cases):
        """Builds what the cases need and checks the platform is what it
        claims (raises PlatformError if not).  Called once, before any run."""

    def environment(self):
        """What was in force, as a dict (accelerator, limits, pinning ...)."""
        return {}

    def skip(self, case):
        """None when the platform runs `case`; else why it does not apply
        there (one line, e.g. a qcow2 disk on a platform that takes raw disks
        only).  The runner records such a case as skipped, not failed.
        By default: the guest's own tests where the platform runs sysbench."""
        if self.runs_sysbench and not case.spec.sysbench:
            return f"{self.name}: {case.test} is the guest's own test; sysbench has none"
        return None

    def run(self, case):
        """Runs one case; returns its vmbench.result/1 dict (with "platform"
        set to self.name) or raises PlatformError."""
        raise NotImplementedError

    def close(self):
        """Releases what prepare() made (VMs, containers, temporary files)."""
