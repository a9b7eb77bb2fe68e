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
