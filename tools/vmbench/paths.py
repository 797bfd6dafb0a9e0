"""Where the checkout's products are: every module finds them here."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
VMM = BUILD / "vmm"
GUEST = BUILD / "guest.elf"
CACHE = BUILD / "cache"
