"""The guest's machine-readable results and how they are checked.

- ``result_lines(text)``: the ``VMBENCH-RESULT {json}`` objects in a guest's
  output (vmm's or QEMU's stdout), each validated against vmbench.result/1.
- ``validate_result(obj)``: the same check for one object (a record from
  ``vmm --json``'s "results", or one built by sysbench.parse_report); for
  the ``jitter`` test, also that its block adds up (per-vCPU figures to the
  total, histograms to the gaps).
- ``qemu_guest_status(returncode)``: the guest's status from QEMU's exit
  status under isa-debug-exit.
- ``compare_report(report, result)`` / ``check_guest_output(text)``: the
  guest's sysbench-style text, read by the one sysbench parser, must say what
  its own VMBENCH-RESULT line says (same events, figures within the
  precision the text prints them with).

See docs/results.md for the schema.
"""

import json
import math
import numbers

from . import sysbench

PREFIX = "VMBENCH-RESULT "
SCHEMA = sysbench.SCHEMA

# Every result line has these; the guest adds "platform" and "env".
REQUIRED = ("schema", "test", "options")
GUEST_REQUIRED = REQUIRED + ("platform", "env")
# The tests that print a sysbench report have these too.
BENCHMARK_TESTS = ("cpu", "memory", "fileio")
BENCHMARK_REQUIRED = ("threads", "total_time_s", "events", "events_per_s", "latency_ms", "fairness")
LATENCY_REQUIRED = ("min", "avg", "max", "sum")
# The jitter test's block (guest/workloads/jitter.c, docs/results.md).
JITTER_REQUIRED = ("threshold_ns", "duration_s", "tsc_khz", "cpus", "total")
JITTER_COUNTS = ("reads", "run_ns", "gaps", "largest_ns", "lost_ns")
JITTER_RATES = ("gaps_per_s", "lost_share")
FAIRNESS_REQUIRED = ("events_avg", "events_stddev", "time_avg_s", "time_stddev_s")

# The guest's vmexit test (guest/workloads/vmexit.c): its op names, fixed
# so that tools can key on them, and the words its "vmexit" block uses.
VMEXIT_OPS = ("ring0_loop", "cpuid", "hypercall", "pio_read", "pio_write", "pio_write_ioeventfd",
              "mmio_read", "mmio_write", "mmio_write_ioeventfd", "self_ipi", "ipi", "ipi_halted",
              "eoi", "timer", "hlt")
# vmm's kinds (vmbench.kvmkind, from its CPUID leaf) and those the guest
# tells by itself.
VMEXIT_HOST_KINDS = ("hardware", "pvm", "nested-tcg", "nested", "unknown", "tcg", "kvm",
                     "bare-metal")
VMEXIT_HOST_SOURCES = ("vmm-cpuid", "measured")
VMEXIT_HANDLED = ("user", "kernel", "mixed")
# The guest's nested test (guest/workloads/nested.c, docs/guest.md): the
# ops its L2 makes, each an exit its L1 handles; its routes.
NESTED_OPS = ("cpuid", "vmmcall", "hlt", "pio_write")
NESTED_ROUTES = ("svm", "vmx", "none")


class ResultError(ValueError):
    """A VMBENCH-RESULT line or object that breaks vmbench.result/1."""


class ReportMismatch(ValueError):
    """The guest's text report and its VMBENCH-RESULT line disagree."""

    def __init__(self, differences):
        self.differences = list(differences)
        super().__init__("the guest's report and its VMBENCH-RESULT line disagree:\n  "
                         + "\n  ".join(self.differences))


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _one_of(value, allowed, what):
    """Raises ResultError unless value is one of `allowed`; `what` names it."""
    if value not in allowed:
        raise ResultError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def validate_result(obj, guest=False):
    """Raises ResultError unless `obj` is a vmbench.result/1 object.

    guest=True also requires what the guest always writes ("platform", "env").
    Numbers where the schema has numbers (null allowed where the guest writes
    NaN as null: latency and fairness figures); events and threads whole.
    """
    if not isinstance(obj, dict):
        raise ResultError(f"a result must be a JSON object, not {type(obj).__name__}")
    missing = [k for k in (GUEST_REQUIRED if guest else REQUIRED) if k not in obj]
    if missing:
        raise ResultError(f"result lacks required key(s) {', '.join(missing)}")
    if obj["schema"] != SCHEMA:
        raise ResultError(f"unknown schema {obj['schema']!r} (expected {SCHEMA!r})")
    if not isinstance(obj["test"], str) or not obj["test"]:
        raise ResultError(f"'test' must be a non-empty string, not {obj['test']!r}")
    if not isinstance(obj["options"], dict):
        raise ResultError("'options' must be an object")
    if guest and not isinstance(obj["env"], dict):
        raise ResultError("'env' must be an object")
    test = obj["test"]
    if test in BENCHMARK_TESTS:
        missing = [k for k in BENCHMARK_REQUIRED if k not in obj]
        if missing:
            raise ResultError(f"{test} result lacks required key(s) {', '.join(missing)}")
    for key in ("threads", "events"):
        if key in obj and not (_is_int(obj[key]) and obj[key] >= 0):
            raise ResultError(f"'{key}' must be a whole number >= 0, not {obj[key]!r}")
    for key in ("total_time_s", "events_per_s"):
        if key in obj and not (_is_number(obj[key]) and obj[key] >= 0):
            raise ResultError(f"'{key}' must be a number >= 0, not {obj[key]!r}")
    for key, required in (("latency_ms", LATENCY_REQUIRED), ("fairness", FAIRNESS_REQUIRED),
                          ("metrics", ())):
        if key not in obj:
            continue
        sub = obj[key]
        if not isinstance(sub, dict):
            raise ResultError(f"'{key}' must be an object")
        missing = [k for k in required if k not in sub]
        if missing:
            raise ResultError(f"'{key}' lacks {', '.join(missing)}")
        for k, v in sub.items():
            if not (_is_number(v) or (v is None and key != "metrics")):
                raise ResultError(f"'{key}.{k}' must be a number, not {v!r}")
    if test == "vmexit":
        _validate_vmexit(obj)
    if test == "nested":
        _validate_nested(obj)
    lat = obj.get("latency_ms", {})
    # stddev: the guest's, exact (bench.c), optional: sysbench 1.0.20 prints
    # no spread of latency, so records parsed from its text have none.
    if lat.get("stddev") is not None and lat["stddev"] < 0:
        raise ResultError(f"'latency_ms.stddev' must be >= 0, not {lat['stddev']!r}")
    if ("percentile" in lat) != ("pct_value" in lat):
        raise ResultError("'latency_ms' must have both or neither of percentile and pct_value")
    if "percentile" in lat and not (_is_int(lat["percentile"]) and 1 <= lat["percentile"] <= 100):
        raise ResultError(f"'latency_ms.percentile' must be 1..100, not {lat['percentile']!r}")
    if test == "jitter":
        _validate_jitter(obj)
    return obj


def _named_ops(block, test, names):
    """The block's "ops": a list of objects, each named one of `names`, none
    twice.  Returns the list."""
    ops = block.get("ops")
    if not isinstance(ops, list):
        raise ResultError(f"'{test}.ops' must be a list")
    seen = set()
    for op in ops:
        name = op.get("name") if isinstance(op, dict) else None
        if name not in names or name in seen:
            raise ResultError(f"'{test}.ops': {name!r} is not an op, or comes twice "
                              f"(ops: {', '.join(names)})")
        seen.add(name)
    return ops


def _validate_vmexit(obj):
    """The "vmexit" block: every op either measured (ring, iterations,
    cycles and ns per op; wait where it waits for an interrupt) or skipped
    with a reason."""
    v = obj.get("vmexit")
    if not isinstance(v, dict):
        raise ResultError("vmexit result lacks its 'vmexit' object")
    for key in ("min_ticks", "tsc_khz"):
        if not (_is_int(v.get(key)) and v[key] > 0):
            raise ResultError(f"'vmexit.{key}' must be a whole number > 0, not {v.get(key)!r}")
    host = v.get("host")
    if not isinstance(host, dict):
        raise ResultError("'vmexit.host' must be an object")
    _one_of(host.get("kind"), VMEXIT_HOST_KINDS, "'vmexit.host.kind'")
    _one_of(host.get("source"), VMEXIT_HOST_SOURCES, "'vmexit.host.source'")
    if not isinstance(host.get("ring0_emulated"), bool):
        raise ResultError("'vmexit.host.ring0_emulated' must be true or false")
    for op in _named_ops(v, "vmexit", VMEXIT_OPS):
        name = op["name"]
        if "skipped" in op:
            if not (isinstance(op["skipped"], str) and op["skipped"]) or "cycles" in op:
                raise ResultError(f"vmexit op {name}: a skipped op has a reason and no figures")
            continue
        if op.get("ring") not in (0, 3) or isinstance(op.get("ring"), bool):
            raise ResultError(f"vmexit op {name}: 'ring' must be 0 or 3, not {op.get('ring')!r}")
        if not (_is_int(op.get("iterations")) and op["iterations"] > 0):
            raise ResultError(f"vmexit op {name}: 'iterations' must be a whole number > 0")
        for key in ("cycles", "ns"):
            if not (_is_number(op.get(key)) and op[key] > 0):
                raise ResultError(f"vmexit op {name}: '{key}' must be a number > 0, "
                                  f"not {op.get(key)!r}")
        if "handled" in op:
            _one_of(op["handled"], VMEXIT_HANDLED, f"vmexit op {name}: 'handled'")
        # The ring that waited for the op's interrupt (the LAPIC ops, hlt).
        if "wait" in op and (op["wait"] not in (0, 3) or isinstance(op["wait"], bool)):
            raise ResultError(f"vmexit op {name}: 'wait' must be 0 or 3, not {op['wait']!r}")
        if "note" in op and not isinstance(op["note"], str):
            raise ResultError(f"vmexit op {name}: 'note' must be a string")
    loop = v.get("ring0_loop_cycles")
    if loop is not None and not (_is_number(loop) and loop > 0):
        raise ResultError(f"'vmexit.ring0_loop_cycles' must be a number > 0, not {loop!r}")


def _validate_nested(obj):
    """The "nested" block: skipped with a reason, or every op with its L2
    exits and figures (L1's and the ratio where L1 has the op) or an error,
    and the L2 workload."""
    v = obj.get("nested")
    if not isinstance(v, dict):
        raise ResultError("nested result lacks its 'nested' object")
    _one_of(v.get("route"), NESTED_ROUTES, "'nested.route'")
    if not isinstance(v.get("host"), dict):
        raise ResultError("'nested.host' must be an object")
    if "skipped" in v:
        if not (isinstance(v["skipped"], str) and v["skipped"]) or "ops" in v:
            raise ResultError("a skipped nested test has a reason and no figures")
        return
    if not (_is_int(v.get("iterations")) and v["iterations"] > 0):
        raise ResultError("'nested.iterations' must be a whole number > 0")
    ops = _named_ops(v, "nested", NESTED_OPS)
    if len(ops) != len(NESTED_OPS):
        raise ResultError(f"'nested.ops' must hold each of {', '.join(NESTED_OPS)} once")
    for op in ops:
        if "error" in op:
            continue
        for key in ("l2_cycles", "l2_ns") + (("l1_cycles", "l1_ns", "ratio")
                                             if "l1_cycles" in op else ()):
            if not (_is_number(op.get(key)) and op[key] > 0):
                raise ResultError(f"nested op {op['name']}: '{key}' must be a number > 0, "
                                  f"not {op.get(key)!r}")
        if not _is_int(op.get("l2_exits")):
            raise ResultError(f"nested op {op['name']}: 'l2_exits' must be a whole number")
    work = v.get("l2_workload")
    if not isinstance(work, dict) or not isinstance(work.get("completed"), bool):
        raise ResultError("'nested.l2_workload' must be an object with 'completed'")


def _jitter_figures(f, where, threshold):
    """One vCPU's figures, or the total's: whole counts, shares, a histogram
    whose buckets double from the threshold and whose counts add up to gaps."""
    if not isinstance(f, dict):
        raise ResultError(f"'{where}' must be an object")
    for key in JITTER_COUNTS:
        if not (_is_int(f.get(key)) and f[key] >= 0):
            raise ResultError(f"'{where}.{key}' must be a whole number >= 0, not {f.get(key)!r}")
    for key in JITTER_RATES:
        if not (_is_number(f.get(key)) and f[key] >= 0):
            raise ResultError(f"'{where}.{key}' must be a number >= 0, not {f.get(key)!r}")
    # The loop's period; the mean is null when every step was a gap.
    for key, nullable in (("min_period_ns", False), ("mean_period_ns", True)):
        v = f.get(key)
        if not ((_is_number(v) and v >= 0) or (v is None and nullable and key in f)):
            raise ResultError(f"'{where}.{key}' must be a number >= 0, not {v!r}")
    if f["lost_share"] > 1 or f["lost_ns"] > f["run_ns"]:
        raise ResultError(f"'{where}': more time lost ({f['lost_ns']} ns, share "
                          f"{f['lost_share']}) than run ({f['run_ns']} ns)")
    if f["gaps"] and f["largest_ns"] < threshold:
        raise ResultError(f"'{where}.largest_ns' {f['largest_ns']} is below the threshold "
                          f"{threshold} ns")
    if not f["gaps"] and (f["largest_ns"] or f["lost_ns"]):
        raise ResultError(f"'{where}': no gaps, but largest_ns or lost_ns is not 0")
    hist = f.get("histogram")
    if not isinstance(hist, list):
        raise ResultError(f"'{where}.histogram' must be a list")
    for k, b in enumerate(hist):
        if not (isinstance(b, dict) and all(_is_int(b.get(n)) and b[n] >= 0
                                            for n in ("from_ns", "to_ns", "count"))):
            raise ResultError(f"'{where}.histogram[{k}]' must have whole from_ns, to_ns, count")
        if b["from_ns"] != threshold << k or b["to_ns"] != threshold << (k + 1):
            raise ResultError(f"'{where}.histogram[{k}]' must span [{threshold << k}, "
                              f"{threshold << (k + 1)}) ns, not [{b['from_ns']}, {b['to_ns']})")
    counted = sum(b["count"] for b in hist)
    if counted != f["gaps"]:
        raise ResultError(f"'{where}.histogram' counts {counted} gaps, not {f['gaps']}")
    if hist and not hist[-1]["from_ns"] <= f["largest_ns"] < hist[-1]["to_ns"]:
        raise ResultError(f"'{where}.largest_ns' {f['largest_ns']} is not in the histogram's "
                          "last bucket")
    return hist


def _validate_jitter(obj):
    jit = obj.get("jitter")
    if not isinstance(jit, dict):
        raise ResultError("jitter result lacks its 'jitter' object")
    missing = [k for k in JITTER_REQUIRED if k not in jit]
    if missing:
        raise ResultError(f"'jitter' lacks {', '.join(missing)}")
    threshold = jit["threshold_ns"]
    if not (_is_int(threshold) and threshold >= 1):
        raise ResultError(f"'jitter.threshold_ns' must be a whole number >= 1, not {threshold!r}")
    if not (_is_number(jit["duration_s"]) and jit["duration_s"] >= 0):
        raise ResultError(f"'jitter.duration_s' must be a number >= 0, not {jit['duration_s']!r}")
    cpus = jit["cpus"]
    if not isinstance(cpus, list) or not cpus:
        raise ResultError("'jitter.cpus' must be a non-empty list")
    if [c.get("cpu") if isinstance(c, dict) else None for c in cpus] != list(range(len(cpus))):
        raise ResultError("'jitter.cpus' must hold vCPUs 0, 1, ... in order")
    hists = [_jitter_figures(c, f"jitter.cpus[{i}]", threshold) for i, c in enumerate(cpus)]
    total = jit["total"]
    total_hist = _jitter_figures(total, "jitter.total", threshold)
    for key in ("reads", "gaps", "lost_ns", "run_ns"):
        if total[key] != sum(c[key] for c in cpus):
            raise ResultError(f"'jitter.total.{key}' {total[key]} is not the vCPUs' sum "
                              f"{sum(c[key] for c in cpus)}")
    if total["largest_ns"] != max(c["largest_ns"] for c in cpus):
        raise ResultError("'jitter.total.largest_ns' is not the vCPUs' largest")
    per_bucket = [sum(h[k]["count"] for h in hists if k < len(h))
                  for k in range(max(len(h) for h in hists))]
    if [b["count"] for b in total_hist] != per_bucket:
        raise ResultError("'jitter.total.histogram' is not the sum of the vCPUs' histograms")


def result_lines(text, guest=True):
    """The validated objects of every ``VMBENCH-RESULT {json}`` line in `text`.

    A line counts when, after leading white space, it starts with
    "VMBENCH-RESULT " ("\\r\\n" endings are fine).  A line that is not one
    valid JSON object of schema vmbench.result/1 raises ResultError naming
    its line number.
    """
    found = []
    for n, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        s = line.strip()
        if not s.startswith(PREFIX.strip()):
            continue
        if not s.startswith(PREFIX):
            raise ResultError(f"line {n}: no JSON after VMBENCH-RESULT")
        try:
            obj = json.loads(s[len(PREFIX):])
        except json.JSONDecodeError as e:
            raise ResultError(f"line {n}: VMBENCH-RESULT is not valid JSON ({e})") from None
        try:
            validate_result(obj, guest=guest)
        except ResultError as e:
            raise ResultError(f"line {n}: {e}") from None
        found.append(obj)
    return found


def qemu_guest_status(returncode):
    """The status the guest wrote to isa-debug-exit, from QEMU's exit status.

    QEMU exits with (status << 1) | 1, so odd codes carry a status (1 -> 0,
    5 -> 2); 0 and even codes mean QEMU stopped some other way (a triple
    fault with -no-reboot, a signal: negative codes) and None is returned.
    An exit status has 8 bits, so statuses >= 128 come back modulo 128; and
    QEMU's own start-up errors also exit with 1, which looks like status 0:
    check that the guest printed its result too.
    """
    if not _is_int(returncode):
        raise TypeError(f"returncode must be an int, not {returncode!r}")
    if returncode <= 0 or returncode % 2 == 0:
        return None
    return (returncode - 1) // 2


# How precisely sysbench's layout prints each figure: (key path, decimals).
# A text figure and the JSON agree when they differ by at most one unit in
# the last printed place (rounding, in whichever direction the printf of
# either platform chose, plus float noise).
_PRECISION = [
    (("total_time_s",), 4),
    (("latency_ms", "min"), 2), (("latency_ms", "avg"), 2), (("latency_ms", "max"), 2),
    (("latency_ms", "pct_value"), 2), (("latency_ms", "sum"), 2),
    (("fairness", "events_avg"), 4), (("fairness", "events_stddev"), 2),
    (("fairness", "time_avg_s"), 4), (("fairness", "time_stddev_s"), 2),
    (("metrics", "mib_per_s"), 2), (("metrics", "mib_transferred"), 2),
    (("metrics", "reads_per_s"), 2), (("metrics", "writes_per_s"), 2),
    (("metrics", "fsyncs_per_s"), 2), (("metrics", "read_mib_per_s"), 2),
    (("metrics", "written_mib_per_s"), 2),
]


def _get(d, path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _close(text_value, json_value, decimals, terms=1):
    if text_value is None or json_value is None:
        return text_value is None and json_value is None
    tol = terms * 10.0 ** -decimals + 1e-9 * max(1.0, abs(json_value))
    return math.isfinite(json_value) and abs(text_value - json_value) <= tol


def compare_report(report, result):
    """Differences between a parsed text report and a VMBENCH-RESULT object.

    `report` comes from sysbench.parse_report, `result` from result_lines.
    Returns a list of sentences; empty means they agree: same test, threads,
    events, percentile; every figure both have within print precision; every
    option both show equal.
    """
    diffs = []
    for key in ("test", "threads", "events"):
        if report.get(key) != result.get(key):
            diffs.append(f"{key}: text says {report.get(key)!r}, JSON says {result.get(key)!r}")
    rp, jp = _get(report, ("latency_ms", "percentile")), _get(result, ("latency_ms", "percentile"))
    if rp != jp:
        diffs.append(f"latency_ms.percentile: text says {rp!r}, JSON says {jp!r}")
    for path, decimals in _PRECISION:
        a, b = _get(report, path), _get(result, path)
        if a is None and b is None:
            continue
        if a is None:
            # The JSON may carry metrics the text cannot show, nothing else.
            if path[0] != "metrics":
                diffs.append(f"{'.'.join(path)}: JSON says {b!r}, the text lacks it")
            continue
        if b is None:
            diffs.append(f"{'.'.join(path)}: text says {a!r}, the JSON lacks it")
            continue
        if not _close(a, b, decimals):
            diffs.append(f"{'.'.join(path)}: text says {a!r}, JSON says {b!r} "
                         f"(more than {10.0 ** -decimals:g} apart)")
    # events_per_s: cpu and memory print it with 2 decimals; fileio's is the
    # sum of up to three 2-decimal rates.
    # The text's fsyncs/s also counts fsyncs that are no events (the ones
    # --file-fsync-end makes after each thread's last event), so there the
    # text's sum may exceed the JSON's events/s by up to the fsync rate.
    a, b = report.get("events_per_s"), result.get("events_per_s")
    terms = 3 if report.get("test") == "fileio" else 1
    if (a is None) != (b is None) or (a is not None and not _close(a, b, 2, terms)):
        fsyncs = _get(report, ("metrics", "fsyncs_per_s")) if terms == 3 else None
        if not (fsyncs is not None and b is not None and
                -0.015 <= a - b <= fsyncs + 0.015):
            diffs.append(f"events_per_s: text says {a!r}, JSON says {b!r}")
    ropts, jopts = report.get("options", {}), result.get("options", {})
    for key in sorted(set(ropts) & set(jopts)):
        a, b = ropts[key], jopts[key]
        if isinstance(a, float) and _is_number(b):
            same = _close(a, b, 2)
        else:
            same = a == b and type(a) is type(b) or (_is_int(a) and _is_int(b) and a == b)
        if not same:
            diffs.append(f"options.{key}: text says {a!r}, JSON says {b!r}")
    return diffs


def check_guest_output(text):
    """The guest's parsed text report and its one VMBENCH-RESULT object.

    Raises sysbench.SysbenchParseError when the text is not a report,
    ResultError when there is not exactly one valid result line, and
    ReportMismatch when the two disagree (see compare_report).
    """
    found = result_lines(text)
    report = sysbench.parse_report(text)   # first: it quotes the guest's error message
    if len(found) != 1:
        raise ResultError(f"expected one VMBENCH-RESULT line, found {len(found)}")
    diffs = compare_report(report, found[0])
    if diffs:
        raise ReportMismatch(diffs)
    return report, found[0]
