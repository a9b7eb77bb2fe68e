"""Cutting a big file into byte ranges that can be pre-tokenized (or encoded) independently.

A cut goes at the start of a special token (text never merges across one) or, when there are none,
at a newline between two printable ASCII characters (where GPT-2's regex cuts anyway; see
pretokenize.SAFE_CUT_REGEX). Used by the multiprocess trainer and the file encoder.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import BinaryIO


def start_method() -> str:
    # fork is cheapest and the workers only need regex; elsewhere use the platform default
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def chunk_boundaries(path: Path, num_chunks: int, special_tokens: list[str]) -> list[int]:
    """Byte offsets [0, ..., size] cutting the file into about `num_chunks` parts, each cut placed
    at the start of a special token (or, without special tokens, at a safe newline)."""
    size = path.stat().st_size
    markers = [t.encode("utf-8") for t in special_tokens]
    bounds = [0]
    with path.open("rb") as f:
        for k in range(1, num_chunks):
            cut = _next_cut(f, max(size * k // num_chunks, bounds[-1]), size, markers)
            if cut > bounds[-1] and cut < size:
                bounds.append(cut)
    bounds.append(size)
    return bounds


def _next_cut(f: BinaryIO, pos: int, size: int, markers: list[bytes]) -> int:
    """First cut point at or after byte `pos` (size if none). A cut before one special token that
    falls inside another, longer one (overlapping specials) is skipped."""
    window = 1 << 16
    longest = max(map(len, markers), default=1)
    while pos < size:
        lo = max(0, pos - longest)
        f.seek(lo)
        data = f.read(pos - lo + window + longest)
        if markers:
            hits = sorted(
                i for m in markers for i in _find_all(data, m, pos - lo) if i < pos - lo + window
            )
            hits = [i for i in hits if not any(_straddles(data, m, i) for m in markers)]
        else:
            hits = _safe_newlines(data, pos - lo)
        if hits:
            return lo + hits[0]
        pos += window
    return size


def _find_all(data: bytes, marker: bytes, start: int) -> list[int]:
    out = []
    i = data.find(marker, start)
    while i != -1:
        out.append(i)
        i = data.find(marker, i + 1)
    return out


def _straddles(data: bytes, marker: bytes, i: int) -> bool:
    """Does an occurrence of `marker` in `data` start before i and end after it?"""
    found = data.find(marker, max(0, i - len(marker) + 1), i + len(marker) - 1)
    return found != -1 and found < i


def _safe_newlines(data: bytes, start: int) -> list[int]:
    """Cut positions just after a b"\n" between two printable ASCII bytes (non-space characters)."""
    i = data.find(b"\n", max(start - 1, 1))
    while i != -1 and i + 1 < len(data):
        if 0x21 <= data[i - 1] <= 0x7E and 0x21 <= data[i + 1] <= 0x7E:
            return [i + 1]
        i = data.find(b"\n", i + 1)
    return []


def read_text_range(path: str | Path, lo: int, hi: int) -> str:
    """Bytes [lo, hi) of a file decoded as UTF-8; a ValueError names the file and byte offset."""
    with open(path, "rb") as f:
        f.seek(lo)
        data = f.read(hi - lo)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        where = f"{str(path)!r} is not UTF-8 at byte {lo + e.start}"
        raise ValueError(f"{where} ({e.reason})") from None
