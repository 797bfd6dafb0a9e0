"""The container's root file system: debootstrap's minbase Debian from the
mirror apt uses, plus sysbench, built once and cached
(build/cache/container-rootfs/<key>/)."""

import fcntl
import hashlib
import json
import os
import platform as _platform
import re
import subprocess
import time
from pathlib import Path

from vmbench.platforms.base import PlatformError
from vmbench.platforms.container.host import _dir_size, _tail, remove_tree

SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES = ("sysbench",)


def debian_mirror(sources=("/etc/apt/sources.list", "/etc/apt/sources.list.d")):
    """The first URI of a 'deb' source that offers SUITE (not -security, not
    -updates), from one-line .list files and deb822 .sources files."""
    files = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix in (".list", ".sources"))
        elif p.is_file():
            files.append(p)
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    k, _, v = line.partition(":")
                    fields[k.strip().lower()] = v.split()
                if (fields.get("enabled", ["yes"])[0].lower() != "no"
                        and "deb" in fields.get("types", [])
                        and SUITE in fields.get("suites", []) and fields.get("uris")):
                    return fields["uris"][0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
                if words[:1] == ["deb"] and len(words) >= 3 and words[2] == SUITE:
                    return words[1]
    raise PlatformError(f"container: no 'deb' source for {SUITE} in /etc/apt "
                        "(debootstrap needs the mirror apt uses)")


def _dpkg_version(root, package):
    """A package's installed version in a root file system's dpkg database."""
    try:
        text = (Path(root) / "var/lib/dpkg/status").read_text(errors="replace")
    except OSError:
        return None
    for stanza in text.split("\n\n"):
        if re.search(rf"^Package: {re.escape(package)}$", stanza, re.M) and \
                re.search(r"^Status: install ok installed$", stanza, re.M):
            m = re.search(r"^Version: (\S+)$", stanza, re.M)
            return m.group(1) if m else None
    return None


def _apt_candidate(package):
    """The version apt would install (host's lists), or None."""
    try:
        out = subprocess.run(["apt-cache", "policy", package], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"Candidate:\s*(\S+)", out)
    return m.group(1) if m and m.group(1) != "(none)" else None


class Rootfs:
    """The cached root file system: build/cache/container-rootfs/<key>/rootfs."""

    def __init__(self, cache_dir, mirror, log):
        self.base = Path(cache_dir)
        self.mirror = mirror
        self.log = log
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                              text=True).stdout.strip() or _platform.machine()
        self.recipe = {"suite": SUITE, "variant": VARIANT, "mirror": mirror, "arch": arch,
                       "packages": {p: _apt_candidate(p) or "?" for p in PACKAGES}}
        blob = json.dumps(self.recipe, sort_keys=True).encode()
        self.key = f"{SUITE}-{arch}-" + hashlib.sha256(blob).hexdigest()[:12]
        self.dir = self.base / self.key
        self.path = self.dir / "rootfs"
        self.marker = self.dir / "complete.json"
        self.info = None

    def ensure(self):
        """The root file system's info (the marker's content), built if needed."""
        self.base.mkdir(parents=True, exist_ok=True)
        with open(self.base / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)       # one builder at a time
            self.info = self._read_marker()
            if self.info is None:
                self.info = self._build()
        return self.info

    def _read_marker(self):
        try:
            info = json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return None
        if info.get("key") != self.key or not (self.path / "usr/bin/sysbench").exists():
            return None
        return info

    def _run(self, argv, logf, what, env=None):
        logf.write(f"$ {' '.join(map(str, argv))}\n".encode())
        logf.flush()
        p = subprocess.run(list(map(str, argv)), stdin=subprocess.DEVNULL, stdout=logf,
                           stderr=subprocess.STDOUT, env=env)
        if p.returncode:
            logf.flush()
            tail = _tail(Path(logf.name).read_text(errors="replace"))
            raise PlatformError(f"container: {what} failed (status {p.returncode}): {tail} "
                                f"(log: {logf.name})")

    def _build(self):
        t0 = time.monotonic()
        remove_tree(self.dir)                # an interrupted build: redo it
        tmp = self.base / f"{self.key}.tmp-{os.getpid()}"
        for stale in self.base.glob(f"{self.key}.tmp-*"):
            remove_tree(stale)
        root = tmp / "rootfs"
        logpath = self.base / f"{self.key}.log"
        self.log(f"container: building the root file system ({VARIANT} {SUITE} from "
                 f"{self.mirror} + {' '.join(PACKAGES)}), log {logpath}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8")
        env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        with open(logpath, "wb") as logf:
            self._run(["debootstrap", f"--variant={VARIANT}", SUITE, root, self.mirror],
                      logf, "debootstrap", env)
            install = ["chroot", root, "apt-get", "install", "-y", "-q",
                       "--no-install-recommends", *PACKAGES]
            try:
                self._run(install, logf, "apt-get install in the root file system", env)
            except PlatformError:            # stale lists: update once, then retry
                self._run(["chroot", root, "apt-get", "update", "-q"], logf,
                          "apt-get update in the root file system", env)
                self._run(install, logf, "apt-get install in the root file system", env)
            self._run(["chroot", root, "apt-get", "clean"], logf, "apt-get clean", env)
        (root / "work").mkdir(exist_ok=True)    # the bind mount's mount point
        versions = {p: _dpkg_version(root, p) for p in PACKAGES}
        if not versions.get("sysbench") or not (root / "usr/bin/sysbench").exists():
            raise PlatformError(f"container: sysbench is not installed in {root} (log: {logpath})")
        info = {"key": self.key, "recipe": self.recipe, "versions": versions,
                "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_seconds": round(time.monotonic() - t0, 1),
                "size_bytes": _dir_size(root)}
        (tmp / "complete.json").write_text(json.dumps(info, indent=1) + "\n")   # last
        os.rename(tmp, self.dir)
        self.log(f"container: root file system built in {info['build_seconds']} s, "
                 f"{info['size_bytes'] / 1e6:.0f} MB, sysbench {versions['sysbench']}")
        return info
