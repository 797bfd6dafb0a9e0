"""The platform registry (tools/vmbench/platforms/registry.py): each platform
registers its name, its options and how it is built; bench/compare's command
line and platforms.create() come from it."""

import argparse
import unittest
from unittest import mock

from vmbench import compare, matrix, platforms
from vmbench.platforms import registry
from vmbench.platforms.base import Platform
from vmbench.platforms.container import ContainerPlatform
from vmbench.platforms.native import NativePlatform
from vmbench.platforms.qemu_guest import QemuGuestPlatform
from vmbench.platforms.qemu_linux import QemuLinuxPlatform
from vmbench.platforms.vmm import VmmPlatform


class Registered(unittest.TestCase):
    def test_the_five_platforms_in_the_reports_order(self):
        self.assertEqual(platforms.DEFAULTS,
                         ("native", "container", "qemu-linux", "qemu-guest", "vmm"))
        # The variants of vmm run only when named (the isolation preset does),
        # and so do the nested levels (the levels preset names them).
        self.assertEqual(platforms.NAMES, platforms.DEFAULTS + (
            "vmm-pinned", "vmm-isolated", "nested", "nested-0", "nested-1", "nested-2"))

    def test_compare_takes_the_options_the_platforms_declare(self):
        args = compare.parse_args(["--preset", "vm-vs-container", "--scratch-dir", "/tmp/s",
                                   "--accel", "tcg", "--qemu-machine", "microvm",
                                   "--vmm-pin", "0-1", "--vmm-hugepages"])
        made = {name: platforms.create(name, args) for name in platforms.NAMES}
        self.assertIsInstance(made["native"], NativePlatform)
        self.assertEqual(str(made["native"].scratch_dir), "/tmp/s")
        self.assertIsInstance(made["container"], ContainerPlatform)
        self.assertEqual(str(made["container"].scratch_dir), "/tmp/s")
        self.assertIsInstance(made["qemu-linux"], QemuLinuxPlatform)
        self.assertEqual(made["qemu-linux"].asked, "tcg")
        self.assertIsInstance(made["qemu-guest"], QemuGuestPlatform)
        self.assertEqual((made["qemu-guest"].asked, made["qemu-guest"].machine),
                         ("tcg", "microvm"))
        self.assertIsInstance(made["vmm"], VmmPlatform)
        self.assertEqual((made["vmm"].pin, made["vmm"].hugepages), ("0-1", True))

    def test_defaults(self):
        args = compare.parse_args(["--preset", "vm-vs-container"])
        self.assertEqual((args.accel, args.qemu_machine, args.vmm_pin, args.vmm_hugepages),
                         ("auto", "pc", None, False))
        self.assertIsNone(args.platform_names)       # the matrix's, else the defaults
        compare.apply_matrix(args, {})
        self.assertEqual(args.platform_names, list(platforms.DEFAULTS))

    def test_a_shared_option_is_added_once(self):
        parser = argparse.ArgumentParser()
        platforms.add_options(parser)
        flags = [a.option_strings[0] for a in parser._actions if a.option_strings][1:]
        self.assertEqual(flags, ["--scratch-dir", "--accel", "--qemu-machine", "--vmm-pin",
                                 "--vmm-hugepages", "--isolate-cpus", "--isolation-root",
                                 "--depth", "--level-boot-timeout", "--level-budget"])

    def test_the_vmm_variants_and_their_options(self):
        args = compare.parse_args(["--preset", "isolation", "--isolate-cpus", "1",
                                   "--isolation-root", "/tmp/fake", "--vmm-hugepages"])
        pinned, isolated = (platforms.create(n, args) for n in ("vmm-pinned", "vmm-isolated"))
        self.assertIsInstance(pinned, VmmPlatform)
        self.assertEqual((pinned.name, pinned.asked, pinned.isolation, pinned.hugepages),
                         ("vmm-pinned", "1", None, True))
        self.assertEqual((isolated.name, isolated.isolation.root), ("vmm-isolated", "/tmp/fake"))

    def test_a_bad_cpu_list_is_a_usage_error(self):
        with mock.patch("sys.stderr"), self.assertRaises(SystemExit) as done:
            compare.parse_args(["--preset", "isolation", "--isolate-cpus", "3-1"])
        self.assertEqual(done.exception.code, 2)

    def test_the_matrix_names_platforms_and_options_unless_the_command_line_does(self):
        spec = {"platforms": ["vmm", "qemu-guest"], "platform_options": {"accel": "kvm"}}
        args = compare.parse_args(["--preset", "exits"])
        compare.apply_matrix(args, spec)
        self.assertEqual((args.platform_names, args.accel), (["vmm", "qemu-guest"], "kvm"))
        args = compare.parse_args(["--preset", "exits", "--platforms", "vmm", "--accel", "tcg"])
        compare.apply_matrix(args, spec)
        self.assertEqual((args.platform_names, args.accel), (["vmm"], "tcg"))
        for bad, message in (({"platforms": ["vmm", "nope"]}, r"unknown platform\(s\) nope"),
                             ({"platform_options": {"nope": 1}}, r"no option 'nope'")):
            with self.assertRaisesRegex(matrix.MatrixError, message):
                compare.apply_matrix(compare.parse_args(["--preset", "exits"]), bad)

    def test_an_unknown_platform(self):
        with self.assertRaisesRegex(ValueError, r"no platform 'nested-3' \(platforms: native, "):
            platforms.create("nested-3", argparse.Namespace())


class NewPlatform(unittest.TestCase):
    """What adding a platform takes: one register() call."""

    def setUp(self):
        patcher = mock.patch.dict(registry._ENTRIES)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_register_create_and_options(self):
        class Toy(Platform):
            name = "toy"

            def __init__(self, level):
                self.level = level

        registry.register("toy", lambda options: Toy(options.toy_level),
                          options=[registry.Option("--toy-level", type=int, default=3,
                                                   help="how much")])
        self.assertEqual(registry.names()[-1], "toy")
        parser = argparse.ArgumentParser()
        registry.add_options(parser)
        toy = registry.create("toy", parser.parse_args(["--toy-level", "7"]))
        self.assertIsInstance(toy, Toy)
        self.assertEqual(toy.level, 7)

    def test_a_name_registers_once(self):
        with self.assertRaisesRegex(ValueError, "registered twice"):
            registry.register("vmm", lambda options: None)

    def test_two_different_options_with_one_flag_are_refused(self):
        registry.register("toy", lambda options: None,
                          options=[registry.Option("--accel", help="another --accel")])
        with self.assertRaisesRegex(ValueError, "--accel is declared by two platforms"):
            registry.add_options(argparse.ArgumentParser())


if __name__ == "__main__":
    unittest.main()
