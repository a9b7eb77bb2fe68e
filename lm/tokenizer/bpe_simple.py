"""Rung 4: byte-pair encoding in its plainest form, trained on one string (Sennrich+ 2015).

Start from UTF-8 bytes; repeatedly count adjacent pairs, merge the most frequent pair into a new id.
No pre-tokenization and no special tokens: this is the version to read and step through
(https://arxiv.org/abs/1508.07909). `train_bpe` (bpe_train.py) and `Tokenizer` (bpe.py) are the
fast ones.
"""

from __future__ import annotations

from collections import Counter


def count_pairs(ids: list[int]) -> dict[tuple[int, int], int]:
    """Adjacent pair counts: [1, 2, 1, 2] -> {(1, 2): 2, (2, 1): 1}."""
    return dict(Counter(zip(ids, ids[1:], strict=False)))


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each left-to-right occurrence of `pair`: [1, 2, 3, 1, 2], (1, 2), 9 -> [9, 3, 9]."""
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def best_pair(counts: dict[tuple[int, int], int], vocab: dict[int, bytes]) -> tuple[int, int]:
    """The most frequent pair; ties go to the lexicographically greater (bytes, bytes) pair."""
    return max(counts, key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]]))


class BPETokenizer:
    """Byte-level BPE with merges applied in training order: "the cat" -> [116, 104, 257, ...]."""

    def __init__(self, merges: dict[tuple[int, int], int]) -> None:
        self.merges = dict(merges)  # (id, id) -> new id, in the order they were learned
        self.vocab = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]

    @classmethod
    def train(cls, text: str, num_merges: int) -> BPETokenizer:
        """Learn `num_merges` merges from `text` ("the cat in the hat", 3 -> 3 merges)."""
        if num_merges < 0:
            raise ValueError(f"BPETokenizer.train: num_merges {num_merges!r} must be >= 0")
        ids = list(text.encode("utf-8"))
        vocab = {i: bytes([i]) for i in range(256)}
        merges: dict[tuple[int, int], int] = {}
        for new_id in range(256, 256 + num_merges):
            counts = count_pairs(ids)
            if not counts:
                break  # the whole text is one token: nothing left to merge
            pair = best_pair(counts, vocab)
            ids = merge_pair(ids, pair, new_id)
            merges[pair] = new_id
            vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        return cls(merges)

    def encode(self, text: str) -> list[int]:
        """Apply the merges in the order they were learned."""
        ids = list(text.encode("utf-8"))
        for pair, new_id in self.merges.items():
            ids = merge_pair(ids, pair, new_id)
        return ids

    def decode(self, ids: list[int]) -> str:
        """Concatenate the bytes of each id; invalid UTF-8 becomes U+FFFD."""
        for i in ids:
            if i not in self.vocab:
                raise ValueError(
                    f"BPETokenizer.decode: id {i!r} is outside the vocabulary "
                    f"(expected 0..{len(self.vocab) - 1})"
                )
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")
