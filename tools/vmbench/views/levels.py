"""The levels view: the same benchmarks with vmm at each depth of nesting,
side by side, as DVH (ASPLOS 2020) compares L0, L1, L2 and L3.

Parameters: "platforms", the nested platforms in order of depth (the
levels preset: nested-0, nested-1, nested-2).  A level's depth is the
number of Linux VMs between this host and vmm (vmbench.levels): "L0 (this
host)" is vmm on this host's /dev/kvm, "L1" vmm inside one Linux VM, "L2"
inside a Linux VM inside that one.  vmm's guest (guest.elf) always runs
one level further down.

Two tables:

- where each level ran: for every Linux VM and for vmm, its accelerator
  (QEMU's answer to query-kvm), CPU model and kind of KVM (vmm --check),
  and vmm's own view (virt_level and hypervisor_below of vmm --json, when
  this vmm reports them); or "skipped" with the reason;
- one row per benchmark figure (cpu, memory, fileio headlines; one row per
  operation of vmexit, and of any other test whose result has "ops", such
  as nested), one column per level: the median over the runs, and under
  it the ratio to the level above (L1 / L0, L2 / L1).
"""

from vmbench import specs
from vmbench.levels import label
from vmbench.views import common

TITLE = "Levels: the same benchmarks one and two Linux VMs down"
# The order of the rows' tests; tests not named here follow as met.
ROW_TESTS = ("cpu", "memory", "fileio", "vmexit", "nested")
# Each op's figure, per test: vmexit's cycles per op; nested's are the
# cycles of one L2 exit round trip (docs/guest.md).
OP_CYCLES = {"nested": "l2_cycles"}


def _depth(environment, platform, default):
    d = ((environment.get("platforms") or {}).get(platform) or {}).get("depth")
    return d if isinstance(d, int) else default


def _rows(records, platforms):
    """[(row label, unit, lower_better, {platform: [values]}, {platform: why
    skipped})] in ROW_TESTS' order: a test's headline figure, or one row per
    op when its result has an "ops" list (vmexit: cycles per op; an op the
    guest skipped says why)."""
    tests = [t for t in ROW_TESTS if any(r.get("test") == t for r in records)]
    tests += list(dict.fromkeys(r.get("test") for r in records
                                if r.get("test") and r.get("test") not in tests))
    rows = []
    for test in tests:
        runs = {p: common.runs(records, p, test) for p in platforms}
        ops = []
        for rs in runs.values():
            for r in rs:
                for e in common.field(r, f"{test}.ops") or []:
                    if isinstance(e, dict) and e.get("name") and e["name"] not in ops:
                        ops.append(e["name"])
        if ops:
            for op in ops:
                key = OP_CYCLES.get(test, "cycles")
                values = {p: [common.field(r, f"{test}.ops.{op}.{key}") for r in rs]
                          for p, rs in runs.items()}
                # A skipped op says why; a failed one (nested) its error.
                why = {p: next((w for r in rs for k in ("skipped", "error")
                                for w in [common.field(r, f"{test}.ops.{op}.{k}")] if w), None)
                       for p, rs in runs.items()}
                rows.append((f"{test} {op}", "cycles/op", True, values, why))
            continue
        spec = specs.get(test)
        figures = {}
        for p, rs in runs.items():
            for r in rs:
                opts = dict((r.get("case") or {}).get("options") or {})
                figures.setdefault(p, []).append(spec.headline(opts).value(r))
        head = spec.headline({})
        rows.append((test, head.unit, head.lower_better, figures, {}))
    return rows


def _where(environment, platform, records):
    """The cells of the where-it-ran table for one level: [(what, accel,
    cpu model, kind of KVM)] per layer, and a line of vmm's own view."""
    env = (environment.get("platforms") or {}).get(platform) or {}
    layers = [(str(l.get("what", "?")), str(l.get("accelerator") or "\u2014"),
               str(l.get("cpu_model") or "\u2014"), str(l.get("kvm_kind") or "\u2014"))
              for l in env.get("levels") or [] if isinstance(l, dict)]
    seen = {}
    for r in records:
        if r.get("platform") == platform and not r.get("error"):
            vmm = (r.get("env") or {}).get("vmm") or {}
            for key in ("virt_level", "hypervisor_below", "kvm_kind"):
                if vmm.get(key) not in (None, ""):
                    seen.setdefault(key, vmm[key])
    return env, layers, seen


def render(view, records, environment, out_dir, program, why_not):
    names = list(view.get("platforms") or [])
    section = common.Section(TITLE, [f"## {TITLE}", ""])
    lines = section.lines
    levels = sorted(((_depth(environment, p, i), p) for i, p in enumerate(names)))
    lines += ["Depth n: vmm runs inside n Linux VMs nested one in the other on this host "
              "(L0: vmm on this host's /dev/kvm); its guest runs one level further down. "
              "Each cell is the median over the runs and, in brackets, its ratio to the "
              "level above (L1 / L0, L2 / L1); for cycles lower is better, for the others "
              "higher.", ""]

    lines += ["| level | platform | layer | accelerator | CPU model | kind of KVM |",
              "| --- | --- | --- | --- | --- | --- |"]
    notes = []
    for depth, p in levels:
        env, layers, seen = _where(environment, p, records)
        skip = env.get("skipped") or env.get("error")
        if p not in (environment.get("platforms") or {}):
            lines.append(f"| {label(depth)} | {p} | not run (not among this run's platforms) "
                         "| | | |")
            continue
        if skip:
            # The cell says why; the console lines behind a failed boot go
            # under the table.
            why, _, console = str(skip).partition("; last console lines:")
            lines.append(f"| {label(depth)} | {p} | skipped: {common.md(why)} | | | |")
            if console.strip():
                notes.append(f"- {label(depth)}: the last console lines before it was "
                             f"stopped: `{common.md(' / '.join(console.strip().splitlines()[-3:]))}`")
            continue
        for what, accel, cpu, kind in layers or [("(not recorded)", "", "", "")]:
            lines.append(f"| {label(depth)} | {p} | {common.md(what)} | {common.md(accel)} | "
                         f"{common.md(cpu)} | {common.md(kind)} |")
        if depth and isinstance(env.get("boot_s"), (int, float)):
            notes.append(f"- {label(depth)}: its Linux VM{'s' * (depth > 1)} booted in "
                         f"{env['boot_s']:.0f} s.")
        if seen:
            notes.append(f"- {label(depth)}: vmm --json says "
                         + ", ".join(f"{k} {common.md(v)}" for k, v in seen.items()) + ".")
        for why in common.skipped(environment, p):
            notes.append(f"- {label(depth)}: skipped a case: {common.md(why)}")
        for err in dict.fromkeys(e for r in records if r.get("platform") == p
                                 for e in [r.get("error")] if e):
            notes.append(f"- {label(depth)}: failed: {common.md(err)}")
    lines += [""] + notes + ([""] if notes else [])

    heads = [f"{label(d)}" for d, _ in levels]
    lines += ["| benchmark | unit | " + " | ".join(heads) + " |",
              "| --- | --- | " + " | ".join("---:" for _ in heads) + " |"]
    rows = _rows(records, [p for _, p in levels])
    op_notes = []
    for name, unit, lower_better, values, why in rows:
        cells, above = [], None
        for depth, p in levels:
            env = (environment.get("platforms") or {}).get(p) or {}
            m = common.median(values.get(p) or [])
            if m is None:
                cell = "skipped" if env.get("skipped") or why.get(p) else "\u2014"
                if why.get(p):
                    op_notes.append(f"- {name} at {label(depth)}: skipped by the guest: "
                                    f"{common.md(why[p])}")
            else:
                cell = common.fmt(m, 0 if unit == "cycles/op" else None)
                if above:
                    cell += f" ({m / above:.2f}\u00d7)"
            cells.append(cell)
            above = m
        lines.append(f"| {common.md(name)} | {unit}{' (lower is better)' if lower_better else ''}"
                     f" | " + " | ".join(cells) + " |")
    if not rows:
        lines.append("| (no results) | | " + " | ".join("" for _ in heads) + " |")
    lines += [""] + op_notes + ([""] if op_notes else [])
    return section
