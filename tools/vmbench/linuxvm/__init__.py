"""Boot Debian's Linux kernel in QEMU with a generated initramfs and collect the result.

vmbench needs throw-away Linux VMs in three places: the `qemu-linux` benchmark
platform (sysbench in a VM), the `nested` platform (vmm one level deeper) and
the integration tests on machines whose own /dev/kvm cannot run vmm (an L1 VM
under TCG with an emulated SVM CPU offers a working /dev/kvm). They share three
steps, one function each:

    kernel(cache_dir)          Debian's kernel, downloaded and unpacked, never installed
    build_initramfs(out, ...)  busybox, modules, binaries, files and an /init that runs a script
    run(kernel, initrd, ...)   QEMU on a serial console; the script's exit status
                               comes back as the line `LINUXVM-EXIT <status>`

Every failure raises LinuxVMError with one line saying what failed; a VM that
boots but ends badly (timeout, panic, /init failure) is a Result with
`failure` set instead, so that callers keep its output.

The package's modules, by job: kernels (Debian's kernel), initramfs (the
cpio archive, modules, binaries, /init), vm (one VM run: run()), session
(Session: one VM, many commands), common (constants, errors, records,
external tools).  Everything is imported from here: `from vmbench import
linuxvm; linuxvm.run(...)`.
"""

from vmbench.linuxvm.common import (BUSYBOX, DISK_MODULES, ERROR_MARKER, EXIT_MARKER,
                                    KERNEL_META_PACKAGE, Kernel, LinuxVMError, NESTED_KVM_MODULES,
                                    QEMU, REPO_ROOT, Result, SHARE_MODULES)
from vmbench.linuxvm.kernels import (XZ_MAGIC, default_cache_dir, extract_vmlinux, has_pvh_note,
                                     kernel)
from vmbench.linuxvm.initramfs import (NewcArchive, build_initramfs, find_library,
                                       module_load_order, module_name, parse_ldd,
                                       parse_modules_dep, shared_libraries)
from vmbench.linuxvm.vm import console_excerpt, parse_markers, run
from vmbench.linuxvm.session import Session, _command_script

__all__ = ["BUSYBOX", "DISK_MODULES", "ERROR_MARKER", "EXIT_MARKER", "KERNEL_META_PACKAGE",
           "Kernel", "LinuxVMError", "NESTED_KVM_MODULES", "NewcArchive", "QEMU", "REPO_ROOT",
           "Result", "SHARE_MODULES", "Session", "XZ_MAGIC", "_command_script", "build_initramfs",
           "console_excerpt", "default_cache_dir", "extract_vmlinux", "find_library",
           "has_pvh_note", "kernel", "module_load_order", "module_name", "parse_ldd",
           "parse_markers", "parse_modules_dep", "run", "shared_libraries"]
