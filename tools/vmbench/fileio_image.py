"""The guest's fileio disk image, read from the host: the layout block,
sysbench's --validate blocks, and the durability check of an image left by a
killed monitor (guest/workloads/fileio.c has the format).

File i is the region at byte i * stride; the layout block is the last 4 KiB.
A --validate block is random bytes, then their crc32 (4 bytes) and the
block's offset in its file (8 bytes), little-endian.  With
--file-flush-log=on (layout flag 2) the first 8 bytes are the write's
generation: 0 from prepare, 1, 2 ... for run's writes in order, and the run
prints "wrote generation G: file F offset P" once the write is acknowledged
and "flushed generation G" once a flush that covers writes 1..G completed.
Generations restart at 1 with each run, so the check is of an image
prepared afresh before the one run that LOG is the output of.

    python3 -m vmbench.fileio_image IMAGE [LOG]

checks every block of IMAGE, and with LOG (the guest's output up to the
kill) that every write acknowledged before the last flush in LOG is on
disk; it prints one line per problem and exits 1 if there is any.
"""

import re
import struct
import sys
import zlib

LAYOUT_SIZE = 4096
MAGIC = b"VMBENCH-FILEIO\0\0"
CHECK_LEN = 12          # crc32 (4 bytes) + offset in the file (8 bytes)
FLAG_VALIDATE, FLAG_GENERATIONS = 1, 2

_WROTE = re.compile(r"wrote generation (\d+): file (\d+) offset (\d+)$")
_FLUSHED = re.compile(r"flushed generation (\d+)$")


def make_block(rng, size, offset):
    """One block as sysbench's file_fill_buffer writes it."""
    data = rng.randbytes(size - CHECK_LEN)
    return data + struct.pack("<IQ", zlib.crc32(data), offset)


def check_block(block, offset):
    """None when `block` is a valid sysbench block at `offset` in its file, else why not."""
    n = len(block) - CHECK_LEN
    crc, stored = struct.unpack_from("<IQ", block, n)
    if zlib.crc32(block[:n]) != crc:
        return f"checksum mismatch (stored 0x{crc:08x})"
    if stored != offset:
        return f"offset {stored}, expected {offset}"
    return None


def generation(block):
    """The write generation a --file-flush-log block carries."""
    return struct.unpack_from("<Q", block)[0]


def layout_block(num, file_size, block, flags):
    stride = -(-file_size // block) * block
    head = MAGIC + struct.pack("<IIQQQI", 1, num, file_size, stride, block, flags)
    head += struct.pack("<I", zlib.crc32(head))
    return head + bytes(LAYOUT_SIZE - len(head))


def read_layout(image):
    """The layout block of `image` as a dict, or None when there is none."""
    with open(image, "rb") as f:
        size = f.seek(0, 2)
        if size < LAYOUT_SIZE:
            return None
        f.seek(size - LAYOUT_SIZE)
        raw = f.read(LAYOUT_SIZE)
    if raw[:16] != MAGIC:
        return None
    version, num, file_size, stride, block, flags = struct.unpack_from("<IIQQQI", raw, 16)
    crc, = struct.unpack_from("<I", raw, 52)
    if crc != zlib.crc32(raw[:52]):
        return None
    # A layout whose files do not fit before it, or whose blocks cannot
    # hold their check header, describes no image the guest wrote.
    if block <= CHECK_LEN or stride < file_size or num * stride > size - LAYOUT_SIZE:
        return None
    return {"version": version, "num": num, "file_size": file_size, "stride": stride,
            "block": block, "validate": bool(flags & FLAG_VALIDATE),
            "generations": bool(flags & FLAG_GENERATIONS)}


def blocks(image, layout):
    """(file, offset in the file, bytes) of every block of every file."""
    with open(image, "rb") as f:
        for i in range(layout["num"]):
            f.seek(i * layout["stride"])
            for off in range(0, layout["file_size"], layout["block"]):
                yield i, off, f.read(layout["block"])


def parse_flush_log(text):
    """What the guest was told before the kill: {generation: (file, offset)} of
    the acknowledged writes, and the last flushed generation (0: none).  A
    last line cut off by the kill (no newline) does not count."""
    writes, flushed = {}, 0
    for line in text.split("\n")[:-1]:
        line = line.strip()
        if m := _WROTE.match(line):
            writes[int(m[1])] = (int(m[2]), int(m[3]))
        elif m := _FLUSHED.match(line):
            flushed = max(flushed, int(m[1]))
    return writes, flushed


def check_durability(image, log_text):
    """Checks `image` against the guest's output `log_text`.  Returns
    (problems, summary): problems is a list of lines (empty: the image
    holds every write acknowledged before the last flush the log shows, each
    block whole); summary counts what was checked."""
    layout = read_layout(image)
    if layout is None:
        return ["no fileio layout block at the end of the image"], {}
    if not layout["generations"]:
        return ["the image was not prepared with --file-flush-log=on --validate=on"], {}
    writes, flushed = parse_flush_log(log_text)
    last_logged = max(writes, default=0)
    # The newest generation <= flushed that the log puts in each block.
    must = {}
    for gen, where in writes.items():
        if gen <= flushed and gen > must.get(where, 0):
            must[where] = gen
    problems, newer, checked = [], 0, 0
    for i, off, data in blocks(image, layout):
        checked += 1
        where = f"file {i} offset {off}"
        why = check_block(data, off)
        if why:
            problems.append(f"{where}: torn or corrupt block: {why}")
            continue
        gen, want = generation(data), must.get((i, off), 0)
        if gen < want:
            problems.append(f"{where}: holds generation {gen}, but generation {want} was "
                            f"written there and flushed (generation {flushed}) before the kill")
        elif 0 < gen <= last_logged and writes.get(gen) != (i, off):
            problems.append(f"{where}: holds generation {gen}, which the guest wrote to "
                            f"{'file %d offset %d' % writes[gen] if gen in writes else 'no block'}")
        elif gen > flushed:
            newer += 1      # written after the last flush the log shows: allowed
    summary = {"blocks": checked, "flushed": flushed, "acknowledged": last_logged,
               "blocks_flushed": len(must), "blocks_newer": newer}
    return problems, summary


def main(argv):
    if len(argv) not in (2, 3):
        print("usage: python3 -m vmbench.fileio_image IMAGE [LOG]", file=sys.stderr)
        return 2
    try:
        log = (open(argv[2], encoding="utf-8", errors="replace").read()
               if len(argv) == 3 else "")
        problems, summary = check_durability(argv[1], log)
    except OSError as e:
        print(f"fileio_image: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    for p in problems:
        print(p)
    if summary:
        print(f"{summary['blocks']} blocks checked; flushed generation {summary['flushed']} "
              f"({summary['blocks_flushed']} blocks must hold it or newer), "
              f"{summary['blocks_newer']} blocks newer than it; "
              f"{'OK' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
