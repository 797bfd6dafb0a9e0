"""What the views share: their Section, the runs of a platform, medians,
cells, and drawing a plot."""

import dataclasses

from vmbench import gnuplot, specs, stats


@dataclasses.dataclass
class Section:
    title: str
    lines: list
    plots: dict = dataclasses.field(default_factory=dict)          # name: png Path
    plot_sources: list = dataclasses.field(default_factory=list)   # gp and dat Paths
    plot_errors: dict = dataclasses.field(default_factory=dict)    # name: why not drawn


number = specs.number
field = specs.field


def md(text):
    """Text safe inside a Markdown table cell, on one line."""
    return " ".join(str(text).split()).replace("|", "\\|")


def platforms(records, environment):
    """The platforms in the order the run had them (environment.json's
    "platforms", then any other with records)."""
    names = list((environment.get("platforms") or {}))
    for r in records:
        if r.get("platform") and r["platform"] not in names:
            names.append(r["platform"])
    return names


def runs(records, platform, test):
    """The records of `test` on `platform` that have no error."""
    return [r for r in records if r.get("platform") == platform and r.get("test") == test
            and not r.get("error")]


def errors(records, platform, test):
    return [str(r["error"]) for r in records if r.get("platform") == platform
            and r.get("test") == test and r.get("error")]


def skipped(environment, platform, test=None):
    """The reasons the runner recorded for cases `platform` skipped (of
    `test`, when given: its case labels start with the test's name)."""
    out = []
    for s in environment.get("skipped") or []:
        if s.get("platform") == platform and (
                test is None or str(s.get("case", "")).split(" ")[0] == test):
            why = " ".join(str(s.get("why")).split())
            if why not in out:
                out.append(why)
    return out


def median(values):
    values = [v for v in values if number(v) is not None]
    return stats.median(values) if values else None


def largest(values):
    values = [v for v in values if number(v) is not None]
    return max(values) if values else None


def fmt(v, decimals=None):
    """A figure for a table cell: "—" when there is none; three significant
    digits below 100, whole numbers (with thousands separators) above."""
    if v is None:
        return "\u2014"
    if decimals is not None:
        return f"{v:,.{decimals}f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def draw(out_dir, name, data, script, program, why_not, section):
    """Writes plot-NAME.dat and plot-NAME.gp (script: lines after the
    terminal and output lines) and draws plot-NAME.png with gnuplot when
    `program` is given; records the outcome in `section`."""
    dat, gp, png = (out_dir / f"plot-{name}.{ext}" for ext in ("dat", "gp", "png"))
    gnuplot.write_atomic(dat, data)
    head = [f"# vmbench: {name}; draw again with: gnuplot {gp.name}",
            f"set output '{gnuplot.quote(png.name)}'"]
    gnuplot.write_atomic(gp, "\n".join(script[:1] + head + script[1:]) + "\n")
    section.plot_sources += [gp, dat]
    if not program:
        try:
            png.unlink()
        except FileNotFoundError:
            pass
        section.plot_errors[name] = why_not or "plotting was turned off"
        return None
    why = gnuplot.draw(program, gp, png)
    if why:
        section.plot_errors[name] = why
        return None
    section.plots[name] = png
    return png


def plot_lines(section, name, caption):
    """The report's lines for plot `name`: the image when drawn, else why not."""
    if name in section.plots:
        return [f"![{caption}](plot-{name}.png)", "",
                f"Data: [plot-{name}.dat](plot-{name}.dat), script: "
                f"[plot-{name}.gp](plot-{name}.gp).", ""]
    why = section.plot_errors.get(name)
    return [f"Plot {name}: not drawn ({why}); `gnuplot plot-{name}.gp` here draws it."
            if why else f"Plot {name}: no data.", ""]
