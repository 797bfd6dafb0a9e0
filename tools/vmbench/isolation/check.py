"""isolation/check [CPULIST] - what host isolation is in force, knob by knob.

One line per knob: its value, the value isolation wants, and who sets it
(a boot parameter, or isolation/apply).  Without CPULIST it checks the CPUs
of isolation/apply's state file, else the kernel's isolated CPUs.  Only
reads; --json prints the same as one JSON object.

Exit status: 0 (it is a report); 2 for bad options or a bad CPU list;
1 when a knob that is there cannot be read.
"""

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field

from vmbench.isolation import changes, cli, cpulist, inventory, state

PROG = "isolation/check"
BOOT = "boot parameter: docs/isolation.md"
APPLY = "apply sets it"


@dataclass
class Row:
    knob: str
    value: str
    want: str = "-"
    ok: bool = None           # None: nothing to want, or cannot tell
    note: str = ""            # who sets it, shown unless ok
    info: str = ""            # shown always
    items: list = field(default_factory=list)     # IRQs, tasks: which ones

    def line(self, widths):
        note = "; ".join(n for n in ("" if self.ok else self.note, self.info) if n)
        note = ("ok" + (f" ({note})" if note else "")) if self.ok else f"({note})" if note else ""
        return (f"{self.knob:<{widths[0]}}  {self.value:<{widths[1]}}  "
                f"want {self.want:<{widths[2]}}  {note}").rstrip()


def parse_args(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("cpus", metavar="CPULIST", nargs="?",
                    help="the CPUs meant to be isolated (default: apply's, else the kernel's)")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    return cli.parse(ap, argv)


def main(argv=None):
    args, host, state_path = parse_args(argv)
    try:
        online = cli.online_cpus(host)
        applied = read_state(state_path, host)
        if args.cpus is not None:
            cpus, _ = cli.cpus_to_isolate(host, args.cpus)
        else:
            cpus = default_cpus(host, applied, online)
    except cli.Refused as e:
        return cli.fail(PROG, e, 2)
    housekeeping = online - cpus if cpus else None
    try:
        rows = report(host, cpus, housekeeping, applied, state_path)
    except (OSError, cpulist.CpuListError) as e:
        return cli.fail(PROG, f"cannot read this host's settings: {e}", 1)
    if args.json:
        json.dump({"format": "vmbench.isolation-check/1",
                   "cpus": cpulist.fmt(cpus) if cpus else None,
                   "housekeeping": cpulist.fmt(housekeeping) if cpus else None,
                   "online": cpulist.fmt(online), "knobs": [asdict(r) for r in rows]},
                  sys.stdout, indent=1)
        print()
        return 0
    if cpus:
        print(f"checking CPU {cpulist.fmt(cpus)} (housekeeping {cpulist.fmt(housekeeping)}, "
              f"online {cpulist.fmt(online)})")
    else:
        print(f"no CPU named and none isolated (online {cpulist.fmt(online)}): "
              "give CPULIST to check the CPUs you mean")
    widths = [max(len(r.knob) for r in rows), min(max(len(r.value) for r in rows), 12),
              min(max(len(r.want) for r in rows), 8)]
    for row in rows:
        print(row.line(widths))
    return 0


def read_state(path, host):
    """The state file's document; None when there is none; {"stale": True}
    when it is from an earlier boot, {"unreadable": True} when it is not one."""
    if not path.exists():
        return None
    try:
        doc = state.load(path)[0]
    except state.StateError:
        return {"cpus": None, "unreadable": True}
    return {"cpus": None, "stale": True} if state.rebooted(doc, host) else doc


def default_cpus(host, applied, online):
    """apply's CPUs, else the kernel's isolated CPUs, else none (empty set)."""
    if applied and applied.get("cpus"):
        return cpulist.parse_set(applied["cpus"]) & online
    text = inventory.sys_cpu_list(host, "isolated")
    try:
        return cpulist.parse_set(text or "", allow_empty=True) & online
    except cpulist.CpuListError:
        return set()


def report(host, cpus, housekeeping, applied, state_path):
    rows = []
    want_cpus = cpulist.fmt(cpus) if cpus else "-"
    want_hk = cpulist.fmt(housekeeping) if cpus else "-"

    params = inventory.boot_params(host)
    for name in inventory.BOOT_PARAMS:
        want, need = (want_hk, housekeeping) if name == "irqaffinity" else (want_cpus, cpus)
        value = params.get(name)
        row = Row(name, value if value is not None else "not set", want)
        if value is not None and inventory.boot_param_cpus(name, value) is None:
            row.note = "cannot read this list"
        elif need:
            have = inventory.boot_param_cpus(name, value) if value is not None else None
            row.ok = bool(have) and (have <= need if name == "irqaffinity" else need <= have)
            row.note = BOOT
        rows.append(row)

    for name in inventory.SYS_CPU_LISTS:
        text = inventory.sys_cpu_list(host, name)
        row = Row(f"cpu/{name}", "absent" if text is None else text or "none", want_cpus)
        if text is None:
            row.note = "absent on this kernel"
        elif cpus:
            row.ok = cpus <= cpulist.parse_set(text, allow_empty=True)
            row.note = BOOT
        rows.append(row)

    for name, want in inventory.SYSCTLS:
        value = inventory.sysctl(host, name)
        row = Row(name, "absent" if value is None else value, want)
        if value is None:
            row.note = "absent on this kernel"
        else:
            row.ok, row.note = value == want, APPLY
        rows.append(row)

    policies = inventory.cpufreq_policies(host)
    for pol in policies:
        rows.append(Row(f"cpufreq {pol.name}", pol.governor, inventory.GOVERNOR,
                        pol.governor == inventory.GOVERNOR, APPLY, f"CPU {pol.cpus}"))
    if not policies:
        rows.append(Row("cpufreq", "absent", inventory.GOVERNOR,
                        note="absent on this machine: no cpufreq driver"))

    rows.append(mask_row(host.read_or_none(inventory.IRQ_DEFAULT), "irq default affinity",
                         cpus, want_hk))
    rows.append(mask_row(inventory.workqueue_mask(host)[0], "workqueue cpumask", cpus, want_hk))
    rows.extend(task_and_irq_rows(host, cpus))
    rows.append(state_row(applied, state_path))
    return rows


def mask_row(text, knob, cpus, want_hk):
    if text is None:
        return Row(knob, "absent", want_hk, note="absent on this kernel")
    mask = cpulist.parse_mask(text)
    return Row(knob, cpulist.fmt(mask), want_hk, not mask & cpus if cpus else None,
               APPLY, f"mask {text}")


def task_and_irq_rows(host, cpus):
    on = f"on CPU {cpulist.fmt(cpus)}" if cpus else "on the CPUs"
    if not cpus:
        return [Row(f"{what} {on}", "-", note="name the CPUs to check")
                for what in ("irqs", "kthreads", "tasks")]
    irqs = inventory.irqs(host)
    landing = [irq for irq in irqs if irq.cpus & cpus]
    rows = [Row(f"irqs {on}", f"{len(landing)} of {len(irqs)}", "0", not landing,
                "apply moves those the kernel lets go"
                + (": " + changes.few((str(i.number) for i in landing), 6) if landing else ""),
                items=[irq.number for irq in landing])]

    me = os.getpid() if host.real else None
    kthreads, pinned, others = [], [], []
    for task in inventory.tasks(host):
        if task.pid == me or not task.cpus & cpus:
            continue
        (others if not task.kthread else pinned if task.pinned else kthreads).append(task)
    rows.append(Row(f"kthreads {on}", f"{len(kthreads)} movable", "0", not kthreads,
                    "apply moves them" + (": " + changes.few((t.comm for t in kthreads), 4)
                                          if kthreads else ""),
                    f"{len(pinned)} cannot move: " + changes.few((t.comm for t in pinned), 4)
                    if pinned else "", [t.pid for t in kthreads + pinned]))
    rows.append(Row(f"tasks {on}", str(len(others)), note="user tasks: apply leaves them; "
                    "pin the benchmark" + (": " + changes.few(sorted({t.comm for t in others}), 5)
                                           if others else ""),
                    items=[t.pid for t in others]))
    return rows


def state_row(applied, state_path):
    if applied is None:
        return Row("isolation/apply", "not applied", note=f"no {state_path}")
    if applied.get("unreadable"):
        return Row("isolation/apply", "unreadable", note=f"{state_path} is not a state file")
    if applied.get("stale"):
        return Row("isolation/apply", "stale", note=f"{state_path} is from an earlier boot: "
                                                    "isolation/restore removes it")
    return Row("isolation/apply", f"CPU {applied['cpus']}",
               note=f"{len(applied['changes'])} changes since {applied.get('applied_at')}, "
                    f"saved in {state_path}")


if __name__ == "__main__":
    sys.exit(main())
