"""The ``container`` platform: sysbench in an OCI container with a CPU quota and
a memory limit, both read back from the container's cgroup and checked to be
in force before any figure is trusted (docs/container.md).

    p = ContainerPlatform()
    p.prepare(cases)     # root file system (cached), engine, CPU-limit check
    rec = p.run(Case("cpu", (("threads", 2), ("time", 10)), vcpus=2, mem_mib=512))
    p.close()

* Root file system: ``debootstrap --variant=minbase bookworm`` from the mirror
  apt already uses, plus ``sysbench``; built once under
  build/cache/container-rootfs/<key>/ (the key: suite, variant, mirror,
  architecture, the sysbench version apt offers); a marker written last, and a
  rename into place, make an interrupted build be redone.
* Engine: docker or podman when one answers ``info``; else runc, which runs
  the cached directory directly (crun refuses hybrid cgroup layouts).
* Each run: a fresh container; its process is in its cgroup before sysbench
  starts (``runc create``), and then the limits are read back from the host's
  cgroup files (v1: cpu.cfs_quota_us, cpu.cfs_period_us,
  memory.limit_in_bytes, memory.memsw.limit_in_bytes; v2: cpu.max,
  memory.max, memory.swap.max).  Anything but what was asked is a
  PlatformError.  The container and its cgroup are always deleted.
* The check (each prepare, nothing cached): 2 sysbench cpu threads without a
  quota, then under a 1-CPU quota; the second must give CHECK_BAND of the
  first's events/s, and the kernel must have run CFS bandwidth control for
  it (cpu.stat).  A quota the kernel does not apply fails here even when the
  cgroup files say the right thing.  On a busy host, where the ratio cannot
  tell, the kernel's accounting decides, and the figures say so.

The modules: rootfs (the root file system), cgroups (limits read back and
usage), engines (runc, docker, podman), platform (ContainerPlatform and the
CPU-limit check), host (helpers).
"""

from vmbench.platforms.container.cgroups import (PERIOD_US, Limits, cgroup_dirs,
                                                 cgroup_layout, read_limits, read_usage)
from vmbench.platforms.container.engines import RUNC_ROOT, Outcome
from vmbench.platforms.container.host import remove_tree
from vmbench.platforms.container.platform import (CHECK_BAND, CHECK_PRIME,
                                                  ContainerPlatform)
from vmbench.platforms.container.rootfs import (PACKAGES, SUITE, VARIANT, Rootfs,
                                                debian_mirror)

__all__ = ["CHECK_BAND", "CHECK_PRIME", "ContainerPlatform", "Limits", "Outcome", "PACKAGES",
           "PERIOD_US", "RUNC_ROOT", "Rootfs", "SUITE", "VARIANT", "cgroup_dirs",
           "cgroup_layout", "debian_mirror", "read_limits", "read_usage", "remove_tree"]
