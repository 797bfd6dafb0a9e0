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
"""

import dataclasses
import gzip
import json
import lzma
import os
import re
import selectors
import shutil
import socket
import struct
import subprocess
import shlex
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

KERNEL_META_PACKAGE = "linux-image-amd64"
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static: no libraries to copy
QEMU = "qemu-system-x86_64"
# tools/vmbench/linuxvm.py -> the repository, which a Session shares with its VM.
REPO_ROOT = Path(__file__).resolve().parents[2]

# Modules a feature needs inside the VM (dependencies are added from modules.dep).
# virtio_pci is the transport: no module depends on it, so it must be named.
DISK_MODULES = ("virtio_pci", "virtio_blk")
SHARE_MODULES = ("virtio_pci", "9pnet_virtio", "9p")
# One of the two is loaded by /init, depending on the VM's CPU (svm or vmx).
NESTED_KVM_MODULES = ("kvm_amd", "kvm_intel")

EXIT_MARKER = "LINUXVM-EXIT"
ERROR_MARKER = "LINUXVM-ERROR"

# Which Debian package provides each external tool, for "not found" messages.
_TOOL_PACKAGES = {
    "apt-get": "apt", "apt-cache": "apt", "dpkg-deb": "dpkg", "depmod": "kmod",
    "ldd": "libc-bin", "/sbin/ldconfig": "libc-bin", "zstd": "zstd", QEMU: "qemu-system-x86",
}


class LinuxVMError(Exception):
    """A step failed; the message is one line saying which and why."""


class _AptFailed(LinuxVMError):
    """apt-cache or apt-get could not find or fetch a package: refreshing the lists may help."""


@dataclasses.dataclass(frozen=True)
class Kernel:
    version: str            # kernel release, as `uname -r` prints it: 6.1.0-56-amd64
    package: str            # linux-image-6.1.0-56-amd64
    package_version: str    # 6.1.192-2
    bzimage: Path
    vmlinux: Path | None    # the ELF inside the bzImage (PVH boot, about twice as fast)
    modules_dir: Path       # .../lib/modules/<version>

    @property
    def boot_image(self) -> Path:
        return self.vmlinux or self.bzimage


@dataclasses.dataclass(frozen=True)
class Result:
    status: int | None      # the script's exit status; None when the VM never reported one
    output: str             # everything the VM printed on its console ("\n" line ends)
    accel_used: str         # what QEMU says it ran with: "kvm" or "tcg"
    wall_s: float           # QEMU start to exit
    failure: str | None = None  # why status is None: timeout, panic, /init failure
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 0


# --- external tools ---------------------------------------------------------

def _run_tool(argv, *, cwd=None, check=True, text=True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=text)
    except FileNotFoundError:
        tool = str(argv[0])
        raise LinuxVMError(f"{tool} not found: install the Debian package "
                           f"{_TOOL_PACKAGES.get(tool, tool)}") from None
    if check and done.returncode != 0:
        message = done.stderr if text else done.stderr.decode(errors="replace")
        raise LinuxVMError(f"{' '.join(map(str, argv))} failed: {_last_line(message)}")
    return done


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def _apt(argv, *, cwd=None) -> str:
    try:
        return _run_tool(argv, cwd=cwd).stdout
    except LinuxVMError as error:
        raise _AptFailed(str(error)) from None


# --- the kernel -------------------------------------------------------------

def default_cache_dir() -> Path:
    """Where kernels are kept unless told: $VMBENCH_CACHE, else build/cache in the repository."""
    return Path(os.environ.get("VMBENCH_CACHE") or REPO_ROOT / "build" / "cache")


def kernel(cache_dir) -> Kernel:
    """Debian's current amd64 kernel, unpacked under cache_dir/kernel/<package>_<version>.

    The package is downloaded with apt-get and unpacked with dpkg-deb, never
    installed: the host may run another kernel. A cached version is reused,
    so after the first call this costs one apt-cache query."""
    cache_dir = Path(cache_dir)
    for attempt in ("with the current package lists", "after apt-get update"):
        try:
            package, version = _kernel_package(cache_dir)
            home = cache_dir / "kernel" / f"{package}_{version}"
            if not home.is_dir():
                _fetch_kernel(package, version, home)
            return _load_kernel(home, package, version)
        except _AptFailed:
            if attempt == "after apt-get update":
                raise
            # A fresh machine may have no lists; old lists may name a kernel the mirror dropped.
            _run_tool(["apt-get", "update"])


def _kernel_package(cache_dir: Path) -> tuple[str, str]:
    """The kernel package (name, version) that linux-image-amd64 depends on."""
    # Debian's container images disable apt's binary cache, so that every query
    # parses all package lists (0.7 s); keeping one (37 MB) in our cache makes it 0.2 s.
    cache_dir.mkdir(parents=True, exist_ok=True)
    shown = _apt(["apt-cache", "-o", f"Dir::Cache::pkgcache={cache_dir}/apt-pkgcache.bin",
                  "show", "--no-all-versions", KERNEL_META_PACKAGE])
    found = re.search(r"^Depends:.*?\b(linux-image-[\w.+-]+) \(= ([^)\s]+)\)", shown, re.M)
    if not found:
        raise _AptFailed(f"apt-cache show {KERNEL_META_PACKAGE} names no linux-image package")
    return found.group(1), found.group(2)


def _fetch_kernel(package: str, version: str, home: Path) -> None:
    """Downloads and unpacks the package into home, atomically (concurrent callers
    may race: the first rename wins and the others use its result)."""
    print(f"linuxvm: fetching {package} {version} into {home.parent} (once)", file=sys.stderr)
    home.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{home.name}.", dir=home.parent))
    try:
        _apt(["apt-get", "download", f"{package}={version}"], cwd=work)
        deb = next(work.glob("*.deb"))
        root = work / "root"
        _run_tool(["dpkg-deb", "-x", deb, root])
        deb.unlink()
        release = _single_release(root)
        if not (root / "lib/modules" / release / "modules.dep").exists():
            # Debian generates modules.dep at install time (postinst); do it here.
            _run_tool(["depmod", "-b", root, release])
        bzimage = root / "boot" / f"vmlinuz-{release}"
        try:
            (root / "boot" / f"vmlinux-{release}").write_bytes(extract_vmlinux(bzimage.read_bytes()))
        except LinuxVMError as error:
            print(f"linuxvm: warning: {error}; VMs will boot the bzImage (about twice as slow)",
                  file=sys.stderr)
        try:
            os.rename(root, home)
        except OSError:
            if not home.is_dir():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _single_release(root: Path) -> str:
    releases = [p.name for p in (root / "lib/modules").iterdir() if p.is_dir()]
    if len(releases) != 1:
        raise LinuxVMError(f"expected one kernel release under {root}/lib/modules, found {releases}")
    return releases[0]


def _load_kernel(home: Path, package: str, version: str) -> Kernel:
    release = _single_release(home)
    vmlinux = home / "boot" / f"vmlinux-{release}"
    return Kernel(version=release, package=package, package_version=version,
                  bzimage=home / "boot" / f"vmlinuz-{release}",
                  vmlinux=vmlinux if vmlinux.exists() else None,
                  modules_dir=home / "lib/modules" / release)


XZ_MAGIC = b"\xfd7zXZ\x00"


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The uncompressed kernel ELF inside an XZ-compressed bzImage (Debian's
    CONFIG_KERNEL_XZ). QEMU boots it through its PVH note, skipping the real-mode
    setup and the decompressor, which are slow under TCG."""
    start = bzimage.find(XZ_MAGIC)
    while start != -1:
        try:
            # The decompressor stops at the end of the stream; what follows is ignored.
            elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(bzimage[start:])
        except lzma.LZMAError:
            elf = b""
        if elf.startswith(b"\x7fELF"):
            if not has_pvh_note(elf):
                raise LinuxVMError("the kernel ELF in the bzImage has no PVH entry note")
            return elf
        start = bzimage.find(XZ_MAGIC, start + 1)
    raise LinuxVMError("no XZ-compressed ELF kernel found in the bzImage")


def has_pvh_note(elf: bytes) -> bool:
    """True if a 64-bit ELF has the Xen note XEN_ELFNOTE_PHYS32_ENTRY (18), QEMU's PVH entry."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for index in range(phnum):
        p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + index * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, note_type = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and note_type == 18:
                return True
            pos += 12 + _align4(namesz) + _align4(descsz)
    return False


def _align4(n: int) -> int:
    return (n + 3) & ~3


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
        "# Written by tools/vmbench/linuxvm.py: set up, run /linuxvm/script, report its status.",
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


# --- running the VM ---------------------------------------------------------

def run(kernel: Kernel, initrd, *, accel: str = "tcg", cpu: str | None = None, smp: int = 1,
        mem: str = "1G", append_extra: str = "", drives=(), shares=(), nested_kvm: bool = False,
        qemu_args=(), timeout: float = 600, stream=None) -> Result:
    """Boots kernel with initrd in QEMU and waits for /init's status line.

    accel: "tcg" or "kvm"; QEMU gets exactly that one (no fallback) and is asked,
    through QMP, what it really runs with. cpu: QEMU's -cpu (default: "max"
    under TCG, "host" under KVM). drives: disk image paths, virtio, raw or qcow2
    (told by the image's magic). shares: (host dir, VM dir) pairs over 9p.
    nested_kvm: under TCG, a CPU with SVM (pair with build_initramfs(nested_kvm=True)).
    stream: a text file that gets the console lines as they come, up to the status line."""
    with tempfile.TemporaryDirectory(prefix="linuxvm-") as private:
        qmp_path = os.path.join(private, "qmp")
        argv = _qemu_argv(kernel, initrd, accel=accel, cpu=cpu, smp=smp, mem=mem,
                          append_extra=append_extra, drives=drives, shares=shares,
                          nested_kvm=nested_kvm, qmp_path=qmp_path) + list(qemu_args)
        started = time.monotonic()
        with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) as qemu:
            try:
                qmp = _connect(qmp_path, qemu, started + timeout,
                               lambda: qemu.stderr.read().decode(errors="replace"))
                accel_used = _start_through_qmp(qmp)
                output, errors, timed_out = _collect(qemu, started + timeout, stream)
            finally:
                if qemu.poll() is None:
                    qemu.kill()
        wall_s = time.monotonic() - started
    return _result(output, errors, accel_used, wall_s, timeout if timed_out else None, qemu.returncode)


def _qemu_argv(kernel: Kernel, initrd, *, accel, cpu, smp, mem, append_extra, drives, shares,
               nested_kvm, qmp_path) -> list[str]:
    """QEMU's command line for run() and Session: the console on stdio (ttyS0),
    started paused (-S) with a QMP socket at qmp_path."""
    if accel not in ("tcg", "kvm"):
        raise LinuxVMError(f"unknown accelerator {accel!r}: use tcg or kvm")
    if shutil.which(QEMU) is None:
        raise LinuxVMError(f"{QEMU} not found: install the Debian package qemu-system-x86")
    cpu = cpu or ("host" if accel == "kvm" else "max")
    if nested_kvm and accel == "tcg" and "svm" not in cpu and cpu != "max":
        cpu += ",+svm"
    append = ["console=ttyS0", "quiet", "panic=-1"]
    devices = []
    for drive in drives:
        devices += ["-drive", f"file={_option_value(drive)},format={_image_format(Path(drive))},if=virtio"]
    for index, (host_dir, vm_dir) in enumerate(shares):
        if not Path(host_dir).is_dir():
            raise LinuxVMError(f"{host_dir}: no such directory to share")
        if not vm_dir.startswith("/") or re.search(r"[\s,]", vm_dir):
            raise LinuxVMError(f"share mount point {vm_dir!r} must be absolute, without spaces or commas")
        tag = f"share{index}"
        devices += ["-virtfs", f"local,path={_option_value(host_dir)},mount_tag={tag},"
                                f"security_model=none,id={tag}"]
        append.append(f"linuxvm.share={tag}:{vm_dir}")
    # QEMU 7.2's multi-threaded TCG stalls now and then (both L1 CPUs in
    # soft lockup) while it runs nested SVM guests with several busy vCPUs:
    # about one session in three under the test suite's load.  One TCG
    # thread for all vCPUs: no stall in 360 such runs, and no slower, as
    # the L1's own work is mostly serial.  Plain Linux VMs keep one thread
    # per vCPU, so sysbench's threads scale in them.
    accel_option = "tcg,thread=single" if accel == "tcg" and nested_kvm else accel
    return [QEMU, "-accel", accel_option, "-cpu", cpu, "-smp", str(smp), "-m", str(mem),
            "-kernel", str(kernel.boot_image), "-initrd", str(initrd),
            "-append", " ".join(append + [append_extra]).strip(),
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
            # Paused (-S) until the caller has connected (QMP tells it which accelerator is in use).
            "-qmp", f"unix:{qmp_path},server=on,wait=off", "-S", *devices]


def _option_value(path) -> str:
    """A path inside a QEMU option list, where a comma separates options unless doubled."""
    return str(path).replace(",", ",,")


def _image_format(image: Path) -> str:
    try:
        with open(image, "rb") as disk:
            return "qcow2" if disk.read(4) == b"QFI\xfb" else "raw"
    except OSError as error:
        raise LinuxVMError(f"disk image {image}: {error.strerror}") from None


def _connect(path: str, qemu: subprocess.Popen, deadline: float, qemu_errors) -> socket.socket:
    """Connects to a unix socket that QEMU serves (it appears once QEMU has set up its devices).
    qemu_errors() gives what QEMU printed on stderr, for the message when it exits instead."""
    while True:
        if qemu.poll() is not None:
            raise LinuxVMError(f"{QEMU} failed to start: {_last_line(qemu_errors())}")
        if time.monotonic() > deadline:
            raise LinuxVMError(f"{QEMU} did not open {path} before the timeout")
        connection = socket.socket(socket.AF_UNIX)
        try:
            connection.connect(path)
            return connection
        except (FileNotFoundError, ConnectionRefusedError):
            connection.close()
            time.sleep(0.01)


def _start_through_qmp(connection: socket.socket) -> str:
    """Asks the paused QEMU over a QMP connection whether KVM is in use, starts the VM."""
    with connection, connection.makefile("rwb") as qmp:
        def execute(command):
            qmp.write(json.dumps({"execute": command}).encode() + b"\n")
            qmp.flush()
            while True:  # skip asynchronous events
                line = qmp.readline()
                if not line:
                    raise LinuxVMError(f"{QEMU} closed QMP while answering {command}")
                reply = json.loads(line)
                if "return" in reply:
                    return reply["return"]
                if "error" in reply:
                    raise LinuxVMError(f"QMP {command} failed: {reply['error'].get('desc')}")
        qmp.readline()  # the greeting
        execute("qmp_capabilities")
        accel_used = "kvm" if execute("query-kvm")["enabled"] else "tcg"
        execute("cont")
    return accel_used


def _collect(qemu: subprocess.Popen, deadline: float, stream) -> tuple[str, str, bool]:
    """Reads the console (QEMU's stdout) and QEMU's messages until QEMU exits or the deadline."""
    console, errors, pending = [], [], b""
    streaming, timed_out = stream is not None, False
    with selectors.DefaultSelector() as selector:
        selector.register(qemu.stdout, selectors.EVENT_READ, console)
        selector.register(qemu.stderr, selectors.EVENT_READ, errors)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                qemu.kill()
                timed_out = True
                break
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                key.data.append(chunk)
                if streaming and key.data is console:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    streaming = _stream_lines(stream, lines)
    if streaming and pending:
        _stream_lines(stream, [pending])
    return _text(console), _text(errors), timed_out


def _stream_lines(stream, lines) -> bool:
    """Writes console lines up to the status or error line (what follows is the shutdown);
    returns whether to go on streaming."""
    for line in lines:
        if line.startswith((EXIT_MARKER.encode(), ERROR_MARKER.encode())):
            stream.flush()
            return False
        stream.write(line.rstrip(b"\r").decode(errors="replace") + "\n")
    stream.flush()
    return True


def _text(chunks) -> str:
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


def parse_markers(output: str) -> tuple[int | None, str | None]:
    """(status from the last `LINUXVM-EXIT n` line, message of a `LINUXVM-ERROR` line)."""
    statuses = re.findall(rf"^{EXIT_MARKER} (\d+)\s*$", output, re.M)
    errors = re.findall(rf"^{ERROR_MARKER} (.*?)\s*$", output, re.M)
    return (int(statuses[-1]) if statuses else None), (errors[-1] if errors else None)


def _result(output, errors, accel_used, wall_s, timed_out_after, returncode) -> Result:
    status, _ = parse_markers(output)
    if status is not None:
        # The script finished: a shutdown that hung afterwards does not change its status.
        return Result(status=status, output=output, accel_used=accel_used, wall_s=wall_s)
    return Result(status=None, output=output, accel_used=accel_used, wall_s=wall_s,
                  failure=_failure(output, errors, returncode, timed_out_after),
                  timed_out=timed_out_after is not None)


def _failure(output: str, errors: str, returncode, timed_out_after=None) -> str:
    """Why a VM stopped without reporting a status, with the console lines that tell it."""
    _, init_error = parse_markers(output)
    if init_error is not None:
        failure = f"/init failed: {init_error}"
    elif timed_out_after is not None:
        failure = f"timed out after {timed_out_after:g} s"
    elif "Kernel panic" in output:
        failure = "the kernel panicked"
    else:
        failure = f"the VM stopped without reporting a status ({QEMU} exit code {returncode}"
        failure += f": {_last_line(errors)})" if errors.strip() else ")"
    return f"{failure}; {console_excerpt(output)}"


def console_excerpt(output: str, lines: int = 15) -> str:
    """The console lines that tell what went wrong: those before a kernel panic
    (its stack trace says less than what /init printed), else the last ones."""
    text = output.rstrip("\n").splitlines()
    panic = next((i for i, line in enumerate(text) if "Kernel panic" in line), None)
    if panic is not None:
        text = text[:panic + 1]
    if not text:
        return "the console stayed empty"
    return "last console lines:\n" + "\n".join(text[-lines:])


# --- a session: one VM, many commands ----------------------------------------

# The session's control channel is the VM's second serial port: the host writes
# one line per request and blocks until the answer line, the VM blocks in `read`,
# so neither side polls, and 8250 is built into Debian's kernel (no module).
_CONTROL_TTY = "/dev/ttyS1"
# How long run() waits beyond a command's timeout before deciding that the VM
# no longer answers: the VM itself kills the command at the timeout, but a busy
# VM under TCG may need a few seconds more to report it.
_ANSWER_GRACE_S = 20
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Session:
    """One Linux VM, with a working /dev/kvm by default, that runs commands on request
    until closed, each like subprocess.run(argv, capture_output=True).

    The repository is shared read-write (9p, no caching) at its own absolute path,
    so commands use the host's paths (build/vmm, build/guest.elf, ...); files a
    command reads or writes belong under scratch_dir, a directory inside it that
    close() deletes. binaries: host binaries that commands run from the share;
    their libraries (what ldd lists) are copied into the VM. libraries: shared
    libraries they load with dlopen, which ldd does not list (vmm's
    libcapstone.so.4), by soname or path. files: (host path, VM path) pairs
    copied in; shares: more (host dir, VM dir) pairs over 9p.
    The VM runs under TCG; cpu defaults to "max" (SVM with nested paging).
    Calls from several threads run one after the other."""

    def __init__(self, *, cache_dir=None, nested_kvm: bool = True, smp: int = 2, mem: str = "8G",
                 binaries=(), libraries=(), files=(), shares=(), cpu: str | None = None,
                 boot_timeout: float = 120):
        self._lock = threading.Lock()
        self._qemu = self._control = None
        self._ended_because = None  # once set, run() raises LinuxVMError with it
        self._next_id = 0
        self._received = b""  # control channel bytes after the last complete line
        self._private = Path(tempfile.mkdtemp(prefix="linuxvm-session-"))
        (REPO_ROOT / "build").mkdir(exist_ok=True)
        self._shared = Path(tempfile.mkdtemp(prefix="linuxvm-session-", dir=REPO_ROOT / "build"))
        self._requests = self._shared / "requests"
        self._requests.mkdir()
        self.scratch_dir = self._shared / "scratch"
        self.scratch_dir.mkdir()
        try:
            self._boot(cache_dir or default_cache_dir(), nested_kvm=nested_kvm, smp=smp, mem=mem,
                       binaries=binaries, libraries=libraries, files=files, shares=shares, cpu=cpu,
                       boot_timeout=boot_timeout)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _boot(self, cache_dir, *, nested_kvm, smp, mem, binaries, libraries, files, shares, cpu,
              boot_timeout):
        deadline = time.monotonic() + boot_timeout
        linux = kernel(cache_dir)
        library_paths = [library if "/" in str(library) else find_library(library) for library in libraries]
        initrd = build_initramfs(self._private / "initramfs", linux, modules=SHARE_MODULES,
                                 libraries_of=binaries, libraries=library_paths, files=files,
                                 nested_kvm=nested_kvm, init_script=_session_script(self._requests))
        control_path = str(self._private / "control")
        qmp_path = str(self._private / "qmp")
        argv = _qemu_argv(linux, initrd, accel="tcg", cpu=cpu, smp=smp, mem=mem, append_extra="",
                          drives=(), shares=[(REPO_ROOT, str(REPO_ROOT)), *shares],
                          nested_kvm=nested_kvm, qmp_path=qmp_path)
        argv += ["-chardev", f"socket,id=control,path={_option_value(control_path)},server=on,wait=off",
                 "-serial", "chardev:control"]
        # Files, not pipes: nobody reads QEMU's output while commands run.
        with open(self._private / "console", "wb") as console, open(self._private / "errors", "wb") as errors:
            self._qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console, stderr=errors)
        # Connected before the VM starts: what it sends on an unconnected socket is lost.
        self._control = _connect(control_path, self._qemu, deadline, self._qemu_errors)
        _start_through_qmp(_connect(qmp_path, self._qemu, deadline, self._qemu_errors))
        ready = self._answer_line(deadline, "while booting")
        if ready != "ready":
            raise self._end(f"the VM's session loop said {ready!r} instead of ready")

    def run(self, argv, *, timeout: float, cwd=None, env=None) -> subprocess.CompletedProcess:
        """Runs argv in the VM and returns its exit status, stdout and stderr (bytes).

        stdin is /dev/null; cwd defaults to the repository root; env adds variables to
        the VM's environment (PATH with /usr/local/bin, /usr/bin, /bin...; HOME=/root).
        At `timeout` seconds the VM kills the command with everything it started:
        returncode 124, as timeout(1), and stderr ends with a line saying so. A command
        killed by signal N gives 128+N, as a shell reports it; one not found gives 127.
        Raises LinuxVMError when the session has ended or cwd does not exist in the VM;
        when the VM stops answering (timeout plus a grace period) or dies, QEMU is
        killed and this and every later call raise it with the last console lines."""
        argv = [str(arg) for arg in argv]
        script = _command_script(argv, env or {})
        cwd = os.path.abspath(cwd or REPO_ROOT)
        if "\n" in cwd:
            raise LinuxVMError(f"cwd {cwd!r}: a line break cannot cross the control channel")
        if timeout <= 0:
            raise LinuxVMError(f"timeout {timeout} s: must be positive")
        with self._lock:
            if self._ended_because is not None:
                raise LinuxVMError(self._ended_because)
            request_id = str(self._next_id)
            self._next_id += 1
            folder = self._requests / request_id
            folder.mkdir()
            (folder / "command").write_text(script)
            doing = f"while running {shlex.join(argv)}"
            try:
                self._control.sendall(f"{request_id} {timeout:.3f} {cwd}\n".encode())
            except OSError:  # QEMU exited since the last answer
                raise self._stopped(doing) from None
            outcome = self._outcome(request_id, time.monotonic() + timeout + _ANSWER_GRACE_S, doing)
            if outcome == "no-cwd":
                shutil.rmtree(folder)
                raise LinuxVMError(f"cwd {cwd}: no such directory in the VM")
            stdout, stderr = (folder / "stdout").read_bytes(), (folder / "stderr").read_bytes()
            shutil.rmtree(folder)
        if outcome == "timeout":
            return subprocess.CompletedProcess(
                argv, 124, stdout, stderr + f"linuxvm: timed out after {timeout:g} s: killed\n".encode())
        return subprocess.CompletedProcess(argv, int(outcome), stdout, stderr)

    def _outcome(self, request_id: str, deadline: float, doing: str) -> str:
        """The VM's answer to request_id: an exit status, "timeout" or "no-cwd"."""
        while True:
            answered_id, _, outcome = self._answer_line(deadline, doing).partition(" ")
            # Another id answers a request whose caller was interrupted (KeyboardInterrupt).
            if answered_id == request_id:
                if outcome.isdigit() or outcome in ("timeout", "no-cwd"):
                    return outcome
                raise self._end(f"the VM answered {outcome!r} {doing}")

    def _answer_line(self, deadline: float, doing: str) -> str:
        """The next line from the control channel; ends the session if none comes by the deadline."""
        while b"\n" not in self._received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._end(f"no answer from the VM {doing}: QEMU killed; "
                                f"{console_excerpt(self._console())}")
            self._control.settimeout(remaining)
            try:
                chunk = self._control.recv(4096)
            except TimeoutError:
                continue
            if not chunk:  # QEMU closed the socket: it is exiting
                raise self._stopped(doing)
            self._received += chunk
        line, _, self._received = self._received.partition(b"\n")
        return line.decode(errors="replace")

    def _stopped(self, doing: str) -> LinuxVMError:
        """Ends the session of a VM that went away and returns the error saying why."""
        try:
            self._qemu.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # _end kills it; the message then shows exit code None
        why = _failure(self._console(), self._qemu_errors(), self._qemu.returncode)
        return self._end(f"the VM stopped {doing}: {why}")

    def _console(self) -> str:
        return (self._private / "console").read_bytes().decode(errors="replace").replace("\r\n", "\n")

    def _qemu_errors(self) -> str:
        return (self._private / "errors").read_text(errors="replace")

    def _end(self, reason: str) -> LinuxVMError:
        """Stops the VM for good; this and later run() calls raise LinuxVMError(reason)."""
        if self._qemu is not None and self._qemu.poll() is None:
            self._qemu.kill()
            self._qemu.wait()
        if self._control is not None:
            self._control.close()
        self._ended_because = reason
        return LinuxVMError(reason)

    def close(self) -> None:
        """Stops the VM and deletes the session's directories, scratch_dir included."""
        self._end("the linuxvm session is closed")
        shutil.rmtree(self._private, ignore_errors=True)
        shutil.rmtree(self._shared, ignore_errors=True)


def _command_script(argv: list[str], env: dict) -> str:
    """The shell script the VM runs for one request: env exported, then argv exec'd."""
    if not argv:
        raise LinuxVMError("run() needs a command")
    lines = []
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(name):
            raise LinuxVMError(f"environment variable name {name!r} is not valid in the VM's shell")
        lines.append(f"export {name}={shlex.quote(str(value))}")
    lines.append(f"exec -- {shlex.join(argv)}")
    return "\n".join(lines) + "\n"


def _session_script(requests: Path) -> str:
    """The loop a Session's /init runs: for each line `ID TIMEOUT CWD` on the control
    tty it runs requests/ID/command in CWD with stdout and stderr to files next to it,
    then answers `ID STATUS`, `ID timeout` or `ID no-cwd`."""
    return textwrap.dedent(f"""\
        requests={shlex.quote(str(requests))}
        # raw: no echo of what the host sends, no CR/LF translation either way.
        stty -F {_CONTROL_TTY} raw -echo || {{ echo "{ERROR_MARKER} cannot set up {_CONTROL_TTY}"; exit 1; }}
        exec 3<>{_CONTROL_TTY}
        echo ready >&3
        while read -r id limit cwd <&3; do
          cd -- "$cwd" 2>/dev/null || {{ echo "$id no-cwd" >&3; continue; }}
          request=$requests/$id
          # setsid: a process group of its own, so that the timeout kills all the command started.
          setsid sh "$request/command" </dev/null >"$request/stdout" 2>"$request/stderr" 3>&- &
          pid=$!
          setsid sh -c "sleep $limit; : >/tmp/timed-out.$id; kill -KILL -$pid" >/dev/null 2>&1 3>&- &
          watcher=$!
          # 2>/dev/null: the shell's "Killed" or "Segmentation fault" notices stay off the console.
          wait $pid 2>/dev/null
          status=$?
          kill -KILL -$watcher $watcher 2>/dev/null
          wait $watcher 2>/dev/null
          if [ -e /tmp/timed-out.$id ]; then status=timeout; rm /tmp/timed-out.$id; fi
          echo "$id $status" >&3
        done
        echo "{ERROR_MARKER} the session loop stopped reading {_CONTROL_TTY}"
        exit 1
        """)
