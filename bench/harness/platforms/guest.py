"""What the two platforms that boot guest.elf (vmm, qemu-guest) share: the
guest's command line for a case, and reading its output."""

import sys
from pathlib import Path

from harness.platform import PlatformError

REPO = Path(__file__).resolve().parents[3]
GUEST = REPO / "build" / "guest.elf"
sys.path.insert(0, str(REPO / "tools"))
from vmbench import results  # noqa: E402


def guest_args(case):
    """sysbench's grammar, which the guest shares: TEST --opt=value ... run."""
    return [case.test, *case.sysbench_args(), "run"]


def read_result(platform, case, out, status):
    """The guest's VMBENCH-RESULT object, once its text report and its status
    agree; PlatformError saying what went wrong otherwise."""
    if status != 0:
        last = [line for line in out.splitlines() if line.strip()][-3:]
        raise PlatformError(f"{platform}: the guest ended with status {status}: "
                            + " / ".join(last))
    try:
        _, record = results.check_guest_output(out)
    except ValueError as e:
        raise PlatformError(f"{platform}: {e}") from None
    if record["env"]["vcpus"] != case.vcpus:
        raise PlatformError(f"{platform}: asked for {case.vcpus} vCPUs, the guest has "
                            f"{record['env']['vcpus']}")
    record["platform"] = platform
    return record


def check_products():
    if not GUEST.exists():
        raise PlatformError(f"{GUEST} is missing: run make")
