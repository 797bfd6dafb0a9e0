"""The exits view: the cost of each kind of exit on two platforms.

Parameters: "test" (default vmexit), "subject" and "baseline" (platform
names: vmm and qemu-guest in the exits preset).  One row per operation of
the test's result ("vmexit": {"ops": [{"name", "ring", "cycles", "ns",
"handled", "skipped"}, ...]}), in OPS' order then as met:

- SUBJECT / BASELINE cycles/op: the median over the runs of the op's cycles;
- SUBJECT / BASELINE: their ratio (below 1: the subject is cheaper);
- ring: the guest ring the op ran in; handled: where the exit was served
  (kernel: KVM itself or an ioeventfd; user: the monitor's process), each
  once when both platforms agree;
- skipped: why a platform did not measure the op (its result's "skipped");
- the published figures (vmbench.views.references), empty where none was read.

Under the table, the project's two goals for vmm, PASS or FAIL:
1. the port-I/O round trip to user space costs at most GOAL_PIO_RATIO of
   the baseline's cycles (pio_write, else pio_read);
2. the in-kernel doorbell is clearly cheaper than the user-space path:
   pio_write_ioeventfd and mmio_write_ioeventfd each at most
   GOAL_DOORBELL_RATIO of pio_write and mmio_write, under the subject.
Plot: cycles per op, both platforms, log scale (plot-exits.png).
"""

from vmbench.views import common, references

TITLE = "Exits: cost per operation"
# The guest's operations, in the table's order (docs/results.md, vmexit).
OPS = ("cpuid", "hypercall", "pio_read", "pio_write", "pio_write_ioeventfd", "mmio_read",
       "mmio_write", "mmio_write_ioeventfd", "self_ipi", "ipi", "ipi_halted", "eoi", "timer",
       "hlt")
GOAL_PIO_RATIO = 0.8
GOAL_DOORBELL_RATIO = 0.8


class _Op:
    """One operation on one platform over its runs."""

    def __init__(self, entries):
        self.entries = entries
        self.cycles = common.median(e.get("cycles") for e in entries if not e.get("skipped"))

    def first(self, key):
        return next((e[key] for e in self.entries if e.get(key) not in (None, "")), None)


def _ops(runs, test):
    """{op name: _Op} of a platform's runs, and the names in the order met."""
    by_name, order = {}, []
    for r in runs:
        for e in common.field(r, f"{test}.ops") or []:
            if isinstance(e, dict) and e.get("name"):
                if e["name"] not in by_name:
                    order.append(e["name"])
                by_name.setdefault(e["name"], []).append(e)
    return {n: _Op(es) for n, es in by_name.items()}, order


def _both(subject, baseline, key, names):
    """A cell that says a property of an op once when both agree."""
    values = [(n, op.first(key) if op else None) for n, op in zip(names, (subject, baseline))]
    present = [(n, v) for n, v in values if v is not None]
    if not present:
        return ""
    if len({str(v) for _, v in present}) == 1 and len(present) == len(values):
        return str(present[0][1])
    return ", ".join(f"{n} {v}" for n, v in present)


def _ratio(a, b):
    return a / b if a is not None and b else None


def _goal(ok):
    return "**PASS**" if ok else "**FAIL**"


def _net(ops, platform, name):
    """The op's cycles without the ring-0 engine's own loop, when it ran in
    ring 0: where ring 0 is emulated (PVM), that loop is thousands of
    cycles that belong to no exit; on hardware it is a few.  None: no
    figure."""
    op = ops[platform].get(name)
    if not op or op.cycles is None:
        return None
    loop = ops[platform].get("ring0_loop")
    if op.first("ring") == 0 and loop and loop.cycles is not None:
        return max(op.cycles - loop.cycles, 0.0)
    return op.cycles


def _goals(ops, s, b):
    """The goal lines under the table.  Ratios are of the round trips: ops
    made in ring 0 have the engine's loop (ring0_loop) taken off first."""
    sub = ops[s]
    lines = []
    pio = next((n for n in ("pio_write", "pio_read")
                if _net(ops, s, n) is not None and _net(ops, b, n)), None)
    head = (f"- Goal: {s}'s port-I/O round trip to user space \u2264 {GOAL_PIO_RATIO}\u00d7 "
            f"{b}'s cycles")
    if pio:
        r = _ratio(_net(ops, s, pio), _net(ops, b, pio))
        raw = _ratio(sub[pio].cycles, ops[b][pio].cycles)
        note = f" (with the ring-0 loop: {raw:.2f}\u00d7)" if abs(raw - r) > 0.005 else ""
        lines.append(f"{head} ({pio}): {r:.2f}\u00d7{note} \u2014 {_goal(r <= GOAL_PIO_RATIO)}")
    else:
        lines.append(f"{head}: not measured (pio_write and pio_read lack a figure on "
                     f"{s} or {b})")
    pairs = []
    for kernel, user in (("pio_write_ioeventfd", "pio_write"),
                         ("mmio_write_ioeventfd", "mmio_write")):
        k, u = _net(ops, s, kernel), _net(ops, s, user)
        if k is not None and u:
            r = _ratio(k, u)
            where = sub[kernel].first("handled")
            pairs.append((f"{kernel}/{user} {r:.2f}\u00d7"
                          + (f" (handled: {where})" if where and where != "kernel" else ""),
                          r <= GOAL_DOORBELL_RATIO and where in (None, "kernel")))
        else:
            pairs.append((f"{kernel}/{user} not measured", None))
    head = (f"- Goal: in-kernel doorbell clearly cheaper than the user-space path under {s} "
            f"(ioeventfd \u2264 {GOAL_DOORBELL_RATIO}\u00d7 the exit to user space)")
    measured = [ok for _, ok in pairs if ok is not None]
    verdict = _goal(all(measured)) if measured else "not measured"
    lines.append(f"{head}: {', '.join(t for t, _ in pairs)} \u2014 {verdict}")
    if any(ops[p].get(n) and ops[p][n].first("ring") == 0 for p in (s, b)
           for n in ("pio_write", "pio_read", "pio_write_ioeventfd")):
        lines.append("- Ratios of ops made in ring 0 are of the round trips: each platform's "
                     "ring0_loop (the engine's own loop, emulated where ring 0 is) is taken "
                     "off first.")
    return lines


def _hosts(runs_by, test):
    """A line per platform: the kind of host its test saw (vmexit.host)."""
    out = []
    for name, runs in runs_by.items():
        host = next((common.field(r, f"{test}.host") for r in runs
                     if isinstance(common.field(r, f"{test}.host"), dict)), None)
        tsc = next((common.field(r, f"{test}.tsc_khz") for r in runs
                    if common.number(common.field(r, f"{test}.tsc_khz"))), None)
        if host or tsc:
            host = host or {}
            parts = [f"kind {host.get('kind', 'unknown')}"
                     + (f" ({host['source']})" if host.get("source") else "")]
            if "ring0_emulated" in host:
                parts.append("ring 0 emulated" if host["ring0_emulated"]
                             else "ring 0 native")
            if tsc:
                parts.append(f"TSC {tsc / 1000:.0f} MHz")
            out.append(f"- {name}: the guest saw {', '.join(parts)}.")
    return out


def render(view, records, environment, out_dir, program, why_not):
    test = view.get("test", "vmexit")
    s, b = view.get("subject", "vmm"), view.get("baseline", "qemu-guest")
    section = common.Section(TITLE, [f"## {TITLE}", ""])
    lines = section.lines
    runs_by = {n: common.runs(records, n, test) for n in (s, b)}
    ops, order = {}, []
    for n in (s, b):
        ops[n], met = _ops(runs_by[n], test)
        order += [o for o in met if o not in order]
    names = [o for o in OPS if o in order] + [o for o in order if o not in OPS]
    lines += [f"The guest's {test} test under {s} and {b}: cycles per operation (one exit "
              "and return), median over the runs "
              f"({s} {len(runs_by[s])}, {b} {len(runs_by[b])}); lower is better. "
              "Published figures beside them (cycles on the papers' hardware).", ""]
    for n in (s, b):
        why = common.skipped(environment, n, test) + [
            f"failed: {e}" for e in common.errors(records, n, test)]
        lines += [f"- {n}: {common.md(w)}" for w in why]
    lines += _hosts(runs_by, test)
    if lines[-1] != "":
        lines.append("")
    papers = references.PAPERS
    lines += [f"| operation | {s} cycles/op | {b} cycles/op | {s} / {b} | ring | handled | "
              "skipped | " + " | ".join(p.short for p in papers) + " |",
              "| --- | ---: | ---: | ---: | --- | --- | --- | " + " | ".join("---:" for _ in papers)
              + " |"]
    for name in names:
        so, bo = ops[s].get(name), ops[b].get(name)
        sc, bc = so.cycles if so else None, bo.cycles if bo else None
        ratio = _ratio(sc, bc)
        skipped = "; ".join(f"{n}: {op.first('skipped')}" for n, op in ((s, so), (b, bo))
                            if op and op.first("skipped"))
        refs = []
        for p in papers:
            f = references.figure(name, p)
            refs.append("" if f is None or f.cycles is None else f"{f.cycles:,} ({f.row})")
        lines.append(f"| {name} | {common.fmt(sc, 0) if sc is not None else chr(0x2014)} | "
                     f"{common.fmt(bc, 0) if bc is not None else chr(0x2014)} | "
                     f"{'' if ratio is None else f'{ratio:.2f}'} | "
                     f"{common.md(_both(so, bo, 'ring', (s, b)))} | "
                     f"{common.md(_both(so, bo, 'handled', (s, b)))} | {common.md(skipped)} | "
                     + " | ".join(refs) + " |")
    if not names:
        lines.append(f"| (no {test} results) | | | | | | | " + " | ".join("" for _ in papers)
                     + " |")
    lines.append("")
    lines += _goals(ops, s, b) + [""]
    gaps = references.missing()
    if gaps:
        lines += ["Published figures: empty cells were not read from the papers' text "
                  "(tools/vmbench/views/references.py; docs/results.md): "
                  + "; ".join(f"{p.short} {row}" for p, row in gaps) + ". Sources: "
                  + ", ".join(f"{p.short}: {p.source}" for p in papers) + ".", ""]

    drawn = [n for n in names if any(ops[p].get(n) and ops[p][n].cycles for p in (s, b))]
    if drawn:
        data = [f"# operation {s}_cycles {b}_cycles"]
        for n in drawn:
            cells = [ops[p][n].cycles if ops[p].get(n) else None for p in (s, b)]
            data.append(f'"{n}" ' + " ".join("NaN" if c is None else repr(float(c))
                                             for c in cells))
        script = [f"set terminal pngcairo size {max(900, 70 * len(drawn) + 200)},480 "
                  "noenhanced font ',10'",
                  f"set title '{test}: cycles per operation (median of the runs), log scale'",
                  "set style data histogram", "set style histogram clustered gap 1",
                  "set style fill solid 0.85 border -1", "set boxwidth 0.9",
                  "set logscale y", "set grid ytics", "set ylabel 'cycles'",
                  "set xtics nomirror rotate by -30", "set key top left",
                  f"plot 'plot-exits.dat' using 2:xtic(1) title '{s}' lc rgb '#1f77b4', "
                  f"'' using 3 title '{b}' lc rgb '#9467bd'"]
        common.draw(out_dir, "exits", "\n".join(data) + "\n", script, program, why_not, section)
        lines += common.plot_lines(section, "exits", f"{test}: cycles per operation")
    return section
