"""isolation/restore - put back exactly what isolation/apply changed.

Reads the state file apply saved, writes every saved value back (last
change first), and removes the file (only removes it when the machine
has rebooted since apply: the changes went with that boot).  A kernel thread that has exited
since is skipped.  A value that cannot be written back is named; the
file then keeps just those, so restore can be run again.

Exit status: 0 restored; 1 something could not be put back; 2 refused,
nothing changed (no state file, not root, bad options).
"""

import argparse
import sys

from vmbench.isolation import changes, cli, cpulist, state

PROG = "isolation/restore"


def parse_args(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    return cli.parse(ap, argv)


def main(argv=None):
    args, host, state_path = parse_args(argv)
    try:
        if not state_path.exists():
            raise cli.Refused(f"nothing to restore: no state file {state_path} "
                              "(isolation/apply writes it)")
        cli.require_root(host, PROG)
        try:
            doc, saved = state.load(state_path)
        except state.StateError as e:
            raise cli.Refused(str(e)) from None
        if doc.get("root") != str(host.root):
            raise cli.Refused(f"{state_path} was saved for the tree at {doc.get('root')}, "
                              f"not {host.root} (--root)")
    except cli.Refused as e:
        return cli.fail(PROG, e, 2)

    if state.rebooted(doc, host):
        state_path.unlink()
        print(f"the machine has rebooted since apply ({doc.get('applied_at')}): its changes "
              f"went with that boot, nothing to put back; removed {state_path}")
        return 0
    print(f"restoring CPU {doc['cpus']} ({len(saved)} changes saved {doc.get('applied_at')})")
    left = changes.undo(host, saved, lambda line: print(f"  put back {line}"),
                        tolerate_refusals=not doc.get("complete"))
    if left:
        state.save(state_path, host, cpulist.parse_set(doc["cpus"]),
                   cpulist.parse_set(doc["housekeeping"], allow_empty=True),
                   [c for c, _ in left], complete=True)
        change, err = left[0]
        return cli.fail(PROG, f"could not put back {change.knob} ({err})"
                              + (f" and {len(left) - 1} more" if len(left) > 1 else "")
                              + f": they stay in {state_path}", 1)
    state_path.unlink()
    print(f"restored; removed {state_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
