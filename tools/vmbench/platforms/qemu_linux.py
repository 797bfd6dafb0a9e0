"""qemu-linux: sysbench in a full Linux VM under QEMU, KVM or TCG.

The VM is Debian's own kernel (linux-image-amd64, fetched and unpacked by
tools/vmbench/linuxvm/, never installed) with an initramfs that this module
builds once per kernel and sysbench version and keeps under
build/cache/qemu-linux/: busybox, /usr/bin/sysbench with every library ldd
lists (LuaJIT, libc, the client libraries of MySQL and PostgreSQL ...), and a
script that prints what the guest kernel sees (vCPUs, RAM, CPU model) and then
runs the shell command passed on the kernel command line (`vmbench.cmd=`,
base64).  With a disk (raw or qcow2) the image also holds the virtio-blk and
ext4 modules, and the command mounts the disk at /mnt/disk first.

Each run boots its own VM (linuxvm.run): QEMU -smp VCPUS -m MEM, the console
on a serial line, `panic=-1` with `-no-reboot` so that a panic ends the run.
QEMU is asked over QMP which accelerator it really runs with, and a run whose
accelerator is not the one recorded is refused: TCG is never labelled KVM.
Why one boot per run rather than one long-lived VM per shape (linuxvm.Session):
see docs/qemu-linux.md ("One boot per run").

    platform = QemuLinuxPlatform(accel="auto", disk_format="qcow2")
    platform.prepare(cases)          # image built or reused, one check boot per shape
    record = platform.run(case)      # vmbench.result/1, env says what the VM was
    platform.close()                 # deletes the temporary disks
"""

import base64
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from vmbench.platforms.base import Platform, PlatformError
from vmbench.platforms.registry import ACCEL, register

from vmbench import linuxvm, specs, sysbench

NAME = "qemu-linux"
QEMU = linuxvm.QEMU
QEMU_IMG = "qemu-img"
SYSBENCH = Path("/usr/bin/sysbench")
ACCELS = ("auto", "kvm", "tcg")
DISK_FORMATS = ("raw", "qcow2")
# The disk: virtio-blk (linuxvm.DISK_MODULES) with an ext4 file system made on
# the host.  ext4 and jbd2 ask the crypto API for crc32c, which modules.dep
# does not list and no modprobe could load in the VM: name it.
DISK_MODULES = (*linuxvm.DISK_MODULES, "ext4", "crc32c_generic")
DISK_DEVICE = "/dev/vda"
DISK_MOUNT = "/mnt/disk"
DEFAULT_DISK_MIB = 1024
CMD_PARAM = "vmbench.cmd"
GUEST_MARK = "VMBENCH-GUEST"
OUTPUT_MARK = "VMBENCH-OUTPUT-BEGIN"
# x86's COMMAND_LINE_SIZE is 2048, linuxvm's own arguments included.
MAX_CMD_PARAM = 1800
# Bump when the image's recipe changes in a way its inputs below do not show.
IMAGE_RECIPE = 1

# The script every image runs (as linuxvm's /init script): what the guest
# kernel sees, then the command from the kernel command line.  Its output is
# the console, so kernel messages are kept off it: only emergencies (a panic)
# may still cut in, and those end the run anyway.
GUEST_SCRIPT = f"""\
echo 1 > /proc/sys/kernel/printk
read -r uptime _ < /proc/uptime
echo "{GUEST_MARK} uptime_s=$uptime"
echo "{GUEST_MARK} nproc=$(nproc)"
echo "{GUEST_MARK} mem_total_kib=$(sed -n 's/^MemTotal: *\\([0-9]*\\) kB$/\\1/p' /proc/meminfo)"
ram=0
for entry in /sys/firmware/memmap/*; do
  if [ "$(cat "$entry/type")" = "System RAM" ]; then
    ram=$(( ram + $(cat "$entry/end") - $(cat "$entry/start") + 1 ))
  fi
done
echo "{GUEST_MARK} ram_bytes=$ram"
echo "{GUEST_MARK} kernel=$(uname -r)"
echo "{GUEST_MARK} cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
command=
set -f
for arg in $(cat /proc/cmdline); do
  case $arg in {CMD_PARAM}=*) command=${{arg#{CMD_PARAM}=}};; esac
done
[ -n "$command" ] || {{ echo "vmbench: no {CMD_PARAM}= on the kernel command line"; exit 125; }}
echo "$command" | base64 -d > /tmp/vmbench-command 2>/dev/null \\
  || {{ echo "vmbench: {CMD_PARAM}= is not base64"; exit 125; }}
echo {OUTPUT_MARK}
exec sh /tmp/vmbench-command 2>&1
"""


class QemuLinuxPlatform(Platform):
    """sysbench in a Debian Linux VM under QEMU; see the module's docstring.

    accel: "kvm", "tcg" or "auto" (KVM when QEMU can use /dev/kvm to run
    Linux, else TCG, and environment() says why).  disk_format: None, "raw"
    or "qcow2": each run gets a fresh image of that format (qemu-img) with an
    ext4 file system, attached as virtio-blk and mounted at /mnt/disk, where
    sysbench runs.  cpu: QEMU's -cpu (default "host" under KVM, "max" under
    TCG).  disk_size_mib: the image's size (sparse; default 1 GiB, more for a
    fileio test that needs it).  disk_cache: QEMU's cache= for the disk
    (default: QEMU's, writeback).  cache_dir: where the kernel and images are
    kept (default build/cache).  console: a text file that gets each VM's
    console lines as they come (sys.stderr to watch)."""

    name = NAME

    def __init__(self, accel="auto", disk_format=None, *, cpu=None, disk_size_mib=None,
                 disk_cache=None, cache_dir=None, boot_timeout=120, console=None):
        if accel not in ACCELS:
            raise PlatformError(f"{NAME}: accel {accel!r}: expected one of {', '.join(ACCELS)}")
        if disk_format not in (None, *DISK_FORMATS):
            raise PlatformError(f"{NAME}: disk format {disk_format!r}: expected raw or qcow2")
        if cpu is not None and not re.fullmatch(r"[\w.+=,-]+", cpu):
            raise PlatformError(f"{NAME}: cpu model {cpu!r} is not a QEMU -cpu value")
        if disk_cache is not None and disk_cache not in (
                "none", "writeback", "writethrough", "directsync", "unsafe"):
            raise PlatformError(f"{NAME}: disk cache mode {disk_cache!r} is not one of QEMU's")
        self.asked = accel
        self.disk_format = disk_format
        self.disk_size_mib = disk_size_mib
        self.disk_cache = disk_cache
        self.cache_dir = Path(cache_dir) if cache_dir else linuxvm.default_cache_dir()
        self.boot_timeout = boot_timeout
        self.console = console
        self._cpu_asked = cpu
        self.accel = None          # chosen at prepare(); every boot checks QEMU used it
        self.why = None            # how "auto" decided, or why KVM was not usable
        self.cpu = None
        self.kernel = None
        self.initrd = None
        self.sysbench_version = None
        self.qemu_version = None
        self.checked = {}          # (vcpus, mem_mib) -> the guest's view at the check boot
        self._scratch = None
        self._disk_modules = bool(disk_format)   # the image with virtio-blk and ext4

    # --- Platform -----------------------------------------------------------

    def prepare(self, cases):
        cases = list(cases)
        for case in cases:
            self._check_case(case)
        self._disk_modules = bool(self.disk_format) or any(self._disk_format(c) for c in cases)
        self.accel, self.why = self._choose_accel()
        self.cpu = self._cpu_asked or ("host" if self.accel == "kvm" else "max")
        self.qemu_version = qemu_version()
        self.sysbench_version = sysbench_package_version()
        try:
            self.kernel = linuxvm.kernel(self.cache_dir)
            self.initrd = self._image()
        except linuxvm.LinuxVMError as error:
            raise PlatformError(f"{NAME}: {error}") from None
        if self._disk_modules:
            for tool, package in ((QEMU_IMG, "qemu-utils"), ("mke2fs", "e2fsprogs")):
                if not _which(tool):
                    raise PlatformError(f"{NAME}: {tool} not found (Debian package {package}): "
                                        f"it makes the VM's disk images")
        shapes = list(dict.fromkeys((case.vcpus, case.mem_mib) for case in cases)) or [(1, 1024)]
        for vcpus, mem_mib in shapes:
            guest, report = self._boot(vcpus, mem_mib, "sysbench --version", None,
                                       timeout=self.boot_timeout, what="the check boot")
            if not re.search(r"^sysbench \d", report, re.M):
                raise PlatformError(f"{NAME}: sysbench --version in the VM printed "
                                    f"{_one_line(report)!r}")
            self.checked[(vcpus, mem_mib)] = guest

    def environment(self):
        env = {"accelerator": self.accel or f"{self.asked} (not prepared)",
               "limits": "the VM's vCPUs and RAM", "pinning": "none", "asked": self.asked}
        if self.why:
            env["why_not_kvm" if self.accel == "tcg" else "why_kvm"] = self.why
        env.update(qemu=self.qemu_version, cpu=self.cpu, sysbench=self.sysbench_version,
                   disk_format=self.disk_format)
        if self.kernel:
            env.update(kernel=self.kernel.version,
                       kernel_package=f"{self.kernel.package} {self.kernel.package_version}",
                       boot_image="vmlinux (PVH entry)" if self.kernel.vmlinux else "bzImage",
                       initramfs=str(self.initrd))
        if self._disk_modules:
            env["disk_cache"] = self.disk_cache or ("writeback (QEMU's default); none (O_DIRECT) "
                                                    "for fileio cases with "
                                                    "--file-extra-flags=direct")
        return env

    def run(self, case):
        if self.initrd is None:
            raise PlatformError(f"{NAME}: prepare() must run before run()")
        self._check_case(case)
        args = " ".join(shlex.quote(arg) for arg in case.sysbench_args())
        # The commands before the last (fileio's prepare: its files, made on
        # the VM's disk) are not measured; only the last one's output is read.
        *setup, measured = case.spec.commands
        command = "".join(
            f"sysbench {case.test} {args} {step} >/tmp/{step}.out 2>&1 || "
            f"{{ cat /tmp/{step}.out; echo 'vmbench: sysbench {case.test} {step} failed'; "
            f"exit 1; }}\nsync\n" for step in setup) + f"sysbench {case.test} {args} {measured}"
        guest, report = self._boot(case.vcpus, case.mem_mib, command, case,
                                   timeout=self.boot_timeout + _sysbench_budget(case),
                                   what=f"sysbench {case.test}")
        try:
            record = sysbench.parse_report(report)
        except sysbench.SysbenchParseError as error:
            raise PlatformError(f"{NAME}: {case.label()}: {error}; "
                                f"{_last_lines(report)}") from None
        for name, value in case.options:
            record["options"].setdefault(name, value)
        record["platform"] = NAME
        record["env"] = {
            "vcpus": case.vcpus, "mem_mib": case.mem_mib, "accel": guest["accel"],
            "cpu": self.cpu, "cpu_model": guest.get("cpu_model"),
            "kernel": guest.get("kernel"),
            "kernel_package": f"{self.kernel.package} {self.kernel.package_version}",
            "qemu": self.qemu_version,
            "guest_nproc": guest["nproc"], "guest_mem_total_mib": guest["mem_total_mib"],
            "guest_ram_mib": guest["ram_mib"],
            "boot_s": guest.get("uptime_s"), "vm_wall_s": guest["wall_s"],
        }
        disk_format = self._disk_format(case)
        if disk_format:
            record["env"].update(disk_format=disk_format, disk_mib=guest.get("disk_mib"),
                                 disk_cache=self._disk_cache(case) or "writeback",
                                 disk_fs="ext4")
        return record

    def close(self):
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # --- the accelerator ----------------------------------------------------

    def _choose_accel(self):
        if self.asked == "tcg":
            return "tcg", None
        usable, why = kvm_usable()
        if usable:
            return "kvm", why
        if self.asked == "kvm":
            raise PlatformError(f"{NAME}: accel=kvm asked, but KVM cannot run this VM here: "
                                f"{why} (use accel=tcg, or auto)")
        return "tcg", why

    # --- the image ----------------------------------------------------------

    def _image(self):
        """The initramfs for this kernel and sysbench, built once and kept."""
        modules = DISK_MODULES if self._disk_modules else ()
        recipe = hashlib.sha256(repr((IMAGE_RECIPE, GUEST_SCRIPT, modules,
                                      [p.read_bytes() for p in sorted(Path(linuxvm.__file__)
                                                                      .parent.glob("*.py"))],
                                      _file_identity(SYSBENCH), _file_identity(linuxvm.BUSYBOX)))
                                .encode()).hexdigest()[:12]
        name = (f"{self.kernel.version}_{self.kernel.package_version}"
                f"-sysbench_{self.sysbench_version}")
        path = (self.cache_dir / NAME / name /
                f"initramfs-{'disk' if modules else 'nodisk'}-{recipe}.cpio")
        if not path.exists():
            # build_initramfs writes a temporary file and renames it: concurrent
            # builders do not see half an image.
            linuxvm.build_initramfs(path, self.kernel, modules=modules, binaries=[SYSBENCH],
                                    init_script=GUEST_SCRIPT)
        return path

    # --- one VM -------------------------------------------------------------

    def _boot(self, vcpus, mem_mib, command, case, *, timeout, what):
        """Boots a VM that runs `command` (shell) and returns (the guest's view,
        the command's output); everything that went wrong is a PlatformError."""
        label = case.label() if case else f"{vcpus} vCPU, {mem_mib} MiB"
        disk_format = self._disk_format(case) if case else self.disk_format
        disk = self._new_disk(case, disk_format) if disk_format else None
        if disk:
            command = (f"mkdir -p {DISK_MOUNT} && mount -t ext4 {DISK_DEVICE} {DISK_MOUNT} || "
                       f"{{ echo 'vmbench: cannot mount {DISK_DEVICE} (ext4) on {DISK_MOUNT}'; "
                       f"exit 125; }}\n"
                       f'echo "{GUEST_MARK} disk_bytes=$(blockdev --getsize64 {DISK_DEVICE})"\n'
                       f"cd {DISK_MOUNT}\n{command}")
        encoded = base64.b64encode(command.encode()).decode()
        if len(encoded) > MAX_CMD_PARAM:
            raise PlatformError(f"{NAME}: {label}: the command is too long for the kernel "
                                f"command line ({len(encoded)} base64 characters)")
        qemu_args = []
        if disk:
            mode = self._disk_cache(case)
            cache = f",cache={mode}" if mode else ""
            qemu_args = ["-drive", f"file={_qemu_path(disk)},format={disk_format},"
                                   f"if=virtio{cache}"]
        try:
            result = linuxvm.run(self.kernel, self.initrd, accel=self.accel, cpu=self.cpu,
                                 smp=vcpus, mem=f"{mem_mib}M",
                                 append_extra=f"{CMD_PARAM}={encoded}", qemu_args=qemu_args,
                                 timeout=timeout, stream=self.console)
        except linuxvm.LinuxVMError as error:
            hint = ""
            if self.accel == "kvm":
                hint = f" (KVM: {self.why})"
            raise PlatformError(f"{NAME}: {label}: {error}{hint}") from None
        finally:
            if disk:
                disk.unlink(missing_ok=True)
        if result.accel_used != self.accel:
            raise PlatformError(f"{NAME}: {label}: QEMU ran the VM with {result.accel_used} "
                                f"although {self.accel} was asked; refusing to record it")
        if result.status is None:
            # linuxvm's reason, with the console lines that tell it, ours left out.
            why = re.split(r"; (?:last console lines:|the console stayed empty)",
                           result.failure)[0]
            console = "\n".join(line for line in result.output.splitlines()
                                if not line.startswith((GUEST_MARK, OUTPUT_MARK)))
            if console.strip() or OUTPUT_MARK not in result.output:
                said = _one_line_excerpt(linuxvm.console_excerpt(console, 8))
            else:
                said = f"the VM booted, {what} printed nothing"
            raise PlatformError(f"{NAME}: {label}: {why}; {said}")
        guest, report = parse_console(result.output)
        guest["accel"] = result.accel_used
        guest["wall_s"] = round(result.wall_s, 3)
        if result.status != 0:
            fatal = next((line.strip() for line in report.splitlines()
                          if line.strip().startswith("FATAL:")), None)
            said = fatal or next((line.strip() for line in report.splitlines()
                                  if line.startswith("vmbench: ")), None)
            raise PlatformError(f"{NAME}: {label}: {what} failed in the VM "
                                f"(status {result.status})" + (f": {said}" if said else "")
                                + f"; {_last_lines(report)}")
        problem = shape_mismatch(guest, vcpus, mem_mib)
        if problem:
            raise PlatformError(f"{NAME}: {label}: the VM is not the shape asked for: {problem}")
        return guest, report

    def _disk_format(self, case):
        """The disk image format of a case: fileio's "disk-format" option
        (the matrix's "disks"), else the platform's disk_format (or None)."""
        if case is not None and case.spec.needs_disk:
            return case.option("disk-format") or self.disk_format or "raw"
        return self.disk_format

    def _disk_cache(self, case):
        """QEMU's cache= for a case's disk: disk_cache when given; else
        "none" (O_DIRECT on the host too) for fileio with
        --file-extra-flags=direct, so that the host's page cache is not in
        a path the guest asked to bypass; else QEMU's default (None)."""
        if self.disk_cache:
            return self.disk_cache
        if case is not None and case.spec.needs_disk and \
                "direct" in str(case.option("file-extra-flags", "")).split(","):
            return "none"
        return None

    def _new_disk(self, case, disk_format):
        """A fresh disk image of the chosen format with an empty ext4 file system."""
        if self._scratch is None:
            base = self.cache_dir / NAME / "disks"
            base.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix="run-", dir=base))
        size_mib = self.disk_size_mib or DEFAULT_DISK_MIB
        if case is not None and case.spec.needs_disk:
            total = sysbench.parse_size(str(case.option("file-total-size", "2G"))) >> 20
            size_mib = max(size_mib, total + total // 4 + 256)
        handle, raw = tempfile.mkstemp(suffix=".raw", dir=self._scratch)
        os.close(handle)
        raw = Path(raw)
        try:
            _tool([QEMU_IMG, "create", "-q", "-f", "raw", raw, f"{size_mib}M"])
            # Inode tables and journal written now, not by ext4lazyinit in the VM
            # while sysbench runs; on the sparse file those zeros cost nothing.
            _tool([_which("mke2fs") or "mke2fs", "-q", "-F", "-t", "ext4", "-L", "vmbench",
                   "-E", "lazy_itable_init=0,lazy_journal_init=0", raw])
            if disk_format == "raw":
                return raw
            image = raw.with_suffix(".qcow2")
            _tool([QEMU_IMG, "convert", "-f", "raw", "-O", "qcow2", raw, image])
            return image
        finally:
            if disk_format != "raw":
                raw.unlink(missing_ok=True)

    def _check_case(self, case):
        if case.test not in specs.TESTS:
            raise PlatformError(f"{NAME}: test {case.test!r}: expected one of "
                                f"{', '.join(specs.NAMES)}")
        if case.spec.needs_disk and self._disk_format(case) not in DISK_FORMATS:
            raise PlatformError(f"{NAME}: {case.test} disk format {self._disk_format(case)!r}: "
                                f"expected raw or qcow2")
        if case.vcpus < 1 or case.mem_mib < 128:
            raise PlatformError(f"{NAME}: {case.label()}: needs at least 1 vCPU and 128 MiB")


# --- what the guest printed -------------------------------------------------

def parse_console(output):
    """(the guest's view, the command's output) from a VM's console: the
    `VMBENCH-GUEST key=value` lines, and what follows the output marker up to
    linuxvm's status line (without the guest lines)."""
    guest, report, inside = {}, [], False
    for line in output.splitlines():
        if line.startswith(GUEST_MARK + " "):
            key, _, value = line[len(GUEST_MARK) + 1:].partition("=")
            guest[key] = value.strip()
        elif line.startswith(linuxvm.EXIT_MARKER):
            inside = False
        elif line.strip() == OUTPUT_MARK:
            inside = True
        elif inside:
            report.append(line)
    view = {}
    for key, number in (("nproc", int), ("mem_total_kib", int), ("ram_bytes", int),
                        ("uptime_s", float), ("disk_bytes", int)):
        try:
            view[key] = number(guest[key])
        except (KeyError, ValueError):
            view[key] = None
    view["kernel"] = guest.get("kernel")
    view["cpu_model"] = guest.get("cpu_model")
    view["mem_total_mib"] = view["mem_total_kib"] // 1024 if view["mem_total_kib"] else None
    view["ram_mib"] = -(-view["ram_bytes"] // (1 << 20)) if view["ram_bytes"] else None
    view["disk_mib"] = view["disk_bytes"] >> 20 if view["disk_bytes"] else None
    return view, "\n".join(report) + "\n"


def shape_mismatch(guest, vcpus, mem_mib):
    """Why the guest's view does not match the shape asked for, or None.

    vCPUs: nproc must be exactly vcpus.  Memory: the RAM in the firmware's map
    (what QEMU gave; QEMU keeps about 0.5 MiB below 1 MiB and 128 KiB under
    the top) must be within 1 % of mem_mib, and MemTotal (what the kernel
    manages after its own image and page tables: 94 % of 1 GiB, 96 % of
    2 GiB here) at most mem_mib and at least mem_mib less 96 MiB and 5 %."""
    if guest["nproc"] != vcpus:
        return f"nproc says {guest['nproc']}, not {vcpus}"
    ram, total = guest["ram_mib"], guest["mem_total_mib"]
    if ram is None or total is None:
        return "the guest did not report its memory"
    if abs(ram - mem_mib) > max(2, mem_mib // 100):
        return f"the firmware map shows {ram} MiB of RAM, not {mem_mib}"
    if not mem_mib - 96 - mem_mib // 20 <= total <= mem_mib:
        return f"MemTotal is {total} MiB for {mem_mib} MiB of RAM"
    return None


# --- the host ---------------------------------------------------------------

def kvm_usable():
    """(True, how) when QEMU can run a Linux VM with KVM here, else (False, why)."""
    device = Path("/dev/kvm")
    if not device.exists():
        loaded = sorted(m for m in ("kvm_amd", "kvm_intel", "kvm_pvm")
                        if Path("/sys/module", m).exists())
        detail = (f"modules loaded: {', '.join(loaded)}" if loaded else "no kvm_amd or kvm_intel "
                  "module loaded: no hardware virtualization offered, or not enabled")
        return False, f"/dev/kvm does not exist ({detail})"
    try:
        os.close(os.open(device, os.O_RDWR | os.O_CLOEXEC))
    except OSError as error:
        return False, f"/dev/kvm cannot be opened: {error.strerror} (group kvm?)"
    if (Path("/sys/module/kvm_pvm").exists() and not Path("/sys/module/kvm_amd").exists()
            and not Path("/sys/module/kvm_intel").exists()):
        # docs/platforms.md: with kvm-pvm guest ring 0 is emulated instruction by
        # instruction, and a Linux kernel never finishes booting.
        return False, ("/dev/kvm is kvm-pvm (no hardware virtualization: guest ring 0 "
                       "is emulated, and a Linux kernel does not finish booting under it)")
    try:
        done = subprocess.run([QEMU, "-accel", "kvm", "-machine", "none", "-nodefaults",
                               "-no-user-config", "-display", "none", "-monitor", "stdio"],
                              input="quit\n", capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise PlatformError(f"{NAME}: {QEMU} not found (Debian package qemu-system-x86)") from None
    except subprocess.TimeoutExpired:
        return False, f"{QEMU} -accel kvm did not start within 60 s"
    if done.returncode != 0:
        return False, f"{QEMU} -accel kvm fails: {_one_line(done.stderr.strip().splitlines()[-1:])}"
    return True, "QEMU initializes KVM on /dev/kvm"


def qemu_version():
    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise PlatformError(f"{NAME}: {QEMU} not found (Debian package qemu-system-x86)") from None
    found = re.search(r"version (\S+(?: \([^)]*\))?)", out)
    return found.group(1) if found else _one_line(out)


def sysbench_package_version():
    """Debian's version of the sysbench package that provides /usr/bin/sysbench."""
    if not SYSBENCH.is_file():
        raise PlatformError(f"{NAME}: {SYSBENCH} not found: install the Debian package sysbench "
                            f"(the VM gets the host's binary and libraries)")
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "sysbench"],
                          capture_output=True, text=True)
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip()
    out = subprocess.run([SYSBENCH, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"sysbench (\S+)", out)
    return found.group(1) if found else "unknown"


# --- helpers ----------------------------------------------------------------

def _sysbench_budget(case):
    """Seconds a case may take in the VM once booted: its --time, three times
    over (TCG), and its spec's setup_s for fileio's prepare; --time=0 (events only): an hour."""
    seconds = int(case.option("time", 10) or 0)
    budget = 3 * seconds + 60 if seconds else 3600
    return budget + case.spec.setup_s


def _file_identity(path):
    try:
        stat = Path(path).stat()
        return (str(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return (str(path), None)


def _tool(argv):
    try:
        done = subprocess.run([str(arg) for arg in argv], capture_output=True, text=True)
    except FileNotFoundError:
        raise PlatformError(f"{NAME}: {argv[0]} not found") from None
    if done.returncode != 0:
        raise PlatformError(f"{NAME}: {' '.join(map(str, argv))} failed: "
                            f"{_one_line(done.stderr.strip().splitlines()[-1:])}")


def _which(tool):
    """A tool's path, looked up in /usr/sbin and /sbin too (not on every user's PATH)."""
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")


def _qemu_path(path):
    return str(path).replace(",", ",,")


def _one_line(text):
    if isinstance(text, list):
        text = " ".join(text)
    return " ".join(str(text).split()) or "(nothing)"


def _one_line_excerpt(excerpt):
    """linuxvm.console_excerpt() on one line: the platform's errors are one line."""
    head, _, lines = excerpt.partition("\n")
    return head + (" " + " | ".join(line.strip() for line in lines.splitlines()) if lines else "")


def _last_lines(text, count=6):
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no output"
    return "last lines: " + " | ".join(lines[-count:])


register(NAME, lambda options: QemuLinuxPlatform(accel=options.accel), options=[ACCEL])
