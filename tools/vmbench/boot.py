"""bench/boot - how fast does the guest boot under vmm, and under QEMU?

Wall time from process start to exit for the guest's `info` test (default:
--smp 2 --mem 2G), median of --runs runs after one warm-up, for:

    vmm                 build/vmm, as people run it (the VM released by its
                        reaper after exit)
    vmm-report          build/vmm --json: the same boot plus its report, from
                        which come exits, phases and the RSS split
    vmm-sync-teardown   build/vmm --sync-teardown (released before exit)
    qemu-microvm-kvm    qemu-system-x86_64 -M microvm -accel kvm
    qemu-pc-kvm         qemu-system-x86_64 -M pc -accel kvm
    qemu-microvm-tcg    qemu-system-x86_64 -M microvm -accel tcg
    qemu-pc-tcg         qemu-system-x86_64 -M pc -accel tcg

The contestants run interleaved (A, B, C, A, B, C ...) so drift hits all
alike.  Peak RSS comes from wait4; for vmm it is split, from its --json
report, into guest RAM the guest touched and vmm's own memory, and its
reaper's (the process that releases the VM after vmm exits, reaped by
timecmd) is shown beside it.

Where this host's /dev/kvm cannot run guests, the KVM contestants run inside
a Linux VM that offers nested KVM (vmbench.vmmrun) and are labelled so; the
TCG contestants always run on this host.  The output names the kind of KVM
the KVM contestants ran on (hardware, pvm, nested-tcg, nested: `vmm
--check`), which decides what their times mean: on PVM-style KVM, say, the
guest's ring-0 boot code is emulated and every exit costs 5-20 us.

    bench/boot [--runs 11] [--smp 2] [--mem 2G] [--json FILE]
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from vmbench import kvmkind, vmmrun
from vmbench.paths import BUILD, GUEST, VMM

TIMECMD = BUILD / "timecmd"

# What QEMU reads at start-up, for a nested VM that runs it.
QEMU_DATA = ["/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu",
             "/usr/lib/x86_64-linux-gnu/qemu"]


def qemu_argv(machine, accel, smp, mem):
    cpu = ["-cpu", "host"] if accel == "kvm" else []
    return ["qemu-system-x86_64", "-M", machine, "-accel", accel, *cpu, "-smp", str(smp),
            "-m", mem, "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-kernel", str(GUEST), "-append", "info"]


class Contestant:
    def __init__(self, name, argv, ok_status, needs_kvm, vmm_json=None):
        self.name, self.argv, self.ok_status = name, argv, ok_status
        self.needs_kvm, self.vmm_json = needs_kvm, vmm_json
        self.where = None
        self.runs = []          # one dict per run: wall_ms, maxrss_kib, and vmm's figures


class Places:
    """Runs timecmd on this host, or in a nested-KVM VM for KVM contestants."""

    def __init__(self):
        qemu = "/usr/bin/qemu-system-x86_64"
        self.place = vmmrun.VmmRunner(
            VMM, binaries=[TIMECMD, qemu], files=[(qemu, qemu)],
            shares=[(d, d) for d in QEMU_DATA if Path(d).exists()], mem="8G",
            note="boot: this host cannot run KVM guests: the KVM contestants run in a Linux "
                 "VM with nested KVM")

    @property
    def kvm_kind(self):
        """The kind of KVM the KVM contestants run on (here, or the nested VM's)."""
        return self.place.kvm_kind

    def where(self, contestant):
        if not contestant.needs_kvm or self.place.host:
            return "host"
        return "nested VM (TCG L1)"

    def timed(self, contestant):
        argv = [str(TIMECMD), "-q", "--", *contestant.argv]
        if self.where(contestant) == "host":
            out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
        else:
            out = self.place.run(argv, timeout=600).stdout
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if not lines:
            sys.exit(f"boot: {contestant.name} did not run: {out}")
        return lines[-1]

    def close(self):
        self.place.close()


def measure(contestant, places, record):
    m = places.timed(contestant)
    if m["status"] != contestant.ok_status:
        sys.exit(f"boot: {contestant.name} exited with {m['status']}, expected "
                 f"{contestant.ok_status}: {' '.join(contestant.argv)}")
    if not record:
        return
    run = {"wall_ms": m["wall_ns"] / 1e6, "maxrss_kib": m["maxrss_kib"],
           "others_maxrss_kib": m.get("others_maxrss_kib", 0)}
    if contestant.vmm_json:
        doc = json.loads(Path(contestant.vmm_json).read_text())
        run["vmm_rss_kib"] = doc["rss_kib"]["vmm"]
        run["guest_rss_kib"] = doc["rss_kib"]["guest"]
        run["timeline_ms"] = doc["timeline_ms"]
        run["guest_boot_ms"] = doc["results"][0]["boot_ms"]
        run["exits"] = doc["exits"]["total"]
    contestant.runs.append(run)


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "stddev": statistics.stdev(values) if len(values) > 1 else 0.0}


def median_of(runs, key, sub=None):
    return statistics.median(r[key][sub] if sub else r[key] for r in runs)


# The goals of issue 12 ("Boot"): what `make bench-boot` holds vmm to.
GOALS = [
    # key, what, goal, at most (True) or at least (False), unit
    ("exits", "exits to userspace per boot", 100, True, ""),
    ("wall_ms", "boot to exit, median", 25.0, True, " ms"),
    ("vs_microvm_kvm", "faster than qemu-microvm-kvm", 10.0, False, "x"),
    ("vmm_rss_mib", "vmm's own RSS", 2.0, True, " MiB"),
]


def goals(vmm, report, contestants):
    """Each goal's measured figure (medians), or None where it was not measured.
    Times are vmm's own runs; exits and RSS come from `report`'s, the runs
    that wrote a report."""
    vmm_ms = statistics.median(r["wall_ms"] for r in vmm.runs)
    microvm = next((c for c in contestants if c.name == "qemu-microvm-kvm"), None)
    return {
        "exits": median_of(report.runs, "exits"),
        "wall_ms": vmm_ms,
        "vs_microvm_kvm": (statistics.median(r["wall_ms"] for r in microvm.runs) / vmm_ms
                           if microvm and microvm.where == vmm.where else None),
        "vmm_rss_mib": median_of(report.runs, "vmm_rss_kib") / 1024,
    }


def memory_line(runs):
    """vmm's memory (medians): its peak RSS split in two, and its reaper's."""
    return (f"vmm memory (medians): peak RSS {median_of(runs, 'maxrss_kib')} KiB = guest RAM "
            f"touched {median_of(runs, 'guest_rss_kib')} KiB + vmm "
            f"{median_of(runs, 'vmm_rss_kib')} KiB; its reaper process (releases the VM after "
            f"vmm exits) {median_of(runs, 'others_maxrss_kib')} KiB peak RSS of its own, most of "
            f"it pages shared with vmm")


def print_goals(measured):
    """One line per goal: the figure, the goal, and how far it is (goal / figure
    for an upper bound, figure / goal for a lower one: >= 1.00 is met)."""
    print("\nGoals (ratio >= 1.00: met):")
    for key, what, goal, at_most, unit in GOALS:
        value = measured[key]
        if value is None:
            print(f"  {what:32} not measured on the same host")
            continue
        ratio = (goal / value if value else float("inf")) if at_most else value / goal
        sign = "<=" if at_most else ">="
        print(f"  {what:32} {value:8.1f}{unit:4} goal {sign} {goal:g}{unit:4} ratio {ratio:5.2f} "
              f"{'met' if ratio >= 1 else 'NOT met'}")


def main():
    ap = argparse.ArgumentParser(prog="boot", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", default="2G")
    ap.add_argument("--json", help="write every run and the summary here")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    for f in (VMM, GUEST, TIMECMD):
        if not f.exists():
            sys.exit(f"boot: {f} is missing: run make")

    places = Places()
    scratch = BUILD / "bench-boot"
    scratch.mkdir(exist_ok=True)
    vmm_json = scratch / "vmm.json"
    # Timed as people run it; the report (--json: exits, phases, RSS; its
    # writing costs about a millisecond) comes from runs of its own.
    contestants = [
        Contestant("vmm", [str(VMM), "--smp", str(args.smp), "--mem", args.mem, str(GUEST),
                           "info"], 0, True),
        Contestant("vmm-report", [str(VMM), "--smp", str(args.smp), "--mem", args.mem, "--json",
                                  str(vmm_json), str(GUEST), "info"], 0, True, vmm_json),
        Contestant("vmm-sync-teardown",
                   [str(VMM), "--sync-teardown", "--smp", str(args.smp), "--mem", args.mem,
                    str(GUEST), "info"], 0, True),
        Contestant("qemu-microvm-kvm", qemu_argv("microvm", "kvm", args.smp, args.mem), 1, True),
        Contestant("qemu-pc-kvm", qemu_argv("pc", "kvm", args.smp, args.mem), 1, True),
        Contestant("qemu-microvm-tcg", qemu_argv("microvm", "tcg", args.smp, args.mem), 1, False),
        Contestant("qemu-pc-tcg", qemu_argv("pc", "tcg", args.smp, args.mem), 1, False),
    ]
    try:
        started = time.monotonic()
        for run in range(args.runs + 1):       # run 0 is the warm-up
            for c in contestants:
                c.where = places.where(c)
                measure(c, places, record=run > 0)
            print(f"boot: run {run}/{args.runs} done ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr)
    finally:
        places.close()

    print(f"\nBoot to exit of `info`, --smp {args.smp} --mem {args.mem}: wall time from "
          f"process start to exit, {args.runs} runs after a warm-up\n")
    print(f"| platform | where | median ms | min | max | stddev | peak RSS MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    result = {"runs": args.runs, "smp": args.smp, "mem": args.mem,
              "kvm_kind": places.kvm_kind, "contestants": {}}
    for c in contestants:
        s = summary([r["wall_ms"] for r in c.runs])
        rss = median_of(c.runs, "maxrss_kib") / 1024
        print(f"| {c.name} | {c.where} | {s['median']:.1f} | {s['min']:.1f} | {s['max']:.1f} "
              f"| {s['stddev']:.1f} | {rss:.1f} |")
        result["contestants"][c.name] = {"where": c.where, "wall_ms": s, "maxrss_mib": rss,
                                         "runs": c.runs}
    print(f"\nKVM of the KVM contestants: {kvmkind.describe(places.kvm_kind)}")
    vmm = contestants[0]
    vmm_ms = summary([r["wall_ms"] for r in vmm.runs])["median"]
    print("\nvmm against the others (their median / vmm's median):")
    for c in contestants[1:]:
        other = summary([r["wall_ms"] for r in c.runs])["median"]
        same = "" if c.where == vmm.where else f"  (measured on: {c.where})"
        print(f"  {c.name:18} {other / vmm_ms:6.1f}x{same}")
    report = next(c for c in contestants if c.name == "vmm-report")
    print("\n" + memory_line(report.runs) + " (vmm-report's runs)")
    t = {k: median_of(report.runs, "timeline_ms", k) for k in report.runs[0]["timeline_ms"]}
    g = {k: median_of(report.runs, "guest_boot_ms", k) for k in report.runs[0]["guest_boot_ms"]}
    print("vmm phases (medians, ms since vmm started): " +
          ", ".join(f"{k} {v:.2f}" for k, v in t.items()))
    print("guest phases (medians, ms after its first instruction): " +
          ", ".join(f"{k} {v:.2f}" for k, v in g.items()))
    print(f"vmm exits to userspace per boot (median): {median_of(report.runs, 'exits')}")
    result["goals"] = goals(vmm, report, contestants)
    print_goals(result["goals"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
