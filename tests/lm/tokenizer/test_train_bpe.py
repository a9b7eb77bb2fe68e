"""train_bpe: pinned merges, tie-breaking, the worked example, speed, and bad input."""

from __future__ import annotations

import os
import time
import warnings
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_bpe import slow_train_bpe

from lm.datafiles import data_path
from lm.tokenizer import Tokenizer, bpe_train, gpt2_files, pretokenize, train_bpe
from lm.tokenizer.bpe_train import count_pretokens

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS_MERGES = FIXTURES / "corpus_en_500_merges.txt"
EOT = "<|endoftext|>"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "input.txt"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_the_cat_in_the_hat_by_hand(tmp_path: Path) -> None:
    # pre-tokens: "the", " cat", " in", " the", " hat". Count 2: (t,h), (h,e), (a,t) -> (t,h) is the
    # greatest; then (th,e) and (a,t) tie at 2 and b"th" > b"a"; then (a,t). All remaining pairs
    # count 1; the greatest first bytes are b"i" then b"h": (i,n), then (h,at).
    vocab, merges = train_bpe(_write(tmp_path, "the cat in the hat"), 256 + 1 + 5, [EOT])
    assert merges == [(b"t", b"h"), (b"th", b"e"), (b"a", b"t"), (b"i", b"n"), (b"h", b"at")]
    assert vocab[256] == EOT.encode()  # ids: 256 bytes, then the specials, then the merges
    assert [vocab[i] for i in range(257, 262)] == [b"th", b"the", b"at", b"in", b"hat"]
    assert all(vocab[i] == bytes([i]) for i in range(256))


def test_tie_break_compares_byte_string_tuples_not_concatenations(tmp_path: Path) -> None:
    # Pre-tokens (one per line): bd x10, ab x6, abc x2, abd x2. Counts: (b,d) 12 > (a,b) 10, so
    # bd merges first and "abd" becomes a|bd; then (a,b) 8. Now (ab,c) = 2 ties (a,bd) = 2: as
    # tuples b"ab" > b"a" wins, as concatenations b"abd" > b"abc" would pick the other.
    text = "bd\n" * 10 + "ab\n" * 6 + "abc\n" * 2 + "abd\n" * 2
    _, merges = train_bpe(_write(tmp_path, text), 256 + 4, [])
    assert merges == [(b"b", b"d"), (b"a", b"b"), (b"ab", b"c"), (b"a", b"bd")]
    assert slow_train_bpe(text, 256 + 4, [])[1] == merges


def test_tie_break_prefix_sorts_before_extension(tmp_path: Path) -> None:
    # bc x10, ab x2, abc x2: after (b,c), (a,bc) = 2 ties (a,b) = 2 and b"bc" > b"b" wins.
    text = "bc\n" * 10 + "ab\n" * 2 + "abc\n" * 2
    _, merges = train_bpe(_write(tmp_path, text), 256 + 3, [])
    assert merges == [(b"b", b"c"), (b"a", b"bc"), (b"a", b"b")]


def test_matches_pinned_fixture_on_corpus_en() -> None:
    """The fixture was written by reference_bpe.slow_train_bpe (UPDATE_FIXTURES=1 rewrites it)."""
    text = data_path("corpus.en").read_text(encoding="utf-8")
    if os.environ.get("UPDATE_FIXTURES"):
        gpt2_files.write_merges(CORPUS_MERGES, slow_train_bpe(text, 500, [EOT])[1])
    _, merges = train_bpe(data_path("corpus.en"), 500, [EOT])
    assert merges == gpt2_files.read_merges(CORPUS_MERGES)


def test_fixture_prefix_is_what_the_slow_trainer_gives() -> None:
    text = data_path("corpus.en").read_text(encoding="utf-8")
    _, merges = slow_train_bpe(text, 300, [EOT])
    assert merges == gpt2_files.read_merges(CORPUS_MERGES)[: len(merges)]


def test_corpus_en_500_is_fast() -> None:
    train_bpe(data_path("corpus.en"), 300, [EOT])  # warm imports and file cache
    start = time.perf_counter()
    train_bpe(data_path("corpus.en"), 500, [EOT])
    assert time.perf_counter() - start < 1.5


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(["ab", " ab", "ba", "abc", " c", "\n", "aaa", "é", "<|e|>", "bb a"]),
        max_size=30,
    ),
    st.integers(min_value=257, max_value=290),
)
def test_matches_slow_trainer_on_random_small_corpora(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[str], vocab_size: int
) -> None:
    """Small corpora are full of ties: every one must break the same way as the reference."""
    text = "".join(pieces)
    path = tmp_path_factory.mktemp("c") / "c.txt"
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small corpora often run out of pairs
        ours = train_bpe(path, vocab_size, ["<|e|>"])
    assert ours == slow_train_bpe(text, vocab_size, ["<|e|>"])


def test_special_tokens_are_never_merged_across(tmp_path: Path) -> None:
    text = f"ab{EOT}ab{EOT}ab"
    with pytest.warns(UserWarning, match="ran out of pairs after 1 merges"):
        vocab, merges = train_bpe(_write(tmp_path, text), 300, [EOT])
    assert merges == [(b"a", b"b")]
    assert list(vocab.values()).count(EOT.encode()) == 1


def test_parallel_pretokenization_equals_serial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bpe_train, "MIN_PARALLEL_BYTES", 0)  # parallel even for small files
    path = data_path("ts_2MiB.txt")
    assert count_pretokens(path, [EOT], num_workers=2) == count_pretokens(path, [EOT], 1)
    # without special tokens the chunks are cut at safe newlines
    plain = tmp_path / "plain.txt"
    plain.write_bytes(path.read_bytes().replace(EOT.encode(), b"") * 2)
    assert count_pretokens(plain, [], num_workers=2) == count_pretokens(plain, [], 1)


def test_parallel_training_matches_slow_trainer_on_tinystories(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bpe_train, "MIN_PARALLEL_BYTES", 0)  # 2 processes over 8 chunks
    text = data_path("ts_2MiB.txt").read_text(encoding="utf-8")
    expected = slow_train_bpe(text, 300, [EOT])
    assert train_bpe(data_path("ts_2MiB.txt"), 300, [EOT], num_workers=2) == expected


def test_trained_tokenizer_round_trips(tmp_path: Path) -> None:
    vocab, merges = train_bpe(data_path("tinystories_sample.txt"), 400, [EOT])
    tok = Tokenizer(vocab, merges, [EOT])
    text = data_path("tinystories_sample.txt").read_text(encoding="utf-8")
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert vocab[256] == EOT.encode() and ids.count(256) == text.count(EOT)
    assert len(ids) < len(text.encode()) / 2


def test_bad_input(tmp_path: Path) -> None:
    path = _write(tmp_path, "hello")
    with pytest.raises(ValueError, match=r"vocab_size 256 is below .* = 257"):
        train_bpe(path, 256, [EOT])
    with pytest.raises(ValueError, match="does not exist"):
        train_bpe(tmp_path / "missing.txt", 300, [])
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 ok".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt.*not UTF-8 at byte 3"):
        train_bpe(bad, 300, [])


def test_pretoken_counts_from_grouped_segments() -> None:
    segments = Counter({" a,": 2, " a": 1, "Start": 1, "  ": 3, " b.": 2, "\nc": 1})
    expected: Counter[str] = Counter()
    for seg, freq in segments.items():
        for pretoken in pretokenize(seg):
            expected[pretoken] += freq
    assert bpe_train._pretoken_counts(segments) == expected
