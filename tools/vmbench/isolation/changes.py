"""What apply changes: the plan, doing it with roll-back, and undoing it.

A Change is one value of one knob: a file written with a text (a sysctl,
a cpufreq governor, a CPU mask or list), or a task's affinity.  It keeps
the old value as the kernel wrote it, so that restore writes back exactly
that.  A task is named by its PID and its start time, so that a task that
exited and whose PID was reused is never touched.

Some refusals are expected and not errors: an IRQ whose affinity the
kernel keeps refuses the write (EIO for one its driver manages; EPERM, as
a PVM host's virtio-blk MSI-X queue does; ENOSPC when no vector is free on
the housekeeping CPUs), and a kernel thread that may not move refuses
sched_setaffinity with EINVAL (ESRCH: it exited meanwhile).  They are
reported and left as they are.  Any other error stops apply, which then
undoes what it had changed.
"""

import errno
from dataclasses import asdict, dataclass

from vmbench.isolation import cpulist, inventory

# kind -> the errnos that mean "the kernel keeps this one where it is"
REFUSALS = {"irq": {errno.EIO, errno.EPERM, errno.ENOSPC}, "task": {errno.EINVAL, errno.ESRCH}}


@dataclass
class Change:
    kind: str             # sysctl, cpufreq, workqueue, irq-default, irq, task
    knob: str             # what the user reads: "kernel.timer_migration", "irq 24 (ttyS0)"
    old: str
    new: str
    path: str = None      # the file written, for every kind but task
    pid: int = None       # task: the task, and its start time
    starttime: str = None

    def line(self, undoing=False):
        frm, to = (self.new, self.old) if undoing else (self.old, self.new)
        return f"{self.knob}: {frm or '(empty)'} -> {to or '(empty)'}"

    def to_json(self):
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, doc):
        return cls(**doc)


class Gone(Exception):
    """The task has exited (its PID is free or belongs to another task)."""


def set_value(host, change, value):
    """Gives the knob `value`; OSError (or Gone) when that fails."""
    if change.kind != "task":
        host.write(change.path, value + "\n")
        return
    task = inventory.read_task(host, change.pid)
    if task is None or task.starttime != change.starttime:
        raise Gone()
    try:
        host.set_affinity(change.pid, cpulist.parse_set(value))
    except ProcessLookupError:
        raise Gone() from None


def refused(change, err):
    return isinstance(err, Gone) or getattr(err, "errno", None) in REFUSALS.get(change.kind, ())


def why(err):
    if isinstance(err, Gone):
        return "exited"
    return err.strerror or str(err)


@dataclass
class Plan:
    cpus: set             # the CPUs to isolate
    housekeeping: set     # the online CPUs left for everything else
    changes: list         # Change, in the order applied
    notes: list           # one line each: absent knobs, threads that cannot move


def plan(host, cpus, online):
    """Every Change that isolating `cpus` needs on this host, read now."""
    housekeeping = online - cpus
    p = Plan(set(cpus), housekeeping, [], [])

    def moved(current):
        """A CPU set without the isolated CPUs; the housekeeping CPUs if
        nothing would be left."""
        return (current - cpus) or housekeeping

    for name, want in inventory.SYSCTLS:
        value = inventory.sysctl(host, name)
        if value is None:
            p.notes.append(f"{name}: absent on this kernel")
        elif value != want:
            p.changes.append(Change("sysctl", name, value, want, path=inventory.sysctl_path(name)))

    policies = inventory.cpufreq_policies(host)
    if not policies:
        p.notes.append("cpufreq: absent on this machine (no cpufreq driver: the frequency "
                       "is fixed or the hypervisor's)")
    for pol in policies:
        if pol.governor == inventory.GOVERNOR:
            continue
        if pol.available is not None and inventory.GOVERNOR not in pol.available:
            p.notes.append(f"cpufreq {pol.name}: no {inventory.GOVERNOR} governor "
                           f"(has {' '.join(pol.available)})")
            continue
        p.changes.append(Change("cpufreq", f"cpufreq {pol.name} governor", pol.governor,
                                inventory.GOVERNOR, path=pol.path))

    in_force, requested = inventory.workqueue_mask(host)
    if in_force is None:
        p.notes.append("workqueue cpumask: absent on this kernel")
    else:
        old = requested if requested is not None else in_force
        new = moved(cpulist.parse_mask(old))
        if new != cpulist.parse_mask(old):
            p.changes.append(Change("workqueue", "workqueue cpumask", old,
                                    cpulist.fmt_mask(new), path=inventory.WORKQUEUE))

    default = host.read_or_none(inventory.IRQ_DEFAULT)
    if default is None:
        p.notes.append("irq default_smp_affinity: absent on this kernel")
    elif cpulist.parse_mask(default) & cpus:
        p.changes.append(Change("irq-default", "irq default_smp_affinity", default,
                                cpulist.fmt_mask(moved(cpulist.parse_mask(default))),
                                path=inventory.IRQ_DEFAULT))

    for irq in inventory.irqs(host):
        if irq.cpus & cpus:
            p.changes.append(Change("irq", irq.label, irq.affinity,
                                    cpulist.fmt(moved(irq.cpus)), path=irq.path))

    pinned = []
    for task in inventory.tasks(host):
        if not task.kthread or not task.cpus & cpus:
            continue
        if task.pinned:
            pinned.append(task)
            continue
        p.changes.append(Change("task", task.label, task.affinity, cpulist.fmt(moved(task.cpus)),
                                pid=task.pid, starttime=task.starttime))
    if pinned:
        p.notes.append(f"not movable: {len(pinned)} kernel threads (per-CPU, or "
                       f"PF_NO_SETAFFINITY): {few(t.comm for t in pinned)}")
    return p


def few(names, n=8):
    names = list(names)
    return " ".join(names[:n]) + (f" ... (+{len(names) - n})" if len(names) > n else "")


class Failed(Exception):
    """apply stopped at `change` with `err`; the `done` Changes before it
    were undone, but for `left` ([(Change, error text)] whose undoing failed,
    in the order they were made)."""

    def __init__(self, change, err, done, left):
        super().__init__(change.knob)
        self.change, self.err, self.done, self.left = change, err, done, left


def run(host, changes, report):
    """Makes the Changes in order.  Returns (done, refused): refused are
    (Change, reason) the kernel kept.  Any other failure undoes `done` in
    reverse and raises Failed.  report(line) is told each change made."""
    done, kept = [], []
    for change in changes:
        try:
            set_value(host, change, change.new)
        except (OSError, Gone) as err:
            if refused(change, err):
                kept.append((change, why(err)))
                continue
            raise Failed(change, err, done, undo(host, done, lambda line: None)) from None
        done.append(change)
        report(change.line())
    return done, kept


def undo(host, done, report, tolerate_refusals=False):
    """Puts back each Change's old value, last change first.  A task that
    has exited is skipped (reported).  Returns [(Change, error text)] of
    those that could not be put back, in the order of `done`; with
    tolerate_refusals, the kernel's expected refusals (REFUSALS) are not
    among them (a state file saved before apply finished names knobs
    apply never got to)."""
    left = []
    for change in reversed(done):
        try:
            set_value(host, change, change.old)
        except (OSError, Gone) as err:
            if isinstance(err, Gone):
                report(f"{change.knob}: exited, nothing to put back")
            elif tolerate_refusals and refused(change, err):
                report(f"{change.knob}: not changed ({why(err)})")
            else:
                left.append((change, why(err)))
            continue
        report(change.line(undoing=True))
    return left[::-1]
