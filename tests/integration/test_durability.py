"""Writes acknowledged before a FLUSH survive a SIGKILL of vmm.

Each round: a fresh image prepared with `fileio --validate=on
--file-flush-log=on` (every block carries its write generation); a random
write run with a FLUSH after every write (`--file-fsync-freq=1`) that prints
"wrote generation G ..." and "flushed generation G" as the guest learns of
each completion; SIGKILL of vmm as soon as a randomly chosen "flushed
generation N" line appears (the kill then lands wherever the guest and the
I/O thread happen to be, never after a fixed sleep); then two independent
checks of the image: the host's (vmbench.fileio_image: every block whole,
every write acknowledged before the last flush the output shows still
there, each generation in the block the guest wrote it to) and the guest's
(sysbench's --validate: a sequential read of every block checking its
checksum and offset).  For the default disk, `,direct` and `,poll`.

A SIGKILL loses no data that reached the host kernel, flushed or not, so
this proves that vmm acknowledges a write only after pwritev returned, that
nothing it acknowledged is held back in vmm, and that the image is whole;
what a FLUSH adds against a host crash (fdatasync) is docs/virtio-blk.md's
"What a FLUSH promises".

VMBENCH_DURABILITY_KILLS kills per variant (default 6, or 2 where vmm runs
in the nested-KVM VM under TCG, where each boot takes seconds);
VMBENCH_DURABILITY_SEED makes the kill points repeatable (the seed of a
failing run is in its message)."""

import os
import random
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

import guest_runner
from guest_runner import GUEST, VMM, one_result, run_vmm

from vmbench.fileio_image import check_durability, read_layout

VARIANTS = {"default": "", "direct": ",direct", "poll": ",poll"}
BLOCK, NBLOCKS = 4096, 64
FILES = ["fileio", "--file-num=1", f"--file-total-size={BLOCK * NBLOCKS}",
         f"--file-block-size={BLOCK}", "--validate=on"]
# The guest's output goes to a file; the kill comes once the chosen line is
# in it.  vmm writes the guest's output a line at a time, so a line is there
# whole or not at all.
KILL_SCRIPT = r"""
out=$1 target=$2; shift 2
"$@" >"$out" 2>"$out.err" &
pid=$!
until grep -qx "flushed generation $target" "$out"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        echo "vmm ended (status $?) before generation $target was flushed"
        exit 3
    fi
    sleep 0.01
done
kill -KILL "$pid"
wait "$pid"
echo "killed: status $?"
"""


class DurabilityAfterKill(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="durability-",
                                          dir=guest_runner.kvm().scratch_dir))
        self.addCleanup(shutil.rmtree, self.dir, True)
        seed = os.environ.get("VMBENCH_DURABILITY_SEED") or random.randrange(1 << 32)
        self.seed = int(seed)
        self.rng = random.Random(self.seed)

    def vmm(self, disk, *guest_args):
        res = run_vmm("--timeout", 300, "--disk", disk, GUEST, *guest_args)
        self.assertNotIn("Sanitizer", res.stderr)
        return res

    def one_round(self, name, opts, k):
        """One prepare, run, kill and check; returns the generation killed after."""
        image = self.dir / f"{name}-{k}.img"
        with open(image, "wb") as f:
            f.truncate(BLOCK * NBLOCKS + 4096)
        disk = f"{image}{opts}"
        res = self.vmm(disk, *FILES, "--file-flush-log=on", "prepare")
        if res.returncode == 125 and "direct I/O" in res.stderr:
            self.skipTest(f"{name}: {res.stderr.strip()}")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertTrue(read_layout(image)["generations"])

        target = self.rng.randint(1, 2 * NBLOCKS)     # overwrites come from 64 on
        log = self.dir / f"{name}-{k}.out"
        argv = [VMM, "--timeout", 300, "--disk", disk, GUEST, *FILES,
                "--file-flush-log=on", "--file-test-mode=rndwr", "--file-fsync-freq=1",
                "--time=0", "--events=0", f"--rand-seed={self.rng.randrange(1, 1 << 31)}",
                "run"]
        res = guest_runner.kvm().run(["sh", "-c", KILL_SCRIPT, "sh", log, target, *argv],
                                     timeout=guest_runner.HANG_GUARD_S)
        where = f"{name} kill {k + 1} (seed {self.seed}, after generation {target})"
        self.assertEqual(res.stdout.strip(), "killed: status 137",
                         f"{where}: {res.stdout}{log.read_text(errors='replace')[-2000:]}")

        problems, summary = check_durability(image, log.read_text(errors="replace"))
        self.assertEqual(problems, [], f"{where}: the host's check of the image")
        self.assertGreaterEqual(summary["flushed"], target)

        res = self.vmm(disk, *FILES, "--file-test-mode=seqrd", f"--events={NBLOCKS}",
                       "--time=0", "run")
        self.assertEqual(res.returncode, 0, f"{where}: the guest's validation:\n{res.stdout}")
        self.assertEqual(one_result(self, res.stdout)["io"]["read_ops"], NBLOCKS)
        return summary

    def test_flushed_writes_survive_sigkill(self):
        kills = int(os.environ.get("VMBENCH_DURABILITY_KILLS") or
                    (6 if guest_runner.kvm().mode == "host" else 2))
        for name, opts in VARIANTS.items():
            with self.subTest(variant=name):
                flushed = [self.one_round(name, opts, k)["flushed"] for k in range(kills)]
                print(f"\ndurability {name}: {kills} kills, {kills} passed (killed after "
                      f"flushed generations {', '.join(map(str, flushed))}; seed {self.seed})",
                      file=sys.stderr, end="")


if __name__ == "__main__":
    unittest.main()
