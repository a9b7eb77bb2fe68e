"""Pre-tokenization: cut text into the pieces BPE merges within (GPT-2's regex), specials apart.

Follows GPT-2 (Radford+ 2019, https://github.com/openai/gpt-2/blob/master/src/encoder.py): merges
never cross a pre-token boundary, and special tokens (e.g. "<|endoftext|>") are cut out first so no
merge crosses them either. Also finds the places where a text may be cut so that both halves pre-
tokenize exactly as the whole does, which lets us split big files across processes and stream them.
"""

from __future__ import annotations

from collections.abc import Iterable

import regex

# The GPT-2 pattern: contractions, optional-space + letters, optional-space + numbers,
# optional-space + punctuation, whitespace not followed by non-whitespace, other whitespace.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT2_REGEX = regex.compile(GPT2_PATTERN)

# A cut at i is exact when no pre-token spans i and the left part alone ends the same way:
# (a) "X\nY" with X, Y non-space: the lone "\n" is its own pre-token either way;
# (b) "...L| L..." (letter, cut, space, letter): " L..." starts a pre-token, "...L" ends one.
SAFE_CUT_REGEX = regex.compile(r"(?<=\S\n)(?=\S)|(?<=\p{L})(?= \p{L})")


def special_tokens_regex(special_tokens: Iterable[str]) -> regex.Pattern[str] | None:
    """A regex matching any special token, longest first, with a capture group (for `split`).

    Longest first: where "<|a|>" and "<|a|><|a|>" both match, the longer one wins.
    """
    tokens = sorted(set(special_tokens), key=lambda s: (-len(s), s))
    if not tokens:
        return None
    if any(not t for t in tokens):
        raise ValueError(f"special tokens must be non-empty strings, got {tokens!r}")
    return regex.compile("(" + "|".join(regex.escape(t) for t in tokens) + ")")


def split_on_special(text: str, special: regex.Pattern[str] | None) -> list[str]:
    """Alternating [plain, special, plain, ...]: "a<|e|>b" -> ["a", "<|e|>", "b"].

    Odd positions hold special tokens (empty plain parts are kept to keep the parity).
    """
    if special is None:
        return [text]
    return special.split(text)


def pretokenize(text: str) -> list[str]:
    """GPT-2 pre-tokens: "Hi  there!" -> ["Hi", " ", " there", "!"]."""
    return GPT2_REGEX.findall(text)


def last_safe_cut(text: str, special_tokens: Iterable[str] = (), start: int = 0) -> int:
    """Largest i >= start where text[:i] and text[i:] pre-tokenize exactly as text does; else 0.

    "ab\\ncd" -> 3. A cut inside a special token is never safe.
    """
    for match in reversed(list(SAFE_CUT_REGEX.finditer(text, pos=start))):
        i = match.start()
        if not any(_spans(text, token, i) for token in special_tokens):
            return i
    return 0


def _spans(text: str, token: str, i: int) -> bool:
    """Does an occurrence of `token` in `text` straddle position i?"""
    lo = max(0, i - len(token) + 1)
    found = text.find(token, lo, i + len(token) - 1)
    return found != -1 and found < i
