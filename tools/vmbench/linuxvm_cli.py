"""linuxvm: run commands in a throw-away Linux VM (Debian's kernel, busybox, QEMU).

    linuxvm kernel
    linuxvm initramfs --out F [--module M]... [--bin P]... [--file SRC:DEST]... [--init SCRIPT] [--nested-kvm]
    linuxvm run --initrd F [VM options] [-- QEMU args...]
    linuxvm exec [--bin P]... [--file SRC:DEST]... [--module M]... [VM options] -- COMMAND...
    linuxvm shell [--bin P]... [--lib NAME]... [--file SRC:DEST]... [--share HOSTDIR:VMDIR]... [--nested-kvm] ...

`run` and `exec` exit with the status of the script or command in the VM;
124 when the VM timed out, 125 when anything else failed. `shell` boots one VM
and runs each line of its stdin there with sh -c. docs/linuxvm.md has more.
"""

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

from vmbench import linuxvm

EXIT_TIMEOUT = 124  # as timeout(1)
EXIT_FAILURE = 125  # as `docker run` when the failure is not the command's


def main(argv) -> int:
    # Everything after the first "--" is QEMU's (run) or the command (exec), untouched.
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser().parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    try:
        return args.handler(args, rest)
    except linuxvm.LinuxVMError as error:
        print(f"linuxvm: {error}", file=sys.stderr)
        return EXIT_FAILURE


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="linuxvm", description=__doc__.split("\n")[0])
    top.add_argument("--cache", type=Path, default=linuxvm.default_cache_dir(),
                     help="where kernels are kept (default: $VMBENCH_CACHE or build/cache)")
    commands = top.add_subparsers(dest="command", required=True)

    contents = argparse.ArgumentParser(add_help=False)
    contents.add_argument("--module", action="append", default=[], metavar="MODULE",
                          help='kernel module to load with its dependencies, parameters after'
                               ' a space (e.g. "kvm_amd npt=1")')
    contents.add_argument("--bin", action="append", default=[], type=Path, metavar="PATH",
                          help="host binary, put in /usr/local/bin with its shared libraries")
    contents.add_argument("--file", action="append", default=[], type=file_pair, metavar="SRC:DEST",
                          help="host file or directory SRC copied to DEST in the VM")

    nested = argparse.ArgumentParser(add_help=False)
    nested.add_argument("--nested-kvm", action="store_true",
                        help="give the VM a working /dev/kvm (SVM CPU, kvm modules, checked)")

    vm = argparse.ArgumentParser(add_help=False)
    vm.add_argument("--accel", choices=("tcg", "kvm"), default="tcg")
    vm.add_argument("--cpu", help='QEMU -cpu model (default: "max" under TCG, "host" under KVM)')
    vm.add_argument("--smp", type=int, default=1)
    vm.add_argument("--mem", default="1G")
    vm.add_argument("--append", default="", help="more kernel command line")
    vm.add_argument("--drive", action="append", default=[], metavar="IMAGE",
                    help="raw or qcow2 disk image, a virtio disk (/dev/vda, /dev/vdb...)")
    vm.add_argument("--share", action="append", default=[], type=share_pair, metavar="HOSTDIR:VMDIR",
                    help="host directory mounted over 9p")
    vm.add_argument("--timeout", type=float, default=600, help="seconds (default 600)")

    command = commands.add_parser("kernel", help="fetch Debian's kernel into the cache, print where it is")
    command.set_defaults(handler=show_kernel)

    command = commands.add_parser("initramfs", parents=[contents, nested], help="build an initramfs")
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--init", type=Path, metavar="SCRIPT",
                         help="shell script /init runs (busybox sh); its status is the VM's")
    command.set_defaults(handler=build_initramfs)

    command = commands.add_parser("run", parents=[vm, nested],
                                  usage="%(prog)s --initrd F [options] [-- QEMU-ARG...]",
                                  help="boot an initramfs; arguments after -- go to QEMU")
    command.add_argument("--initrd", type=Path, required=True)
    command.set_defaults(handler=run)

    command = commands.add_parser("exec", parents=[contents, vm, nested],
                                  usage="%(prog)s [options] -- COMMAND [ARG...]",
                                  help="run the COMMAND after -- in a fresh VM")
    command.set_defaults(handler=execute)

    command = commands.add_parser("shell", parents=[nested],
                                  help="boot one VM and run each line of stdin in it (sh -c),"
                                       " in the repository, which the VM shares at the same path")
    command.add_argument("--bin", action="append", default=[], type=Path, metavar="PATH",
                         help="host binary run by its path: its shared libraries are copied into the VM")
    command.add_argument("--lib", action="append", default=[], metavar="NAME",
                         help="shared library, by soname or path, that a binary loads with dlopen"
                              " (vmm: libcapstone.so.4)")
    command.add_argument("--file", action="append", default=[], type=file_pair, metavar="SRC:DEST",
                         help="host file or directory SRC copied to DEST in the VM")
    command.add_argument("--share", action="append", default=[], type=share_pair,
                         metavar="HOSTDIR:VMDIR", help="another host directory mounted over 9p")
    command.add_argument("--cpu", help='QEMU -cpu model (default "max")')
    command.add_argument("--smp", type=int, default=2)
    command.add_argument("--mem", default="8G")
    command.add_argument("--timeout", type=float, default=600, help="seconds per command (default 600)")
    command.set_defaults(handler=shell)
    return top


def file_pair(text: str) -> tuple[Path, str]:
    source, _, dest = text.rpartition(":")
    if not source or not dest.startswith("/"):
        raise argparse.ArgumentTypeError(f"{text!r} is not SRC:/ABSOLUTE/DEST")
    return Path(source), dest


def share_pair(text: str) -> tuple[str, str]:
    host_dir, _, vm_dir = text.rpartition(":")
    if not host_dir or not vm_dir.startswith("/"):
        raise argparse.ArgumentTypeError(f"{text!r} is not HOSTDIR:/VMDIR")
    return host_dir, vm_dir


def show_kernel(args, rest) -> int:
    kernel = linuxvm.kernel(args.cache)
    print(f"version: {kernel.version}\npackage: {kernel.package} {kernel.package_version}\n"
          f"boot image: {kernel.boot_image}\nbzImage: {kernel.bzimage}\n"
          f"modules: {kernel.modules_dir}")
    return 0


def build_initramfs(args, rest) -> int:
    script = args.init.read_text() if args.init else ""
    linuxvm.build_initramfs(args.out, linuxvm.kernel(args.cache), modules=args.module,
                            binaries=args.bin, files=args.file, init_script=script,
                            nested_kvm=args.nested_kvm)
    return 0


def run(args, rest) -> int:
    return boot(args, linuxvm.kernel(args.cache), args.initrd, qemu_args=rest)


def execute(args, rest) -> int:
    if not rest:
        raise linuxvm.LinuxVMError("exec needs a command after --")
    kernel = linuxvm.kernel(args.cache)
    modules = list(args.module)
    if args.drive:
        modules += linuxvm.DISK_MODULES
    if args.share:
        modules += linuxvm.SHARE_MODULES
    with tempfile.TemporaryDirectory(prefix="linuxvm-exec-") as work:
        initrd = linuxvm.build_initramfs(Path(work) / "initramfs.cpio", kernel, modules=modules,
                                         binaries=args.bin, files=args.file,
                                         init_script=shlex.join(rest) + "\n",
                                         nested_kvm=args.nested_kvm)
        return boot(args, kernel, initrd)


def shell(args, rest) -> int:
    with linuxvm.Session(cache_dir=args.cache, nested_kvm=args.nested_kvm, smp=args.smp, mem=args.mem,
                         binaries=args.bin, libraries=args.lib, files=args.file, shares=args.share,
                         cpu=args.cpu) as session:
        print(f"linuxvm: ready; commands run in {linuxvm.REPO_ROOT}, scratch files go in "
              f"{session.scratch_dir}", file=sys.stderr)
        status = 0
        for line in sys.stdin:
            if not line.strip():
                continue
            done = session.run(["sh", "-c", line], timeout=args.timeout)
            sys.stdout.buffer.write(done.stdout)
            sys.stdout.flush()
            sys.stderr.buffer.write(done.stderr)
            status = done.returncode
            if status != 0:
                print(f"linuxvm: status {status}", file=sys.stderr)
            sys.stderr.flush()
        return status


def boot(args, kernel, initrd, qemu_args=()) -> int:
    result = linuxvm.run(kernel, initrd, accel=args.accel, cpu=args.cpu, smp=args.smp, mem=args.mem,
                         append_extra=args.append, drives=args.drive, shares=args.share,
                         nested_kvm=args.nested_kvm, qemu_args=qemu_args, timeout=args.timeout,
                         stream=sys.stdout)
    if result.failure is not None:
        print(f"linuxvm: {result.failure}", file=sys.stderr)
        return EXIT_TIMEOUT if result.timed_out else EXIT_FAILURE
    return result.status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
