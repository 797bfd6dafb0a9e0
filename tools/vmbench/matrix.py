"""The comparison matrix: machine shapes × tests × test options, repeated.

A matrix comes from a preset (the studies this project grew from) or a JSON
file of the same form:

    {"shapes": [[1, 2048], [2, 2048]],          # [vCPUs, MiB]
     "tests": [{"test": "cpu", "options": [{"cpu-max-prime": 10000}]}],
     "reps": 5, "time": 10}

Every case runs sysbench with --threads equal to its vCPUs (unless its
options name "threads") and --time from the matrix.  The tests are
vmbench.specs' table.  A test that needs a disk (fileio) may list "disks":
the disk image formats ("raw", "qcow2"; default ["raw"]) of the platforms
that have a disk image (qemu-linux; qemu-guest and vmm take raw only); each
becomes the case option "disk-format" (platforms.base HARNESS_OPTIONS: it
never reaches sysbench), crossed with the options:

    {"test": "fileio", "disks": ["raw", "qcow2"],
     "options": [{"file-test-mode": "rndrw", "file-total-size": "2G"}]}

A preset may also name the platforms it compares (the default of
--platforms; they may be variants that run only when named, such as
vmm-isolated), the platform options it needs unless the command line gives
them (by their argparse dest), and the views of the report that present its
study (vmbench.views, with their parameters):

    {"platforms": ["vmm", "qemu-guest"], "platform_options": {"accel": "kvm"},
     "views": [{"view": "exits", "subject": "vmm", "baseline": "qemu-guest"}], ...}

--quick keeps the first shape, the first options and disk of each test, one
repetition, one-second runs and small sizes: seconds, not hours.
"""

import json

from vmbench import specs
from vmbench.platforms.base import Case

PRESETS = {
    # Container against VM: three machine sizes, three amounts of CPU work,
    # random file I/O with 16 threads.
    "vm-vs-container": {
        "shapes": [[1, 2048], [2, 2048], [4, 4096]],
        "tests": [
            {"test": "cpu", "options": [{"cpu-max-prime": 5000}, {"cpu-max-prime": 10000},
                                        {"cpu-max-prime": 20000}]},
            {"test": "fileio", "disks": ["raw"], "options": [
                {"file-test-mode": "rndrw", "file-total-size": "2G", "threads": 16},
                {"file-test-mode": "rndrw", "file-total-size": "4G", "threads": 16}]},
        ],
        "reps": 5, "time": 10,
    },
    # vCPUs and memory size, crossed, with heavier CPU work and big memory blocks.
    "smp-mem-grid": {
        "shapes": [[1, 2048], [2, 2048], [1, 1024], [2, 1024]],
        "tests": [
            {"test": "cpu", "options": [{"cpu-max-prime": 25000}, {"cpu-max-prime": 50000}]},
            {"test": "memory", "options": [
                {"memory-block-size": "8M", "memory-total-size": "4G"},
                {"memory-block-size": "4M", "memory-total-size": "2G"}]},
            {"test": "fileio", "disks": ["raw", "qcow2"], "options": [
                {"file-test-mode": "rndrw", "file-total-size": "2G"},
                {"file-test-mode": "seqrewr", "file-total-size": "1G"}]},
        ],
        "reps": 5, "time": 10,
    },
    # Pinning and host isolation: the same guest without pinning, pinned,
    # and pinned on CPUs isolated from the host's other work (isolation/),
    # in one run.  One vCPU, so that a 2-CPU host keeps a CPU of its own.
    # cpu: the spread of its events' latency; jitter: the gaps the host
    # makes in a vCPU's time.
    "isolation": {
        "platforms": ["vmm", "vmm-pinned", "vmm-isolated"],
        "shapes": [[1, 256]],
        "tests": [
            {"test": "cpu", "options": [{"cpu-max-prime": 10000}]},
            {"test": "jitter", "options": [{}]},
        ],
        "reps": 5, "time": 10,
        "views": [{"view": "isolation", "latency": "cpu", "jitter": "jitter"}],
    },
    # The cost of each kind of exit under vmm and under QEMU-KVM booting the
    # same guest, with published figures beside them.  Two vCPUs: IPIs need
    # a second one; one measuring thread.
    "exits": {
        "platforms": ["vmm", "qemu-guest"],
        "platform_options": {"accel": "kvm"},
        "shapes": [[2, 256]],
        "tests": [{"test": "vmexit", "options": [{"threads": 1}]}],
        "reps": 3, "time": 10,
        "views": [{"view": "exits", "test": "vmexit", "subject": "vmm",
                   "baseline": "qemu-guest"}],
    },
    # The same benchmarks with vmm on this host (L0), inside a Linux VM
    # (L1) and inside a Linux VM inside that one (L2), side by side, as DVH
    # (ASPLOS 2020) compares levels; each level's accelerator, CPU model and
    # kind of KVM are recorded (vmbench.levels).  Two vCPUs: vmexit's IPIs
    # need a second one.
    "levels": {
        "platforms": ["nested-0", "nested-1", "nested-2"],
        "shapes": [[2, 256]],
        "tests": [
            {"test": "cpu", "options": [{"cpu-max-prime": 10000}]},
            {"test": "memory", "options": [{"memory-block-size": "1M",
                                            "memory-total-size": "4G"}]},
            {"test": "fileio", "disks": ["raw"], "options": [
                {"file-test-mode": "rndrw", "file-total-size": "256M", "file-num": 4}]},
            {"test": "vmexit", "options": [{"threads": 1}]},
        ],
        "reps": 3, "time": 10,
        "views": [{"view": "levels", "platforms": ["nested-0", "nested-1", "nested-2"]}],
    },
}

# What --quick shrinks sizes to.
QUICK_CAPS = {"cpu-max-prime": 2000, "memory-total-size": "64M", "file-total-size": "16M",
              "file-num": 4, "threads": 2, "min-ticks": 1 << 24}
DISK_FORMATS = ("raw", "qcow2")


class MatrixError(ValueError):
    """A preset or matrix file that cannot be used; one line."""


def load(preset=None, path=None):
    if path:
        try:
            with open(path) as f:
                spec = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise MatrixError(f"matrix file {path}: {e}") from None
    elif preset:
        if preset not in PRESETS:
            raise MatrixError(f"no preset '{preset}' (presets: {', '.join(sorted(PRESETS))})")
        spec = PRESETS[preset]
    else:
        raise MatrixError("give --preset NAME or --config FILE")
    check(spec)
    return json.loads(json.dumps(spec))   # a private copy


def check(spec):
    for key in ("shapes", "tests"):
        if not spec.get(key):
            raise MatrixError(f"the matrix has no '{key}'")
    names = spec.get("platforms", ["?"])
    if not (isinstance(names, list) and names
            and all(isinstance(n, str) and n for n in names)):
        raise MatrixError(f"platforms {names!r}: expected a list of platform names")
    if not isinstance(spec.get("platform_options", {}), dict):
        raise MatrixError("platform_options: expected an object of option: value")
    views = spec.get("views", [])
    if not (isinstance(views, list) and all(isinstance(v, dict) and v.get("view")
                                            for v in views)):
        raise MatrixError(f"views {views!r}: expected a list of {{\"view\": NAME, ...}}")
    for shape in spec["shapes"]:
        if (len(shape) != 2 or not all(isinstance(v, int) and v > 0 for v in shape)):
            raise MatrixError(f"shape {shape}: expected [vCPUs, MiB], both positive")
    for t in spec["tests"]:
        if t.get("test") not in specs.TESTS:
            raise MatrixError(f"test {t.get('test')!r}: expected one of "
                              f"{', '.join(specs.NAMES)}")
        if not t.get("options"):
            raise MatrixError(f"test {t['test']}: no options list")
        if "disks" in t:
            if not specs.get(t["test"]).needs_disk:
                takers = specs.disk_tests()
                raise MatrixError(f"test {t['test']}: only {' and '.join(takers)} "
                                  f"take{'s' * (len(takers) == 1)} \"disks\"")
            if not t["disks"] or any(d not in DISK_FORMATS for d in t["disks"]):
                raise MatrixError(f"{t['test']} disks {t['disks']!r}: expected a list of "
                                  f"{' and '.join(DISK_FORMATS)}")
        for opts in t["options"]:
            if "disk-format" in opts:
                raise MatrixError(f"test {t['test']}: give disk formats as \"disks\", "
                                  "not as an option")
            threads = opts.get("threads")
            if threads is not None and not (isinstance(threads, int) and threads > 0):
                raise MatrixError(f"test {t['test']}: threads {threads!r}: expected a "
                                  "positive integer")


def quick(spec):
    """The same matrix, shrunk to a few seconds."""
    small = dict(spec, shapes=spec["shapes"][:1], reps=1, time=1)
    small["tests"] = []
    for t in spec["tests"]:
        opts = dict(t["options"][0])
        for name, cap in QUICK_CAPS.items():
            if name in opts and (name != "threads" or opts[name] > cap):
                opts[name] = cap
        for name in specs.get(t["test"]).quick_sets:
            opts.setdefault(name, QUICK_CAPS[name])
        entry = {"test": t["test"], "options": [opts]}
        if "disks" in t:
            entry["disks"] = t["disks"][:1]
        small["tests"].append(entry)
    return small


def cases(spec):
    """Every case of the matrix, shapes outermost."""
    out = []
    for vcpus, mem_mib in spec["shapes"]:
        for t in spec["tests"]:
            disks = t.get("disks", ["raw"]) if specs.get(t["test"]).needs_disk else [None]
            for opts in t["options"]:
                for disk in disks:
                    rest = dict(opts)
                    threads = rest.pop("threads", vcpus)
                    options = tuple(rest.items()) + (("threads", threads),
                                                     ("time", spec["time"]))
                    if disk:
                        options += (("disk-format", disk),)
                    out.append(Case(test=t["test"], options=options, vcpus=vcpus,
                                    mem_mib=mem_mib))
    return out
