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


class PlatformError(Exception):
    """A platform could not run a case, or is not what it claims; one line."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One cell of the matrix: a sysbench test on one machine shape."""
    test: str                 # "cpu", "memory" (later "fileio")
    options: tuple            # sysbench options as (name, value) pairs, e.g.
                              # (("cpu-max-prime", 10000), ("threads", 2), ("time", 10))
    vcpus: int                # CPUs the platform gets (quota for a container)
    mem_mib: int              # memory it gets (limit for a container)

    def option(self, name, default=None):
        return dict(self.options).get(name, default)

    def sysbench_args(self):
        """The options as sysbench's command line: --name=value ..."""
        return [f"--{name}={value}" for name, value in self.options]

    def label(self):
        opts = " ".join(f"{n}={v}" for n, v in self.options if n != "time")
        return f"{self.test} {opts} ({self.vcpus} vCPU, {self.mem_mib} MiB)"


class Platform:
    """Base class; see the module's docstring."""

    name = "?"

    def prepare(self, cases):
        """Builds what the cases need and checks the platform is what it
        claims (raises PlatformError if not).  Called once, before any run."""

    def environment(self):
        """What was in force, as a dict (accelerator, limits, pinning ...)."""
        return {}

    def run(self, case):
        """Runs one case; returns its vmbench.result/1 dict (with "platform"
        set to self.name) or raises PlatformError."""
        raise NotImplementedError

    def close(self):
        """Releases what prepare() made (VMs, containers, temporary files)."""
