"""encode_file / encode_batch on 2 processes give exactly the single-process ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lm.datafiles import data_path
from lm.tokenizer import Tokenizer, parallel_encode
from lm.tokenizer.parallel_encode import encode_file

EOT = "<|endoftext|>"


@pytest.mark.parametrize("has_specials", [True, False])
def test_encode_file_equals_encode(
    gpt2: Tokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, has_specials: bool
) -> None:
    monkeypatch.setattr(parallel_encode, "CHUNK_BYTES", 1 << 16)  # many chunks, cut everywhere
    text = data_path("ts_2MiB.txt").read_text(encoding="utf-8")[:400_000]
    if not has_specials:
        text = text.replace(EOT, "")
    path = tmp_path / "in.txt"
    path.write_text(text, encoding="utf-8")
    num_ids = encode_file(gpt2, path, tmp_path / "ids.npy", num_workers=2)
    ids = np.load(tmp_path / "ids.npy")
    assert ids.dtype == np.uint16 and num_ids == len(ids)
    assert ids.tolist() == gpt2.encode(text)


def test_encode_file_bad_input(gpt2: Tokenizer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        encode_file(gpt2, tmp_path / "missing.txt", tmp_path / "ids.npy")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff\xfe")
    with pytest.raises(ValueError, match=r"bad.txt' is not UTF-8 at byte 3"):
        encode_file(gpt2, bad, tmp_path / "ids.npy", num_workers=1)
    assert not (tmp_path / "ids.npy").exists()  # nothing half-written


def test_even_runs_cover_every_text_once() -> None:
    assert parallel_encode._even_runs([5, 1, 1, 3], 2) == [(0, 1), (1, 4)]
    assert parallel_encode._even_runs([1] * 10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert parallel_encode._even_runs([0, 10], 2) == [(0, 2)]  # one run: encoded in-process
    assert parallel_encode._even_runs([1, 1], 4) == [(0, 1), (1, 2)]


@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_encode_batch_uneven_texts(gpt2: Tokenizer, num_workers: int) -> None:
    text = data_path("ts_2MiB.txt").read_text(encoding="utf-8")[:60_000]
    texts = [text[:40_000], "", "héllo wörld 🌍", text[40_000:], " ", "a" * 3000]
    fresh = Tokenizer(gpt2.vocab, gpt2.merges, gpt2.special_tokens)  # cold caches
    assert fresh.encode_batch(texts, num_workers) == [gpt2.encode(t) for t in texts]
    assert fresh.encode_batch([], num_workers) == []
