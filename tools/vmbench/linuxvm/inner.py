"""An inner session: a Linux VM inside a Session's VM (L2 inside L1), which
runs commands the way a Session does.

The outer VM runs QEMU with `-accel kvm` on its own /dev/kvm (kvm_amd
nested in it), booting the same Debian kernel with an initramfs made here
whose /init is a Session's command loop.  The repository is shared into the
inner VM from the outer VM's own 9p mount, so the three machines see the
checkout at one path: request folders, scratch files, build/vmm.

The control channel is the inner VM's second serial port, a QEMU `pipe`
chardev in the outer VM (FIFOs PATH.in and PATH.out, which QEMU keeps open
at both ends, so nothing written is lost between requests).  A request is
one outer command: write `ID TIMEOUT CWD` to PATH.in, read the answer line
from PATH.out.  So every inner command costs one outer command more.

    inner = InnerSession(outer_session, binaries=[vmm], mem="2G")
    inner.run(argv, timeout=60)      # a CompletedProcess with bytes, as Session.run
    inner.close()                    # stops the inner VM (not the outer one)
"""

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from vmbench.linuxvm.common import LinuxVMError, QEMU, REPO_ROOT, SHARE_MODULES
from vmbench.linuxvm.initramfs import build_initramfs, find_library
from vmbench.linuxvm.kernels import default_cache_dir, kernel
from vmbench.linuxvm.session import (_ANSWER_GRACE_S, _command_script, _completed,
                                     _session_script)
from vmbench.linuxvm.vm import console_excerpt

# What QEMU needs in the outer VM to boot a kernel with -kernel on the pc
# machine: the BIOS and the option ROMs that load the kernel.  Debian keeps
# the BIOS with seabios; QEMU is told both directories with -L.
QEMU_FIRMWARE = ("/usr/share/seabios/bios-256k.bin", "/usr/share/qemu/pvh.bin",
                 "/usr/share/qemu/linuxboot_dma.bin", "/usr/share/qemu/kvmvapic.bin")


# What the outer KVM offers (SVM included when nested is on), without
# XSAVE: under an outer VM on TCG (-cpu max), CPUID leaf 0xd's sizes
# disagree with the features (Linux: "XSAVE consistency problem: size 2696
# != kernel_size 576") and the inner kernel hung right after; without
# XSAVE it boots (measured 2026-12-01).
INNER_CPU = "host,-xsave"


def outer_files():
    """(host path, VM path) pairs an outer Session needs for QEMU to run in
    it (files=): the QEMU binary and its firmware.  Its libraries come with
    binaries=[qemu_path()]."""
    return [(qemu_path(), "/usr/bin/" + QEMU)] + [(os.path.realpath(f), f) for f in QEMU_FIRMWARE]


def qemu_path():
    path = shutil.which(QEMU)
    if path is None:
        raise LinuxVMError(f"{QEMU} not found: install the Debian package qemu-system-x86")
    return path


class InnerSession:
    """See the module's docstring.  outer: a linuxvm.Session started with
    files=outer_files() and binaries=[qemu_path(), ...]; its /dev/kvm runs
    the inner VM.  cpu: the inner VM's CPU model (default INNER_CPU)."""

    def __init__(self, outer, *, cache_dir=None, smp: int = 1, mem: str = "2G", binaries=(),
                 libraries=(), cpu: str = None, boot_timeout: float = 600):
        cpu = cpu or INNER_CPU
        self.outer = outer
        self.cpu_model, self.accel_used = cpu, None
        self._closed = None
        self._next_id = 0
        self._shared = Path(tempfile.mkdtemp(prefix="linuxvm-inner-", dir=REPO_ROOT / "build"))
        self._requests = self._shared / "requests"
        self._requests.mkdir()
        self.scratch_dir = self._shared / "scratch"
        self.scratch_dir.mkdir()
        self._fifo = f"/tmp/{self._shared.name}"
        try:
            self._boot(cache_dir or default_cache_dir(), smp, mem, binaries, libraries, cpu,
                       boot_timeout)
        except BaseException:
            self.close()
            raise

    def _outer(self, script, *args, timeout):
        return self.outer.run(["sh", "-c", script, "sh", *map(str, args)], timeout=timeout)

    def _boot(self, cache_dir, smp, mem, binaries, libraries, cpu, boot_timeout):
        linux = kernel(cache_dir)
        library_paths = [lib if "/" in str(lib) else find_library(lib) for lib in libraries]
        initrd = build_initramfs(self._shared / "initramfs", linux, modules=SHARE_MODULES,
                                 libraries_of=binaries, libraries=library_paths, nested_kvm=True,
                                 init_script=_session_script(self._requests))
        share = f"local,path={REPO_ROOT},mount_tag=share0,security_model=none,id=share0"
        argv = [QEMU, "-L", "/usr/share/qemu", "-L", "/usr/share/seabios", "-accel", "kvm",
                "-cpu", cpu, "-smp", str(smp), "-m", str(mem),
                "-kernel", str(linux.boot_image), "-initrd", str(initrd),
                # Not quiet: the kernel's lines tell how far a slow boot got.
                "-append", f"console=ttyS0 panic=-1 linuxvm.share=share0:{REPO_ROOT}",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                # In the outer VM's RAM: each byte is an exit, no 9p write on top.
                "-serial", f"file:{self._fifo}.console",
                "-chardev", f"pipe,id=control,path={self._fifo}", "-serial", "chardev:control",
                "-virtfs", share]
        # QEMU in the background of the outer command, in a session of its own.
        started = self._outer('f=$1; shift; mkfifo "$f.in" "$f.out" || exit 1; '
                              'setsid "$@" </dev/null >"$f.errors" 2>&1 & echo $!',
                              self._fifo, *argv, timeout=60)
        if started.returncode != 0:
            raise LinuxVMError(f"could not start the inner VM's QEMU: "
                               f"{started.stderr.decode(errors='replace').strip()}")
        self._pid = started.stdout.decode().strip()
        # -accel kvm has no fallback: QEMU exits if the outer /dev/kvm refuses it.
        self.accel_used = "kvm"
        ready = self._outer('read -r line < "$1.out" && echo "$line"', self._fifo,
                            timeout=boot_timeout)
        if ready.returncode != 0 or ready.stdout.decode().strip() != "ready":
            raise self._end(f"the inner VM did not boot within {boot_timeout:g} s "
                            f"({'timed out' if ready.returncode == 124 else ready.returncode}); "
                            f"{self._why()}")

    def _why(self):
        """QEMU's last message and the inner VM's last console lines (files in
        the outer VM)."""
        try:
            told = self._outer('tail -n 1 "$1.errors"; echo ---; tail -n 12 "$1.console"',
                               self._fifo, timeout=60).stdout.decode(errors="replace")
        except LinuxVMError as e:
            return f"(the outer VM did not answer: {e})"
        errors, _, console = told.partition("---\n")
        return (f"QEMU said: {errors.strip()}; " if errors.strip() else "") + \
            console_excerpt(console.replace("\r\n", "\n"), lines=12)

    def run(self, argv, *, timeout: float, cwd=None, env=None) -> subprocess.CompletedProcess:
        """As Session.run, in the inner VM."""
        if self._closed:
            raise LinuxVMError(self._closed)
        argv = [str(a) for a in argv]
        cwd = os.path.abspath(cwd or REPO_ROOT)
        request_id = str(self._next_id)
        self._next_id += 1
        folder = self._requests / request_id
        folder.mkdir()
        (folder / "command").write_text(_command_script(argv, env or {}))
        answer = self._outer('printf "%s\\n" "$2" > "$1.in" && read -r a < "$1.out" && echo "$a"',
                             self._fifo, f"{request_id} {timeout:.3f} {cwd}",
                             timeout=timeout + _ANSWER_GRACE_S)
        got_id, _, outcome = answer.stdout.decode(errors="replace").strip().partition(" ")
        if answer.returncode != 0 or got_id != request_id:
            raise self._end(f"no answer from the inner VM while running {shlex.join(argv)}; "
                            f"{self._why()}")
        return _completed(folder, outcome, argv, cwd, timeout)

    def _end(self, reason):
        """Stops the inner VM's QEMU for good (the outer VM goes on)."""
        if self._closed is None and getattr(self, "_pid", None):
            try:
                self._outer('kill -KILL "$1"; rm -f "$2".*', self._pid, self._fifo, timeout=30)
            except LinuxVMError:
                pass
        self._closed = reason
        return LinuxVMError(reason)

    def close(self):
        """Stops the inner VM and deletes its directories (the outer VM is the caller's)."""
        self._end("the inner linuxvm session is closed")
        shutil.rmtree(self._shared, ignore_errors=True)
