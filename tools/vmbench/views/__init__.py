"""Views of the report: sections that present one study's runs, named by
the matrix that ran them (matrix "views", kept in environment.json so that
bench/report draws them again).  A view reads the run records and writes
Markdown lines and gnuplot plots; report.py puts them after the tables.

    section = views.render({"view": "exits", "subject": "vmm", ...},
                           records, environment, out_dir, program)
    section.lines, section.plots, section.plot_sources, section.plot_errors

The views: `isolation` (scenarios of pinning and host isolation: latency
spread and jitter; vmbench.views.isolation) and `exits` (the cost of each
kind of exit on two platforms, with published figures beside them;
vmbench.views.exits) and `levels` (the same benchmarks with vmm at each
depth of nesting, vmbench.views.levels).  The views take the tests and platforms they compare
from their parameters; compare, the runner and the platforms know nothing
of them.
"""

from vmbench.views import exits, isolation, levels
from vmbench.views.common import Section

VIEWS = {"isolation": isolation.render, "exits": exits.render, "levels": levels.render}


def render(view, records, environment, out_dir, program=None, why_not=None):
    """The Section of one view (a dict: "view" and its parameters).
    program: gnuplot's path (None: plots not drawn, why_not says why)."""
    name = view.get("view")
    fn = VIEWS.get(name)
    if fn is None:
        return Section(f"View {name}", [f"No view named {name!r} (views: "
                                        f"{', '.join(sorted(VIEWS))}).", ""])
    return fn(view, list(records), environment or {}, out_dir, program, why_not)
