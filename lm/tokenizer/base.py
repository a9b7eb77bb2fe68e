"""The tokenizer contract every rung of the ladder follows, and the one number we compare them by.

A tokenizer maps a string to a list of integer ids and back. `compression_ratio` is UTF-8 bytes per
token: higher means shorter sequences (the quantity CS336 lecture 1 uses to compare tokenizers).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class TokenizerLike(Protocol):
    """Anything with `encode(str) -> list[int]` and `decode(list[int]) -> str`."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


def compression_ratio(text: str, tokenizer: TokenizerLike) -> float:
    """UTF-8 bytes per token of `text`: "hello" with a byte tokenizer -> 1.0."""
    num_bytes = len(text.encode("utf-8"))
    num_tokens = len(tokenizer.encode(text))
    if num_tokens == 0:
        raise ValueError(f"compression_ratio of {text!r}: the tokenizer produced no tokens")
    return num_bytes / num_tokens
