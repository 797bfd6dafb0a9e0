"""What the parts of linuxvm share: constants, errors, the kernel and result
records, and running external tools."""

import dataclasses
import subprocess
from pathlib import Path

from vmbench.paths import REPO

KERNEL_META_PACKAGE = "linux-image-amd64"
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static: no libraries to copy
QEMU = "qemu-system-x86_64"
# The repository, which a Session shares with its VM.
REPO_ROOT = REPO

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
