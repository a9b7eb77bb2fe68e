"""`python -m lm.tokenizer train|encode|native` on a tiny file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from lm.datafiles import data_path
from lm.tokenizer import Tokenizer
from tests.lm.tokenizer.engines import require_native

ROOT = Path(__file__).resolve().parents[3]
EOT = "<|endoftext|>"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lm.tokenizer", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_train_then_encode(tmp_path: Path) -> None:
    text = data_path("tinystories_sample.txt").read_text(encoding="utf-8")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    out = tmp_path / "tok"
    done = _cli("train", "--input", str(corpus), "--vocab-size", "280", "--special-token", EOT,
                "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "trained 280 tokens" in done.stderr
    tokenizer = Tokenizer.load(out)
    assert len(tokenizer.vocab) == 280 and tokenizer.special_tokens == [EOT]
    ids_path = tmp_path / "ids.npy"
    done = _cli("encode", "--tokenizer", str(out), "--input", str(corpus), "--out", str(ids_path))
    assert done.returncode == 0, done.stderr
    ids = np.load(ids_path)
    assert ids.dtype == np.uint16
    assert ids.tolist() == tokenizer.encode(text)
    assert tokenizer.decode(ids.tolist()) == text


def test_bad_input_exits_2_with_message(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hello", encoding="utf-8")
    done = _cli("train", "--input", str(corpus), "--vocab-size", "100", "--out", str(tmp_path))
    assert done.returncode == 2 and "vocab_size 100 is below" in done.stderr
    done = _cli("train", "--input", str(tmp_path / "nope.txt"), "--vocab-size", "300",
                "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_native_builds_once_and_reports_why_not(tmp_path: Path) -> None:
    require_native()
    cache = {"LM_NATIVE_CACHE": str(tmp_path / "cache")}
    first = _cli("native", env=cache)
    assert first.returncode == 0, first.stderr
    assert "engine built: " in first.stderr
    assert len(list((tmp_path / "cache").glob("bpe_native-*"))) == 1
    again = _cli("native", env=cache)
    assert "already built" in again.stderr
    no_cc = _cli("native", env={"LM_NATIVE_CACHE": str(tmp_path / "c2"), "CC": "/no/such/cc"})
    assert no_cc.returncode == 3
    assert "no C compiler found" in no_cc.stderr
