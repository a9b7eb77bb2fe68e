"""The simple rungs: characters, bytes, words, didactic BPE, and compression_ratio."""

from __future__ import annotations

import pytest

from lm.tokenizer import (
    BPETokenizer,
    ByteTokenizer,
    CharacterTokenizer,
    WordTokenizer,
    compression_ratio,
    count_pairs,
    merge_pair,
)

TEXT = "Hello, 🌍! 你好!"


def test_character_tokenizer_round_trip() -> None:
    tok = CharacterTokenizer()
    assert tok.encode("hi!") == [104, 105, 33]
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert compression_ratio(TEXT, tok) == len(TEXT.encode()) / len(TEXT)
    with pytest.raises(ValueError, match="-1"):
        tok.decode([104, -1])


def test_byte_tokenizer() -> None:
    tok = ByteTokenizer()
    assert tok.encode("é") == [195, 169]
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert compression_ratio(TEXT, tok) == 1.0
    assert tok.decode([195]) == "\ufffd"  # a lone lead byte is invalid UTF-8
    with pytest.raises(ValueError, match="256"):
        tok.decode([256])


def test_word_tokenizer_unknown_word() -> None:
    tok = WordTokenizer.train("the cat in the hat")
    ids = tok.encode("the dog in the hat")
    assert ids[1] == tok.unknown_id and tok.unknown_id not in ids[:1] + ids[2:]
    assert tok.decode(ids) == "the<unk> in the hat"
    assert tok.decode(tok.encode("the cat")) == "the cat"
    assert compression_ratio("the cat", tok) == 7 / 2
    with pytest.raises(ValueError, match="99"):
        tok.decode([99])


def test_word_tokenizer_vocab_size_keeps_most_frequent() -> None:
    tok = WordTokenizer.train("a a a b b c", vocab_size=3)
    assert tok.id_to_word == ["<unk>", " a", " b"]


def test_pair_helpers() -> None:
    assert count_pairs([1, 2, 1, 2]) == {(1, 2): 2, (2, 1): 1}
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]
    assert merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]


def test_simple_bpe_the_cat_in_the_hat_by_hand() -> None:
    # Pairs with count 2: th, he, "e ", at; the greatest bytes pair is (t, h). Then (th, e) (count
    # 2, beats (a, t) since b"th" > b"a"), then (the, " ") (count 2, beats (a, t) again).
    tok = BPETokenizer.train("the cat in the hat", 3)
    assert [tok.vocab[i] for i in tok.merges.values()] == [b"th", b"the", b"the "]
    ids = tok.encode("the cat in the hat")
    assert ids == [258, *b"cat in ", 258, *b"hat"]
    assert tok.decode(ids) == "the cat in the hat"
    assert tok.decode(tok.encode(TEXT)) == TEXT


def test_simple_bpe_stops_when_nothing_to_merge() -> None:
    assert len(BPETokenizer.train("aa", 5).merges) == 1
    with pytest.raises(ValueError, match="-1"):
        BPETokenizer.train("aa", -1)
