"""Training data for lm.train: train our BPE on a text, tokenize it once into uint16 files, split.

Also the bigram baseline: the validation loss of next-token counts, the bar a Transformer must beat.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lm.data_loading import load_tokens, write_tokens
from lm.datafiles import data_path
from lm.tokenizer import Tokenizer, train_bpe

BIGRAM_ADD_K = 0.01  # additive smoothing of bigram counts (unseen pairs must not cost infinity)


def resolve_text(name: str) -> Path:
    """The path if it exists, else a file in the data folder: "ts_2MiB.txt" -> <data>/ts_2MiB.txt"""
    path = Path(name)
    return path if path.exists() else data_path(name)


def prepare_tokens(
    text: str, vocab_size: int, special_tokens: list[str], val_fraction: float, out_dir: Path
) -> tuple[np.memmap, np.memmap, Tokenizer]:
    """Tokenizer + (train, val) uint16 token files under out_dir, built once and then reused."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"data.val_fraction={val_fraction!r} (expected between 0 and 1)")
    tok_dir, train_path, val_path = (
        out_dir / "tokenizer",
        out_dir / "train.bin",
        out_dir / "val.bin",
    )
    if not (tok_dir / "merges.txt").exists():
        vocab, merges = train_bpe(resolve_text(text), vocab_size, special_tokens)
        Tokenizer(vocab, merges, special_tokens).save(tok_dir)
    tokenizer = Tokenizer.load(tok_dir)
    if not (train_path.exists() and val_path.exists()):
        ids = np.asarray(tokenizer.encode(resolve_text(text).read_text(encoding="utf-8")))
        split = int(len(ids) * (1 - val_fraction))
        write_tokens(str(train_path), ids[:split])
        write_tokens(str(val_path), ids[split:])
    return load_tokens(str(train_path)), load_tokens(str(val_path)), tokenizer


def bigram_loss(train: npt.NDArray, val: npt.NDArray, vocab_size: int) -> float:
    """Cross-entropy (nats/token) on val of p(next | current) counted on train, add-k smoothed."""
    train, val = np.asarray(train, dtype=np.int64), np.asarray(val, dtype=np.int64)
    counts = np.zeros((vocab_size, vocab_size), dtype=np.float64)  # [V, V] current -> next
    np.add.at(counts, (train[:-1], train[1:]), 1.0)
    counts += BIGRAM_ADD_K
    log_probs = np.log(counts) - np.log(counts.sum(axis=1, keepdims=True))  # [V, V]
    return float(-log_probs[val[:-1], val[1:]].mean())


def unigram_loss(train: npt.NDArray, val: npt.NDArray, vocab_size: int) -> float:
    """Cross-entropy of token frequencies alone (ignores context), for comparison."""
    counts = np.bincount(np.asarray(train, dtype=np.int64), minlength=vocab_size) + BIGRAM_ADD_K
    log_probs = np.log(counts) - math.log(counts.sum())
    return float(-log_probs[np.asarray(val, dtype=np.int64)].mean())
