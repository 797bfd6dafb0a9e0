"""The guest's cpu and memory event loops are the instructions Debian's
sysbench runs (issue 12, "Memory fidelity").

Both binaries are disassembled with objdump (binutils, which `make deps`
installs; Intel syntax).  The guest's loops are found by symbol in
build/guest64.elf: in cpu_event the loop around `sqrtsd` and `div` (as
below), in seq_read and seq_write the longest loop of one basic block.  /usr/bin/sysbench has
no symbols, so its loops are found by shape over the whole of .text, each
of which must match exactly one loop:

- the prime search: the loop (a backward branch and everything between
  its target and it) whose body holds both `sqrtsd` and `div`; the widest
  such loop, i.e. the candidate loop around the trial division.
- sequential read: a loop of one basic block whose memory operands are all
  8-byte loads through one base register at consecutive 8-byte offsets
  from 0, with no store.
- sequential write: the same with stores and no load.

The shapes name what the loops do, not how a compiler lays them out, so
they hold for any build of sysbench 1.0.20's sb_cpu.c and sb_memory.c; a
binary where a shape finds no loop or two fails with that said.

Loop bodies are then compared as normalised instruction sequences:
mnemonic and operand kinds (register class, memory operand size,
immediates), with register names, branch targets and addresses dropped and
padding (nop) left out.  A compare of two registers is put in one order,
the register the loop changes first (the branch after it mirrored), since
a compiler may write `cmp p, end; jb` or `cmp end, p; ja` for the same
test.  Neither loop calls a clock: sysbench and the guest read theirs
around the event, outside these loops.  Speed is never measured here.
"""

import re
import shutil
import subprocess
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUEST = REPO / "build" / "guest64.elf"
SYSBENCH = Path("/usr/bin/sysbench")

LINE = re.compile(r"^\s*([0-9a-f]+):\t(.*)$")
BRANCH_TARGET = re.compile(r"^([0-9a-f]+)(?: <.*>)?$")
# Branches that do not return; every other j* is conditional.
UNCONDITIONAL = {"jmp"}
NOT_WRITING = {"cmp", "test", "comisd", "ucomisd", "push", "call", "ret", "jmp"}
MIRRORED = {"ja": "jb", "jb": "ja", "jae": "jbe", "jbe": "jae",
            "jg": "jl", "jl": "jg", "jge": "jle", "jle": "jge"}
GPR_FAMILIES = [
    ("rax", "eax", "ax", "al"), ("rbx", "ebx", "bx", "bl"), ("rcx", "ecx", "cx", "cl"),
    ("rdx", "edx", "dx", "dl"), ("rsi", "esi", "si", "sil"), ("rdi", "edi", "di", "dil"),
    ("rbp", "ebp", "bp", "bpl"), ("rsp", "esp", "sp", "spl")] + [
    (f"r{n}", f"r{n}d", f"r{n}w", f"r{n}b") for n in range(8, 16)]
GPR = {name: family[0] for family in GPR_FAMILIES for name in family}


class Insn:
    def __init__(self, addr, text):
        self.addr = addr
        words = text.split(None, 1)
        # Prefixes (lock, rep, data16 cs ...) stay part of the mnemonic.
        while len(words) == 2 and words[0] in ("lock", "rep", "repz", "repnz", "data16",
                                               "cs", "ds", "notrack", "bnd"):
            rest = words[1].split(None, 1)
            words = [words[0] + " " + rest[0]] + rest[1:]
        self.mnemonic = words[0]
        self.operands = split_operands(words[1]) if len(words) > 1 else []

    @property
    def base(self):
        return self.mnemonic.split()[-1]

    def is_branch(self):
        return self.base.startswith("j") or self.base in ("call", "ret")

    def target(self):
        m = BRANCH_TARGET.match(self.operands[0]) if self.operands else None
        return int(m.group(1), 16) if m else None

    def is_nop(self):
        return self.base.startswith("nop") or self.base == "xchg" and \
            self.operands == ["ax", "ax"]

    def __repr__(self):
        return f"{self.addr:x}: {self.mnemonic} {','.join(self.operands)}"


def split_operands(text):
    text = text.split("#")[0].strip()
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "["
        depth -= ch == "]"
        cur += ch
    return out + [cur.strip()] if cur.strip() else out


def disassemble(binary, symbol=None):
    argv = ["objdump", "-d", "-w", "-M", "intel", "--no-show-raw-insn"]
    argv += [f"--disassemble={symbol}"] if symbol else ["-j", ".text"]
    res = subprocess.run(argv + [str(binary)], capture_output=True, text=True, check=True)
    insns = [Insn(int(m.group(1), 16), m.group(2).strip())
             for m in map(LINE.match, res.stdout.splitlines()) if m and m.group(2).strip()
             and not m.group(2).startswith("(bad)")]
    if not insns:
        raise AssertionError(f"objdump found no code for {symbol or '.text'} in {binary}")
    return insns


def loops(insns):
    """Each conditional backward branch with the instructions from its target
    to it, if no return lies between (a backward jmp is a shared tail or an
    out-of-line path, not a loop's test)."""
    index = {insn.addr: i for i, insn in enumerate(insns)}
    out = []
    for i, insn in enumerate(insns):
        if insn.base.startswith("j") and insn.base not in UNCONDITIONAL:
            target = insn.target()
            if target is not None and target <= insn.addr and target in index:
                loop = insns[index[target]:i + 1]
                if not any(x.base == "ret" for x in loop):
                    out.append(loop)
    return out


def single_block(loop):
    return not any(insn.is_branch() for insn in loop[:-1])


def memory_operand(insn):
    """(index of the operand, base register, offset) of its one memory operand, or None."""
    for k, op in enumerate(insn.operands):
        if "[" in op and insn.base != "lea" and not insn.is_nop():
            m = re.fullmatch(r"(?:\w+ PTR )?(?:\w+:)?\[(\w+)(?:([+-])0x([0-9a-f]+))?\]", op)
            if not m:
                return k, None, None
            offset = int(m.group(3) or "0", 16) * (-1 if m.group(2) == "-" else 1)
            return k, m.group(1), offset
    return None


def sequential(loop, store):
    """A one-block loop moving 8-byte words at base+0, +8, +16 ... only one way."""
    if not single_block(loop):
        return False
    offsets, bases = [], set()
    for insn in loop:
        mem = memory_operand(insn)
        if mem is None:
            continue
        k, base, offset = mem
        is_store = k == 0 and insn.base != "cmp"
        if insn.base != "mov" or not insn.operands[k].startswith("QWORD PTR [") \
                or is_store != store or base is None:
            return False
        offsets.append(offset)
        bases.add(base)
    return len(bases) == 1 and offsets == [8 * n for n in range(len(offsets))] and \
        len(offsets) > 0


def written_registers(loop):
    out = set()
    for insn in loop:
        if insn.base in NOT_WRITING or insn.base.startswith("j") or not insn.operands:
            continue
        if insn.base == "div":
            out |= {"rax", "rdx"}
        elif insn.operands[0] in GPR:
            out.add(GPR[insn.operands[0]])
        elif insn.operands[0].startswith("xmm"):
            out.add(insn.operands[0])
    return out


def operand_kind(op):
    if "[" in op:
        return "m" + op.split(" PTR")[0].lower() if " PTR" in op else "m"
    if op in GPR:
        return {0: "r64", 1: "r32", 2: "r16", 3: "r8"}[
            next(f.index(op) for f in GPR_FAMILIES if op in f)]
    if op.startswith("xmm"):
        return "xmm"
    return op   # an immediate


def normalise(loop):
    """The loop as (mnemonic, operand kinds...) tuples: no registers, no addresses."""
    changed = written_registers(loop)
    body = [insn for insn in loop if not insn.is_nop()]
    out = []
    mirror_next = False
    for i, insn in enumerate(body):
        if insn.is_branch():
            mnemonic = MIRRORED.get(insn.base, insn.base) if mirror_next else insn.base
            out.append((mnemonic,))
            mirror_next = False
            continue
        ops = insn.operands
        if insn.base == "cmp" and len(ops) == 2 and all(op in GPR for op in ops) \
                and GPR[ops[0]] not in changed and GPR[ops[1]] in changed:
            ops = [ops[1], ops[0]]
            mirror_next = True
        out.append((insn.mnemonic, *map(operand_kind, ops)))
    return out


def the_one(candidates, what, binary):
    if len(candidates) != 1:
        raise AssertionError(f"{binary}: {len(candidates)} loops look like {what}, not one: "
                             + "; ".join(f"{c[0].addr:#x}-{c[-1].addr:#x}" for c in candidates))
    return candidates[0]


def prime_search(insns, binary):
    mnemonics = lambda loop: {insn.base for insn in loop}
    found = [loop for loop in loops(insns) if {"sqrtsd", "div"} <= mnemonics(loop)]
    widest = max((len(loop) for loop in found), default=0)
    return the_one([loop for loop in found if len(loop) == widest], "the prime search", binary)


def sequential_loop(insns, binary, store):
    return the_one([loop for loop in loops(insns) if sequential(loop, store)],
                   "a sequential " + ("write" if store else "read"), binary)


def hot_loop(insns, symbol):
    """The guest's side, found by symbol: the longest one-block loop in it
    (the unrolled body; the other code around it runs once per event)."""
    found = [loop for loop in loops(insns) if single_block(loop)]
    if not found:
        raise AssertionError(f"{GUEST}: {symbol} has no loop")
    return max(found, key=len)


@unittest.skipUnless(shutil.which("objdump"), "objdump (binutils) is not installed: make deps")
@unittest.skipUnless(SYSBENCH.exists(), f"{SYSBENCH} is missing (Debian's sysbench): make deps")
@unittest.skipUnless(GUEST.exists(), f"{GUEST} is missing: run make")
class LoopFidelityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sysbench = disassemble(SYSBENCH)

    def assertSameLoop(self, guest_loop, sysbench_loop, what):
        g, s = normalise(guest_loop), normalise(sysbench_loop)
        self.assertEqual(g, s, f"the guest's {what} loop is not sysbench's:\n"
                         f"guest    ({guest_loop[0].addr:#x}): {g}\n"
                         f"sysbench ({sysbench_loop[0].addr:#x}): {s}")

    def test_prime_search(self):
        self.assertSameLoop(prime_search(disassemble(GUEST, "cpu_event"), GUEST),
                            prime_search(self.sysbench, SYSBENCH), "cpu")

    def test_sequential_read(self):
        self.assertSameLoop(hot_loop(disassemble(GUEST, "seq_read"), "seq_read"),
                            sequential_loop(self.sysbench, SYSBENCH, False), "memory read")

    def test_sequential_write(self):
        self.assertSameLoop(hot_loop(disassemble(GUEST, "seq_write"), "seq_write"),
                            sequential_loop(self.sysbench, SYSBENCH, True), "memory write")


class NormaliseTest(unittest.TestCase):
    """The normalisation on its own, on lines as objdump prints them."""

    def loop(self, *lines):
        return [Insn(0x100 + 4 * i, text) for i, text in enumerate(lines)]

    def test_compare_order_and_registers_do_not_matter(self):
        a = self.loop("mov    rcx,QWORD PTR [rdi]", "add    rdi,0x8", "cmp    rdx,rdi",
                      "ja     100 <x>")
        b = self.loop("mov    rax,QWORD PTR [r10]", "add    r10,0x8", "cmp    r10,r8",
                      "jb     100 <x>")
        self.assertEqual(normalise(a), normalise(b))

    def test_stride_and_access_size_matter(self):
        a = self.loop("mov    rcx,QWORD PTR [rdi]", "add    rdi,0x8", "cmp    rdi,rdx",
                      "jb     100 <x>")
        self.assertNotEqual(normalise(a), normalise(self.loop(
            "mov    rcx,QWORD PTR [rdi]", "add    rdi,0x40", "cmp    rdi,rdx", "jb     100 <x>")))
        self.assertNotEqual(normalise(a), normalise(self.loop(
            "mov    ecx,DWORD PTR [rdi]", "add    rdi,0x8", "cmp    rdi,rdx", "jb     100 <x>")))

    def test_padding_is_ignored(self):
        a = self.loop("add    rdi,0x8", "cmp    rdi,rdx", "jb     100 <x>")
        b = self.loop("add    rdi,0x8", "nop    WORD PTR cs:[rax+rax*1+0x0]", "cmp    rdi,rdx",
                      "jb     100 <x>")
        self.assertEqual(normalise(a), normalise(b))

    def test_sequential_shape(self):
        unrolled = self.loop(*(f"mov    rcx,QWORD PTR [rdi+{8 * n:#x}]" for n in range(8)),
                             "add    rdi,0x40", "cmp    rdx,rdi", "ja     100 <x>")
        self.assertTrue(sequential(unrolled, store=False))
        self.assertFalse(sequential(unrolled, store=True))
        stored = self.loop("mov    QWORD PTR [rdi],rax", "add    rdi,0x8", "cmp    rdi,rdx",
                           "jb     100 <x>")
        self.assertTrue(sequential(stored, store=True))


if __name__ == "__main__":
    unittest.main()
