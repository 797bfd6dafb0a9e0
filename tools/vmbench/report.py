"""The comparison's output: results.jsonl, results.csv, report.md and plots.

    from vmbench.report import write_report
    paths = write_report(records, environment, "out/20261122-101500")
    print(paths["report"])

``records`` are the runner's run records (vmbench.result/1 plus "case",
"rep" and "harness"; a failed run has "error" and no figures), in the order
they ran; ``environment`` is the host and platform environment the runner
recorded (see write_report).  Everything in ``out_dir`` is rewritten on
every call, so the runner may call write_report again at any time (after
appending to results.jsonl itself as runs finish, for instance).

Files (all in out_dir):

- results.jsonl: the records as given, one JSON object a line.
- environment.json: the environment as given (with results.jsonl, what
  ``bench/report OUT_DIR`` needs to write the report
  again).
- results.csv: one row a run.  Columns: run_id, platform, test,
  case_options (the case's sysbench options as "name=value;name=value", in
  the case's order), vcpus, mem_mib, rep, figure, unit (see figure()),
  read_mib_per_s, written_mib_per_s (fileio only), total_time_s, events,
  latency_avg_ms, latency_percentile, latency_pct_ms (the latency at that
  percentile, usually 95), error, flags (";"-separated: the runner's flags
  plus "short" and "overcommitted" when the record shows them).
- report.md: the environment (with a line per kind of KVM met - this
  host's /dev/kvm, the KVM vmm ran on - saying what it means for the
  figures), one table per test (cases x platforms, the median of the
  repetitions with their spread, ratios to native, flag markers), the
  plots, the errors.
- plot-TEST.png with the plot-TEST.gp script and plot-TEST.dat data that
  made it (``cd OUT_DIR && gnuplot plot-TEST.gp`` draws it again).
- the sections and plots of the views the environment names ("views":
  the matrix's, vmbench.views), after the tables.

All statistics come from tools/vmbench/stats.py.
"""

import csv
import io
import json
import math
import shutil
import sys
import time
from pathlib import Path

from vmbench import kvmkind, specs, stats, views
from vmbench import gnuplot as plotting

__all__ = ["figure", "secondary_figures", "run_flags", "write_report", "load_jsonl",
           "append_jsonl", "MARKERS", "CV_LIMIT", "SHORT_RUN_S", "PLATFORM_ORDER"]

# The platforms in the order tables and plots show them (others follow in
# the order they first appear); native is the reference of the ratios.
PLATFORM_ORDER = ("native", "container", "qemu-linux", "qemu-guest", "vmm", "nested")
REFERENCE = "native"

SHORT_RUN_S = 1.0            # runs shorter than this are flagged "short"
CV_LIMIT = 0.05              # cells whose coefficient of variation is above this are flagged

# Footnote markers of the table cells, in the order they are shown.
MARKERS = {
    "short": ("\u2020", f"at least one run lasted less than {SHORT_RUN_S:g} s: sysbench's "
                        "per-second figures are not reliable over so short an interval"),
    "variable": ("\u2021", f"coefficient of variation above {CV_LIMIT:.0%}: the repetitions "
                           "disagree, the median is less certain"),
    "overcommitted": ("\u00a7", "overcommitted: more vCPUs or threads than the host has CPUs"),
    "partial": ("\u00b6", "some repetitions failed (see Errors); the figures are those of "
                          "the others"),
}

# What the Environment section names first for each platform, and under
# which keys of the platform's environment() it may be.
HEADLINE = (("accelerator", ("accelerator", "accel")), ("limits", ("limits", "limit")),
            ("pinning", ("pinning", "pin")))

# Colours of the bars, so that a platform looks the same in every plot.
COLOURS = {"native": "#555555", "container": "#2ca02c", "qemu-linux": "#ff7f0e",
           "qemu-guest": "#9467bd", "vmm": "#1f77b4", "nested": "#d62728"}
EXTRA_COLOURS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")

CSV_COLUMNS = ("run_id", "platform", "test", "case_options", "vcpus", "mem_mib", "rep",
               "figure", "unit", "read_mib_per_s", "written_mib_per_s", "total_time_s",
               "events", "latency_avg_ms", "latency_percentile", "latency_pct_ms", "error",
               "flags")


# ---- what a record says ----

_number = specs.number


def _options(record):
    """The options that decide the figure: the platform's, else the case's."""
    opts = dict((record.get("case") or {}).get("options") or {})
    opts.update(record.get("options") or {})
    return opts


def figure(record):
    """The figure of merit of one run: (value, unit), as the test's spec
    says (vmbench.specs: cpu events/s; memory MiB/s, events/s with
    memory-oper=none; fileio reads/s + writes/s in ops/s, and
    secondary_figures() gives the MiB/s read and written; any other test
    events/s).  value is None for a failed run or one that lacks the figure;
    the unit is known all the same.  Higher is better unless the spec says
    lower_better (vmexit cycles, jitter time lost).
    """
    headline = specs.get(_test(record)).headline(_options(record))
    return (None if record.get("error") else headline.value(record)), headline.unit



def secondary_figures(record):
    """{key: value or None} of the test's secondary figures (fileio: MiB/s
    read and written), {} for tests that have none."""
    metrics = record.get("metrics") or {}
    return {key: None if record.get("error") else _number(metrics.get(key))
            for key, _ in specs.get(_test(record)).secondary}


def _test(record):
    return record.get("test") or (record.get("case") or {}).get("test") or "?"


def _case(record):
    """(options as [(name, value)], vcpus, mem_mib) of a record's case."""
    case = record.get("case")
    if case:
        return list((case.get("options") or {}).items()), case.get("vcpus"), case.get("mem_mib")
    env = record.get("env") or {}
    return (list((record.get("options") or {}).items()), env.get("vcpus", record.get("threads")),
            env.get("mem_mib"))


def _case_key(record):
    opts, vcpus, mem = _case(record)
    return (_test(record), json.dumps(dict(opts), sort_keys=True), vcpus, mem)


def _host_cpus(environment):
    return _number(((environment or {}).get("host") or {}).get("cpus"))


def run_flags(record, host_cpus=None):
    """The flags of one run: the runner's (runner.flags), plus "short" when
    it lasted less than SHORT_RUN_S and "overcommitted" when its case has
    more vCPUs or threads than host_cpus; in that order, each once."""
    flags = list(((record.get("harness") or {}).get("flags")) or [])
    total = _number(record.get("total_time_s"))
    if "short" not in flags and total is not None and total < SHORT_RUN_S:
        flags.append("short")
    if "overcommitted" not in flags and host_cpus:
        opts, vcpus, _ = _case(record)
        wanted = [_number(vcpus), _number(dict(opts).get("threads")),
                  _number(record.get("threads"))]
        if any(w is not None and w > host_cpus for w in wanted):
            flags.append("overcommitted")
    return list(dict.fromkeys(flags))


# ---- formatting ----

def _decimals(v):
    """Decimals to show a figure of v's size with: 1 from 10 up (2853.9),
    else enough for three significant digits."""
    if v == 0 or abs(v) >= 10:
        return 1
    return min(6, 2 - math.floor(math.log10(abs(v))))


def fmt_value(v, like=None):
    """A figure (events/s, MiB/s ...): one decimal (2853.9), three
    significant digits below 10 (4.27, 0.0315).  like: format with the
    decimals a figure of that size gets (a stddev next to its median)."""
    if v is None:
        return "\u2014"
    return f"{v:.{_decimals(v if like is None else like)}f}"


def fmt_ratio(r):
    return "\u2014" if r is None else f"{r:.3f}"


def _md(text):
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _fmt_any(v):
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt_any(x)}" for k, x in v.items()) or "none"
    if isinstance(v, (list, tuple)):
        return " ".join(_fmt_any(x) for x in v) or "none"
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _options_label(opts, skip=()):
    return " ".join(f"{n}={_fmt_any(v)}" for n, v in opts if n not in skip)


def _csv_num(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(round(v, 6))
    return str(v)


# ---- grouping and statistics ----

def _ordered(names, order):
    first = [n for n in order if n in names]
    return first + [n for n in names if n not in first]


class _Cell:
    """The runs of one platform in one case and what stats.py says of them."""

    def __init__(self, runs, host_cpus):
        self.runs = runs
        self.values = [v for v in (figure(r)[0] for r in runs) if v is not None]
        self.errors = [r for r in runs if r.get("error") or figure(r)[0] is None]
        self.summary = stats.summarise(self.values) if self.values else None
        self.secondary = {}
        for key, _ in specs.get(_test(runs[0])).secondary:
            vals = [v for v in (secondary_figures(r)[key] for r in runs) if v is not None]
            self.secondary[key] = stats.median(vals) if vals else None
        flags = []
        for r in runs:
            flags.extend(run_flags(r, host_cpus))
        if self.summary and self.summary["n"] > 1 and (self.summary["cv"] or 0) > CV_LIMIT:
            flags.append("variable")
        if self.values and self.errors:
            flags.append("partial")
        self.flags = _marker_order(flags)

    @property
    def median(self):
        return self.summary["median"] if self.summary else None

    def error_text(self):
        for r in self.errors:
            if r.get("error"):
                return str(r["error"])
        return "no figure in the result"

    def markers(self):
        out = ""
        for f in self.flags:
            out += MARKERS[f][0] if f in MARKERS else f"[{f}]"
        return out

    def text(self):
        if not self.summary:
            return f"failed: {_md(_shorten(self.error_text()))}{self.markers()}"
        s = self.summary
        if s["n"] == 1:
            body = fmt_value(s["median"])
        else:
            m = s["median"]
            body = (f"{fmt_value(m)} \u00b1 {fmt_value(s['stddev'], m)} "
                    f"({fmt_value(s['min'], m)}\u2013{fmt_value(s['max'], m)})")
        return body + self.markers()


def _marker_order(flags):
    """The flags once each, those with markers first in MARKERS' order."""
    flags = list(dict.fromkeys(flags))
    return [f for f in MARKERS if f in flags] + [f for f in flags if f not in MARKERS]


def _shorten(text, limit=120):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _unprepared(environment, records):
    """{platform: error} of the platforms the environment says could not
    run (prepare failed: {"error": ...}) and that have no records."""
    seen = {r.get("platform") for r in records}
    out = {}
    for name, penv in ((environment or {}).get("platforms") or {}).items():
        if isinstance(penv, dict) and penv.get("error") and name not in seen:
            out[name] = " ".join(str(penv["error"]).split())
    return out


def _group(records, host_cpus, unprepared=None):
    """{test: {"cases": [key...], "platforms": [...], "cells": {(key, platform): _Cell},
    "units": [...], "case_info": {key: (opts, vcpus, mem)}, "case_units": {key: unit}}},
    tests in specs.NAMES' order, cases and platforms in the order they first appear (platforms
    sorted by PLATFORM_ORDER)."""
    tests = {}
    for r in records:
        t = tests.setdefault(_test(r), {"cases": [], "platforms": [], "runs": {}, "units": [],
                                        "case_info": {}, "case_units": {}})
        key, platform = _case_key(r), r.get("platform") or "?"
        if key not in t["case_info"]:
            t["cases"].append(key)
            t["case_info"][key] = _case(r)
            t["case_units"][key] = figure(r)[1]
        if platform not in t["platforms"]:
            t["platforms"].append(platform)
        t["runs"].setdefault((key, platform), []).append(r)
        unit = figure(r)[1]
        if unit not in t["units"]:
            t["units"].append(unit)
    for t in tests.values():
        # A platform that never ran shows its error in every row.
        for name, error in (unprepared or {}).items():
            t["platforms"].append(name)
            for key in t["cases"]:
                opts, vcpus, mem = t["case_info"][key]
                t["runs"][(key, name)] = [{"test": key[0], "platform": name, "error": error,
                                           "case": {"test": key[0], "options": dict(opts),
                                                    "vcpus": vcpus, "mem_mib": mem}}]
        t["unprepared"] = set(unprepared or ())
        t["platforms"] = _ordered(t["platforms"], PLATFORM_ORDER)
        t["cells"] = {k: _Cell(runs, host_cpus) for k, runs in t.pop("runs").items()}
    return {name: tests[name] for name in _ordered(list(tests), specs.NAMES)}


def _ratio(cell, ref):
    if cell is None or ref is None or cell.median is None or not ref.median:
        return None
    return stats.ratio(cell.median, ref.median)


# ---- the files ----

_write_atomic = plotting.write_atomic


def load_jsonl(path):
    """The records of a results.jsonl (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def append_jsonl(path, record):
    """Appends one record to a results.jsonl as a run finishes."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _jsonl(records):
    return "".join(json.dumps(r) + "\n" for r in records)


def _csv(records, host_cpus):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in records:
        opts, vcpus, mem = _case(r)
        value, unit = figure(r)
        sec = secondary_figures(r)
        lat = r.get("latency_ms") or {}
        w.writerow([
            (r.get("harness") or {}).get("run_id", ""), r.get("platform", ""), _test(r),
            ";".join(f"{n}={_fmt_any(v)}" for n, v in opts), _csv_num(vcpus), _csv_num(mem),
            _csv_num(r.get("rep")), _csv_num(value), unit,
            _csv_num(sec.get("read_mib_per_s")), _csv_num(sec.get("written_mib_per_s")),
            _csv_num(_number(r.get("total_time_s"))), _csv_num(_number(r.get("events"))),
            _csv_num(_number(lat.get("avg"))), _csv_num(lat.get("percentile")),
            _csv_num(_number(lat.get("pct_value"))),
            " ".join(str(r.get("error") or "").split()), ";".join(run_flags(r, host_cpus)),
        ])
    return buf.getvalue()


def _load(v):
    if isinstance(v, (list, tuple)) and v:
        return " ".join(f"{x:.2f}" if _number(x) is not None else str(x) for x in v)
    return "not recorded"


def _kvm_kinds(env, records):
    """{kind: [where ...]} of the kinds of KVM this run met: this host's
    /dev/kvm (host.kvm_kind) and the KVM each platform ran on (its
    environment's kvm_kind, its records' env.<platform>.kvm_kind)."""
    kinds = {}

    def add(kind, where):
        if kind and where not in kinds.setdefault(kind, []):
            kinds[kind].append(where)

    add((env.get("host") or {}).get("kvm_kind"), "this host's /dev/kvm")
    for name, penv in (env.get("platforms") or {}).items():
        if isinstance(penv, dict):
            add(penv.get("kvm_kind"), name)
    for r in records:
        for sub in (r.get("env") or {}).values():
            if isinstance(sub, dict):
                add(sub.get("kvm_kind"), r.get("platform") or "?")
    return kinds


def _kvm_md(env, records):
    """The host section's KVM lines: one per kind of KVM met, with what it
    means for the figures."""
    host = env.get("host") or {}
    out = []
    if "kvm_kind" in host and not host["kvm_kind"]:
        why = " ".join(str(host.get("kvm_check") or "").split())
        out.append("- KVM: no usable /dev/kvm on this host" + (f" ({why})" if why else ""))
    for kind, wheres in _kvm_kinds(env, records).items():
        meaning = kvmkind.MEANING.get(kind, "a kind of KVM this report does not know")
        out.append(f"- KVM: **{kind}** ({', '.join(wheres)}): {meaning}")
    return out or ["- KVM: not recorded"]


def _environment_md(environment, records):
    env = environment or {}
    host = env.get("host") or {}
    out = ["## Environment", "", "### Host", ""]
    cpus = host.get("cpus")
    out.append(f"- CPU: {host.get('cpu_model') or 'unknown'}"
               + (f", {cpus} CPUs" if cpus is not None else ""))
    out.append(f"- Kernel: {host.get('kernel') or 'unknown'}")
    virt = host.get("virtualization")
    hyp = host.get("hypervisor")
    if virt in (None, "", "unknown"):
        is_vm = "unknown" + (f" (hypervisor: {_fmt_any(hyp)})" if hyp else "")
    elif virt == "none":
        is_vm = "no (bare metal)"
    elif virt == "vm":
        is_vm = "yes" + (f", hypervisor: {_fmt_any(hyp)}" if hyp else "")
    else:
        is_vm = f"yes ({virt})" + (f", hypervisor: {_fmt_any(hyp)}" if hyp else "")
    out.append(f"- Host is a virtual machine: {is_vm}")
    if host.get("container"):
        out.append(f"- Host is a container: yes ({_fmt_any(host['container'])})")
    out += _kvm_md(env, records)
    gov = host.get("governor")
    out.append(f"- CPU frequency governor: {_fmt_any(gov) if gov else 'unknown'}")
    if host.get("mem_mib") is not None:
        out.append(f"- Memory: {_fmt_any(host['mem_mib'])} MiB")
    for k, v in host.items():
        if k not in ("cpu_model", "cpus", "kernel", "virtualization", "hypervisor", "governor",
                     "container", "mem_mib", "kvm_kind", "kvm_check"):
            out.append(f"- {k}: {_fmt_any(v)}")
    out.append(f"- Load average (1, 5, 15 min): before {_load(env.get('load_before'))}; "
               f"after {_load(env.get('load_after'))}")
    if env.get("busy_before"):
        out += ["", "> **Warning:** the host was busy before the run (load "
                f"{_load(env.get('load_before'))}): other work competed with the benchmarks, "
                "and the figures may be low or noisy."]
    platforms = env.get("platforms") or {}
    names = _ordered(list(dict.fromkeys(list(platforms) + [r.get("platform") for r in records
                                                           if r.get("platform")])),
                     PLATFORM_ORDER)
    if names:
        out += ["", "### Platforms", ""]
    for name in names:
        penv = platforms.get(name)
        if not isinstance(penv, dict) or not penv:
            out.append(f"- **{name}**: no environment recorded")
            continue
        if set(penv) == {"error"}:
            out.append(f"- **{name}**: could not run: {' '.join(str(penv['error']).split())}")
            continue
        parts, shown = [], set()
        for label, keys in HEADLINE:
            key = next((k for k in keys if k in penv), None)
            if key:
                shown.add(key)
                parts.append(f"{label}: {_fmt_any(penv[key])}")
            elif label == "accelerator" and name in ("native", "container"):
                parts.append(f"{label}: none (the host's CPU)")
            else:
                parts.append(f"{label}: not recorded")
        parts += [f"{k}: {_fmt_any(v)}" for k, v in penv.items() if k not in shown]
        out.append(f"- **{name}**: " + "; ".join(parts))
    skipped = env.get("skipped") or []
    if skipped:
        out += ["", "### Cases not run", ""]
        out += [f"- **{s.get('platform')}**, {_md(str(s.get('case')))}: "
                f"{' '.join(str(s.get('why')).split())}" for s in skipped]
    return out


def _table_md(name, t):
    cases, platforms, cells = t["cases"], t["platforms"], t["cells"]
    units = t["units"]
    lines = [f"### {name}", ""]
    unit_text = units[0] if len(units) == 1 else "the unit column"
    what = specs.get(name).figure.what
    lower = specs.get(name).figure.lower_better
    lines.append(f"Figure: {what + ', ' if what else ''}{unit_text}, "
                 f"{'lower' if lower else 'higher'} is better. Each "
                 "cell: median \u00b1 sample standard deviation (min\u2013max) of the "
                 "repetitions.")
    # time: shown once when every case has the same.
    times = {json.dumps(dict(t["case_info"][k][0]).get("time")) for k in cases}
    skip = ()
    if len(times) == 1:
        only = dict(t["case_info"][cases[0]][0]).get("time")
        skip = ("time",)
        if only is not None:
            lines[-1] += f" Runs of {_fmt_any(only)} s (--time)."
    counts = {len(c.runs) for (_, p), c in cells.items() if p not in t["unprepared"]}
    if counts:
        most = max(counts)
        lines[-1] += (f" {'Up to ' if len(counts) > 1 else ''}{most} "
                      f"run{'s' * (most != 1)} per cell.")

    ref_present = REFERENCE in platforms and any(
        cells.get((k, REFERENCE)) and cells[(k, REFERENCE)].median for k in cases)
    ratio_platforms = [p for p in platforms if p != REFERENCE and ref_present and any(
        cells.get((k, p)) and cells[(k, p)].median is not None for k in cases)]
    secondary = specs.get(name).secondary
    sec_platforms = [p for p in platforms if any(
        cells.get((k, p)) and cells[(k, p)].median is not None for k in cases)] if secondary else []

    head = ["case", "vCPUs", "MiB"] + (["unit"] if len(units) > 1 else []) + platforms
    head += [f"{p} \u00d7 {REFERENCE}" for p in ratio_platforms]
    head += [f"{p} {' / '.join(label for _, label in secondary)}" for p in sec_platforms]
    align = ["---"] * (3 + (len(units) > 1)) + ["---:"] * (len(head) - 3 - (len(units) > 1))
    lines += ["", "| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    used = []
    for key in cases:
        opts, vcpus, mem = t["case_info"][key]
        row = [_md(_options_label(opts, skip) or "(defaults)"), _fmt_any(vcpus), _fmt_any(mem)]
        if len(units) > 1:
            row.append(t["case_units"][key])
        for p in platforms:
            cell = cells.get((key, p))
            row.append(cell.text() if cell else "not run")
            if cell:
                used += [f for f in cell.flags if f not in used]
        ref = cells.get((key, REFERENCE))
        for p in ratio_platforms:
            row.append(fmt_ratio(_ratio(cells.get((key, p)), ref)))
        for p in sec_platforms:
            cell = cells.get((key, p))
            row.append(" / ".join(fmt_value(cell.secondary.get(k) if cell else None)
                                  for k, _ in secondary))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if ratio_platforms:
        lines.append(f"\u00d7 {REFERENCE}: the platform's median over {REFERENCE}'s median in "
                     f"the same row (above 1: {'more' if lower else 'faster'} than native).")
    elif REFERENCE not in platforms:
        lines.append(f"No ratios: there is no {REFERENCE} platform in this comparison.")
    else:
        lines.append(f"No ratios: {REFERENCE} has no figures for this test.")
    for f in _marker_order(used):
        if f in MARKERS:
            lines.append(f"{MARKERS[f][0]} {MARKERS[f][1]}.")
        else:
            lines.append(f"[{f}] flagged \u201c{f}\u201d by the runner.")
    lines.append("")
    return lines


# ---- plots ----

_gq = plotting.quote


def _plot_files(out_dir, name, t):
    """Writes plot-NAME.dat and plot-NAME.gp; returns (gp, dat, png) paths,
    or None when no platform has a figure to draw."""
    cases, cells = t["cases"], t["cells"]
    platforms = [p for p in t["platforms"]
                 if any(cells.get((k, p)) and cells[(k, p)].median is not None for k in cases)]
    if not platforms:
        return None
    gp, dat, png = (out_dir / f"plot-{name}.{ext}" for ext in ("gp", "dat", "png"))
    skip = ("time",) if len({json.dumps(dict(t["case_info"][k][0]).get("time"))
                             for k in cases}) == 1 else ()
    rows = [f"# vmbench: {name}, median and min/max of each platform's repetitions",
            "# columns: case " + " ".join(f"{p}:median {p}:min {p}:max" for p in platforms)]
    for key in cases:
        opts, vcpus, mem = t["case_info"][key]
        label = _options_label([(n, v) for n, v in opts if n != "threads"], skip)
        label = f"{label}\\n{_fmt_any(vcpus)} vCPU, {_fmt_any(mem)} MiB".replace('"', "'")
        cols = [f'"{label}"']
        for p in platforms:
            s = cells[(key, p)].summary if cells.get((key, p)) else None
            cols += [repr(float(s[k])) for k in ("median", "min", "max")] if s else ["NaN"] * 3
        rows.append(" ".join(cols))
    _write_atomic(dat, "\n".join(rows) + "\n")

    units = t["units"]
    ylabel = units[0] if len(units) == 1 else " or ".join(units) + " (see the table)"
    plots = []
    extra = iter(EXTRA_COLOURS * 10)
    for i, p in enumerate(platforms):
        cols = f"{2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}" + (":xtic(1)" if i == 0 else "")
        colour = COLOURS.get(p) or next(extra)
        plots.append(f"'{_gq(dat.name)}' using {cols} title '{_gq(p)}' lc rgb '{colour}'")
    width = max(800, 160 + 60 * len(cases) * (len(platforms) + 1))
    script = [
        f"# vmbench: {name}; draw again with: gnuplot {gp.name}",
        f"set terminal pngcairo size {min(width, 2400)},520 noenhanced font ',10'",
        f"set output '{_gq(png.name)}'",
        f"set title '{_gq(name)}: median of the repetitions, error bars from min to max'",
        f"set ylabel '{_gq(ylabel)}'",
        "set style data histogram",
        "set style histogram errorbars gap 2 lw 1",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.9",
        "set bars front",
        "set yrange [0:*]",
        "set grid ytics",
        "set key outside top center horizontal",
        "set bmargin 5",
        "set xtics nomirror",
        "plot " + ", \\\n     ".join(plots),
    ]
    _write_atomic(gp, "\n".join(script) + "\n")
    return gp, dat, png


# ---- the report ----

def write_report(records, environment, out_dir, gnuplot="gnuplot"):
    """Writes results.jsonl, environment.json, results.csv, report.md and a
    plot per test into out_dir (created if need be; files overwritten).

    records: run records as the runner makes them (see the module's
    docstring).  environment: {"host": {cpu_model, cpus, kernel,
    virtualization, hypervisor, governor, kvm_kind, kvm_check}, "load_before": [1, 5, 15 min],
    "load_after": [...], "busy_before": bool, "command": "bench/compare ...",
    "platforms": {name: {accelerator, limits, pinning, ...}}}; missing parts
    are reported as not recorded.  gnuplot: the program to draw the plots
    with (a name looked up on PATH, or a path); when it cannot be found or
    fails, report.md says so and the plots' .gp and .dat files are still
    written.

    Returns {"jsonl", "environment", "csv", "report": Path, "plots":
    {test: png Path} (only those drawn), "plot_sources": [gp and dat Paths],
    "plot_errors": {test: why not drawn}}.
    """
    records = list(records)
    environment = environment or {}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    host_cpus = _host_cpus(environment)
    paths = {"jsonl": out / "results.jsonl", "environment": out / "environment.json",
             "csv": out / "results.csv", "report": out / "report.md", "plots": {},
             "plot_sources": [], "plot_errors": {}}
    _write_atomic(paths["jsonl"], _jsonl(records))
    _write_atomic(paths["environment"], json.dumps(environment, indent=1) + "\n")
    _write_atomic(paths["csv"], _csv(records, host_cpus))

    unprepared = _unprepared(environment, records)
    tests = _group(records, host_cpus, unprepared)

    # Plots first: the report says which were drawn.
    program = shutil.which(gnuplot) if gnuplot else None
    why_not = None if program else (f"{gnuplot!r} was not found" if gnuplot else
                                    "plotting was turned off")
    for name, t in tests.items():
        files = _plot_files(out, name, t)
        if not files:
            paths["plot_errors"][name] = "no platform has a figure for this test"
            continue
        gp, dat, png = files
        paths["plot_sources"] += [gp, dat]
        if why_not:
            try:
                png.unlink()
            except FileNotFoundError:
                pass
            paths["plot_errors"][name] = why_not
            continue
        err = plotting.draw(program, gp, png)
        if err:
            paths["plot_errors"][name] = err
        else:
            paths["plots"][name] = png

    # report.md
    harness = [r.get("harness") or {} for r in records]
    run_ids = list(dict.fromkeys(h["run_id"] for h in harness if h.get("run_id")))
    started = sorted(h["started"] for h in harness if h.get("started"))
    date = (started[0] if started else environment.get("started")
            or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    failed = [r for r in records if r.get("error") or figure(r)[0] is None]
    lines = ["# vmbench comparison", ""]
    lines.append(f"Command: `{environment.get('command') or 'not recorded'}`  ")
    lines.append(f"Date: {date}" + (f" (run {', '.join(run_ids)})" if run_ids else "") + "  ")
    lines.append(f"Runs: {len(records)}, of which {len(failed)} failed."
                 + (f" Could not run at all: {', '.join(unprepared)}." if unprepared else ""))
    lines.append("")
    lines += _environment_md(environment, records)
    lines += ["", "## Results", ""]
    if not tests:
        lines += ["No runs were recorded.", ""]
    for name, t in tests.items():
        lines += _table_md(name, t)

    # The matrix's views (vmbench.views): its study's own sections.
    for view in environment.get("views") or []:
        section = views.render(view, records, environment, out, program, why_not)
        lines += section.lines
        paths["plots"].update(section.plots)
        paths["plot_sources"] += section.plot_sources
        paths["plot_errors"].update(section.plot_errors)

    lines += ["## Plots", ""]
    if why_not and paths["plot_sources"]:
        lines += [f"Plots skipped: {why_not} (install gnuplot, Debian: gnuplot-nox). Their "
                  "scripts and data are written all the same: `gnuplot plot-TEST.gp` in this "
                  "directory draws them.", ""]
    for name in tests:
        if name in paths["plots"]:
            t = tests[name]
            absent = [p for p in t["platforms"] if not any(
                t["cells"].get((k, p)) and t["cells"][(k, p)].median is not None
                for k in t["cases"])]
            lines += [f"![{name}: median per case and platform, min\u2013max error bars]"
                      f"(plot-{name}.png)", "",
                      f"Data: [plot-{name}.dat](plot-{name}.dat), script: "
                      f"[plot-{name}.gp](plot-{name}.gp)."
                      + (f" Not drawn (no figures): {', '.join(absent)}." if absent else ""), ""]
        elif paths["plot_errors"].get(name) != why_not:
            lines += [f"{name}: no plot: {paths['plot_errors'].get(name, 'not drawn')}.", ""]

    if failed or unprepared:
        lines += ["## Errors", ""]
        for name, error in unprepared.items():
            lines.append(f"- {name}: could not run at all: {error}")
        for r in failed:
            opts, vcpus, mem = _case(r)
            what = r.get("error") or "no figure in the result"
            lines.append(f"- {r.get('platform', '?')}, {_test(r)} {_options_label(opts)} "
                         f"({_fmt_any(vcpus)} vCPU, {_fmt_any(mem)} MiB), rep "
                         f"{_fmt_any(r.get('rep'))}: {' '.join(str(what).split())}")
        lines.append("")

    lines += ["## Files", "",
              "- `results.jsonl`: every run record, one JSON object a line "
              "(docs/results.md's schema plus case, rep, harness).",
              "- `results.csv`: one row a run; `case_options` is the case's sysbench options "
              "as `name=value;...`; `figure`/`unit` the figure of merit; `flags` "
              "`;`-separated.",
              "- `environment.json`: the host and platform environment above.",
              "- `plot-TEST.gp`, `plot-TEST.dat`: the plots' gnuplot scripts and data.", ""]
    _write_atomic(paths["report"], "\n".join(lines))
    return paths


def main(argv=None):
    """bench/report OUT_DIR: writes the report again from OUT_DIR/results.jsonl
    and OUT_DIR/environment.json."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: bench/report OUT_DIR  (reads OUT_DIR/results.jsonl and environment.json)",
              file=sys.stderr)
        return 2
    out = Path(argv[0])
    try:
        records = load_jsonl(out / "results.jsonl")
        env_path = out / "environment.json"
        environment = json.loads(env_path.read_text()) if env_path.exists() else {}
    except (OSError, json.JSONDecodeError) as e:
        print(f"report: {e}", file=sys.stderr)
        return 1
    paths = write_report(records, environment, out)
    print(paths["report"])
    for name, why in paths["plot_errors"].items():
        print(f"report: plot-{name}.png not drawn: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
