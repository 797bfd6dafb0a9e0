"""Tests of tools/vmbench/linuxvm/ and tools/linuxvm (python3 -m unittest).

The last classes boot real VMs (Debian's kernel under QEMU TCG, most with
nested KVM); the first run downloads the kernel into the cache (about 10 s)."""

import dataclasses
import lzma
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[2]
from vmbench import linuxvm


@dataclasses.dataclass
class CpioEntry:
    name: str
    mode: int
    nlink: int
    rdev: "tuple[int, int]"
    data: bytes


def read_newc(archive: bytes) -> "list[CpioEntry]":
    """An independent reader of newc archives, strict about what the kernel needs."""
    entries, pos = [], 0
    while True:
        assert archive[pos:pos + 6] == b"070701", f"bad magic at {pos}"
        fields = [int(archive[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        size, namesize = fields[6], fields[11]
        name_end = pos + 110 + namesize
        assert archive[name_end - 1] == 0, "name not NUL-terminated"
        name = archive[pos + 110:name_end - 1].decode()
        pos = (name_end + 3) & ~3
        data = archive[pos:pos + size]
        pos = (pos + size + 3) & ~3
        if name == "TRAILER!!!":
            assert pos == len(archive), "bytes after the trailer"
            return entries
        entries.append(CpioEntry(name, fields[1], fields[4], (fields[9], fields[10]), data))


def fake_elf(with_pvh_note: bool) -> bytes:
    """A minimal ELF64 whose only program header is a PT_NOTE with one Xen note."""
    note_type = 18 if with_pvh_note else 17
    note = struct.pack("<III", 4, 4, note_type) + b"Xen\0" + b"\x00\x00\x00\x01"
    header = (b"\x7fELF\x02\x01\x01" + b"\0" * 9
              + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0, 64, 0, 0, 64, 56, 1, 0, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 4, 4, 120, 0, 0, len(note), len(note), 4)
    return header + phdr + note


class ClockJump:
    """Stands in for linuxvm's `time` module and is the console stream of a run():
    the clock is the real one until a console line contains `text`, then it jumps
    `by` seconds ahead.  A timeout then expires right after the VM has printed the
    line, because of that line, however long this machine took to boot it."""

    def __init__(self, text: str, by: float):
        self.text, self.by, self.jumped = text, by, 0.0
        self.sleep = time.sleep

    def monotonic(self) -> float:
        return time.monotonic() + self.jumped

    def write(self, line: str) -> None:
        if self.text in line:
            self.jumped = self.by

    def flush(self) -> None:
        pass


class NewcArchiveTest(unittest.TestCase):
    def build(self) -> bytes:
        archive = linuxvm.NewcArchive()
        archive.file("/usr/local/bin/tool", b"abcde", 0o755)
        archive.symlink("/bin/sh", "busybox")
        archive.char_device("/dev/console", 5, 1)
        archive.directory("/tmp", 0o1777)
        return archive.getvalue()

    def test_entries_read_back_with_parents_first(self):
        entries = {entry.name: entry for entry in read_newc(self.build())}
        names = [entry.name for entry in read_newc(self.build())]
        self.assertEqual(names, ["usr", "usr/local", "usr/local/bin", "usr/local/bin/tool",
                                 "bin", "bin/sh", "dev", "dev/console", "tmp"])
        self.assertEqual(entries["usr/local/bin/tool"].data, b"abcde")
        self.assertEqual(entries["usr/local/bin/tool"].mode, 0o100755)
        self.assertEqual(entries["bin/sh"].mode, 0o120777)
        self.assertEqual(entries["bin/sh"].data, b"busybox")
        self.assertEqual(entries["dev/console"].mode, 0o020600)
        self.assertEqual(entries["dev/console"].rdev, (5, 1))
        self.assertEqual(entries["tmp"].mode, 0o041777)
        self.assertEqual(entries["usr"].nlink, 2)

    def test_same_input_gives_same_bytes(self):
        self.assertEqual(self.build(), self.build())

    def test_adding_a_path_twice_is_an_error(self):
        archive = linuxvm.NewcArchive()
        archive.file("/etc/x", b"1")
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "/etc/x is added to the initramfs twice"):
            archive.symlink("etc//x", "y")

    @unittest.skipUnless(shutil.which("cpio"), "GNU cpio not installed")
    def test_gnu_cpio_reads_it(self):
        listing = subprocess.run(["cpio", "-itv", "--quiet"], input=self.build(),
                                 capture_output=True, check=True).stdout.decode()
        self.assertIn("bin/sh -> busybox", listing)
        self.assertRegex(listing, r"(?m)^-rwxr-xr-x .* 5 .*usr/local/bin/tool$")
        self.assertRegex(listing, r"(?m)^crw------- .* 5, +1 .*dev/console$")


MODULES_DEP = """\
kernel/virt/lib/irqbypass.ko:
kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko
kernel/arch/x86/kvm/kvm-amd.ko.xz: kernel/drivers/crypto/ccp/ccp.ko kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko
kernel/arch/x86/kvm/kvm-intel.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko
kernel/drivers/crypto/ccp/ccp.ko:
kernel/drivers/virtio/virtio.ko:
"""
BUILTIN = "kernel/drivers/block/loop.ko\n"


class ModulesTest(unittest.TestCase):
    def test_dependencies_load_first_and_once(self):
        deps = linuxvm.parse_modules_dep(MODULES_DEP)
        order = linuxvm.module_load_order(deps, ["kvm-intel", "kvm_amd"])
        self.assertEqual(order, ["kernel/virt/lib/irqbypass.ko", "kernel/arch/x86/kvm/kvm.ko",
                                 "kernel/arch/x86/kvm/kvm-intel.ko", "kernel/drivers/crypto/ccp/ccp.ko",
                                 "kernel/arch/x86/kvm/kvm-amd.ko.xz"])

    def test_builtin_modules_are_skipped_and_unknown_ones_refused(self):
        deps = linuxvm.parse_modules_dep(MODULES_DEP)
        self.assertEqual(linuxvm.module_load_order(deps, ["loop", "virtio"], BUILTIN.split()),
                         ["kernel/drivers/virtio/virtio.ko"])
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "kernel module nosuch is neither"):
            linuxvm.module_load_order(deps, ["nosuch"], BUILTIN.split())

    def test_module_names_use_underscores(self):
        self.assertEqual(linuxvm.module_name("kernel/arch/x86/kvm/kvm-amd.ko.zst"), "kvm_amd")
        self.assertEqual(linuxvm.module_name("kernel/net/9p/9pnet_virtio.ko"), "9pnet_virtio")


LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd5c1f2000)
\tlibselinux.so.1 => /lib/x86_64-linux-gnu/libselinux.so.1 (0x00007f6a8c5e1000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6a8c400000)
\tlinux-gate.so.1 =>  (0x00007f6a8c3f0000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f6a8c64a000)
"""


class LddTest(unittest.TestCase):
    def test_libraries_and_interpreter(self):
        self.assertEqual(linuxvm.parse_ldd(LDD_OUTPUT),
                         ["/lib/x86_64-linux-gnu/libselinux.so.1", "/lib/x86_64-linux-gnu/libc.so.6",
                          "/lib64/ld-linux-x86-64.so.2"])

    def test_missing_library_is_an_error(self):
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "library libfoo.so.2 not found"):
            linuxvm.parse_ldd("\tlibfoo.so.2 => not found\n")


class MarkerTest(unittest.TestCase):
    def test_last_status_line_counts(self):
        output = ("LINUXVM-EXIT 0 is what the script printed\nLINUXVM-EXIT 9\nx\n"
                  "LINUXVM-EXIT 42\n[ 2.1] reboot: Power down")
        self.assertEqual(linuxvm.parse_markers(output), (42, None))

    def test_init_error_and_no_marker(self):
        self.assertEqual(linuxvm.parse_markers("a\nLINUXVM-ERROR insmod kvm failed\n"),
                         (None, "insmod kvm failed"))
        self.assertEqual(linuxvm.parse_markers("Kernel panic - not syncing\n"), (None, None))

    def test_excerpt_shows_what_preceded_a_panic(self):
        cause = ["/init: line 3: syntax error", "Kernel panic - not syncing: x"]
        output = "\n".join(["boot"] * 30 + cause + ["trace"] * 30)
        self.assertEqual(linuxvm.console_excerpt(output, lines=2),
                         "last console lines:\n" + "\n".join(cause))
        self.assertEqual(linuxvm.console_excerpt(""), "the console stayed empty")


class VmlinuxTest(unittest.TestCase):
    def test_finds_the_elf_after_a_false_magic(self):
        elf = fake_elf(with_pvh_note=True)
        xz = lzma.compress(elf, format=lzma.FORMAT_XZ)
        bzimage = b"setup" + linuxvm.XZ_MAGIC + b"junk" + xz + b"\0" * 64
        self.assertEqual(linuxvm.extract_vmlinux(bzimage), elf)

    def test_refuses_an_elf_without_pvh_note_or_no_xz_at_all(self):
        bzimage = b"setup" + lzma.compress(fake_elf(with_pvh_note=False), format=lzma.FORMAT_XZ)
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "no PVH entry note"):
            linuxvm.extract_vmlinux(bzimage)
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "no XZ-compressed ELF"):
            linuxvm.extract_vmlinux(b"setup" + b"\0" * 100)


class BuildInitramfsTest(unittest.TestCase):
    """build_initramfs on a fake kernel tree: the host's busybox and ls are real."""

    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="test-linuxvm-"))
        self.addCleanup(shutil.rmtree, self.work)
        modules_dir = self.work / "lib/modules/9.9.9-test"
        for line in MODULES_DEP.splitlines():
            path = modules_dir / line.partition(":")[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            content = f"module {path.name}".encode()
            path.write_bytes(lzma.compress(content) if path.suffix == ".xz" else content)
        (modules_dir / "modules.dep").write_text(MODULES_DEP)
        (modules_dir / "modules.builtin").write_text(BUILTIN)
        self.kernel = linuxvm.Kernel(version="9.9.9-test", package="linux-image-test",
                                     package_version="1", bzimage=self.work / "bzImage",
                                     vmlinux=None, modules_dir=modules_dir)
        (self.work / "data").mkdir()
        (self.work / "data" / "a.txt").write_text("payload")

    def test_contents(self):
        out = linuxvm.build_initramfs(self.work / "out" / "initrd", self.kernel, modules=["virtio"],
                                      binaries=[shutil.which("ls")], files=[(self.work / "data", "/srv/data")],
                                      init_script="echo hi\n", nested_kvm=True)
        entries = {entry.name: entry for entry in read_newc(out.read_bytes())}
        modules = "lib/modules/9.9.9-test/kernel/"
        self.assertEqual(entries[modules + "arch/x86/kvm/kvm-amd.ko"].data, b"module kvm-amd.ko.xz")
        self.assertEqual(entries["srv/data/a.txt"].data, b"payload")
        self.assertEqual(entries["linuxvm/script"].data, b"echo hi\n")
        self.assertEqual(entries["bin/busybox"].data, Path("/bin/busybox").read_bytes())
        self.assertEqual(entries["bin/sh"].data, b"busybox")
        self.assertTrue(entries["usr/local/bin/ls"].mode & 0o111)
        for library in linuxvm.shared_libraries(Path(shutil.which("ls"))):
            self.assertEqual(entries[library.lstrip("/")].data, Path(library).read_bytes())
        init = entries["init"].data.decode()
        self.assertLess(init.index("virtio.ko"), init.index("grep -qw svm"))
        amd = init[init.index("grep -qw svm"):init.index("grep -qw vmx")]
        self.assertLess(amd.index("irqbypass.ko"), amd.index("kvm/kvm.ko"))
        self.assertLess(amd.index("kvm/kvm.ko"), amd.index("kvm-amd.ko"))
        self.assertLess(amd.index("ccp.ko"), amd.index("kvm-amd.ko"))
        self.assertIn("[ -c /dev/kvm ] || fail", init)
        self.assertLess(init.index("sh /linuxvm/script"), init.index("LINUXVM-EXIT $?"))

    def test_libraries_of_adds_the_libraries_alone(self):
        ls = Path(shutil.which("ls"))
        out = linuxvm.build_initramfs(self.work / "initrd", self.kernel, libraries_of=[ls, ls])
        entries = {entry.name: entry for entry in read_newc(out.read_bytes())}
        self.assertNotIn("usr/local/bin/ls", entries)
        for library in linuxvm.shared_libraries(ls):
            self.assertEqual(entries[library.lstrip("/")].mode, 0o100755)

    def test_libraries_are_added_as_files_at_their_soname_paths(self):
        libz = linuxvm.find_library("libz.so.1")  # a symlink to libz.so.1.2.x on Debian
        out = linuxvm.build_initramfs(self.work / "initrd", self.kernel, libraries=[libz])
        entries = {entry.name: entry for entry in read_newc(out.read_bytes())}
        self.assertEqual(entries[str(libz).lstrip("/")].data, libz.read_bytes())
        self.assertEqual(entries[str(libz).lstrip("/")].mode, 0o100755)
        for library in linuxvm.shared_libraries(libz):
            self.assertIn(library.lstrip("/"), entries)

    def test_find_library(self):
        self.assertTrue(linuxvm.find_library("libc.so.6").is_file())
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "shared library libnosuch.so.7 not found"):
            linuxvm.find_library("libnosuch.so.7")


class CommandScriptTest(unittest.TestCase):
    def test_environment_then_exec_quoted(self):
        script = linuxvm._command_script(["/a b/vmm", "it's", "-x"], {"ASAN_OPTIONS": "a=1:b=2"})
        self.assertEqual(script, "export ASAN_OPTIONS=a=1:b=2\nexec -- '/a b/vmm' 'it'\"'\"'s' -x\n")

    def test_bad_variable_names_and_empty_commands_are_refused(self):
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "name 'A-B' is not valid"):
            linuxvm._command_script(["true"], {"A-B": "1"})
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "needs a command"):
            linuxvm._command_script([], {})


class EndToEndTest(unittest.TestCase):
    """Boots Debian's kernel under QEMU (TCG) with nested KVM, through the CLI."""

    def test_exec_has_dev_kvm_and_returns_the_commands_status(self):
        # Both limits only guard against a hang (the VM boots in seconds here):
        # generous, so that a slow or loaded machine does not fail the test.
        done = subprocess.run([str(REPO / "tools" / "linuxvm"), "exec", "--nested-kvm", "--timeout", "600",
                               "--", "sh", "-c", "ls -l /dev/kvm; exit 3"],
                              capture_output=True, text=True, timeout=900)
        self.assertEqual(done.returncode, 3, done.stderr)
        self.assertRegex(done.stdout, r"(?m)^crw.* 10, *232 .*/dev/kvm$")
        self.assertNotIn("LINUXVM-EXIT", done.stdout)

    def test_timeout_is_reported(self):
        # The timeout expires once the VM has said "waiting" (ClockJump), not after
        # a fixed time that a slow boot may use up before /init runs the script.
        timeout, sleep = 300, 3600
        kernel = linuxvm.kernel(os.environ.get("VMBENCH_CACHE") or REPO / "build" / "cache")
        clock = ClockJump("waiting", by=timeout)
        with tempfile.TemporaryDirectory() as work:
            initrd = linuxvm.build_initramfs(Path(work) / "initrd", kernel,
                                             init_script=f"echo waiting; sleep {sleep}\n")
            started = time.monotonic()
            with mock.patch.object(linuxvm.vm, "time", clock):
                result = linuxvm.run(kernel, initrd, timeout=timeout, stream=clock)
            elapsed = time.monotonic() - started
        self.assertTrue(clock.jumped, "the console never said waiting")
        self.assertTrue(result.timed_out)
        self.assertIsNone(result.status)
        self.assertEqual(result.accel_used, "tcg")
        self.assertEqual(result.failure.split(";")[0], f"timed out after {timeout} s")
        self.assertIn("waiting", result.failure)
        # QEMU was killed at the timeout, not waited for until the script ended.
        self.assertLess(elapsed, sleep)


class SessionTest(unittest.TestCase):
    """One nested-KVM VM for all the tests of this class, as the integration tests use it."""

    @classmethod
    def setUpClass(cls):
        # ls's libraries (libselinux, libpcre2...) are not in the VM unless binaries= asks.
        cls.ls = shutil.which("ls")
        cls.session = linuxvm.Session(binaries=[cls.ls], libraries=["libz.so.1"], smp=1, mem="1G")
        cls.addClassCleanup(cls.session.close)

    def run_in_vm(self, *argv, timeout=600, **kwargs):
        # The default timeout only guards against a hang: these commands take
        # milliseconds, but a loaded machine may run the VM slowly.
        return self.session.run(argv, timeout=timeout, **kwargs)

    def test_statuses_and_separate_streams(self):
        done = self.run_in_vm("sh", "-c", "echo out; echo err >&2; exit 3")
        self.assertEqual((done.returncode, done.stdout, done.stderr), (3, b"out\n", b"err\n"))
        self.assertEqual(done.args, ["sh", "-c", "echo out; echo err >&2; exit 3"])
        self.assertEqual(self.run_in_vm("true").returncode, 0)
        self.assertEqual(self.run_in_vm("sh", "-c", "exit 125").returncode, 125)
        self.assertEqual(self.run_in_vm("sh", "-c", "exit 124").returncode, 124)
        self.assertEqual(self.run_in_vm("sh", "-c", "kill -SEGV $$").returncode, 128 + 11)
        self.assertEqual(self.run_in_vm("no-such-command").returncode, 127)

    def test_timeout_kills_the_command_and_all_it_started(self):
        # The VM starts the command and its timeout together: a slow VM may not
        # have started the background sleep (and said so) by then.  That is no
        # failure; the next try doubles the timeout, until the command got there.
        # Were the sleeps not killed, run() would raise (no answer in time).
        for timeout in (1, 2, 4, 8, 16, 32, 64, 128):
            done = self.run_in_vm("sh", "-c", "sleep 3600 & echo started; sleep 3600", timeout=timeout)
            self.assertEqual(done.returncode, 124)
            self.assertEqual(done.stderr, f"linuxvm: timed out after {timeout} s: killed\n".encode())
            self.assertEqual(self.run_in_vm("sh", "-c", "ps -o args | grep -c '^sleep 3600$'").stdout,
                             b"0\n")
            if done.stdout:
                break
        self.assertEqual(done.stdout, b"started\n")

    def test_files_are_shared_both_ways_at_the_host_paths(self):
        scratch = Path(self.session.scratch_dir)
        self.assertTrue(scratch.is_relative_to(REPO))
        (scratch / "from-host").write_text("written on the host\n")
        done = self.run_in_vm("sh", "-c", "cat from-host; echo written in the VM > from-vm", cwd=scratch)
        self.assertEqual(done.stdout, b"written on the host\n")
        self.assertEqual((scratch / "from-vm").read_text(), "written in the VM\n")
        self.assertEqual(self.run_in_vm("cat", REPO / "tools" / "linuxvm").stdout,
                         (REPO / "tools" / "linuxvm").read_bytes())

    def test_environment_and_default_directory(self):
        done = self.run_in_vm("sh", "-c", 'pwd; echo "$GREETING"; echo "$PATH"', env={"GREETING": "it's a b"})
        self.assertEqual(done.stdout.decode(),
                         f"{REPO}\nit's a b\n/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin\n")

    def test_dev_kvm_works(self):
        self.assertEqual(self.run_in_vm("test", "-c", "/dev/kvm").returncode, 0)

    def test_binaries_from_the_share_find_their_libraries(self):
        copy = Path(self.session.scratch_dir) / "ls"
        shutil.copy(self.ls, copy)
        done = self.run_in_vm(copy, "-d", "/proc")
        self.assertEqual((done.returncode, done.stdout), (0, b"/proc\n"), done.stderr)
        self.assertEqual(self.run_in_vm("test", "-f", linuxvm.find_library("libz.so.1")).returncode, 0)

    def test_missing_directory_is_an_error(self):
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "cwd /no/such: no such directory in the VM"):
            self.run_in_vm("true", cwd="/no/such")


class SessionEndTest(unittest.TestCase):
    """A VM that dies or stops answering ends its session (each test boots its own)."""

    def session(self):
        session = linuxvm.Session(nested_kvm=False, smp=1, mem="512M")
        self.addCleanup(session.close)
        return session

    def test_a_panic_ends_the_session_and_close_is_final(self):
        session = self.session()
        with self.assertRaisesRegex(linuxvm.LinuxVMError, r"(?s)while running sh -c 'echo c > "
                                    r"/proc/sysrq-trigger': the kernel panicked; last console lines:.*"
                                    r"Kernel panic"):
            # 600 s: only against a hang; the panic comes at once.
            session.run(["sh", "-c", "echo c > /proc/sysrq-trigger"], timeout=600)
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "the kernel panicked"):
            session.run(["true"], timeout=600)
        session.close()
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "^the linuxvm session is closed$"):
            session.run(["true"], timeout=600)
        self.assertFalse(Path(session.scratch_dir).exists())

    def test_a_vm_that_stops_answering_is_killed(self):
        session = self.session()
        # The whole VM stops (QEMU gets SIGSTOP) before the request is sent, so
        # it cannot answer however fast this machine is.  (Stopping the session
        # loop from inside the VM raced with the VM's own 1 s timeout, whose
        # answer a slow VM could still send.)
        os.kill(session._qemu.pid, signal.SIGSTOP)
        with mock.patch.object(linuxvm.session, "_ANSWER_GRACE_S", 1):
            with self.assertRaisesRegex(linuxvm.LinuxVMError, "^no answer from the VM while running"
                                                              " true: QEMU killed"):
                session.run(["true"], timeout=1)
        self.assertIsNotNone(session._qemu.poll())
        with self.assertRaisesRegex(linuxvm.LinuxVMError, "no answer from the VM"):
            session.run(["true"], timeout=600)


if __name__ == "__main__":
    unittest.main()
