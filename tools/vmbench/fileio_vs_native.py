"""bench/fileio-vs-native - sysbench fileio on this host against the guest's
fileio under vmm and under QEMU booting the same guest, the same options,
turn and turn about.

Three sides, each case run by each in turn (native, vmm, QEMU, native, ...),
--reps times:

- native: the host's `sysbench fileio` in a fresh directory under --dir
  (prepare, not timed; run; cleanup);
- vmm: build/guest.elf under build/vmm --smp 2 --mem 1G with a fresh sparse
  raw image under --dir as its virtio-blk disk (`--disk IMG[,direct]`): one
  boot runs `fileio ... prepare`, a second `fileio ... run`;
- QEMU: the same guest, the same two boots, with `-drive
  file=IMG,format=raw,if=none,id=d0[,cache=none] -device
  virtio-blk-pci,drive=d0` and -accel kvm; where QEMU cannot use KVM here it
  falls back to TCG, and every line of the output says "QEMU-TCG".  That is
  QEMU's default set-up: aio=threads, no IOThread (the main loop serves the
  disk and does not poll).  --qemu-iothread adds a fourth side, the same
  QEMU with the disk in an IOThread (`-object iothread,id=io0`,
  `iothread=io0`), which polls adaptively as vmm's I/O thread does by
  default; the table and the targets then give vmm against both.

So the guest's disk images and native's files sit on the same file system.
With `direct` the case passes --file-extra-flags=direct to sysbench and to
the guest (which does direct I/O always: it has no page cache), and the
host side of both VMs opens the image O_DIRECT (vmm ,direct; QEMU
cache=none); without it the host's page cache is in every side's path.

Cases (the issue's): seqwr, seqrd, rndrd, rndwr, rndrw at 16K and 4K blocks,
1 and 2 threads, with and without O_DIRECT: 40 cases.  A case's name reads
"rndrd 16K 1t direct"; --only WORDS keeps the cases whose name has all the
words (repeatable: any of them).  --quick: a smoke run of seconds (two
cases unless --only, 16 MiB, --time 1, one repetition).

The table gives, per case, the median and spread (min-max) of reads/s +
writes/s for each side, and vmm/native and vmm/QEMU; then the targets
(rndrd 16K, 1 thread, O_DIRECT: vmm >= 0.85x native and >= 1.2x QEMU-KVM).
--vmm-disk WORDS adds words to vmm's --disk (e.g. "poll": its I/O thread
polls the queue; docs/virtio-blk.md), and the vmm column says so.

Where this host's /dev/kvm cannot run guests, vmm runs inside a Linux VM
that offers nested KVM (tools/linuxvm) - whose CPU is QEMU's TCG, and whose
disk is the host's file over 9p: such figures measure that, not vmm; the
output says so.  It also names the kind of KVM vmm ran on (hardware, pvm,
nested-tcg, nested) and what that means: on PVM-style KVM, for one, the
guest's interrupts and ring-0 code are emulated and every exit costs 5-20 us.

    bench/fileio-vs-native [--reps 5] [--time 5] [--size 256M] [--only WORDS]
                           [--dir DIR] [--quick] [--json FILE] [--vmm-disk WORDS]
                           [--qemu-iothread]
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from vmbench import kvmkind, specs, stats
from vmbench.paths import BUILD
from vmbench.platforms.base import Case, PlatformError

MODES = ("seqwr", "seqrd", "rndrd", "rndwr", "rndrw")
BLOCKS = ("16K", "4K")
THREADS = (1, 2)
VCPUS, MEM_MIB = 2, 1024
SIDES = ("native", "vmm", "qemu")
IOTHREAD_SIDE = "qemu-iothread"                    # with --qemu-iothread
TARGET_CASE = "rndrd 16K 1t direct"
TARGETS = (("native", 0.85), ("qemu", 1.2), (IOTHREAD_SIDE, 1.2))   # vmm / side >= ratio
QUICK_CASES = (TARGET_CASE, "rndrw 4K 2t buffered")


def case_name(mode, block, threads, direct):
    return f"{mode} {block} {threads}t {'direct' if direct else 'buffered'}"


def all_cases():
    """[(name, mode, block, threads, direct)], the issue's 40 cases."""
    return [(case_name(m, b, t, d), m, b, t, d)
            for m in MODES for b in BLOCKS for t in THREADS for d in (True, False)]


def select(cases, only):
    """The cases whose name has every word of one of `only` (all when empty)."""
    if not only:
        return list(cases)
    wanted = [set(words.split()) for words in only]
    return [c for c in cases if any(w <= set(c[0].split()) for w in wanted)]


def make_case(mode, block, threads, direct, size, seconds):
    options = [("file-test-mode", mode), ("file-total-size", size),
               ("file-block-size", block), ("threads", threads), ("time", seconds)]
    if direct:
        options.append(("file-extra-flags", "direct"))
    return Case("fileio", tuple(options) + (("disk-format", "raw"),), VCPUS, MEM_MIB)


def figure(record):
    """reads/s + writes/s, the report's figure for fileio (vmbench.specs)."""
    return specs.get("fileio").figure.value(record)


def summarise(figures):
    """{case: {side: stats.summarise(...) or None}} of {case: {side: [figures]}}."""
    return {name: {side: stats.summarise(values) if values else None
                   for side, values in sides.items()}
            for name, sides in figures.items()}


def ratio(a, b):
    if not a or not b or not b["median"]:
        return None
    return a["median"] / b["median"]


def sides_of(qemu_iothread):
    """The sides a run has, in the order they run and are shown."""
    return SIDES + ((IOTHREAD_SIDE,) if qemu_iothread else ())


def targets(summary, sides=SIDES):
    """[(text, met)] for the issue's targets (against every QEMU side there
    is); met is None when not measured."""
    out = []
    s = summary.get(TARGET_CASE)
    for side, want in TARGETS:
        if side not in sides:
            continue
        r = ratio(s["vmm"], s[side]) if s else None
        out.append((f"{TARGET_CASE}: vmm / {side} = "
                    f"{'not measured' if r is None else f'{r:.3f}'} (target >= {want})",
                    None if r is None else r >= want))
    return out


def caveats(env):
    """Why the targets' figures here are not vmm's on hardware KVM, a phrase
    each (those that name QEMU concern the vmm / QEMU target only).  env:
    {side: platform environment}."""
    out = []
    kind = env["vmm"].get("kvm_kind")
    if env["vmm"].get("where") != "host":
        out.append("vmm here runs nested under QEMU's TCG")
    elif kind in ("pvm", "nested"):
        out.append(f"vmm here runs on {kind} KVM, not hardware KVM")
    if env["qemu"]["accelerator"] != "kvm":
        out.append("QEMU here is TCG, not KVM")
    return out


def table(summary, labels, sides=SIDES):
    """The Markdown table; labels: {side: column title}."""
    others = [side for side in sides if side != "vmm"]
    head = ["case"]
    for side in sides:
        head += [f"{labels[side]} median", f"{labels[side]} min-max"]
    head += [f"vmm / {labels[other]}" for other in others]
    lines = ["| " + " | ".join(head) + " |",
             "| --- |" + " ---: |" * (len(head) - 1)]
    for name, by_side in summary.items():
        row = [name]
        for side in sides:
            s = by_side[side]
            row += [f"{s['median']:.1f}", f"{s['min']:.1f}-{s['max']:.1f}"] if s else ["-", "-"]
        for other in others:
            r = ratio(by_side["vmm"], by_side[other])
            row.append("-" if r is None else f"{r:.3f}")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(prog="fileio-vs-native", description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--time", type=int, default=5, help="seconds per run (sysbench --time)")
    ap.add_argument("--size", default="256M", help="--file-total-size (default %(default)s)")
    ap.add_argument("--only", action="append", default=[], metavar="WORDS",
                    help='cases whose name has these words, e.g. "rndrd 16K direct" '
                         "(repeatable)")
    ap.add_argument("--dir", default=str(BUILD),
                    help="where native's files and the guests' disk images go: one file "
                         "system for all (default: %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: two cases (unless --only), 16M, --time 1, 1 rep")
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--vmm-disk", default="", metavar="WORDS",
                    help='words added to vmm\'s --disk, comma-separated (e.g. "poll", '
                         '"poll=20" or "poll=off"; docs/virtio-blk.md)')
    ap.add_argument("--qemu-iothread", action="store_true",
                    help="a fourth side: QEMU with the disk in an IOThread, which polls "
                         "adaptively (QEMU's default for IOThreads)")
    args = ap.parse_args(argv)
    if args.quick:
        args.reps, args.time, args.size = 1, 1, "16M"
        args.only = args.only or list(QUICK_CASES)
    if args.reps < 1 or args.time < 1:
        ap.error("--reps and --time must be at least 1")
    vmm_disk = [w for w in args.vmm_disk.split(",") if w]
    todo = select(all_cases(), args.only)
    if not todo:
        ap.error(f"--only {args.only}: no case matches (cases read like '{TARGET_CASE}')")

    # The three sides are the harness's own platforms (vmbench.platforms).
    from vmbench.platforms.native import NativePlatform, filesystem_type
    from vmbench.platforms.qemu_guest import QemuGuestPlatform
    from vmbench.platforms.vmm import VmmPlatform

    Path(args.dir).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="fileio-vs-native-", dir=args.dir))
    cases = {name: make_case(m, b, t, d, args.size, args.time) for name, m, b, t, d in todo}
    order = sides_of(args.qemu_iothread)
    sides = {"native": NativePlatform(scratch_dir=scratch),
             "vmm": VmmPlatform(scratch_dir=scratch, disk_options=vmm_disk),
             "qemu": QemuGuestPlatform(accel="auto", scratch_dir=scratch)}
    if args.qemu_iothread:
        sides[IOTHREAD_SIDE] = QemuGuestPlatform(accel="auto", scratch_dir=scratch,
                                                 iothread=True)
    figures = {name: {side: [] for side in order} for name in cases}
    runs, started, done = len(cases) * args.reps * len(order), time.monotonic(), 0
    try:
        for side, platform in sides.items():
            try:
                platform.prepare(list(cases.values()))
            except PlatformError as e:
                sys.exit(f"fileio-vs-native: {side}: {e}")
        for rep in range(args.reps):
            for name, case in cases.items():
                for side in order:
                    try:
                        record = sides[side].run(case)
                    except PlatformError as e:
                        sys.exit(f"fileio-vs-native: {name}: {e}")
                    figures[name][side].append(figure(record))
                    done += 1
                    left = (time.monotonic() - started) / done * (runs - done)
                    print(f"fileio-vs-native: rep {rep + 1}/{args.reps} {name} {side} "
                          f"{figures[name][side][-1]:.1f} ops/s (about {left / 60:.0f} min left)",
                          file=sys.stderr, flush=True)
        env = {side: p.environment() for side, p in sides.items()}
    finally:
        for p in sides.values():
            p.close()
        shutil.rmtree(scratch, ignore_errors=True)

    qemu_accel = env["qemu"]["accelerator"]
    labels = {"native": "native", "vmm": ",".join(["vmm", *vmm_disk]),
              "qemu": f"QEMU-{qemu_accel.upper()}",
              IOTHREAD_SIDE: f"QEMU-{qemu_accel.upper()},iothread"}
    summary = summarise(figures)
    print(f"\nsysbench fileio 1.0.20 on this host ({filesystem_type(args.dir)} under "
          f"{args.dir}) against the vmbench guest's fileio on a raw virtio-blk disk image in "
          f"the same place, under vmm ({env['vmm']['accelerator']}) and under QEMU "
          f"({labels['qemu']}, machine pc, aio=threads, "
          f"{'with and without an IOThread' if args.qemu_iothread else 'no IOThread'}); "
          f"guests --smp {VCPUS} --mem {MEM_MIB}M; "
          f"--file-total-size={args.size}, --time={args.time}, {args.reps} runs each, "
          f"alternating.  Figure: reads/s + writes/s.\n")
    if qemu_accel != "kvm":
        print(f"QEMU ran with {qemu_accel}, not KVM: {env['qemu'].get('why_not_kvm')}\n")
    print(f"vmm ran on KVM: {kvmkind.describe(env['vmm'].get('kvm_kind'))}\n")
    if env["vmm"].get("note"):
        print(f"vmm: {env['vmm']['note']}\n")
    print("\n".join(table(summary, labels, order)))
    print()
    for text, met in targets(summary, order):
        said = [c for c in caveats(env) if "QEMU" not in c or "/ qemu" in text]
        print(f"- {text}: {'met' if met else 'not met' if met is False else 'not measured'}"
              + (f" ({'; '.join(said)})" if said else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"size": args.size, "time": args.time, "reps": args.reps, "labels": labels,
             "environment": env, "figures": figures, "summary": summary,
             "targets": [{"text": t, "met": m} for t, m in targets(summary, order)]},
            indent=1) + "\n")


if __name__ == "__main__":
    main()
