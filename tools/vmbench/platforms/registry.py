"""The registry of the comparison's platforms.

Each platform module registers its name, its command-line options and how
it is built from them:

    register("vmm", lambda options: VmmPlatform(pin=options.vmm_pin, ...),
             options=[Option("--vmm-pin", help="vmm --pin CPULIST"), ...])

bench/compare (vmbench.compare) adds every registered platform's options to
its command line (add_options) and builds the platforms asked for (create).
An option several platforms take (--accel, --scratch-dir) is one Option
object that each of them lists; it is added once.
"""

import dataclasses


@dataclasses.dataclass(frozen=True, eq=False)
class Option:
    """One command-line option: argparse's add_argument(flag, **kwargs)."""
    flag: str
    kwargs: dict

    def __init__(self, flag, **kwargs):
        object.__setattr__(self, "flag", flag)
        object.__setattr__(self, "kwargs", kwargs)


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    create: object            # options (an argparse namespace) -> a Platform
    options: tuple            # Option, ...
    default: bool = True      # run when neither --platforms nor the matrix names platforms


_ENTRIES = {}


def register(name, create, options=(), default=True):
    """Registers platform `name`: create(options) builds it from the parsed
    command line, which has `options` (Option objects).  default=False: a
    variant that runs only when asked for by name (--platforms, or a
    preset's "platforms"), such as vmm-isolated, which changes the host."""
    if name in _ENTRIES:
        raise ValueError(f"platform '{name}' is registered twice")
    _ENTRIES[name] = Entry(name, create, tuple(options), default)


def names():
    """The registered platforms' names, in the order they registered."""
    return tuple(_ENTRIES)


def defaults():
    """The names of the platforms that run by default, in the same order."""
    return tuple(name for name, entry in _ENTRIES.items() if entry.default)


def add_options(parser):
    """Adds every registered platform's options to an argparse parser, each
    once, in the order the platforms registered."""
    added = {}
    for entry in _ENTRIES.values():
        for option in entry.options:
            if option.flag in added:
                if added[option.flag] is not option:
                    raise ValueError(f"option {option.flag} is declared by two platforms "
                                     "differently; share one Option")
                continue
            added[option.flag] = option
            parser.add_argument(option.flag, **option.kwargs)


def create(name, options):
    """A platform object for `name`, configured from the command line's
    options (an argparse namespace)."""
    entry = _ENTRIES.get(name)
    if entry is None:
        raise ValueError(f"no platform '{name}' (platforms: {', '.join(names())})")
    return entry.create(options)


# Options that more than one platform takes.
SCRATCH_DIR = Option("--scratch-dir",
                     help="where native and container make fileio's files (default: the "
                          "results folder); it is on this file system that they measure")
ACCEL = Option("--accel", choices=("auto", "kvm", "tcg"), default="auto",
               help="QEMU's accelerator for qemu-linux and qemu-guest (default: kvm when "
                    "it works here, else tcg; always recorded)")
