"""Pre-tokenization and the safe cut points that parallel training and streaming rely on."""

from __future__ import annotations

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.tokenizer import GPT2_PATTERN, pretokenize
from lm.tokenizer.pretokenize import (
    GPT2_ASCII_REGEX,
    SAFE_CUT_REGEX,
    SEGMENT_REGEX,
    WHITESPACE_CHARS,
    is_one_pretoken,
    last_safe_cut,
    segment,
    special_tokens_regex,
    split_on_special,
)

# text drawn from characters that exercise every branch of the GPT-2 pattern
TRICKY = st.lists(
    st.sampled_from(list("ab1'sllve \n\t\r.,!é🌍\u00a0\u2028\x1cx9") + ["  ", "'s"]), max_size=40
).map("".join)


def test_gpt2_pattern_examples() -> None:
    assert pretokenize("Hi  there!") == ["Hi", " ", " there", "!"]
    assert pretokenize("it's 2024") == ["it", "'s", " 2024"]
    assert pretokenize("a\n\n b") == ["a", "\n\n", " b"]


@settings(max_examples=400, deadline=None)
@given(TRICKY)
def test_every_safe_cut_is_exact(text: str) -> None:
    whole = pretokenize(text)
    for match in SAFE_CUT_REGEX.finditer(text):
        i = match.start()
        assert pretokenize(text[:i]) + pretokenize(text[i:]) == whole, (text, i)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(TRICKY, st.just("<|a b|>")), max_size=6))
def test_last_safe_cut_never_cuts_a_special_token(pieces: list[str]) -> None:
    text = "".join(pieces)
    i = last_safe_cut(text, ["<|a b|>"])
    special = special_tokens_regex(["<|a b|>"])
    if i:
        assert special.findall(text[:i]) + special.findall(text[i:]) == special.findall(text)


def test_longest_special_token_first() -> None:
    special = special_tokens_regex(["<|a|>", "<|a|><|a|>"])
    assert split_on_special("x<|a|><|a|>y", special) == ["x", "<|a|><|a|>", "y"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(TRICKY, st.text()))
def test_reordered_regex_and_segments_match_gpt2_pattern(text: str) -> None:
    expected = regex.findall(GPT2_PATTERN, text)
    assert pretokenize(text) == expected
    assert [p for seg in segment(text) for p in pretokenize(seg)] == expected
    assert "".join(segment(text)) == text
    for seg in segment(text):
        if is_one_pretoken(seg):
            assert pretokenize(seg) == [seg]


def test_segment_whitespace_is_unicode_white_space() -> None:
    """The stdlib class spelled out in WHITESPACE equals `regex`'s \\s on every code point up to
    U+3000, the last White_Space one (no code point above it is in the class)."""
    for c in map(chr, range(0x3001)):
        is_space = regex.match(r"\s", c) is not None
        assert (len(SEGMENT_REGEX.findall(f"x{c}x")) == 2) == is_space, hex(ord(c))
        assert (c in WHITESPACE_CHARS) == is_space, hex(ord(c))


ASCII_TRICKY = st.lists(
    st.sampled_from(list("ab1'sllve \n\t\r\x0b\x0c.,!\x1c9") + ["  ", "'s"])
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40) | ASCII_TRICKY)
def test_ascii_pattern_equals_gpt2_on_ascii(text: str) -> None:
    assert GPT2_ASCII_REGEX.findall(text) == pretokenize(text)
