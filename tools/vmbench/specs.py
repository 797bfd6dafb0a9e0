"""The tests the harness runs, as one table: what each needs, which sysbench
commands it takes, and which figure heads it in the report, in which unit.

    spec = specs.get("fileio")
    spec.needs_disk              # True: files on a disk (a scratch directory
                                 # here, a disk image in a VM)
    spec.commands                # ("prepare", "run"): in order, the last one measured
    spec.cleanup                 # "cleanup": run afterwards where files stay behind
    spec.headline(options)       # its Figure: spec.headline({}).value(record), .unit
    spec.secondary               # ((metric, label), ...) shown next to the headline

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


@dataclasses.dataclass(frozen=True)
class Figure:
    """A figure of merit: the sum of a record's fields `keys` (dotted:
    "metrics.reads_per_s"), in `unit`; higher is better.  what: how the
    report names a sum (None: the unit says it)."""
    keys: tuple
    unit: str
    what: str = None

    def value(self, record):
        """The figure in a vmbench.result/1 record, or None when a field is
        missing or not a finite number."""
        values = []
        for key in self.keys:
            value = record
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
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
)}
NAMES = tuple(TESTS)


def disk_tests():
    """The names of the tests that need a disk."""
    return tuple(name for name, spec in TESTS.items() if spec.needs_disk)


def get(name):
    """The spec of test `name`; a test not in the table gets the defaults
    (events/s, one command, no disk)."""
    return TESTS.get(name) or TestSpec(str(name))
