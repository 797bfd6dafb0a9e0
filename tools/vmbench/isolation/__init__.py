"""Host CPU isolation: keep the kernel's own work off the CPUs a benchmark uses.

Three commands, each a module run by a sh wrapper in isolation/
(docs/isolation.md says what every knob does and why):

    isolation/apply CPULIST     vmbench.isolation.apply: move what can move, save it first
    isolation/restore           vmbench.isolation.restore: put back exactly what was saved
    isolation/check [CPULIST]   vmbench.isolation.check: what is in force, knob by knob

The modules, each with one job:

    cpulist    the kernel's CPU list ("0-3,6") and mask ("f,ffffffff") syntax
    host       /proc and /sys under a root, and setting a task's affinity
               (Host: the real machine; FakeHost: a tree in a directory, for tests)
    inventory  reads the knobs: command line, sysctls, cpufreq, IRQs, tasks, workqueues
    changes    what apply would change (plan), doing it with roll-back, undoing it
    state      the state file apply saves and restore reads
    cli        what the three commands share: --root, --state, the CPU list's checks
    session    the three commands called from Python: the harness's vmm-isolated
               platform runs each case inside session.Isolation.applied()
"""
