"""Debian's kernel: found in apt, downloaded and unpacked into the cache,
never installed; its vmlinux and PVH note."""

import lzma
import os
import re
import shutil
import struct
import sys
import tempfile
from pathlib import Path

from vmbench.linuxvm.common import (KERNEL_META_PACKAGE, Kernel, LinuxVMError, REPO_ROOT,
                                    _AptFailed, _apt, _run_tool)

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
