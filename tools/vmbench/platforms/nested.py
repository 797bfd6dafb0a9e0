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
report shows.  A case that does not finish within its time at depth 2 is
skipped too, with the time it was given.

Everything else is the vmm platform's: the same vmm command line, fileio
on a fresh raw image in the level's scratch directory (shared with this
host), the same record, plus env.vmm.depth and the layers that the level
ran on (env.levels: accelerator, CPU model, kind of KVM of each).
"""

import os

from vmbench import levels
from vmbench.paths import VMM
from vmbench.platforms import guest
from vmbench.platforms.base import CaseSkipped, PlatformError
from vmbench.platforms.registry import Option, register
from vmbench.platforms.vmm import VmmPlatform


class NestedPlatform(VmmPlatform):
    def __init__(self, depth, name="nested", boot_timeout=600):
        if depth not in levels.DEPTHS:
            raise ValueError(f"--depth {depth}: expected one of "
                             f"{', '.join(map(str, levels.DEPTHS))}")
        super().__init__()
        self.name, self.depth, self.boot_timeout = name, depth, boot_timeout
        self.skipped = None
        self.level = None

    def prepare(self, cases):
        guest.check_products()
        if not VMM.exists():
            raise PlatformError(f"{self.name}: {VMM} is missing: run make")
        host_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 30
        # Room for the largest guest plus each VM's own needs (an L2 gets half).
        need = max(c.mem_mib for c in cases) // 1024 + 2
        mem_gib = min(need * (2 if self.depth == 2 else 1), max(host_gib * 3 // 4, 2))
        self.level = levels.place(self.depth, VMM, mem=f"{mem_gib}G", scratch_dir=self.scratch_dir,
                                  boot_timeout=self.boot_timeout)
        try:
            self.level.start()
        except levels.LevelSkipped as e:
            self.skipped = str(e)
            return
        self.place = self.level
        self.where = levels.label(self.depth)
        self.scratch = self.level.scratch_dir
        self.kvm_kind = self.level.kvm_kind

    def environment(self):
        env = {"depth": self.depth, "level": levels.label(self.depth),
               "levels": self.level.layers if self.level else []}
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

    def run(self, case):
        if self.skipped:
            raise CaseSkipped(f"{self.name}: {self.skipped}")
        try:
            record = super().run(case)
        except PlatformError as e:
            # At depth 2 a case that runs out of time says how long this
            # level takes here; skipped with that, not a failure.
            if self.depth == 2 and "timed out" in str(e):
                raise CaseSkipped(f"{self.name}: {case.test} did not finish at "
                                  f"{levels.label(self.depth)} in the time given: {e}") from None
            raise
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

register("nested", lambda options: NestedPlatform(options.depth,
                                                  boot_timeout=options.level_boot_timeout),
         options=[DEPTH, BOOT_TIMEOUT], default=False)
for _depth in levels.DEPTHS:
    register(f"nested-{_depth}",
             lambda options, d=_depth: NestedPlatform(d, name=f"nested-{d}",
                                                      boot_timeout=options.level_boot_timeout),
             options=[BOOT_TIMEOUT], default=False)
