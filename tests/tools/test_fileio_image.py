"""vmbench.fileio_image's durability check, on images built here: it must
pass an image that holds what the guest's log promises, and name each way an
image can break the promise (a flushed write lost, a block torn, a
generation in the wrong block)."""

import random
import struct
import tempfile
import unittest
import zlib
from pathlib import Path

from vmbench import fileio_image as fi

BLOCK, NBLOCKS = 512, 8


def gen_block(rng, gen, offset):
    """A --file-flush-log block: its generation, random bytes, crc32, offset."""
    data = struct.pack("<Q", gen) + rng.randbytes(BLOCK - fi.CHECK_LEN - 8)
    return data + struct.pack("<IQ", zlib.crc32(data), offset)


class Image:
    """One file of NBLOCKS blocks prepared with --file-flush-log, then the
    writes of a log applied as the guest would."""

    def __init__(self, path):
        self.path, self.rng, self.log = path, random.Random(7), []
        with open(path, "wb") as f:
            for b in range(NBLOCKS):
                f.write(gen_block(self.rng, 0, b * BLOCK))
            f.write(fi.layout_block(1, NBLOCKS * BLOCK, BLOCK,
                                    fi.FLAG_VALIDATE | fi.FLAG_GENERATIONS))
        self.gen = 0

    def write(self, block, logged=True, on_disk=True):
        self.gen += 1
        if on_disk:
            self.put(block, gen_block(self.rng, self.gen, block * BLOCK))
        if logged:
            self.log.append(f"wrote generation {self.gen}: file 0 offset {block * BLOCK}")

    def flush(self):
        self.log.append(f"flushed generation {self.gen}")

    def put(self, block, data):
        with open(self.path, "r+b") as f:
            f.seek(block * BLOCK)
            f.write(data)

    def check(self):
        return fi.check_durability(self.path, "\n".join(self.log) + "\n")


class DurabilityCheck(unittest.TestCase):
    def setUp(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        self.img = Image(Path(d.name) / "img")

    def test_what_the_log_promises_passes(self):
        for b in (1, 2, 1, 5):
            self.img.write(b)
            self.img.flush()
        self.img.write(3)                      # acknowledged, not flushed
        self.img.write(6, logged=False)        # its line died with the monitor
        problems, summary = self.img.check()
        self.assertEqual(problems, [])
        self.assertEqual(summary, {"blocks": NBLOCKS, "flushed": 4, "acknowledged": 5,
                                   "blocks_flushed": 3, "blocks_newer": 2})

    def test_an_unflushed_write_may_be_missing(self):
        self.img.write(1)
        self.img.flush()
        self.img.write(2, on_disk=False)
        self.assertEqual(self.img.check()[0], [])

    def test_a_lost_flushed_write_is_named(self):
        self.img.write(1)
        self.img.flush()
        old = Path(self.img.path).read_bytes()[2 * BLOCK:3 * BLOCK]
        self.img.write(2)
        self.img.write(4)
        self.img.flush()
        self.img.put(2, old)                   # generation 2 never reached the disk
        problems, _ = self.img.check()
        self.assertEqual(problems, [f"file 0 offset {2 * BLOCK}: holds generation 0, but "
                                    "generation 2 was written there and flushed "
                                    "(generation 3) before the kill"])

    def test_a_torn_block_is_named(self):
        self.img.write(1)
        self.img.flush()
        with open(self.img.path, "r+b") as f:
            f.seek(BLOCK + 100)
            f.write(b"\xff" * 8)
        problems, _ = self.img.check()
        self.assertEqual(len(problems), 1)
        self.assertRegex(problems[0], r"^file 0 offset 512: torn or corrupt block: checksum")

    def test_a_generation_in_the_wrong_block_is_named(self):
        self.img.write(1)
        self.img.flush()
        # Block 3 holds a valid block of generation 1, which went to block 1.
        self.img.put(3, gen_block(self.img.rng, 1, 3 * BLOCK))
        problems, _ = self.img.check()
        self.assertEqual(problems, [f"file 0 offset {3 * BLOCK}: holds generation 1, which "
                                    f"the guest wrote to file 0 offset {BLOCK}"])

    def test_a_line_cut_by_the_kill_does_not_count(self):
        self.img.write(1)
        self.img.flush()
        self.img.write(2, on_disk=False)
        text = "\n".join(self.img.log) + "\nflushed generation 2"   # no newline
        self.assertEqual(fi.parse_flush_log(text), ({1: (0, 512), 2: (0, 1024)}, 1))
        self.assertEqual(fi.check_durability(self.img.path, text)[0], [])

    def test_an_image_without_generations_is_refused(self):
        with open(self.img.path, "r+b") as f:
            f.seek(NBLOCKS * BLOCK)
            f.write(fi.layout_block(1, NBLOCKS * BLOCK, BLOCK, fi.FLAG_VALIDATE))
        self.assertEqual(fi.check_durability(self.img.path, "")[0],
                         ["the image was not prepared with --file-flush-log=on --validate=on"])

    def test_images_that_are_not_the_guests_are_refused_not_crashed_on(self):
        # Once: OSError on a short image, struct.error on a layout that
        # reaches past the end of the file, a traceback for a missing file.
        short = self.img.path.with_name("short")
        short.write_bytes(b"x" * 100)
        self.assertIsNone(fi.read_layout(short))
        with open(self.img.path, "r+b") as f:
            f.seek(NBLOCKS * BLOCK)
            f.write(fi.layout_block(50, NBLOCKS * BLOCK, BLOCK,
                                    fi.FLAG_VALIDATE | fi.FLAG_GENERATIONS))
        self.assertIsNone(fi.read_layout(self.img.path))
        self.assertEqual(fi.main(["fileio_image", str(short.with_name("missing"))]), 2)


if __name__ == "__main__":
    unittest.main()
