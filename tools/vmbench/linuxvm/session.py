"""A session: one VM that runs many commands, one at a time, over a
control serial port."""

import os
import re
import shutil
import subprocess
import shlex
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from vmbench.linuxvm.common import ERROR_MARKER, LinuxVMError, REPO_ROOT, SHARE_MODULES
from vmbench.linuxvm.initramfs import build_initramfs, find_library
from vmbench.linuxvm.kernels import default_cache_dir, kernel
from vmbench.linuxvm.vm import (_connect, _failure, _option_value, _qemu_argv, _start_through_qmp,
                                console_excerpt)

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
    The VM runs under TCG unless accel="kvm" (a host whose KVM offers nested
    virtualization: vmbench.levels); cpu defaults to "max" under TCG (SVM with
    nested paging), "host" under KVM.  accel_used (what QEMU said over QMP) and
    cpu_model record what it ran with.
    Calls from several threads run one after the other."""

    def __init__(self, *, cache_dir=None, nested_kvm: bool = True, smp: int = 2, mem: str = "8G",
                 binaries=(), libraries=(), files=(), shares=(), cpu: str | None = None,
                 boot_timeout: float = 120, accel: str = "tcg"):
        self._lock = threading.Lock()
        self._qemu = self._control = None
        self._ended_because = None  # once set, run() raises LinuxVMError with it
        self._next_id = 0
        self._received = b""  # control channel bytes after the last complete line
        self.accel_used = self.cpu_model = None
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
                       boot_timeout=boot_timeout, accel=accel)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _boot(self, cache_dir, *, nested_kvm, smp, mem, binaries, libraries, files, shares, cpu,
              boot_timeout, accel):
        deadline = time.monotonic() + boot_timeout
        linux = kernel(cache_dir)
        library_paths = [library if "/" in str(library) else find_library(library) for library in libraries]
        initrd = build_initramfs(self._private / "initramfs", linux, modules=SHARE_MODULES,
                                 libraries_of=binaries, libraries=library_paths, files=files,
                                 nested_kvm=nested_kvm, init_script=_session_script(self._requests))
        control_path = str(self._private / "control")
        qmp_path = str(self._private / "qmp")
        argv = _qemu_argv(linux, initrd, accel=accel, cpu=cpu, smp=smp, mem=mem, append_extra="",
                          drives=(), shares=[(REPO_ROOT, str(REPO_ROOT)), *shares],
                          nested_kvm=nested_kvm, qmp_path=qmp_path)
        argv += ["-chardev", f"socket,id=control,path={_option_value(control_path)},server=on,wait=off",
                 "-serial", "chardev:control"]
        # Files, not pipes: nobody reads QEMU's output while commands run.
        with open(self._private / "console", "wb") as console, open(self._private / "errors", "wb") as errors:
            self._qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console, stderr=errors)
        # Connected before the VM starts: what it sends on an unconnected socket is lost.
        self._control = _connect(control_path, self._qemu, deadline, self._qemu_errors)
        self.cpu_model = argv[argv.index("-cpu") + 1]
        self.accel_used = _start_through_qmp(_connect(qmp_path, self._qemu, deadline, self._qemu_errors))
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
            return _completed(folder, outcome, argv, cwd, timeout)

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


def _completed(folder: Path, outcome: str, argv, cwd, timeout) -> subprocess.CompletedProcess:
    """What a request's folder holds once the VM answered `outcome` (an exit
    status, "timeout" or "no-cwd"), as run() returns it; the folder is deleted."""
    if outcome == "no-cwd":
        shutil.rmtree(folder)
        raise LinuxVMError(f"cwd {cwd}: no such directory in the VM")
    stdout, stderr = (folder / "stdout").read_bytes(), (folder / "stderr").read_bytes()
    shutil.rmtree(folder)
    if outcome == "timeout":
        return subprocess.CompletedProcess(
            argv, 124, stdout, stderr + f"linuxvm: timed out after {timeout:g} s: killed\n".encode())
    return subprocess.CompletedProcess(argv, int(outcome), stdout, stderr)


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
