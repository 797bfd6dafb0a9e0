"""nested: the guest's tests under vmm at a chosen depth of nesting.

Depth n = the number of Linux VMs between this host and vmm (vmbench.levels):
0 is vmm on this host, 1 vmm in a Linux VM (QEMU with nested KVM where this
host's KVM offers it, else TCG with an SVM CPU, labelled so), 2 vmm in a
Linux VM inside that one.  `nested` takes --depth (default 1); the variants
nested-0, nested-1 and nested-2 have their depth in their name and run when
named (the levels preset runs all three, vmbench.views.levels sets them
side by side).

A level that cannot run here (vmm refused at depth 0, a VM that does not
boot within --level-boot-timeout, a /dev/kvm that vmm cannot use) is not
replaced by another: every case is skipped with the reason, which the
report shows.  A level in VMs also has a time budget (--level-budget, for
its boot and all its runs): a run that would outlast it is stopped at the
budget's end and skipped, and so is every case after it, saying what the
time went to.  So `--preset levels --quick` ends in bounded time where a
level is too slow to finish (L2 under TCG).

Everything else is the vmm platform's: the same vmm command line, fileio
on a fresh raw image in the level's scratch directory (shared with this
host), the same record, plus env.vmm.depth and the layers that the level
ran on (env.levels: accelerator, CPU model, kind of KVM of each).
"""

import time

from vmbench import levels
from vmbench.paths import VMM
from vmbench.platforms.base import CaseSkipped, PlatformError
from vmbench.platforms.registry import Option, register
from vmbench.platforms.vmm import VmmPlatform


class NestedPlatform(VmmPlatform):
    def __init__(self, depth, name="nested", boot_timeout=600, budget=600):
        if depth not in levels.DEPTHS:
            raise ValueError(f"--depth {depth}: expected one of "
                             f"{', '.join(map(str, levels.DEPTHS))}")
        super().__init__()
        self.name, self.depth, self.boot_timeout = name, depth, boot_timeout
        # Seconds this level may spend in all (boot and runs); None: no limit.
        self.budget = budget if depth > 0 else None
        self.spent, self.ran, self.boot_s = 0.0, 0, None
        self.skipped = None
        self.level = None

    def prepare(self, cases):
        self._check_products()
        mem_gib = self.vm_mem_gib(cases, vms=max(self.depth, 1))
        boot_timeout = min(self.boot_timeout, self.budget or self.boot_timeout)
        self.level = levels.place(self.depth, VMM, mem=f"{mem_gib}G", scratch_dir=self.scratch_dir,
                                  boot_timeout=boot_timeout)
        started = time.monotonic()
        try:
            self.level.start()
        except levels.LevelSkipped as e:
            self.skipped = str(e)
            return
        finally:
            self.boot_s = self.spent = time.monotonic() - started
        self.place = self.level
        self.where = levels.label(self.depth)
        self.scratch = self.level.scratch_dir
        self.kvm_kind = self.level.kvm_kind

    def environment(self):
        env = {"depth": self.depth, "level": levels.label(self.depth),
               "levels": self.level.layers if self.level else [],
               "boot_s": None if self.boot_s is None else round(self.boot_s, 1)}
        if self.skipped:
            env["skipped"] = self.skipped
            return env
        inner = self.level.layers[-2] if self.depth else self.level.layers[-1]
        env.update(accelerator=inner.get("accelerator"), where=self.where,
                   limits="the VM's vCPUs and RAM", pinning="none", kvm_kind=self.kvm_kind)
        if any("tcg" in str(l.get("accelerator")) for l in self.level.layers):
            env["note"] = ("a Linux VM on the way down runs under QEMU's TCG: every "
                           "instruction below it is emulated, so the figures measure TCG")
        return env

    def skip(self, case):
        if self.skipped:
            return f"{self.name}: {self.skipped}"
        return super().skip(case)

    def _left(self):
        return None if self.budget is None else self.budget - self.spent

    def _spent_line(self):
        return (f"{levels.label(self.depth)}'s time budget of {self.budget:g} s "
                f"(--level-budget) is spent: boot {self.boot_s:.0f} s, {self.ran} run(s) "
                f"finished, {self.spent:.0f} s in all")

    def time_limit(self, seconds):
        left = self._left()
        return seconds if left is None else max(min(seconds, left), 1)

    def run(self, case):
        if self.skipped:
            raise CaseSkipped(f"{self.name}: {self.skipped}")
        left = self._left()
        if left is not None and left <= 0:
            raise CaseSkipped(f"{self.name}: {self._spent_line()}")
        started = time.monotonic()
        try:
            record = super().run(case)
        except PlatformError as e:
            # Stopped at the budget's end: this level is too slow here to
            # finish; skipped with what the time went to, not a failure.
            self.spent += time.monotonic() - started
            if self._left() is not None and self._left() <= 1 and "timed out" in str(e):
                self.spent = max(self.spent, self.budget)
                raise CaseSkipped(f"{self.name}: {case.test} was stopped after {left:.0f} s "
                                  f"and {self._spent_line()}") from None
            raise
        self.spent += time.monotonic() - started
        self.ran += 1
        record["platform"] = self.name
        record["env"]["vmm"]["depth"] = self.depth
        record["env"]["levels"] = self.level.layers
        return record

    def close(self):
        if self.level:
            self.level.close()


DEPTH = Option("--depth", type=int, choices=levels.DEPTHS, default=1,
               help="the nested platform's depth: the number of Linux VMs between this "
                    "host and vmm (0: this host; default 1)")
BOOT_TIMEOUT = Option("--level-boot-timeout", type=float, default=600,
                      help="seconds the nested platform's Linux VMs get to boot before the "
                           "level is reported skipped (default 600)")
BUDGET = Option("--level-budget", type=float, default=600,
                help="seconds the nested platform may spend at a depth of 1 or 2, boot and "
                     "runs together, before its remaining cases are skipped (default 600; raise it for full runs)")


def _create(depth, options, name):
    return NestedPlatform(depth, name=name, boot_timeout=options.level_boot_timeout,
                          budget=options.level_budget)


register("nested", lambda options: _create(options.depth, options, "nested"),
         options=[DEPTH, BOOT_TIMEOUT, BUDGET], default=False)
for _depth in levels.DEPTHS:
    register(f"nested-{_depth}", lambda options, d=_depth: _create(d, options, f"nested-{d}"),
             options=[BOOT_TIMEOUT, BUDGET], default=False)
