"""The isolation view: scenarios of pinning and host isolation side by side.

Each platform of the run is a scenario (the isolation preset: vmm without
pinning, vmm-pinned, vmm-isolated).  Parameters: "latency" (the test whose
per-event latency spread is shown, default cpu) and "jitter" (the test
whose gaps are shown, default jitter).  One row per scenario:

- pinning in force: what vmm's --json said of each vCPU thread (host CPU,
  affinity, scheduling policy), else its --pin; and the CPUs isolated.
- latency stddev (ms): the median over the runs of the standard deviation
  of the latency test's event latencies (its result's latency_ms.stddev).
- latency max (ms): the largest event latency of all the runs.
- gaps/s: the median over the runs of the jitter test's gaps per second
  (all CPUs: jitter.total.gaps_per_s).
- largest gap (us): the largest gap of all the runs (jitter.total.largest_ns).
- time lost: the median share of the time the gaps took (jitter.total.lost_share).

A scenario that did not run says why (skipped: isolation could not be
applied; or failed).  Plots: the figures as bars (plot-isolation.png), and
the jitter test's histogram of gap lengths per scenario
(plot-isolation-gaps.png).
"""

from vmbench.views import common

TITLE = "Isolation: scenarios side by side"
GAP_BINS_NOTE = "counts per run (mean over the runs), all CPUs"


def _placement(records):
    """What the records say of the pinning in force (the first that says)."""
    for r in records:
        env = r.get("env") or {}
        vmm = env.get("vmm") or {}
        parts = []
        vcpus = [v for v in vmm.get("vcpus") or [] if isinstance(v, dict)]
        pinned = bool(vmm.get("pin"))
        for v in vcpus:
            text = f"vCPU{v.get('vcpu', '?')}"
            if isinstance(v.get("host_cpu"), int) and v["host_cpu"] >= 0:
                text += f"\u2192CPU{v['host_cpu']}"
            if v.get("affinity") is not None:
                text += f" (affinity {v['affinity']})"
            if v.get("policy"):
                text += f" {v['policy']}" + (f" {v['rt_priority']}" if v.get("rt_priority") else "")
            parts.append(text)
        if not vcpus and pinned:
            parts.append("--pin " + ",".join(str(c) for c in vmm["pin"]))
        if not pinned:
            parts = ["not pinned"]
        iso = env.get("isolation")
        if isinstance(iso, dict) and iso.get("cpus"):
            parts.append(f"isolated CPUs: {iso['cpus']}")
        if parts:
            return "; ".join(parts)
    return None


def _row(name, records, environment, latency_test, jitter_test):
    lat = common.runs(records, name, latency_test)
    jit = common.runs(records, name, jitter_test)
    total = [common.field(r, "jitter.total") or {} for r in jit]
    largest_ns = common.largest(t.get("largest_ns") for t in total)
    lost = common.median(t.get("lost_share") for t in total)
    figures = {
        "stddev_ms": common.median(common.field(r, "latency_ms.stddev") for r in lat),
        "max_ms": common.largest(common.field(r, "latency_ms.max") for r in lat),
        "gaps_per_s": common.median(t.get("gaps_per_s") for t in total),
        "largest_us": largest_ns / 1000 if largest_ns is not None else None,
        "lost_pct": lost * 100 if lost is not None else None,
    }
    why = []
    for test in (latency_test, jitter_test):
        why += [f"{test} skipped: {w}" for w in common.skipped(environment, name, test)]
        errs = common.errors(records, name, test)
        if errs:
            why.append(f"{test} failed: {errs[0]}")
    return figures, len(lat), len(jit), why, _placement(lat + jit)


def _histogram(records):
    """[(from_us, to_us, count per run)] of the jitter runs' gaps, all CPUs."""
    bins, nruns = {}, 0
    for r in records:
        cpus = common.field(r, "jitter.cpus") or []
        if not cpus:
            continue
        nruns += 1
        for cpu in cpus:
            for b in (cpu.get("histogram") or []) if isinstance(cpu, dict) else []:
                lo, hi, n = b.get("from_ns"), b.get("to_ns"), b.get("count")
                if common.number(lo) is None or common.number(n) is None:
                    continue
                key = (lo, hi if common.number(hi) is not None else lo)
                bins[key] = bins.get(key, 0) + n
    return [(lo / 1000, hi / 1000, n / nruns) for (lo, hi), n in sorted(bins.items())]


def render(view, records, environment, out_dir, program, why_not):
    latency_test = view.get("latency", "cpu")
    jitter_test = view.get("jitter", "jitter")
    section = common.Section(TITLE, [f"## {TITLE}", ""])
    lines = section.lines
    names = common.platforms(records, environment)
    rows = {n: _row(n, records, environment, latency_test, jitter_test) for n in names}
    lines += [f"One row per scenario (platform). {latency_test}: the spread of its events' "
              f"latency; {jitter_test}: the gaps the host makes in a vCPU's time. Medians over "
              "the runs, but the largest latency and gap of all of them.", "",
              f"| scenario | pinning in force | {latency_test} latency stddev (ms) | "
              f"{latency_test} latency max (ms) | {jitter_test} gaps/s | largest gap (\u00b5s) | "
              "time lost | runs |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    notes = []
    for n in names:
        f, nlat, njit, why, placement = rows[n]
        lost = "\u2014" if f["lost_pct"] is None else f"{common.fmt(f['lost_pct'])} %"
        lines.append(f"| {common.md(n)} | {common.md(placement or 'not recorded')} | "
                     f"{common.fmt(f['stddev_ms'])} | {common.fmt(f['max_ms'])} | "
                     f"{common.fmt(f['gaps_per_s'])} | {common.fmt(f['largest_us'])} | {lost} | "
                     f"{latency_test} {nlat}, {jitter_test} {njit} |")
        notes += [f"- {n}: {common.md(w)}" for w in why]
    lines.append("")
    if notes:
        lines += ["Not run or failed:", ""] + notes + [""]

    # The figures as bars, one panel per unit.
    shown = [n for n in names if any(v is not None for v in rows[n][0].values())]
    if shown:
        data = ["# scenario stddev_ms max_ms gaps_per_s largest_us lost_pct"]
        for n in shown:
            f = rows[n][0]
            data.append(f'"{n}" ' + " ".join("NaN" if f[k] is None else repr(float(f[k]))
                                             for k in ("stddev_ms", "max_ms", "gaps_per_s",
                                                       "largest_us", "lost_pct")))
        # A panel per unit, for the figures some scenario has.
        panels = [(title, using) for title, using, keys in (
            (f"{latency_test} event latency (ms)",
             "2:xtic(1) title 'stddev', '' using 3 title 'max'", ("stddev_ms", "max_ms")),
            (f"{jitter_test}: gaps per second", "4:xtic(1) notitle", ("gaps_per_s",)),
            (f"{jitter_test}: largest gap (\u00b5s)", "5:xtic(1) notitle", ("largest_us",)),
            (f"{jitter_test}: share of time lost (%)", "6:xtic(1) notitle", ("lost_pct",)))
            if any(rows[n][0][k] is not None for n in shown for k in keys)]
        if any(rows[n][0]["stddev_ms"] is None for n in shown):
            # A bar missing from a clustered pair would shift the others: a
            # latency without its stddev (older guests) shows its max alone.
            panels = [(t, "3:xtic(1) title 'max'" if t.startswith(latency_test) else u)
                      for t, u in panels]
        script = [f"set terminal pngcairo size {max(1000, 300 * len(panels))},420 noenhanced "
                  "font ',10'",
                  "set style data histogram", "set style histogram clustered gap 1",
                  "set style fill solid 0.85 border -1", "set boxwidth 0.9", "set grid ytics",
                  "set yrange [0:*]", "set key top left", "set xtics nomirror rotate by -20",
                  f"set multiplot layout 1,{len(panels)} title 'Isolation scenarios'"]
        for title, using in panels:
            script += [f"set title '{title}'",
                       f"plot 'plot-isolation.dat' using {using}"]
        script.append("unset multiplot")
        common.draw(out_dir, "isolation", "\n".join(data) + "\n", script, program, why_not,
                    section)
        lines += common.plot_lines(section, "isolation",
                                   "isolation scenarios: latency spread, gaps, time lost")

    # The gaps' lengths, one line per scenario.
    hists = [(n, _histogram(common.runs(records, n, jitter_test))) for n in names]
    hists = [(n, h) for n, h in hists if any(c > 0 for _, _, c in h)]
    if hists:
        blocks = []
        for n, h in hists:
            blocks.append(f'"{n}"\n# from_us to_us count_per_run\n'
                          + "\n".join(f"{lo!r} {hi!r} {c!r}" for lo, hi, c in h if c > 0))
        script = ["set terminal pngcairo size 900,480 noenhanced font ',10'",
                  f"set title '{jitter_test}: gaps by length ({GAP_BINS_NOTE})'",
                  "set logscale xy", "set xlabel 'gap length (\u00b5s, bin start)'",
                  "set ylabel 'gaps per run'", "set grid", "set key top right",
                  "plot " + ", ".join(f"'plot-isolation-gaps.dat' index {i} using 1:3 "
                                      f"with linespoints title columnheader(1)"
                                      for i in range(len(hists)))]
        common.draw(out_dir, "isolation-gaps", "\n\n\n".join(blocks) + "\n", script, program,
                    why_not, section)
        lines += common.plot_lines(section, "isolation-gaps",
                                   f"{jitter_test}: gaps by length, per scenario")
    return section
