"""The host isolation tools (isolation/apply, restore, check), called from
Python; bench/compare's vmm-isolated platform runs each of its cases inside
`applied()`.

    iso = Isolation(root=None)          # root: a fake tree for tests (--root DIR)
    why = iso.missing()                 # None, or why the tools cannot be used
    with iso.applied("1"):              # isolation/apply --state S 1 ...
        run the case                    # ... isolation/restore --state S, always
    iso.check("1")                      # isolation/check --json 1, as a dict
    iso.close()                         # removes the state directory

The tools' contract: `isolation/apply [--state FILE] [--root DIR]
[--dry-run] CPULIST`, `isolation/restore [--state FILE] [--root DIR]`,
`isolation/check [--root DIR] [--json] [CPULIST]`, status 0 on success and
one line on stderr otherwise.  The state file, in a directory of our own,
is what restore puts back.  Restore runs after every apply that succeeded,
whatever happened in between: an exception, Ctrl-C, or SIGTERM/SIGHUP
(turned into exceptions while isolation is applied; the process then exits
with 128 + the signal); and after an apply that failed but left a state
file.  SIGINT, SIGTERM and SIGHUP are held while apply or restore runs, so
neither is cut short half way.  A failed apply is IsolationUnavailable (the
scenario is skipped with its line); a failed restore is IsolationError (the
host may still be isolated: the run fails, saying how to put it back).
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from vmbench.paths import REPO

TOOLS = REPO / "isolation"
TIMEOUT_S = 120
HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


class IsolationUnavailable(Exception):
    """isolation/apply is missing or failed: nothing is isolated; one line."""


class IsolationError(Exception):
    """isolation/restore failed: the host may still be isolated; one line."""


def _last_line(res):
    text = (res.stderr or "").strip() or (res.stdout or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit status {res.returncode}"


class _Interrupted(BaseException):
    """SIGTERM or SIGHUP while isolation was applied (after restore, the
    process exits with 128 + the signal, as the signal would have made it)."""

    def __init__(self, signum):
        super().__init__(f"signal {signum}")
        self.signum = signum


def _main_thread():
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _signals_raise():
    """SIGTERM and SIGHUP raise _Interrupted for the duration (main thread
    only), so that `finally` blocks run."""
    if not _main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Interrupted(signum)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


@contextlib.contextmanager
def _signals_held():
    """SIGINT, SIGTERM and SIGHUP held back for the duration (delivered
    when it ends), so that apply or restore is not cut short half way."""
    if not _main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Isolation:
    def __init__(self, root=None, tools=TOOLS, timeout=TIMEOUT_S):
        """root: passed as --root DIR (a fake /proc and /sys tree for tests);
        tools: the directory of apply, restore and check."""
        self.root = str(root) if root else None
        self.tools = Path(tools)
        self.timeout = timeout
        self._state_dir = None

    @property
    def state(self):
        """The state file apply writes and restore reads (in a directory
        made for it on first use)."""
        if self._state_dir is None:
            self._state_dir = tempfile.mkdtemp(prefix="vmbench-isolation-")
        return Path(self._state_dir) / "state"

    def missing(self):
        """None when apply, restore and check are there and executable; else
        why not (one line)."""
        for tool in ("apply", "restore", "check"):
            path = self.tools / tool
            if not (path.is_file() and os.access(path, os.X_OK)):
                return f"{path} is missing or not executable"
        return None

    def _run(self, tool, *args):
        argv = [str(self.tools / tool), *args]
        if self.root:
            argv[1:1] = ["--root", self.root]
        return subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout)

    def apply(self, cpus):
        """Isolates CPU list `cpus` (IsolationUnavailable when that fails)."""
        why = self.missing()
        if why:
            raise IsolationUnavailable(why)
        try:
            res = self._run("apply", "--state", str(self.state), cpus)
        except (OSError, subprocess.TimeoutExpired) as e:
            self._restore_after_failed_apply()
            raise IsolationUnavailable(f"isolation/apply {cpus}: {e}") from None
        if res.returncode != 0:
            self._restore_after_failed_apply()
            raise IsolationUnavailable(f"isolation/apply {cpus} failed: {_last_line(res)}")
        return res.stdout

    def _restore_after_failed_apply(self):
        """An apply that failed part way may have changed something and said
        so in its state file: put that back."""
        if self.state.exists():
            try:
                self.restore()
            except IsolationError:
                pass

    def restore(self):
        """Puts back what apply changed (IsolationError when that fails)."""
        try:
            res = self._run("restore", "--state", str(self.state))
        except (OSError, subprocess.TimeoutExpired) as e:
            raise IsolationError(f"isolation/restore: {e}; the host may still be isolated: "
                                 f"run isolation/restore --state {self.state}") from None
        if res.returncode != 0:
            raise IsolationError(f"isolation/restore failed: {_last_line(res)}; the host may "
                                 f"still be isolated: run isolation/restore --state "
                                 f"{self.state}")

    def check(self, cpus):
        """isolation/check --json CPULIST as a dict ({"error": line} when it
        fails or says something that is not JSON)."""
        try:
            res = self._run("check", "--json", cpus)
        except (OSError, subprocess.TimeoutExpired) as e:
            return {"error": f"isolation/check: {e}"}
        try:
            report = json.loads(res.stdout)
        except json.JSONDecodeError:
            return {"error": f"isolation/check {cpus}: {_last_line(res)}"}
        return report if isinstance(report, dict) else {"report": report}

    @contextlib.contextmanager
    def applied(self, cpus):
        """Isolation of `cpus` for the body of the with statement; restored
        afterwards whatever happens (see the module's docstring)."""
        applied, interrupted = False, None
        try:
            with _signals_raise():
                with _signals_held():
                    self.apply(cpus)
                    applied = True
                yield
        except _Interrupted as e:
            interrupted = e.signum
        finally:
            if applied:
                with _signals_held():
                    self.restore()
        if interrupted is not None:
            raise SystemExit(128 + interrupted)

    def close(self):
        if self._state_dir:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            self._state_dir = None
