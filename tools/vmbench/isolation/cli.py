"""What isolation/apply, restore and check share on the command line.

Exit statuses, for all three: 0 done; 1 a change failed (apply undid what
it had done; restore kept the state file); 2 refused before changing
anything (bad options or CPU list, not root, applied already or nothing
to restore).
"""

import os
import sys
from pathlib import Path

from vmbench.isolation import cpulist, inventory, state
from vmbench.isolation.host import open_host


class Refused(Exception):
    """Refused before changing anything: one line, exit status 2."""


def parse(ap, argv):
    """Adds --root and --state to the command's parser, parses argv
    (sys.argv's by default): (args, Host, state file path)."""
    ap.add_argument("--root", metavar="DIR",
                    help="read and change /proc and /sys under DIR instead of the real ones "
                         "(a task's affinity is then its DIR/proc/PID/status line): for tests")
    ap.add_argument("--state", metavar="FILE",
                    help=f"the state file (default {state.DEFAULT}, under --root's DIR "
                         "with --root)")
    args = ap.parse_args(argv if argv is not None else sys.argv[1:])
    host = open_host(args.root)
    return args, host, Path(args.state) if args.state else state.default_path(host)


def cpus_to_isolate(host, text):
    """The set of CPUs in `text`, checked against the online CPUs; Refused
    with one line when the list is bad, names CPUs that are not online, or
    leaves none for housekeeping."""
    try:
        cpus = cpulist.parse_set(text)
    except cpulist.CpuListError as e:
        raise Refused(str(e)) from None
    online = online_cpus(host)
    missing = cpus - online
    if missing:
        raise Refused(f"CPU {cpulist.fmt(missing)} not online (online: {cpulist.fmt(online)}, "
                      f"{inventory.ONLINE})")
    if cpus == online:
        raise Refused(f"CPU list '{text}' names every online CPU ({cpulist.fmt(online)}): "
                      "keep at least one for housekeeping (CPU 0 is best)")
    return cpus, online


def online_cpus(host):
    try:
        return inventory.online_cpus(host)
    except (OSError, cpulist.CpuListError) as e:
        raise Refused(f"cannot read the online CPUs ({inventory.ONLINE}): {e}") from None


def require_root(host, prog):
    if host.real and os.geteuid() != 0:
        raise Refused(f"only root can change kernel settings (run {prog} as root"
                      + (", or try --dry-run)" if prog.endswith("apply") else ")"))


def fail(prog, message, status):
    print(f"{prog}: {message}", file=sys.stderr)
    return status
