"""bench/compare - one command compares sysbench's workloads across platforms.

Runs a matrix (platforms x machine shapes x tests x options x repetitions)
and writes, to --out: results.jsonl (one vmbench.result/1 record per run),
results.csv, and report.md with one table per test (platforms side by
side: median, spread, ratio to native) and bar charts.

Platforms (docs/design.md): native (sysbench on this host), container (sysbench
under runc with a CPU quota and a memory limit, both checked to be in
force), qemu-linux (a Linux VM running sysbench), qemu-guest (QEMU booting
build/guest.elf), vmm (build/guest.elf under vmm).

fileio runs everywhere: native and container in a directory on this host
(--scratch-dir), qemu-linux on ext4 on a raw or qcow2 virtio-blk image (the
matrix's "disks"), qemu-guest and vmm on a raw image (they skip qcow2
cases); docs/results.md, "fileio in the harness".

Presets may name their own platforms (the default of --platforms) and the
views of the report that present their study: `isolation` runs vmm without
pinning, pinned (vmm-pinned) and pinned on isolated host CPUs
(vmm-isolated); `exits` runs the guest's vmexit test under vmm and QEMU-KVM
(README.md, "Comparing platforms").

Examples:
    bench/compare --preset vm-vs-container
    bench/compare --preset smp-mem-grid --platforms native,vmm --reps 3
    bench/compare --preset vm-vs-container --quick --out /tmp/quick

Exit status: 0 when every platform gave every figure; 1 when some platform
failed (the report says which and why); 2 for bad options.
"""

import argparse
import datetime
import shlex
import sys
from pathlib import Path

from vmbench import matrix, platforms, report
from vmbench.paths import REPO
from vmbench.runner import Runner


def parser():
    ap = argparse.ArgumentParser(prog="bench/compare",
                                 description=__doc__.split("\n\n")[0],
                                 epilog="Presets: " + ", ".join(sorted(matrix.PRESETS)))
    ap.add_argument("--preset", help="a study to reproduce: " + ", ".join(sorted(matrix.PRESETS)))
    ap.add_argument("--config", help="a matrix as JSON (see tools/vmbench/matrix.py)")
    ap.add_argument("--quick", action="store_true",
                    help="shrink the matrix to seconds: first shape and options, one "
                         "repetition of one second")
    ap.add_argument("--platforms",
                    help="comma-separated (default: the preset's, else "
                         f"{','.join(platforms.DEFAULTS)}; also: "
                         f"{', '.join(n for n in platforms.NAMES if n not in platforms.DEFAULTS)})")
    ap.add_argument("--reps", type=int, help="repetitions per case (default: the matrix's, 5)")
    ap.add_argument("--time", type=int, help="seconds per run (sysbench --time)")
    ap.add_argument("--out", help="results folder (default: results/<date-time>)")
    platforms.add_options(ap)        # each platform's own (vmbench.platforms.registry)
    return ap


def platform_names(text):
    """The names in a comma-separated --platforms; ValueError naming the
    unknown ones."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in platforms.NAMES]
    if unknown or not names:
        raise ValueError(f"unknown platform(s) {', '.join(unknown) or '(none)'}; "
                         f"platforms: {', '.join(platforms.NAMES)}")
    return names


def parse_args(argv):
    ap = parser()
    args = ap.parse_args(argv)
    args.platform_names = None
    if args.platforms is not None:
        try:
            args.platform_names = platform_names(args.platforms)
        except ValueError as e:
            ap.error(str(e))
    if args.reps is not None and args.reps < 1:
        ap.error("--reps must be at least 1")
    return args


def apply_matrix(args, spec):
    """What the matrix decides unless the command line did: the platforms
    (its "platforms", else the default ones) and its "platform_options"
    (each where the option still has its default).  MatrixError for a
    platform or an option that does not exist."""
    if args.platform_names is None:
        try:
            args.platform_names = (platform_names(",".join(spec["platforms"]))
                                   if "platforms" in spec else list(platforms.DEFAULTS))
        except ValueError as e:
            raise matrix.MatrixError(f"the matrix's {e}") from None
    defaults = parser()
    for dest, value in spec.get("platform_options", {}).items():
        if not hasattr(args, dest):
            raise matrix.MatrixError(f"platform_options: no option {dest!r}")
        if getattr(args, dest) == defaults.get_default(dest):
            setattr(args, dest, value)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    try:
        spec = matrix.load(args.preset, args.config)
        apply_matrix(args, spec)
    except matrix.MatrixError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    if args.quick:
        spec = matrix.quick(spec)
    if args.reps:
        spec["reps"] = args.reps
    if args.time:
        spec["time"] = args.time
    out = Path(args.out or REPO / "results" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    args.scratch_dir = args.scratch_dir or str(out)

    cases = matrix.cases(spec)
    runner = Runner([platforms.create(n, args) for n in args.platform_names], cases,
                    spec["reps"], out, command=shlex.join(["bench/compare", *sys.argv[1:]]))
    environment = runner.run()
    # The report presents the study with the matrix's views (vmbench.views);
    # in environment.json, so that bench/report draws them again.
    if spec.get("views"):
        environment["views"] = spec["views"]
    paths = report.write_report(runner.records, environment, out)
    print(f"compare: wrote {paths['report']} (and results.jsonl, results.csv, plots)",
          file=sys.stderr)
    for name, reason in runner.failed.items():
        print(f"compare: {name} failed: {reason}", file=sys.stderr)
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
