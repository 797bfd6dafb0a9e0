"""Read sysbench 1.0.20's human-readable reports into vmbench.result/1 records.

One parser for every platform: sysbench run natively, in a container or in a
Linux VM, and the vmbench guest, whose ``cpu``, ``memory`` and ``fileio``
tests print the same layout (plus a ``VMBENCH-RESULT`` line, which this
parser ignores like any other trailing line; see results.py for that line).

    >>> from vmbench import sysbench
    >>> rec = sysbench.parse_report(open("out.txt").read())
    >>> rec["events_per_s"], rec["latency_ms"]["avg"]

``parse_report(text)`` returns a dict with the fields of the vmbench.result/1
schema (docs/design.md, docs/results.md) that a report shows::

    schema        "vmbench.result/1"
    test          "cpu" | "memory" | "fileio"
    options       what the report shows of the options in force (below)
    threads       int ("Number of threads")
    total_time_s  float ("total time", 4 decimals)
    events        int ("total number of events")
    events_per_s  float: cpu: "events per second"; memory: "Total operations:
                  N (X per second)"; fileio: the sum of the "File operations"
                  rates that are events: reads/s + writes/s + fsyncs/s, without
                  fsyncs/s under --file-fsync-all (those fsyncs are part of the
                  write event, and sysbench does not count them as events)
    latency_ms    {min, avg, max, sum} and, unless "percentile stats: disabled",
                  {percentile (int), pct_value}; never stddev, which sysbench
                  does not print (the guest's VMBENCH-RESULT line has it)
    fairness      {events_avg, events_stddev, time_avg_s, time_stddev_s}
    metrics       memory: {mib_per_s, mib_transferred} (0.0 for
                  --memory-oper=none, where sysbench prints no "MiB
                  transferred" line); fileio: {reads_per_s, writes_per_s,
                  fsyncs_per_s, read_mib_per_s, written_mib_per_s}; absent for cpu
    histogram     [(value_ms, count), ...] when --histogram=on printed one

Note that sysbench computes its per-second figures over its own interval, not
over the printed "total time": events_per_s is not events / total_time_s
(they differ by up to 10 % in very short runs).

``options`` uses sysbench's option names, numbers as numbers and sizes in
bytes (as the guest's VMBENCH-RESULT does).  Always: ``threads``,
``percentile`` (0 when disabled), ``histogram`` (whether one was printed),
``rand-seed`` (0 for "from current time"); when printed:
``report-interval``, ``rate``, ``validate``.  cpu: ``cpu-max-prime``.
memory: ``memory-block-size``, ``memory-total-size`` (sysbench prints them in
whole KiB and MiB, so these are truncated to that), ``memory-oper``,
``memory-scope``; sysbench does not print the access mode, so
``memory-access-mode`` is never there.  fileio: ``file-num``,
``file-total-size``, ``file-block-size``, ``file-test-mode``,
``file-io-mode``, ``file-extra-flags`` (option syntax: "" or e.g.
"sync,direct"), ``file-fsync-freq`` (0 when no "Periodic FSYNC" line),
``file-fsync-all``, ``file-fsync-end``, and when printed
``file-merged-requests``, ``file-rw-ratio`` and ``events`` ("Number of IO
requests", random modes only).

Anything that is not one complete report raises SysbenchParseError, whose
message names what is missing or quotes sysbench's own error ("FATAL: ...").
"""

import math
import re

SCHEMA = "vmbench.result/1"

__all__ = ["SysbenchParseError", "parse_report", "parse_prepare", "parse_size", "SCHEMA"]


class SysbenchParseError(ValueError):
    """The text is not one complete sysbench report (the message says why)."""


_NUM = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf)"

_SIZE_UNITS = {
    "": 1, "b": 1, "B": 1,
    "K": 1 << 10, "KiB": 1 << 10, "Kb": 1 << 10, "KB": 1 << 10,
    "M": 1 << 20, "MiB": 1 << 20, "Mb": 1 << 20, "MB": 1 << 20,
    "G": 1 << 30, "GiB": 1 << 30, "Gb": 1 << 30, "GB": 1 << 30,
    "T": 1 << 40, "TiB": 1 << 40, "Tb": 1 << 40, "TB": 1 << 40,
}

_FILEIO_MODES = {
    "sequential write (creation)": "seqwr",
    "sequential rewrite": "seqrewr",
    "sequential read": "seqrd",
    "random read": "rndrd",
    "random write": "rndwr",
    "random r/w": "rndrw",
}

_FILEIO_IO_MODES = {
    "synchronous": "sync",
    "asynchronous": "async",
    "fast mmaped": "mmap",
    "slow mmaped": "mmap",
}

# What sysbench prints for --file-extra-flags, back to the option's words.
_EXTRA_FLAGS = {"sync": "sync", "dsync": "dsync", "directio": "direct", "direct": "direct"}


def parse_size(text):
    """Bytes in a size as sysbench prints or accepts it: "16KiB", "4096Kb", "1M", "512"."""
    m = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2) not in _SIZE_UNITS:
        raise SysbenchParseError(f"not a size: {text!r}")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2)]


def _number(text):
    """A float from a printed number; None for nan/inf (JSON has neither)."""
    value = float(text)
    return None if math.isnan(value) or math.isinf(value) else value


def _lines(text):
    if not isinstance(text, str):
        raise TypeError(f"expected the report as str, got {type(text).__name__}")
    return [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _error_line(lines):
    """sysbench's (or the guest's) own error message, when the text has one."""
    for line in lines:
        s = line.strip()
        if s.startswith("FATAL:"):
            return s
    for line in lines:
        s = line.strip()
        if s.startswith(("vmbench: ", "ERROR:", "error:")):
            return s
    return None


class _Text:
    """The report's lines, with helpers that name what is missing."""

    def __init__(self, lines):
        self.lines = lines

    def find(self, pattern, start=0, stop=None):
        """(index, match) of the first line from `start` matching `pattern` in full."""
        rx = re.compile(pattern)
        for i in range(start, len(self.lines) if stop is None else stop):
            m = rx.fullmatch(self.lines[i].strip())
            if m:
                return i, m
        return None, None

    def need(self, pattern, what, start=0, stop=None):
        i, m = self.find(pattern, start, stop)
        if m is None:
            raise SysbenchParseError(f"incomplete sysbench report: no {what}")
        return i, m

    def section(self, header, what):
        """Index of a section header and of the end of its block (first blank line)."""
        i, _ = self.need(re.escape(header), f"'{header}' section ({what})")
        end = i + 1
        while end < len(self.lines) and self.lines[end].strip():
            end += 1
        return i, end


def parse_report(text):
    """The vmbench.result/1 fields of one sysbench 1.0.20 report (see the module's doc)."""
    lines = _lines(text)
    if not any(line.strip() for line in lines):
        raise SysbenchParseError("empty text: no sysbench report")
    error = _error_line(lines)
    if error and error.startswith("FATAL:"):
        raise SysbenchParseError(f"the output is an error message: {error}")
    t = _Text(lines)
    count = sum(1 for line in lines if line.strip() == "General statistics:")
    if count == 0:
        why = f" (it says: {error})" if error else ""
        raise SysbenchParseError(f"not a sysbench report: no 'General statistics:' section{why}")
    if count > 1:
        raise SysbenchParseError(f"{count} sysbench reports in one text: parse them one at a time")

    rec = {"schema": SCHEMA}
    options = {}

    # The header, printed before the test starts.
    _, m = t.need(r"Number of threads:\s*(\d+)", "'Number of threads:' line (the header)")
    threads = int(m.group(1))
    options["threads"] = threads
    _, m = t.find(r"Report intermediate results every (\d+) second\(s\)")
    if m:
        options["report-interval"] = int(m.group(1))
    _, m = t.find(r"Target transaction rate: (\d+)/sec")
    if m:
        options["rate"] = int(m.group(1))
    _, m = t.find(r"Validation checks: (on|off)\.?")
    if m:
        options["validate"] = m.group(1) == "on"
    _, m = t.find(r"Initializing random number generator from (?:seed \((\d+)\)\.?|current time)")
    if m:
        options["rand-seed"] = int(m.group(1)) if m.group(1) else 0

    # Which test: each prints its own block of settings.
    if t.find(r"Prime numbers limit:\s*\d+")[1]:
        test = "cpu"
    elif t.find(r"Running memory speed test with the following options:")[1]:
        test = "memory"
    elif t.find(r"File operations:")[1] or t.find(r"Doing .* test")[1]:
        test = "fileio"
    else:
        raise SysbenchParseError(
            "cannot tell the test: no 'Prime numbers limit' (cpu), 'Running memory speed test' "
            "(memory) or 'File operations:' (fileio)")
    rec["test"] = test
    rec["options"] = options

    # General statistics, latency and fairness: the same for every test.
    gs, _ = t.section("General statistics:", "total time, total number of events")
    _, m = t.need(r"total time:\s*" + _NUM + r"s", "'total time:' in General statistics", gs)
    total_time_s = float(m.group(1))
    _, m = t.need(r"total number of events:\s*(\d+)",
                  "'total number of events:' in General statistics", gs)
    events = int(m.group(1))

    lat, lat_end = t.section("Latency (ms):", "min, avg, max, percentile, sum")
    latency = {}
    for key in ("min", "avg", "max"):
        _, m = t.need(key + r":\s*" + _NUM, f"'{key}:' in Latency (ms)", lat, lat_end)
        latency[key] = _number(m.group(1))
    _, m = t.find(r"(\d+)th percentile:\s*" + _NUM, lat, lat_end)
    if m:
        options["percentile"] = int(m.group(1))
        latency["percentile"] = int(m.group(1))
        latency["pct_value"] = _number(m.group(2))
    else:
        t.need(r"percentile stats:\s*disabled",
               "'Nth percentile:' or 'percentile stats: disabled' in Latency (ms)", lat, lat_end)
        options["percentile"] = 0
    _, m = t.need(r"sum:\s*" + _NUM, "'sum:' in Latency (ms)", lat, lat_end)
    latency["sum"] = _number(m.group(1))

    fair, fair_end = t.section("Threads fairness:", "events and execution time avg/stddev")
    _, m = t.need(r"events \(avg/stddev\):\s*" + _NUM + "/" + _NUM,
                  "'events (avg/stddev):' in Threads fairness", fair, fair_end)
    fairness = {"events_avg": _number(m.group(1)), "events_stddev": _number(m.group(2))}
    _, m = t.need(r"execution time \(avg/stddev\):\s*" + _NUM + "/" + _NUM,
                  "'execution time (avg/stddev):' in Threads fairness", fair, fair_end)
    fairness.update(time_avg_s=_number(m.group(1)), time_stddev_s=_number(m.group(2)))

    # The test's own settings and figures.
    metrics = None
    if test == "cpu":
        _, m = t.need(r"Prime numbers limit:\s*(\d+)", "'Prime numbers limit:' line")
        options["cpu-max-prime"] = int(m.group(1))
        i, _ = t.need(r"CPU speed:", "'CPU speed:' section (events per second)")
        _, m = t.need(r"events per second:\s*" + _NUM, "'events per second:' in CPU speed", i)
        events_per_s = float(m.group(1))
    elif test == "memory":
        i, end = t.section("Running memory speed test with the following options:",
                           "block size, total size, operation, scope")
        for key, label, value in (("memory-block-size", "block size", r"(\d+\s*[A-Za-z]*)"),
                                  ("memory-total-size", "total size", r"(\d+\s*[A-Za-z]*)"),
                                  ("memory-oper", "operation", r"(\S+)"),
                                  ("memory-scope", "scope", r"(\S+)")):
            _, m = t.need(label + r":\s*" + value, f"'{label}:' in the memory settings", i, end)
            options[key] = parse_size(m.group(1)) if key.endswith("size") else m.group(1)
        _, m = t.need(r"Total operations:\s*(\d+)\s*\(\s*" + _NUM + r"\s*per second\)",
                      "'Total operations: N (X per second)' line")
        if int(m.group(1)) != events:
            raise SysbenchParseError(
                f"inconsistent sysbench memory report: 'Total operations: {m.group(1)}' but "
                f"'total number of events: {events}'")
        events_per_s = float(m.group(2))
        _, m = t.find(_NUM + r"\s*MiB transferred \(\s*" + _NUM + r"\s*MiB/sec\)")
        if m:
            metrics = {"mib_per_s": float(m.group(2)), "mib_transferred": float(m.group(1))}
        elif options["memory-oper"] == "none":
            metrics = {"mib_per_s": 0.0, "mib_transferred": 0.0}
        else:
            raise SysbenchParseError(
                "incomplete sysbench report: no 'MiB transferred (X MiB/sec)' line")
    else:
        _parse_fileio_settings(t, options)
        i, end = t.section("File operations:", "reads/s, writes/s, fsyncs/s")
        metrics = {}
        for key, label in (("reads_per_s", "reads/s"), ("writes_per_s", "writes/s"),
                           ("fsyncs_per_s", "fsyncs/s")):
            _, m = t.need(re.escape(label) + r":\s*" + _NUM, f"'{label}' in File operations", i, end)
            metrics[key] = float(m.group(1))
        i, end = t.section("Throughput:", "read and written MiB/s")
        for key, label in (("read_mib_per_s", "read, MiB/s"), ("written_mib_per_s", "written, MiB/s")):
            _, m = t.need(re.escape(label) + r":\s*" + _NUM, f"'{label}' in Throughput", i, end)
            metrics[key] = float(m.group(1))
        per_s = metrics["reads_per_s"] + metrics["writes_per_s"]
        if not options["file-fsync-all"]:
            per_s += metrics["fsyncs_per_s"]
        events_per_s = round(per_s, 2)

    histogram = _parse_histogram(t)
    options["histogram"] = histogram is not None

    rec.update(threads=threads, total_time_s=total_time_s, events=events,
               events_per_s=events_per_s, latency_ms=latency, fairness=fairness)
    if metrics is not None:
        rec["metrics"] = metrics
    if histogram is not None:
        rec["histogram"] = histogram
    return rec


def _parse_fileio_settings(t, options):
    what = "the fileio settings"
    _, m = t.need(r"Extra file open flags:\s*(.*)", f"'Extra file open flags:' in {what}")
    words = m.group(1).split()
    if words == ["(none)"]:
        options["file-extra-flags"] = ""
    else:
        try:
            options["file-extra-flags"] = ",".join(_EXTRA_FLAGS[w] for w in words)
        except KeyError as e:
            raise SysbenchParseError(f"unknown extra file open flag {e.args[0]!r}") from None
    _, m = t.need(r"(\d+) files, (\d+\s*[A-Za-z]+) each", f"'N files, SIZE each' in {what}")
    options["file-num"] = int(m.group(1))
    _, m = t.need(r"(\d+\s*[A-Za-z]+) total file size", f"'SIZE total file size' in {what}")
    options["file-total-size"] = parse_size(m.group(1))
    _, m = t.need(r"Block size (\d+\s*[A-Za-z]+)", f"'Block size' in {what}")
    options["file-block-size"] = parse_size(m.group(1))
    _, m = t.find(r"Merging requests up to (\d+\s*[A-Za-z]+) for sequential IO\.?")
    if m and options["file-block-size"]:
        options["file-merged-requests"] = parse_size(m.group(1)) // options["file-block-size"]
    _, m = t.find(r"Number of IO requests:\s*(\d+)")
    if m:
        options["events"] = int(m.group(1))
    _, m = t.find(r"Read/Write ratio for combined random IO test:\s*" + _NUM)
    if m:
        options["file-rw-ratio"] = float(m.group(1))
    _, m = t.find(r"Periodic FSYNC enabled, calling fsync\(\) each (\d+) requests\.?")
    options["file-fsync-freq"] = int(m.group(1)) if m else 0
    _, m = t.find(r"Calling fsync\(\) after each write operation\.?")
    options["file-fsync-all"] = m is not None
    _, m = t.find(r"Calling fsync\(\) at the end of test, Enabled\.?")
    options["file-fsync-end"] = m is not None
    _, m = t.need(r"Using (.*) I/O mode", f"'Using ... I/O mode' in {what}")
    if m.group(1) not in _FILEIO_IO_MODES:
        raise SysbenchParseError(f"unknown fileio I/O mode {m.group(1)!r}")
    options["file-io-mode"] = _FILEIO_IO_MODES[m.group(1)]
    _, m = t.need(r"Doing (.*) test", f"'Doing ... test' in {what}")
    if m.group(1) not in _FILEIO_MODES:
        raise SysbenchParseError(f"unknown fileio test mode {m.group(1)!r}")
    options["file-test-mode"] = _FILEIO_MODES[m.group(1)]


def _parse_histogram(t):
    """[(value_ms, count), ...] of a printed latency histogram, or None."""
    i, _ = t.find(r"Latency histogram \(values are in milliseconds\)")
    if i is None:
        return None
    rows, j = [], i + 1
    if j < len(t.lines) and re.fullmatch(r"value\s+-+\s*distribution\s*-+\s*count", t.lines[j].strip()):
        j += 1
    rx = re.compile(r"\s*" + _NUM + r"\s*\|\**\s+(\d+)")
    while j < len(t.lines):
        m = rx.fullmatch(t.lines[j])
        if not m:
            break
        rows.append((float(m.group(1)), int(m.group(2))))
        j += 1
    return rows


def parse_prepare(text):
    """What `sysbench fileio ... prepare` reports.

    Returns {"test": "fileio", "command": "prepare", "options": {file-num,
    file-total-size, file-extra-flags}, "file_size_bytes", "files_created",
    "bytes_written", "time_s", "mib_per_s"}.
    """
    lines = _lines(text)
    if not any(line.strip() for line in lines):
        raise SysbenchParseError("empty text: no sysbench fileio prepare output")
    error = _error_line(lines)
    if error and error.startswith("FATAL:"):
        raise SysbenchParseError(f"the output is an error message: {error}")
    t = _Text(lines)
    _, m = t.need(r"(\d+) files, (\d+\s*[A-Za-z]+) each, (\d+\s*[A-Za-z]+) total",
                  "'N files, SIZE each, SIZE total' line (fileio prepare)")
    options = {"file-num": int(m.group(1)), "file-total-size": parse_size(m.group(3))}
    file_size = parse_size(m.group(2))
    _, m = t.find(r"Extra file open flags:\s*(.*)")
    if m:
        words = m.group(1).split()
        options["file-extra-flags"] = "" if words == ["(none)"] else ",".join(
            _EXTRA_FLAGS.get(w, w) for w in words)
    created = sum(1 for line in lines if re.fullmatch(r"Creating file \S+", line.strip()))
    _, m = t.need(r"(\d+) bytes written in " + _NUM + r" seconds \(\s*" + _NUM + r"\s*MiB/sec\)\.?",
                  "'N bytes written in T seconds (X MiB/sec).' line (fileio prepare)")
    return {"test": "fileio", "command": "prepare", "options": options,
            "file_size_bytes": file_size, "files_created": created,
            "bytes_written": int(m.group(1)), "time_s": float(m.group(2)),
            "mib_per_s": float(m.group(3))}
