"""Reads the knobs isolation is made of, from a Host (host.py).

Each reader returns None (or an empty list) for a knob this kernel does
not have; nothing here writes.  The paths are the kernel's:

    /proc/cmdline                                     isolcpus= nohz_full= rcu_nocbs= irqaffinity=
    /sys/devices/system/cpu/{online,isolated,nohz_full}
    /proc/sys/kernel/{timer_migration,sched_rt_runtime_us,numa_balancing}
    /sys/devices/system/cpu/cpufreq/policy*/scaling_governor (+ affected_cpus,
                                                      scaling_available_governors)
    /proc/irq/default_smp_affinity, /proc/irq/N/smp_affinity_list
    /proc/PID/stat, /proc/PID/status (Cpus_allowed_list)
    /sys/devices/virtual/workqueue/cpumask (+ cpumask_requested)
"""

from dataclasses import dataclass

from vmbench.isolation import cpulist
from vmbench.isolation.host import PF_KTHREAD, PF_NO_SETAFFINITY

ONLINE = "/sys/devices/system/cpu/online"
CMDLINE = "/proc/cmdline"
BOOT_PARAMS = ("isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity")
SYS_CPU_LISTS = ("isolated", "nohz_full")       # files in /sys/devices/system/cpu/
CPUFREQ = "/sys/devices/system/cpu/cpufreq"
IRQ = "/proc/irq"
IRQ_DEFAULT = "/proc/irq/default_smp_affinity"
WORKQUEUE = "/sys/devices/virtual/workqueue/cpumask"
WORKQUEUE_REQUESTED = "/sys/devices/virtual/workqueue/cpumask_requested"
GOVERNOR = "performance"

# The sysctls apply sets, and the value (docs/isolation.md says why).
SYSCTLS = (("kernel.timer_migration", "0"), ("kernel.sched_rt_runtime_us", "-1"),
           ("kernel.numa_balancing", "0"))

# Files in /proc/irq/N that are not the names of the IRQ's handlers.
_IRQ_FILES = {"affinity_hint", "effective_affinity", "effective_affinity_list", "node",
              "smp_affinity", "smp_affinity_list", "spurious"}


def online_cpus(host):
    return cpulist.parse_set(host.read(ONLINE))


def boot_params(host):
    """{name: value} of BOOT_PARAMS on the kernel's command line (the last
    one wins, as the kernel reads them; nothing after "--", which is init's)."""
    found = {}
    for word in (host.read_or_none(CMDLINE) or "").split():
        if word == "--":
            break
        name, eq, value = word.partition("=")
        if eq and name in BOOT_PARAMS:
            found[name] = value
    return found


def boot_param_cpus(name, value):
    """The CPUs of a boot parameter's value, or None when it does not parse.
    isolcpus= may start with flags ("nohz,domain,managed_irq,2-3"); the
    kernel does not accept a bare flag in place of a CPU list."""
    if name == "isolcpus":
        items = value.split(",")
        while items and items[0] and not items[0][0].isdigit():
            items.pop(0)
        value = ",".join(items)
    try:
        return cpulist.parse_set(value)
    except cpulist.CpuListError:
        return None


def sys_cpu_list(host, name):
    """The text of /sys/devices/system/cpu/NAME ("" for none), None if absent."""
    return host.read_or_none(f"/sys/devices/system/cpu/{name}")


def sysctl_path(name):
    return "/proc/sys/" + name.replace(".", "/")


def sysctl(host, name):
    return host.read_or_none(sysctl_path(name))


@dataclass
class Policy:
    name: str                 # "policy0"
    cpus: str                 # affected_cpus as the kernel writes it ("0 1")
    governor: str
    available: list           # scaling_available_governors; None if unknown

    @property
    def path(self):
        return f"{CPUFREQ}/{self.name}/scaling_governor"


def cpufreq_policies(host):
    """One Policy per cpufreq policy; [] where there is no cpufreq driver."""
    policies = []
    for name in host.listdir(CPUFREQ):
        if not name.startswith("policy"):
            continue
        base = f"{CPUFREQ}/{name}"
        governor = host.read_or_none(base + "/scaling_governor")
        if governor is None:
            continue
        available = host.read_or_none(base + "/scaling_available_governors")
        policies.append(Policy(name, host.read_or_none(base + "/affected_cpus") or "?",
                               governor, available.split() if available is not None else None))
    return sorted(policies, key=lambda p: int(p.name[6:]) if p.name[6:].isdigit() else 0)


@dataclass
class Irq:
    number: int
    names: str            # its handlers ("virtio0-config"), "" for none
    affinity: str         # smp_affinity_list as written

    @property
    def path(self):
        return f"{IRQ}/{self.number}/smp_affinity_list"

    @property
    def cpus(self):
        return cpulist.parse_set(self.affinity, allow_empty=True)

    @property
    def label(self):
        return f"irq {self.number}" + (f" ({self.names})" if self.names else "")


def irqs(host):
    """Every IRQ that has an smp_affinity_list, by number."""
    found = []
    for name in host.listdir(IRQ):
        if not name.isdigit():
            continue
        affinity = host.read_or_none(f"{IRQ}/{name}/smp_affinity_list")
        if affinity is None:
            continue
        handlers = [h for h in host.listdir(f"{IRQ}/{name}")
                    if h not in _IRQ_FILES and host.is_dir(f"{IRQ}/{name}/{h}")]
        found.append(Irq(int(name), " ".join(handlers), affinity))
    return sorted(found, key=lambda irq: irq.number)


@dataclass
class Task:
    pid: int
    comm: str
    ppid: int
    flags: int
    starttime: str        # field 22 of stat: tells this task from a later one with its PID
    affinity: str         # Cpus_allowed_list as written

    @property
    def cpus(self):
        return cpulist.parse_set(self.affinity, allow_empty=True)

    @property
    def kthread(self):
        """A kernel thread: PF_KTHREAD, or kthreadd and its children."""
        return bool(self.flags & PF_KTHREAD) or self.pid == 2 or self.ppid == 2

    @property
    def pinned(self):
        """Why the kernel will not move it, or None: bound to one CPU (the
        per-CPU threads: ksoftirqd/N, migration/N, kworker/N:M ...) or
        PF_NO_SETAFFINITY (workqueue workers: they follow the workqueue mask)."""
        if len(self.cpus) == 1:
            return f"bound to CPU {self.affinity}"
        if self.flags & PF_NO_SETAFFINITY:
            return "PF_NO_SETAFFINITY"
        return None

    @property
    def label(self):
        return f"{'kthread' if self.kthread else 'task'} {self.pid} ({self.comm})"


def read_task(host, pid):
    """The Task with this PID, or None when it is gone (or not readable)."""
    try:
        stat = host.read(f"/proc/{pid}/stat")
        status = host.read(f"/proc/{pid}/status")
    except OSError:
        return None
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    affinity = next((line.split(":", 1)[1].strip() for line in status.splitlines()
                     if line.startswith("Cpus_allowed_list:")), None)
    if affinity is None:
        return None
    return Task(pid, comm, int(fields[1]), int(fields[6]), fields[19], affinity)


def tasks(host):
    """Every process (thread-group leader) in /proc, by PID."""
    found = (read_task(host, int(name)) for name in host.listdir("/proc") if name.isdigit())
    return sorted((t for t in found if t), key=lambda t: t.pid)


def workqueue_mask(host):
    """(in force, requested) texts of the unbound workqueues' cpumask; the
    requested one is what a write set (kernels since 6.7 keep it apart from
    the one in force, which isolcpus= may narrow), None on older kernels;
    (None, None) when the knob is absent."""
    return host.read_or_none(WORKQUEUE), host.read_or_none(WORKQUEUE_REQUESTED)
