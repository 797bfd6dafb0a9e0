"""The comparison matrix: machine shapes × tests × test options, repeated.

A matrix comes from a preset (the studies this project grew from) or a JSON
file of the same form:

    {"shapes": [[1, 2048], [2, 2048]],          # [vCPUs, MiB]
     "tests": [{"test": "cpu", "options": [{"cpu-max-prime": 10000}]}],
     "reps": 5, "time": 10}

Every case runs sysbench with --threads equal to its vCPUs and --time from
the matrix.  --quick keeps the first shape and the first options of each
test, one repetition, one-second runs and small sizes: seconds, not hours.
"""

import json

from harness.platform import Case

PRESETS = {
    # Container against VM: three machine sizes, three amounts of CPU work.
    "vm-vs-container": {
        "shapes": [[1, 2048], [2, 2048], [4, 4096]],
        "tests": [
            {"test": "cpu", "options": [{"cpu-max-prime": 5000}, {"cpu-max-prime": 10000},
                                        {"cpu-max-prime": 20000}]},
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
        ],
        "reps": 5, "time": 10,
    },
}

# What --quick shrinks sizes to.
QUICK_CAPS = {"cpu-max-prime": 2000, "memory-total-size": "64M"}


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
    for shape in spec["shapes"]:
        if (len(shape) != 2 or not all(isinstance(v, int) and v > 0 for v in shape)):
            raise MatrixError(f"shape {shape}: expected [vCPUs, MiB], both positive")
    for t in spec["tests"]:
        if t.get("test") not in ("cpu", "memory"):
            raise MatrixError(f"test {t.get('test')!r}: expected cpu or memory")
        if not t.get("options"):
            raise MatrixError(f"test {t['test']}: no options list")


def quick(spec):
    """The same matrix, shrunk to a few seconds."""
    small = dict(spec, shapes=spec["shapes"][:1], reps=1, time=1)
    small["tests"] = []
    for t in spec["tests"]:
        opts = dict(t["options"][0])
        for name, cap in QUICK_CAPS.items():
            if name in opts:
                opts[name] = cap
        small["tests"].append({"test": t["test"], "options": [opts]})
    return small


def cases(spec):
    """Every case of the matrix, shapes outermost."""
    out = []
    for vcpus, mem_mib in spec["shapes"]:
        for t in spec["tests"]:
            for opts in t["options"]:
                options = tuple(opts.items()) + (("threads", vcpus), ("time", spec["time"]))
                out.append(Case(test=t["test"], options=options, vcpus=vcpus, mem_mib=mem_mib))
    return out
