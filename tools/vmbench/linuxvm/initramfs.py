"""The initramfs: a newc cpio archive with busybox, kernel modules,
binaries with their libraries, files and an /init that runs a script."""

import gzip
import lzma
import os
import re
from pathlib import Path

from vmbench.linuxvm.common import (BUSYBOX, ERROR_MARKER, EXIT_MARKER, Kernel, LinuxVMError,
                                    NESTED_KVM_MODULES, _last_line, _run_tool)
from vmbench.linuxvm.kernels import _align4

# --- the cpio archive -------------------------------------------------------

class NewcArchive:
    """A cpio archive in the "newc" format, the one the kernel unpacks as initramfs.

    Paths are absolute inside the VM. Parent directories are added on demand:
    the kernel's unpacker does not create them. All times are 0 so that the
    same inputs give the same bytes."""

    def __init__(self):
        self._chunks = []
        self._paths = set()

    def __contains__(self, path: str) -> bool:
        return self._key(path) in self._paths

    def directory(self, path: str, mode: int = 0o755) -> None:
        key = self._key(path)
        if key and key not in self._paths:
            self._parents(key)
            self._entry(key, 0o040000 | mode, b"", nlink=2)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._new(path, 0o100000 | mode, data)

    def symlink(self, path: str, target: str) -> None:
        self._new(path, 0o120777, target.encode())

    def char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._new(path, 0o020000 | mode, b"", rdev=(major, minor))

    def getvalue(self) -> bytes:
        trailer = self._header("TRAILER!!!", 0, 0, 1, 0, (0, 0), ino=0)
        return b"".join(self._chunks) + trailer

    @staticmethod
    def _key(path: str) -> str:
        return os.path.normpath(f"/{path}").lstrip("/")

    def _parents(self, key: str) -> None:
        parent = os.path.dirname(key)
        if parent:
            self.directory(parent)

    def _new(self, path: str, mode: int, data: bytes, rdev=(0, 0)) -> None:
        key = self._key(path)
        if key in self._paths:
            raise LinuxVMError(f"/{key} is added to the initramfs twice")
        self._parents(key)
        self._entry(key, mode, data, nlink=1, rdev=rdev)

    def _entry(self, key: str, mode: int, data: bytes, nlink: int, rdev=(0, 0)) -> None:
        self._paths.add(key)
        self._chunks.append(self._header(key, mode, len(data), nlink, 0, rdev, ino=len(self._paths)))
        self._chunks.append(data + b"\0" * (_align4(len(data)) - len(data)))

    @staticmethod
    def _header(name: str, mode, size, nlink, mtime, rdev, ino) -> bytes:
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % field for field in fields) + encoded
        return header + b"\0" * (_align4(len(header)) - len(header))


# --- kernel modules ---------------------------------------------------------

_MODULE_SUFFIX = re.compile(r"\.ko(\.xz|\.zst|\.gz)?$")


def module_name(path: str) -> str:
    """kernel/arch/x86/kvm/kvm-amd.ko.xz -> kvm_amd (file names may use '-', module names use '_')."""
    return _MODULE_SUFFIX.sub("", os.path.basename(path)).replace("-", "_")


def parse_modules_dep(text: str) -> dict[str, list[str]]:
    """modules.dep as {module file: [files it depends on]}, paths relative to lib/modules/<version>."""
    deps = {}
    for line in text.splitlines():
        if ":" in line:
            module, _, needed = line.partition(":")
            deps[module.strip()] = needed.split()
    return deps


def module_load_order(deps: dict[str, list[str]], names, builtin=()) -> list[str]:
    """The module files to insmod, dependencies first, for the module names asked for.
    Names of built-in modules are skipped; unknown names are an error."""
    files = {module_name(path): path for path in deps}
    builtin_names = {module_name(path) for path in builtin}
    order, seen = [], set()

    def visit(path):
        if path in seen:
            return
        seen.add(path)
        for needed in deps[path]:
            visit(needed)
        order.append(path)

    for name in names:
        name = name.replace("-", "_")
        if name in files:
            visit(files[name])
        elif name not in builtin_names:
            raise LinuxVMError(f"kernel module {name} is neither a module nor built in")
    return order


def _module_bytes(path: Path) -> bytes:
    """A module file's contents, decompressed: busybox insmod takes plain .ko files."""
    if path.suffix == ".xz":
        return lzma.decompress(path.read_bytes())
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    if path.suffix == ".zst":  # no zstd in Python's standard library
        return _run_tool(["zstd", "-dc", path], text=False).stdout
    return path.read_bytes()


# --- binaries and their libraries -------------------------------------------

def parse_ldd(text: str) -> list[str]:
    """The absolute paths of the libraries (and the ELF interpreter) in `ldd` output."""
    paths = []
    for line in text.splitlines():
        line = line.strip()
        if "=>" in line:
            name, _, target = line.partition("=>")
            target = target.split("(")[0].strip()
            if target == "not found":
                raise LinuxVMError(f"library {name.strip()} not found on this host")
            if target.startswith("/"):
                paths.append(target)
        elif line.startswith("/"):  # the interpreter: /lib64/ld-linux-x86-64.so.2 (0x...)
            paths.append(line.split("(")[0].strip())
    return paths


def shared_libraries(binary: Path) -> list[str]:
    done = _run_tool(["ldd", binary], check=False)
    if done.returncode != 0:
        if "not a dynamic executable" in done.stdout + done.stderr:  # static binary, script
            return []
        raise LinuxVMError(f"ldd {binary} failed: {_last_line(done.stderr)}")
    return parse_ldd(done.stdout)


def find_library(soname: str) -> Path:
    """The host path of a 64-bit shared library named as dlopen names it (libcapstone.so.4),
    from the dynamic linker's cache."""
    for line in _run_tool(["/sbin/ldconfig", "-p"]).stdout.splitlines():
        name_and_kind, _, path = line.strip().partition(" => ")
        if name_and_kind == f"{soname} (libc6,x86-64)":
            return Path(path)
    raise LinuxVMError(f"shared library {soname} not found: ldconfig -p does not list it")


# --- the initramfs ----------------------------------------------------------

def build_initramfs(out_path, kernel: Kernel, *, modules=(), binaries=(), libraries_of=(),
                    libraries=(), files=(), init_script: str = "", nested_kvm: bool = False) -> Path:
    """Writes an initramfs whose /init mounts /proc, /sys, /dev (devtmpfs) and /tmp,
    loads `modules` (names, each optionally followed by parameters: "kvm_amd npt=1")
    with their dependencies, mounts the 9p shares run() was given, runs
    `init_script` with busybox sh and prints `LINUXVM-EXIT <status>`.

    binaries: host paths, put in /usr/local/bin with the libraries ldd lists at
    their host paths. libraries_of: host binaries whose libraries alone are added
    (for binaries the VM runs from a 9p share). libraries: host paths of shared
    libraries added at those paths with the libraries they need (for those that
    binaries load with dlopen, which ldd does not see). files: (host path, VM path)
    pairs, directories copied whole; they take precedence over busybox's applet links.
    nested_kvm: also loads kvm_amd or kvm_intel (whichever the VM's CPU supports)
    and fails unless /dev/kvm appears."""
    archive = NewcArchive()
    for directory in ("dev", "proc", "sys", "tmp", "root", "etc", "mnt", "run"):
        archive.directory(directory)
    # The kernel opens /dev/console for /init before anything is mounted.
    archive.char_device("/dev/console", 5, 1)
    for source, dest in files:
        _add_host_path(archive, Path(source), dest)
    for binary in binaries:
        _add_binary(archive, Path(binary))
    for binary in libraries_of:
        _add_libraries(archive, Path(binary))
    for library in libraries:
        _add_libraries(archive, Path(library))
        if str(library) not in archive:
            archive.file(str(library), Path(library).read_bytes(), 0o755)
    _add_busybox(archive)

    always, per_cpu = _add_modules(archive, kernel, modules,
                                   NESTED_KVM_MODULES if nested_kvm else ())
    archive.file("/linuxvm/script", init_script.encode(), 0o755)
    archive.file("/init", _init_text(always, per_cpu).encode(), 0o755)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    partial.write_bytes(archive.getvalue())
    os.replace(partial, out_path)
    return out_path


def _add_modules(archive: NewcArchive, kernel: Kernel, modules, per_cpu_names):
    """Adds the modules with their dependencies and returns the /init lines that
    load them: those always loaded, and for each of per_cpu_names the lines
    loading it and what it needs beyond the others."""
    params = {}
    for entry in modules:
        name, _, args = entry.strip().partition(" ")
        params[name.replace("-", "_")] = args.strip()
    deps = parse_modules_dep((kernel.modules_dir / "modules.dep").read_text())
    builtin = (kernel.modules_dir / "modules.builtin").read_text().split()
    always = module_load_order(deps, params, builtin)
    per_cpu = {name: [path for path in module_load_order(deps, [name], builtin) if path not in always]
               for name in per_cpu_names}
    for path in always + [path for paths in per_cpu.values() for path in paths]:
        if _module_vm_path(kernel, path) not in archive:
            archive.file(_module_vm_path(kernel, path), _module_bytes(kernel.modules_dir / path))

    def insmod(path):
        name = module_name(path)
        command = f"insmod {_module_vm_path(kernel, path)} {params.get(name, '')}".rstrip()
        return f'{command} || fail "insmod {name} failed"'
    return [insmod(path) for path in always], {name: [insmod(path) for path in paths]
                                                for name, paths in per_cpu.items()}


def _module_vm_path(kernel: Kernel, path: str) -> str:
    return f"/lib/modules/{kernel.version}/{_MODULE_SUFFIX.sub('.ko', path)}"


def _add_host_path(archive: NewcArchive, source: Path, dest: str) -> None:
    if source.is_symlink():
        archive.symlink(dest, os.readlink(source))
    elif source.is_dir():
        archive.directory(dest, source.stat().st_mode & 0o7777)
        for child in sorted(source.iterdir()):
            _add_host_path(archive, child, f"{dest}/{child.name}")
    elif source.is_file():
        archive.file(dest, source.read_bytes(), source.stat().st_mode & 0o7777)
    else:
        raise LinuxVMError(f"{source}: no such file or directory")


def _add_binary(archive: NewcArchive, binary: Path) -> None:
    _add_libraries(archive, binary)
    archive.file(f"/usr/local/bin/{binary.name}", binary.read_bytes(), 0o755)


def _add_libraries(archive: NewcArchive, binary: Path) -> None:
    """Adds what ldd lists for binary (libraries and the ELF interpreter) at their host paths,
    as regular files: the symlinks leading to them (libasan.so.8 -> libasan.so.8.0.0) are not copied."""
    if not binary.is_file():
        raise LinuxVMError(f"{binary}: no such file")
    for library in shared_libraries(binary):
        if library not in archive:
            archive.file(library, Path(library).read_bytes(), 0o755)


def _add_busybox(archive: NewcArchive) -> None:
    if not BUSYBOX.is_file():
        raise LinuxVMError(f"{BUSYBOX} not found: install the Debian package busybox-static")
    archive.file(BUSYBOX, BUSYBOX.read_bytes(), 0o755)
    applets = _run_tool([BUSYBOX, "--list"]).stdout.split()
    for applet in applets:
        # A link named busybox would replace the binary itself (a symlink loop: /init fails with -40).
        if applet != "busybox" and f"/bin/{applet}" not in archive:
            archive.symlink(f"/bin/{applet}", "busybox")


def _init_text(general_insmods, nested_insmods) -> str:
    lines = [
        "#!/bin/sh",
        "# Written by tools/vmbench/linuxvm/: set up, run /linuxvm/script, report its status.",
        "export PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin HOME=/root",
        f'fail() {{ echo "{ERROR_MARKER} $*"; poweroff -f; exit 1; }}',
        "mount -t proc proc /proc && mount -t sysfs sysfs /sys && mount -t devtmpfs devtmpfs /dev"
        ' && mount -t tmpfs tmpfs /tmp || fail "mounting /proc, /sys, /dev or /tmp failed"',
        *general_insmods,
    ]
    if nested_insmods:
        lines += [
            "if grep -qw svm /proc/cpuinfo; then",
            *("  " + line for line in nested_insmods["kvm_amd"] or [":  # loaded above"]),
            "elif grep -qw vmx /proc/cpuinfo; then",
            *("  " + line for line in nested_insmods["kvm_intel"] or [":  # loaded above"]),
            "else",
            '  fail "the VM\'s CPU has neither svm nor vmx: no nested KVM'
            ' (under TCG use -cpu max or qemu64,+svm)"',
            "fi",
            '[ -c /dev/kvm ] || fail "/dev/kvm is missing after loading the KVM modules"',
        ]
    lines += [
        # run() names 9p shares on the kernel command line as linuxvm.share=TAG:DIR.
        "for arg in $(cat /proc/cmdline); do",
        "  case $arg in linuxvm.share=*)",
        "    share=${arg#linuxvm.share=}; tag=${share%%:*}; dir=${share#*:}",
        '    mkdir -p "$dir" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 "$tag" "$dir"'
        ' || fail "mounting 9p share $tag on $dir failed (are the modules 9p, 9pnet_virtio'
        ' and virtio_pci in the initramfs?)";;',
        "  esac",
        "done",
        "cd /root",
        "sh /linuxvm/script </dev/null",
        f'echo "{EXIT_MARKER} $?"',
        "poweroff -f",
    ]
    return "\n".join(lines) + "\n"
