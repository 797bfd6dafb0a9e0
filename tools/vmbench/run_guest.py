"""run-guest - run vmm with the given arguments where it can run: on this
host's KVM if 'vmm --check' says it works, else inside a Linux VM that
offers nested KVM (vmbench.vmmrun decides; tools/linuxvm; slower to start,
same guest).

    tools/run-guest [vmm options] build/guest.elf [guest command line]
"""

import os
import subprocess
import sys
from pathlib import Path

from vmbench import vmmrun
from vmbench.paths import REPO, VMM


def nested_argv(argv, here):
    """tools/linuxvm's command line that runs `vmm argv` in a fresh VM with
    nested KVM.  The VM sees the checkout and the current directory at their
    own paths, so relative paths work as they do here."""
    shares = ["--share", f"{REPO}:{REPO}"]
    if not f"{here}/".startswith(f"{REPO}/"):
        shares += ["--share", f"{here}:{here}"]
    found = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in found.splitlines():
        if line.strip().startswith(vmmrun.CAPSTONE + " "):
            path = line.split()[-1]
            shares += ["--file", f"{os.path.realpath(path)}:{path}"]
            break
    return [str(REPO / "tools" / "linuxvm"), "exec", "--nested-kvm", "--mem", "4G", "--smp", "2",
            *shares, "--bin", str(VMM), "--", "sh", "-c", 'cd "$1" && shift && exec "$@"',
            "run-guest", here, str(VMM), *argv]


def main(argv):
    works, said = vmmrun.check(VMM)
    if works:
        os.execv(VMM, [str(VMM), *argv])
    print(f"run-guest: {said.removeprefix('vmm: ')}", file=sys.stderr)
    print("run-guest: running vmm inside a Linux VM with nested KVM instead (tools/linuxvm)",
          file=sys.stderr, flush=True)
    command = nested_argv(argv, str(Path.cwd()))
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
