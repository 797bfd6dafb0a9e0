"""The tests the harness runs, as one table: what each needs, which sysbench
commands it takes, and which figure heads it in the report, in which unit.

    spec = specs.get("fileio")
    spec.needs_disk              # True: files on a disk (a scratch directory
                                 # here, a disk image in a VM)
    spec.commands                # ("prepare", "run"): in order, the last one measured
    spec.cleanup                 # "cleanup": run afterwards where files stay behind
    spec.headline(options)       # its Figure: spec.headline({}).value(record), .unit
    spec.secondary               # ((metric, label), ...) shown next to the headline
    spec.sysbench                # False: the guest's own test (vmexit, jitter): only
                                 # the platforms that boot guest.elf run it, and its
                                 # output is its VMBENCH-RESULT line alone

The matrix (vmbench.matrix), the platforms (vmbench.platforms) and the
report (vmbench.report) read this table; a test none of them special-cases
is added here.  NAMES is the order the report shows the tests in.
"""

import dataclasses
import math
import numbers


def number(v):
    """v when it is a finite number (not a bool), else None."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        return None
    return v


def field(record, key):
    """The value at a dotted key ("metrics.reads_per_s") of a record, or
    None.  A part that meets a list picks the element whose "name" is that
    part: "vmexit.ops.cpuid.cycles" is the cycles of the op named cpuid."""
    value = record
    for part in key.split("."):
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, dict) and v.get("name") == part),
                         None)
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclasses.dataclass(frozen=True)
class Figure:
    """A figure of merit: the sum of a record's fields `keys` (dotted, see
    field(): "metrics.reads_per_s"), in `unit`; higher is better unless
    lower_better.  what: how the report names a sum (None: the unit says it)."""
    keys: tuple
    unit: str
    what: str = None
    lower_better: bool = False

    def value(self, record):
        """The figure in a vmbench.result/1 record, or None when a field is
        missing or not a finite number."""
        values = []
        for key in self.keys:
            value = field(record, key)
            if number(value) is None:
                return None
            values.append(value)
        return sum(values)


EVENTS = Figure(("events_per_s",), "events/s")


@dataclasses.dataclass(frozen=True)
class TestSpec:
    name: str
    figure: Figure = EVENTS
    # Another headline when an option has a value: ((option, value, Figure), ...).
    figure_when: tuple = ()
    # Further figures beside the headline: ((key in "metrics", label), ...).
    secondary: tuple = ()
    # Files on a disk: native and container make them in a scratch
    # directory, the VMs on a disk image (the matrix's "disks" formats).
    needs_disk: bool = False
    # sysbench's commands, in order; the last is measured, the others not.
    commands: tuple = ("run",)
    cleanup: str = None
    # Seconds the commands before the measured one may take, on top of its own.
    setup_s: int = 0
    # Options --quick sets (to matrix.QUICK_CAPS) when the matrix leaves them
    # to sysbench's defaults, which would make the run long.
    quick_sets: tuple = ()
    # True: sysbench 1.0.20 has this test, and the guest prints sysbench's
    # report for it (checked against its VMBENCH-RESULT line).  False: the
    # guest's own test: native, container and qemu-linux, which run
    # sysbench, skip it; the guest prints its result line alone.
    sysbench: bool = True
    # The guest's test needs a PCI test device (ports and MMIO that exit to
    # the monitor, with and without an in-kernel ioeventfd), which vmm and
    # qemu-guest on pc offer (-device pci-testdev): qemu-guest on microvm,
    # which has no PCI bus, skips it.
    testdev: bool = False

    def headline(self, options=None):
        """The Figure of a run with these options (a dict)."""
        options = options or {}
        for option, value, figure in self.figure_when:
            if options.get(option) == value:
                return figure
        return self.figure


TESTS = {spec.name: spec for spec in (
    TestSpec("cpu"),
    TestSpec("memory", Figure(("metrics.mib_per_s",), "MiB/s"),
             figure_when=(("memory-oper", "none", EVENTS),)),   # no data moved
    TestSpec("fileio", Figure(("metrics.reads_per_s", "metrics.writes_per_s"), "ops/s",
                              "reads/s + writes/s"),
             secondary=(("read_mib_per_s", "read MiB/s"),
                        ("written_mib_per_s", "written MiB/s")),
             needs_disk=True, commands=("prepare", "run"), cleanup="cleanup", setup_s=600,
             # sysbench's default is 128 files of file-total-size/128 each.
             quick_sets=("file-total-size", "file-num")),
    # The cost of one exit and return, per operation (docs/results.md): the
    # headline is cpuid's, which exits on every kind of KVM; the other
    # operations are in the exits preset's table (vmbench.views.exits).
    TestSpec("vmexit", Figure(("vmexit.ops.cpuid.cycles",), "cycles/op",
                              "cpuid round trip", lower_better=True),
             sysbench=False, testdev=True, quick_sets=("min-ticks",)),
    # How much of its time a vCPU loses to the host (gaps in a tight TSC loop).
    TestSpec("jitter", Figure(("jitter.total.lost_share",), "share of time lost",
                              lower_better=True),
             sysbench=False),
)}
NAMES = tuple(TESTS)


def disk_tests():
    """The names of the tests that need a disk."""
    return tuple(name for name, spec in TESTS.items() if spec.needs_disk)


def get(name):
    """The spec of test `name`; a test not in the table gets the defaults
    (events/s, one command, no disk)."""
    return TESTS.get(name) or TestSpec(str(name))
