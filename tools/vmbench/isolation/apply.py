"""isolation/apply CPULIST - keep the kernel's movable work off CPUs.

Moves every IRQ and every movable kernel thread off CPULIST, narrows the
unbound workqueues' CPU mask and the default IRQ affinity to the other
CPUs, and sets kernel.timer_migration=0, kernel.sched_rt_runtime_us=-1,
kernel.numa_balancing=0 and the cpufreq governor to performance.  Every
value is saved in the state file before it is changed; isolation/restore
puts them back.  User tasks are left alone: pin the benchmark itself
(vmm --pin CPULIST).  docs/isolation.md says why, knob by knob.

What the kernel keeps is reported, not an error: a kernel thread bound
to one CPU or marked PF_NO_SETAFFINITY, an IRQ whose affinity its driver
manages (EIO), a knob this kernel does not have.  Any other failure undoes
what was changed and names the knob.

Exit status: 0 applied (or dry run); 1 a change failed and was undone;
2 refused, nothing changed (bad CPU list, not root, applied already).
"""

import argparse
import sys

from vmbench.isolation import changes, cli, cpulist, state

PROG = "isolation/apply"


def parse_args(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 epilog="Boot parameters (isolcpus=, nohz_full=, rcu_nocbs=) "
                                        "cannot be set at run time: docs/isolation.md.")
    ap.add_argument("cpus", metavar="CPULIST", help="the CPUs to isolate, e.g. 1 or 2-3")
    ap.add_argument("--dry-run", action="store_true",
                    help="say what would change, change nothing")
    return cli.parse(ap, argv)


def main(argv=None):
    args, host, state_path = parse_args(argv)
    try:
        cpus, online = cli.cpus_to_isolate(host, args.cpus)
        if state_path.exists():
            raise cli.Refused(f"isolation is applied already (state file {state_path}): "
                              "run isolation/restore first")
        if not args.dry_run:
            cli.require_root(host, PROG)
    except cli.Refused as e:
        return cli.fail(PROG, e, 2)

    try:
        p = changes.plan(host, cpus, online)
    except (OSError, cpulist.CpuListError) as e:
        return cli.fail(PROG, f"cannot read this host's settings: {e}; nothing changed", 2)
    print(f"isolating CPU {cpulist.fmt(p.cpus)}; housekeeping on CPU {cpulist.fmt(p.housekeeping)}")
    if args.dry_run:
        for change in p.changes:
            print(f"  would set {change.line()}")
        for note in p.notes:
            print(f"  {note}")
        print(f"dry run: {len(p.changes)} changes, nothing changed")
        return 0

    try:
        state.save(state_path, host, p.cpus, p.housekeeping, p.changes, complete=False)
    except OSError as e:
        return cli.fail(PROG, f"cannot save the state file {state_path}: {e.strerror}; "
                              "nothing changed", 2)
    try:
        done, kept = changes.run(host, p.changes, lambda line: print(f"  set {line}"))
    except changes.Failed as f:
        return cli.fail(PROG, failure(f, p, host, state_path), 1)
    state.save(state_path, host, p.cpus, p.housekeeping, done, complete=True)
    for change, reason in kept:
        print(f"  not changed: {change.knob} ({reason})")
    for note in p.notes:
        print(f"  {note}")
    print(f"applied {len(done)} changes, saved in {state_path}; isolation/restore puts them back")
    return 0


def failure(f, p, host, state_path):
    """The one line for a failed apply; keeps the state file for what
    could not be put back, removes it otherwise."""
    what = f"cannot set {f.change.knob}"
    if f.change.path:
        what += f" ({f.change.path})"
    what += f": {changes.why(f.err)}"
    if not f.left:
        state_path.unlink()
        return f"{what}; the {len(f.done)} changes made before it were undone"
    state.save(state_path, host, p.cpus, p.housekeeping, [c for c, _ in f.left],
               complete=True)
    change, err = f.left[0]
    return (f"{what}; could not put back {change.knob} ({err})"
            + (f" and {len(f.left) - 1} more" if len(f.left) > 1 else "")
            + f": they stay in {state_path} for isolation/restore")


if __name__ == "__main__":
    sys.exit(main())
