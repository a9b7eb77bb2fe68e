"""Rung 1: one token per Unicode code point (id = `ord(c)`).

Simple and lossless, but the vocabulary is huge (~150K code points) and most ids are rare.
"""

from __future__ import annotations

MAX_CODE_POINT = 0x10FFFF


class CharacterTokenizer:
    """Code points as ids: "hi!" -> [104, 105, 33]."""

    vocab_size = MAX_CODE_POINT + 1

    def encode(self, text: str) -> list[int]:
        """ "hi!" -> [104, 105, 33]."""
        return [ord(c) for c in text]

    def decode(self, ids: list[int]) -> str:
        """[104, 105, 33] -> "hi!"."""
        try:
            return "".join(map(chr, ids))
        except (ValueError, TypeError, OverflowError) as e:
            bad = next(i for i in ids if not (isinstance(i, int) and 0 <= i <= MAX_CODE_POINT))
            raise ValueError(
                f"CharacterTokenizer.decode: id {bad!r} is not a code point "
                f"(expected an int in 0..{MAX_CODE_POINT})"
            ) from e
