"""The kernel's CPU list and CPU mask syntax.

A list is what isolcpus=, taskset -c and /sys/devices/system/cpu/online
use: "0-3,6". The grammar and the messages are isolation/cpulist.c's
(vmm --pin reads lists with it): items separated by commas, each a CPU
number or a range LO-HI with LO <= HI, numbers 0-4095, no CPU twice, no
spaces. A mask is what /proc/irq/default_smp_affinity and the workqueue
cpumask use: hexadecimal, most significant first, a comma between
32-bit groups ("3", "ff,ffffffff").
"""

import re

MAX_CPU = 4095          # CPULIST_MAX_CPU in isolation/cpulist.h
_NUMBER = re.compile(r"[0-9]+")

class CpuListError(ValueError):
    """A list or mask that does not parse; str() is one line."""


def parse(text, allow_empty=False):
    """The CPUs of `text` in the order written.  allow_empty: "" is the
    empty list (the kernel writes that for an empty set), not an error."""
    if text == "":
        if allow_empty:
            return []
        raise CpuListError("empty CPU list")
    cpus, seen = [], set()
    pos = 0
    while True:
        lo, end = _read_cpu(text, pos)
        if lo is None:
            raise CpuListError(f"bad CPU list '{text}': expected a CPU number (0-{MAX_CPU}) "
                               f"at '{text[pos:]}'")
        pos, hi = end, lo
        if text[pos:pos + 1] == "-":
            hi, end = _read_cpu(text, pos + 1)
            pos = end
            if hi is None or hi < lo:
                raise CpuListError(f"bad CPU list '{text}': bad range ending at '{text[pos:]}'")
        for cpu in range(lo, hi + 1):
            if cpu in seen:
                raise CpuListError(f"bad CPU list '{text}': CPU {cpu} listed twice")
            seen.add(cpu)
            cpus.append(cpu)
        if pos == len(text):
            return cpus
        if text[pos] != ",":
            raise CpuListError(f"bad CPU list '{text}': unexpected '{text[pos]}'")
        pos += 1


def _read_cpu(text, pos):
    """(number, end) of the decimal number at pos, or (None, pos) when
    there is none or it is above MAX_CPU (cpulist.c's read_cpu)."""
    m = _NUMBER.match(text, pos)
    if not m or int(m[0]) > MAX_CPU:
        return None, pos
    return int(m[0]), m.end()


def parse_set(text, allow_empty=False):
    return set(parse(text, allow_empty))


def fmt(cpus):
    """The kernel's way of writing a set: ascending, ranges joined ("0-3,6");
    "" for the empty set."""
    out = []
    run = []
    for cpu in sorted(cpus):
        if run and cpu == run[-1] + 1:
            run.append(cpu)
            continue
        if run:
            out.append(_range(run))
        run = [cpu]
    if run:
        out.append(_range(run))
    return ",".join(out)


def _range(run):
    return str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}"


def parse_mask(text):
    """The CPUs of a hexadecimal mask ("3", "00000000,00000003")."""
    digits = text.replace(",", "")
    if not digits or not re.fullmatch(r"[0-9a-fA-F]+", digits):
        raise CpuListError(f"bad CPU mask '{text}': expected hexadecimal digits")
    bits = int(digits, 16)
    return {cpu for cpu in range(bits.bit_length()) if bits >> cpu & 1}


def fmt_mask(cpus):
    """A set as a mask the kernel reads back: "1", "1ff,ffffffff"."""
    digits = format(sum(1 << cpu for cpu in cpus), "x")
    groups = []
    while len(digits) > 8:
        groups.insert(0, digits[-8:])
        digits = digits[:-8]
    return ",".join([digits] + groups)
