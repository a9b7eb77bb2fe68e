"""Pre-tokenization: cut text into the pieces BPE merges within (GPT-2's regex), specials apart.

Follows GPT-2 (Radford+ 2019, https://github.com/openai/gpt-2/blob/master/src/encoder.py): merges
never cross a pre-token boundary, and special tokens (e.g. "<|endoftext|>") are cut out first so no
merge crosses them either. Also finds the places where a text may be cut so that both halves pre-
tokenize exactly as the whole does, which lets us split big files across processes and stream them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import regex

# The GPT-2 pattern: contractions, optional-space + letters, optional-space + numbers,
# optional-space + punctuation, whitespace not followed by non-whitespace, other whitespace.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# The same pattern with the letters and numbers branches tried first (the commonest matches), so
# fewer branches fail per pre-token. Equivalent: a contraction starts with "'", which neither
# branch it now follows can match (tests/lm/tokenizer/test_pretokenize.py checks it).
GPT2_REGEX = regex.compile(
    r""" ?\p{L}+| ?\p{N}+|'(?:[sdmt]|ll|ve|re)| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)

# A cut at i is exact when text[i-1] is non-space and text[i] is whitespace: a pre-token holding a
# non-space character is " "? + non-space characters, so none runs from text[i-1] into text[i];
# and matching from i on (lookahead included) only reads text[i:], matching before i only text[:i].
SAFE_CUT_REGEX = regex.compile(r"(?<=\S)(?=\s)")

# Whitespace exactly as the `regex` module's \s (Unicode White_Space). The stdlib's \s also
# matches U+001C..U+001F, which GPT-2's pattern treats as punctuation, so it is spelled out.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Segments: a whitespace run plus the non-space run after it. Every boundary between two segments
# is a safe cut, so a segment's pre-tokens (and BPE ids) can be cached as a unit. The stdlib `re`
# with possessive quantifiers finds them ~3x faster than `regex` finds GPT-2 pre-tokens.
WHITESPACE_CHARS = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
) | frozenset(map(chr, range(0x2000, 0x200B)))
SEGMENT_REGEX = re.compile(f"[{WHITESPACE}]*+[^{WHITESPACE}]++|[{WHITESPACE}]++")
# GPT-2's pattern for ASCII-only text, in the stdlib `re` (~1.4x faster than `regex` there): on
# ASCII, \p{L} is [A-Za-z], \p{N} is [0-9] and \s is [\t\n\x0b\x0c\r ].
_ASCII_SPACE = "\t\n\x0b\x0c\r "
GPT2_ASCII_REGEX = re.compile(
    rf"""[ ]?[A-Za-z]+|[ ]?[0-9]+|'(?:[sdmt]|ll|ve|re)|[ ]?[^{_ASCII_SPACE}A-Za-z0-9]+"""
    rf"""|[{_ASCII_SPACE}]+(?![^{_ASCII_SPACE}])|[{_ASCII_SPACE}]+"""
)


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


def segment(text: str) -> list[str]:
    """Cut at every non-space -> space boundary: "Hi  there!\n" -> ["Hi", "  there!", "\n"]."""
    return SEGMENT_REGEX.findall(text)


def is_one_pretoken(segment: str) -> bool:
    """A quick sufficient test that a segment is a single pre-token: " word" or "word" in ASCII
    letters (the commonest case; skips the regex). " the" -> True, " the," -> False."""
    body = segment[1:] if segment[:1] == " " else segment
    return body.isascii() and body.isalpha()


def last_safe_cut(text: str, special_tokens: Iterable[str] = (), start: int = 0) -> int:
    """Largest i >= start where text[:i] and text[i:] pre-tokenize exactly as text does; else 0.

    "ab cd" -> 2. A cut inside a special token is never safe.
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
