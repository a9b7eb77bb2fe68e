"""Pre-tokenization and the safe cut points that parallel training and streaming rely on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lm.tokenizer import pretokenize
from lm.tokenizer.pretokenize import (
    SAFE_CUT_REGEX,
    last_safe_cut,
    special_tokens_regex,
    split_on_special,
)

# text drawn from characters that exercise every branch of the GPT-2 pattern
TRICKY = st.lists(
    st.sampled_from(list("ab1'sllve \n\t\r.,!é🌍\u00a0\u2028x9") + ["  ", "'s"]), max_size=40
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
