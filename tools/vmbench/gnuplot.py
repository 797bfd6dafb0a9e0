"""Drawing with gnuplot, the project's plotter: what report.py and the
report's views (vmbench.views) share.  Each plot is a script (.gp) and its
data (.dat) written beside the PNG, so that `gnuplot NAME.gp` in the results
folder draws it again.

    gnuplot.write_atomic(path, text)
    gnuplot.quote(text)                  # inside a single-quoted gnuplot string
    why = gnuplot.draw(program, gp, png) # None when png was drawn
"""

import os
import subprocess


def write_atomic(path, text):
    """Writes text to path through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def quote(text):
    """text inside a gnuplot single-quoted string."""
    return str(text).replace("'", "''")


def draw(program, gp, png):
    """Runs gnuplot (program: its path) on script gp in gp's directory.
    None when png was drawn, else why not (one line)."""
    try:
        png.unlink()
    except FileNotFoundError:
        pass
    try:
        res = subprocess.run([program, gp.name], cwd=gp.parent, capture_output=True, text=True,
                             timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"gnuplot could not run: {e}"
    if res.returncode != 0 or not png.exists():
        msg = " ".join((res.stderr or "").split())[-300:]
        return f"gnuplot failed (status {res.returncode}){': ' + msg if msg else ''}"
    return None
