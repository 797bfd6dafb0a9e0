"""What the two platforms that boot guest.elf (vmm, qemu-guest) share: the
guest's command line for a case, reading its output, and fileio's disk.

fileio in the guest runs on a raw virtio-blk-pci disk with no file system:
"file" i is a fixed region of the disk, and the last 4 KiB hold a layout
block that the guest's `prepare` writes and its `run` checks.  One boot runs
one command, so a fileio run is two boots on one fresh sparse raw image made
here (raw_disk_bytes() big): `fileio ... prepare` (not timed), then
`fileio ... run` (measured).  The image is deleted afterwards, which is what
`cleanup` would do (it only clears the layout block).
"""

import os
import tempfile
from pathlib import Path

from vmbench.platforms.base import PlatformError

from vmbench import results, sysbench
from vmbench.paths import GUEST

# sysbench 1.0.20's fileio defaults.
FILEIO_DEFAULTS = {"file-num": 128, "file-total-size": "2G", "file-block-size": 16384}
LAYOUT_BYTES = 4096


def guest_args(case, command="run"):
    """sysbench's grammar, which the guest shares: TEST --opt=value ... run."""
    return [case.test, *case.sysbench_args(), command]


def raw_disk_bytes(case):
    """The raw disk a fileio case needs in the guest: --file-num regions of
    --file-total-size / --file-num bytes, each rounded up to whole
    --file-block-size blocks (as prepare writes them), plus the 4 KiB layout
    block; rounded up to whole MiB."""
    num = int(case.option("file-num", FILEIO_DEFAULTS["file-num"]))
    total = sysbench.parse_size(str(case.option("file-total-size",
                                                FILEIO_DEFAULTS["file-total-size"])))
    block = sysbench.parse_size(str(case.option("file-block-size",
                                                FILEIO_DEFAULTS["file-block-size"])))
    if num < 1 or block < 1:
        raise PlatformError("fileio: --file-num and --file-block-size must be positive")
    stride = -(-(total // num) // block) * block
    need = num * stride + LAYOUT_BYTES
    return -(-need // (1 << 20)) << 20


def direct(case):
    """Whether a fileio case asks for O_DIRECT (--file-extra-flags=...direct...)."""
    return "direct" in str(case.option("file-extra-flags", "")).split(",")


def skip_fileio(platform, case):
    """Why a guest platform does not run a fileio case, or None: the guest's
    disks are raw (vmm refuses qcow2; qemu-guest is kept alike)."""
    if case.spec.needs_disk and case.disk_format() != "raw":
        return (f"{platform}: the guest's fileio takes raw disks only "
                f"(disk-format={case.disk_format()})")
    return None


def new_raw_disk(case, directory):
    """A fresh sparse raw image for a fileio case, in `directory`."""
    handle, path = tempfile.mkstemp(prefix="fileio-", suffix=".raw", dir=directory)
    try:
        os.ftruncate(handle, raw_disk_bytes(case))
    finally:
        os.close(handle)
    return Path(path)


def read_result(platform, case, out, status):
    """The guest's VMBENCH-RESULT object, once its text report and its status
    agree (a test of sysbench's; the guest's own tests, spec.sysbench False,
    print no report: their one result line is checked alone); PlatformError
    saying what went wrong otherwise."""
    if status != 0:
        last = [line for line in out.splitlines() if line.strip()][-3:]
        raise PlatformError(f"{platform}: the guest ended with status {status}: "
                            + " / ".join(last))
    try:
        if case.spec.sysbench:
            _, record = results.check_guest_output(out)
        else:
            found = results.result_lines(out)
            if len(found) != 1:
                raise results.ResultError(f"expected one VMBENCH-RESULT line, found {len(found)}")
            record = found[0]
    except ValueError as e:
        raise PlatformError(f"{platform}: {e}") from None
    if record.get("test") != case.test:
        raise PlatformError(f"{platform}: asked for {case.test}, the guest ran "
                            f"{record.get('test')!r}")
    if record["env"]["vcpus"] != case.vcpus:
        raise PlatformError(f"{platform}: asked for {case.vcpus} vCPUs, the guest has "
                            f"{record['env']['vcpus']}")
    record["platform"] = platform
    return record


def check_prepared(platform, case, step, out, status):
    """A boot that ran a step before the measured one (`fileio ... prepare`):
    status 0, else its last lines."""
    if status != 0:
        last = [line for line in out.splitlines() if line.strip()][-3:]
        raise PlatformError(f"{platform}: the guest's {case.test} {step} ended with status "
                            f"{status}: " + " / ".join(last))


def check_products():
    if not GUEST.exists():
        raise PlatformError(f"{GUEST} is missing: run make")
