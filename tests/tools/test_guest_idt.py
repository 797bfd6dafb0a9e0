"""The IDT that the assembler and linker build (guest/boot/entry.S) names
the right handler, with the right type, for every vector the kernel uses.

No code fills the IDT at boot any more: each gate's handler address comes
from linker.ld's trap_stubs_low16/trap_stubs_high16 plus the stub's offset
in its block.  A slip there (a stub moved out of the block, a wrong half)
would only show when that vector fires, which for most exceptions is
never in a test run; so this reads the table out of build/guest64.elf
(nm for the symbols, objcopy for the bytes) and checks all 256 gates.
"""

import re
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUEST = REPO / "build" / "guest64.elf"
BOOT_H = REPO / "guest" / "include" / "boot.h"

KERNEL_CS = 0x08


def boot_constants():
    """#define NAME value (numbers only) from guest/include/boot.h."""
    consts = {}
    for m in re.finditer(r"^#define (\w+) (0x[0-9a-fA-F]+|\d+)\b", BOOT_H.read_text(), re.M):
        consts[m[1]] = int(m[2], 0)
    return consts


def symbols(elf):
    out = subprocess.run(["nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return {name: int(addr, 16) for addr, _, name in
            (line.split() for line in out.splitlines() if len(line.split()) == 3)}


def section_bytes(elf, name):
    """(load address, bytes) of one section."""
    heads = subprocess.run(["readelf", "-SW", str(elf)], capture_output=True, text=True,
                           check=True).stdout
    m = re.search(r"\]\s+" + re.escape(name) + r"\s+\S+\s+([0-9a-f]+)", heads)
    with tempfile.NamedTemporaryFile() as out:
        subprocess.run(["objcopy", "-O", "binary", "--only-section=" + name, str(elf), out.name],
                       check=True)
        return int(m[1], 16), Path(out.name).read_bytes()


@unittest.skipUnless(GUEST.exists(), "build/guest64.elf not built (make all)")
class GuestIdtTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        c = boot_constants()
        syms = symbols(GUEST)
        base, data = section_bytes(GUEST, ".data")
        off = syms["idt"] - base
        cls.gates = [struct.unpack_from("<HHBBHII", data, off + 16 * v) for v in range(256)]
        cls.syms = syms
        interrupt, user = c["IDT_GATE_INTERRUPT"], c["IDT_GATE_USER"]
        expected = {v: (f"trap_stub_{v}", interrupt) for v in range(32)}
        for k in range(4):
            expected[c["VEC_IRQ_BASE"] + k] = (f"trap_stub_irq{k}", interrupt)
        expected[c["VEC_SYSCALL"]] = ("trap_stub_syscall", user)
        expected[c["VEC_EXIT_BENCH"]] = ("trap_stub_exit_bench", interrupt)
        expected[c["VEC_EXIT_BENCH_PING"]] = ("trap_stub_exit_bench_ping", interrupt)
        expected[c["VEC_TIMER"]] = ("trap_stub_timer", interrupt)
        expected[c["VEC_WAKE"]] = ("trap_stub_wake", interrupt)
        expected[c["VEC_SPURIOUS"]] = ("trap_stub_spurious", interrupt)
        cls.expected = expected

    def test_every_used_vector_names_its_stub(self):
        for vector, (stub, gate_type) in sorted(self.expected.items()):
            low, selector, ist, typ, mid, high, reserved = self.gates[vector]
            with self.subTest(vector=vector, stub=stub):
                self.assertEqual(low | mid << 16 | high << 32, self.syms[stub])
                self.assertEqual((selector, ist, typ, reserved), (KERNEL_CS, 0, gate_type, 0))

    def test_other_vectors_are_not_present(self):
        for vector in range(256):
            if vector not in self.expected:
                with self.subTest(vector=vector):
                    self.assertEqual(self.gates[vector], (0, 0, 0, 0, 0, 0, 0))


if __name__ == "__main__":
    unittest.main()
