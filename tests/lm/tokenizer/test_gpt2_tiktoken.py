"""Encoding with GPT-2's files gives exactly tiktoken's ids (tiktoken built offline from them)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.datafiles import data_path
from lm.tokenizer import Tokenizer, bpe

EOT = "<|endoftext|>"

TEXTS = {
    "ascii": "Hello, world! The quick brown fox jumps over the lazy dog.",
    "hello_world": " world world hello hello Hello HELLO",
    "numbers": "1 12 123 1234 12345 3.14159 2,000,000 0x1F",
    "contractions": "I'm you're he's we'll they've she'd IT'S 'tis",
    "unicode": "Héllo wörld, naïve café, 你好世界, Привет мир, مرحبا, ελληνικά",
    "emoji": "🌍🚀 👩‍👩‍👧‍👦 flags 🇺🇸🇫🇷 skin 👍🏽 ❤️",
    "whitespace": "a  b   c\t\td\n\n\ne \r\n f    \n   \u00a0\u3000 g\u2028h   ",
    "code": 'def f(x):\n    return {"a": [1, 2]}  # comment\n\tif x != y: pass\n',
    "special": f"Once upon a time{EOT}The end.{EOT}{EOT}",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_equals_tiktoken_on_examples(gpt2: Tokenizer, tiktoken_gpt2, name: str) -> None:
    text = TEXTS[name]
    assert gpt2.encode(text) == tiktoken_gpt2.encode(text, allowed_special="all")
    assert gpt2.decode(gpt2.encode(text)) == text


@pytest.mark.parametrize(
    "name", ["corpus.en", "tinystories_sample.txt", "mix_5MB.txt", "ts_2MiB.txt"]
)
def test_equals_tiktoken_on_shipped_corpora(gpt2: Tokenizer, tiktoken_gpt2, name: str) -> None:
    text = data_path(name).read_text(encoding="utf-8")[:200_000]  # a slice keeps this fast
    assert gpt2.encode(text) == tiktoken_gpt2.encode(text, allowed_special="all")


@pytest.mark.slow
def test_equals_tiktoken_on_whole_mix_5mb(gpt2: Tokenizer, tiktoken_gpt2) -> None:
    text = data_path("mix_5MB.txt").read_text(encoding="utf-8")
    assert gpt2.encode(text) == tiktoken_gpt2.encode(text, allowed_special="all")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_equals_tiktoken_on_any_unicode(gpt2: Tokenizer, tiktoken_gpt2, text: str) -> None:
    assert gpt2.encode_ordinary(text) == tiktoken_gpt2.encode_ordinary(text)


def test_decode_equals_tiktoken(gpt2: Tokenizer, tiktoken_gpt2) -> None:
    ids = list(range(0, 50257, 7))
    assert gpt2.decode_bytes(ids) == tiktoken_gpt2.decode_bytes(ids)
    assert gpt2.decode(ids) == tiktoken_gpt2.decode(ids, errors="replace")


def test_encode_batch_on_two_processes(gpt2: Tokenizer) -> None:
    texts = [TEXTS[k] for k in sorted(TEXTS)] * 3
    assert gpt2.encode_batch(texts, num_workers=2) == [gpt2.encode(t) for t in texts]


@pytest.mark.parametrize("block_chars", [1, 5_000])
def test_encode_in_blocks_equals_tiktoken(
    gpt2: Tokenizer, tiktoken_gpt2, monkeypatch: pytest.MonkeyPatch, block_chars: int
) -> None:
    monkeypatch.setattr(bpe, "ENCODE_BLOCK_CHARS", block_chars)
    text = data_path("ts_2MiB.txt").read_text(encoding="utf-8")[:50_000]
    text = "<|endoftext|>" + text + "<|endoftext|><|endoftext|> tail"
    fresh = Tokenizer(gpt2.vocab, gpt2.merges, gpt2.special_tokens)  # cold caches
    assert fresh.encode(text) == tiktoken_gpt2.encode(text, allowed_special="all")


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=" \n\tab1'é🌍.\u00a0", max_size=60))
def test_encode_ordinary_in_blocks_equals_tiktoken(
    gpt2: Tokenizer, tiktoken_gpt2, text: str
) -> None:
    previous = bpe.ENCODE_BLOCK_CHARS
    bpe.ENCODE_BLOCK_CHARS = 1  # cut at every safe cut past 2 characters in
    try:
        assert gpt2.encode_ordinary(text) == tiktoken_gpt2.encode_ordinary(text)
    finally:
        bpe.ENCODE_BLOCK_CHARS = previous


def test_long_pretokens_equal_tiktoken(gpt2: Tokenizer, tiktoken_gpt2) -> None:
    """Pre-tokens over HEAP_MERGE_MIN bytes merge with a heap (both engines), shorter ones by
    rescanning; either way the ids are tiktoken's, and a 100,000-letter word takes well under
    a second instead of minutes."""
    rng = random.Random(1)
    for alphabet in ["ab", "the", "aaab", "abcdefghijklmnopqrstuvwxyz", "0123456789", "!?.", "é你"]:
        for length in (bpe.HEAP_MERGE_MIN - 1, bpe.HEAP_MERGE_MIN + 1, 1500):
            word = "".join(rng.choice(alphabet) for _ in range(length))
            assert gpt2.encode(word) == tiktoken_gpt2.encode_ordinary(word), (alphabet, length)
    text = "a" * 100_000 + " " + "ab" * 3000 + "\n"
    assert gpt2.encode(text) == tiktoken_gpt2.encode_ordinary(text)
