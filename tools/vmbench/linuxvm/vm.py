"""Running one VM: QEMU on a serial console, started over QMP, its output
collected, its status read from the markers /init prints."""

import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from vmbench.linuxvm.common import (ERROR_MARKER, EXIT_MARKER, Kernel, LinuxVMError, QEMU, Result,
                                    _last_line)

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
