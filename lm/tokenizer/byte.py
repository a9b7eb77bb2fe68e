"""Rung 2: one token per UTF-8 byte (256 ids).

Tiny vocabulary, every string encodable, but sequences are long: compression ratio exactly 1.
"""

from __future__ import annotations


class ByteTokenizer:
    """UTF-8 bytes as ids: "hi!" -> [104, 105, 33], "é" -> [195, 169]."""

    vocab_size = 256

    def encode(self, text: str) -> list[int]:
        """ "é" -> [195, 169]."""
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        """[195, 169] -> "é"; invalid UTF-8 becomes U+FFFD."""
        try:
            data = bytes(ids)
        except (ValueError, TypeError) as e:
            bad = next(i for i in ids if not (isinstance(i, int) and 0 <= i < 256))
            raise ValueError(
                f"ByteTokenizer.decode: id {bad!r} is not a byte (expected an int in 0..255)"
            ) from e
        return data.decode("utf-8", errors="replace")
