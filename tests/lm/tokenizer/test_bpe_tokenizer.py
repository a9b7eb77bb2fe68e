"""Tokenizer: round trips, special tokens, streaming, files, and bad input."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.datafiles import data_path
from lm.tokenizer import Tokenizer, bpe, train_bpe

EOT = "<|endoftext|>"
SPECIALS = [EOT, "<|a|>", "<|a|><|a|>"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    vocab, merges = train_bpe(data_path("tinystories_sample.txt"), 600, [EOT])
    return Tokenizer(vocab, merges, SPECIALS)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_round_trip_any_unicode(gpt2: Tokenizer, text: str) -> None:
    assert gpt2.decode(gpt2.encode(text)) == text


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(SPECIALS)), max_size=12))
def test_round_trip_with_special_tokens(small: Tokenizer, pieces: list[str]) -> None:
    text = "".join(pieces)
    ids = small.encode(text)
    assert small.decode(ids) == text
    # every special token in the text comes out as exactly one id (never split)
    num_specials = sum(ids.count(small._special_to_id[s]) for s in SPECIALS)
    assert num_specials == len(small._special_regex.findall(text))


def test_special_tokens_never_split(gpt2: Tokenizer) -> None:
    ids = gpt2.encode(f"Hello{EOT}world{EOT}{EOT} x")
    eot = gpt2._special_to_id[EOT]
    assert ids.count(eot) == 3
    assert [gpt2.decode([i]) for i in ids].count(EOT) == 3
    # without the special token declared it is plain text, split into several tokens
    plain = Tokenizer(gpt2.vocab, gpt2.merges).encode_ordinary(EOT)
    assert len(plain) > 1 and gpt2.decode(plain) == EOT


def test_longest_overlapping_special_token_wins(small: Tokenizer) -> None:
    single, double = small._special_to_id["<|a|>"], small._special_to_id["<|a|><|a|>"]
    assert small.encode("<|a|><|a|>") == [double]
    assert small.encode("<|a|><|a|><|a|>") == [double, single]
    assert small.encode("x<|a|>") == [*small.encode("x"), single]


def test_new_special_tokens_get_ids_after_the_vocab(gpt2: Tokenizer) -> None:
    tok = Tokenizer(gpt2.vocab, gpt2.merges, [EOT, "<|pad|>"])
    assert tok._special_to_id == {EOT: 50256, "<|pad|>": 50257}
    assert tok.decode(tok.encode("a<|pad|>b")) == "a<|pad|>b"


def test_decode_invalid_utf8_is_replacement_char(gpt2: Tokenizer) -> None:
    ids = gpt2.encode("é")
    byte_id = gpt2._byte_ids[0xC3]  # a lone UTF-8 lead byte
    assert gpt2.decode([byte_id]) == "\ufffd"
    assert gpt2.decode([*ids, byte_id]) == "é\ufffd"


def test_decode_id_out_of_range(gpt2: Tokenizer) -> None:
    with pytest.raises(ValueError, match=r"id 50257 is outside the vocabulary"):
        gpt2.decode([1, 50257])
    with pytest.raises(ValueError, match=r"id -1 is outside"):
        gpt2.decode([-1])
    long = [31373] * 1000  # long inputs take the numpy path
    assert gpt2.decode(long) == "hello" * 1000
    with pytest.raises(ValueError, match=r"id 60000 is outside the vocabulary"):
        gpt2.decode([*long, 60000])
    with pytest.raises(ValueError, match=r"id -5 is outside the vocabulary"):
        gpt2.decode(np.array([*long, -5]))
    with pytest.raises(ValueError, match=r"must be integers, got dtype float64"):
        gpt2.decode([0.5] * 1000)


def test_encode_iterable_equals_encode_and_streams(gpt2: Tokenizer) -> None:
    text = data_path("ts_2MiB.txt").read_text(encoding="utf-8")[: 1 << 20]
    with io.StringIO(text) as f:
        assert list(gpt2.encode_iterable(f)) == gpt2.encode(text)
    # chunks cut mid-word, mid-space-run and mid-special token still give the same ids
    tricky = ("  hello   world\n\n  x" + EOT + "y'll 123 ") * 5000
    chunks = [tricky[i : i + 7] for i in range(0, len(tricky), 7)]
    assert list(gpt2.encode_iterable(chunks)) == gpt2.encode(tricky)


def _streaming_peak(tokenizer: Tokenizer, path: Path) -> tuple[int, int]:
    tracemalloc.start()
    with path.open(encoding="utf-8") as f:
        num_ids = sum(1 for _ in tokenizer.encode_iterable(f))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return num_ids, peak


def test_encode_iterable_memory_does_not_grow_with_the_file(
    gpt2: Tokenizer, tmp_path: Path
) -> None:
    line = "Once upon a time there was a little dog named Max.\n"
    gpt2.encode(line * 10)  # warm the cache so only streaming state is measured
    peaks = []
    for num_lines in (5_000, 20_000):  # 250 KB and 1 MB
        path = tmp_path / f"{num_lines}.txt"
        path.write_text(line * num_lines, encoding="utf-8")
        num_ids, peak = _streaming_peak(gpt2, path)
        assert num_ids == len(gpt2.encode(line)) * num_lines
        peaks.append(peak)
    assert peaks[1] < 1.25 * peaks[0], f"peak memory grew with the file: {peaks}"


def test_save_and_load_round_trip(small: Tokenizer, tmp_path: Path) -> None:
    small.save(tmp_path / "tok")
    loaded = Tokenizer.load(tmp_path / "tok")
    assert loaded.vocab == small.vocab and loaded.merges == small.merges
    assert loaded.special_tokens == small.special_tokens
    text = f"Once upon a time{EOT} <|a|><|a|> é🌍"
    assert loaded.encode(text) == small.encode(text)


def test_gpt2_files_round_trip(gpt2: Tokenizer, tmp_path: Path) -> None:
    gpt2.save(tmp_path)
    original = json.loads(data_path("gpt2_vocab.json").read_text(encoding="utf-8"))
    assert json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8")) == original
    again = Tokenizer.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt", [EOT])
    assert again.merges == gpt2.merges


def test_unparsable_files_name_file_and_line(tmp_path: Path) -> None:
    vocab = tmp_path / "vocab.json"
    merges = tmp_path / "merges.txt"
    vocab.write_text('{"a": 0,\n "b": }', encoding="utf-8")
    merges.write_text("#version: 0.2\na b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab.json:2: vocab file is not valid JSON"):
        Tokenizer.from_files(vocab, merges)
    vocab.write_text(json.dumps({"a": "zero"}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab.json: id 'zero' of token 'a'"):
        Tokenizer.from_files(vocab, merges)
    vocab.write_text(json.dumps({"a": 0, "\u4e00": 1}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"outside GPT-2's byte mapping"):
        Tokenizer.from_files(vocab, merges)
    merges.write_text("#version: 0.2\na b\nab\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"merges.txt:3: merge line 'ab' is not two"):
        Tokenizer.from_files(data_path("gpt2_vocab.json"), merges)
    merges.write_bytes(b"a b\n\xff\xfe\n")
    with pytest.raises(ValueError, match=r"merges.txt: not UTF-8 at byte 4"):
        Tokenizer.from_files(data_path("gpt2_vocab.json"), merges)
    with pytest.raises(ValueError, match=r"missing.json' does not exist"):
        Tokenizer.from_files(tmp_path / "missing.json", merges)


def test_merge_with_token_missing_from_vocab(gpt2: Tokenizer) -> None:
    with pytest.raises(ValueError, match=r"merge #0 .* missing from the vocabulary"):
        Tokenizer({i: bytes([i]) for i in range(256)}, [(b"a", b"b")])


def test_duplicate_tokens_in_vocab() -> None:
    vocab = {i: bytes([i]) for i in range(256)} | {256: b"a"}
    with pytest.raises(ValueError, match=r"ids 97 and 256 both hold b'a'"):
        Tokenizer(vocab, [])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab theé\n", max_size=700))
def test_heap_merge_equals_rescanning(small: Tokenizer, word: str) -> None:
    """The Python engine's two merge loops (heap above HEAP_MERGE_MIN bytes) agree."""
    parts = list(map(small._byte_ids.__getitem__, word.encode("utf-8")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bpe, "HEAP_MERGE_MIN", 1 << 30)
        rescanned = small._bpe(word)
    assert small._bpe_heap(parts) == rescanned
