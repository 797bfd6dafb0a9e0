"""The state file: what apply changed, for restore to put back.

JSON, format "vmbench.isolation/1":

    {"format": "vmbench.isolation/1", "cpus": "1", "housekeeping": "0",
     "root": "/", "boot_id": "011bda59-...", "applied_at": "2026-12-01T17:00:00",
     "complete": true,
     "changes": [{"kind": "sysctl", "knob": "kernel.timer_migration",
                  "old": "1", "new": "0", "path": "/proc/sys/kernel/timer_migration"},
                 {"kind": "task", "knob": "kthread 15 (rcu_preempt)", "old": "0-1",
                  "new": "0", "pid": 15, "starttime": "2"}, ...]}

apply saves every change it is about to make before making the first
("complete": false), then the ones it made ("complete": true).  Each save
replaces the file whole (write, fsync, rename), so the file is never half
written.  The boot it was saved in (the kernel's random boot_id) tells
restore when the machine has rebooted since: then every change is gone
with the old boot, and there is nothing to put back.
"""

import datetime
import json
import os
from pathlib import Path

from vmbench.isolation import cpulist
from vmbench.isolation.changes import Change

FORMAT = "vmbench.isolation/1"
DEFAULT = "/var/lib/vmbench/isolation.json"
BOOT_ID = "/proc/sys/kernel/random/boot_id"


class StateError(Exception):
    """A state file that cannot be read; str() is one line."""


def default_path(host):
    """DEFAULT, under --root's directory when there is one."""
    return host.path(DEFAULT)


def save(path, host, cpus, housekeeping, changes, complete):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "cpus": cpulist.fmt(cpus), "housekeeping": cpulist.fmt(housekeeping),
           "root": str(host.root), "boot_id": host.read_or_none(BOOT_ID),
           "applied_at": datetime.datetime.now().isoformat(timespec="seconds"),
           "complete": complete, "changes": [c.to_json() for c in changes]}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def rebooted(doc, host):
    """Whether the machine has booted again since the state was saved."""
    saved = doc.get("boot_id")
    return saved is not None and host.read_or_none(BOOT_ID) != saved


def load(path):
    """(doc, [Change]) of a state file; StateError if it is not one."""
    try:
        doc = json.loads(Path(path).read_text())
        if doc.get("format") != FORMAT:
            raise StateError(f"{path} is not a vmbench isolation state file "
                             f"(format {doc.get('format')!r})")
        return doc, [Change.from_json(c) for c in doc["changes"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise StateError(f"cannot read the state file {path}: {e}") from None
