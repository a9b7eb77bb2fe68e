"""Rung 3: one token per word (GPT-2 pre-token), from a vocabulary fixed at training time.

Short sequences, but the vocabulary is unbounded and every unseen word becomes the unknown id,
which decode cannot undo. BPE (next rungs) keeps the short sequences without the unknown word.
"""

from __future__ import annotations

from collections import Counter

from lm.tokenizer.pretokenize import pretokenize

UNKNOWN_TOKEN = "<unk>"


class WordTokenizer:
    """Words seen in training get ids 1..N, anything else gets id 0 (`UNKNOWN_TOKEN`)."""

    unknown_id = 0

    def __init__(self, words: list[str]) -> None:
        self.id_to_word = [UNKNOWN_TOKEN, *words]
        self.word_to_id = {w: i for i, w in enumerate(self.id_to_word) if i != self.unknown_id}
        if len(self.word_to_id) != len(words):
            raise ValueError(f"WordTokenizer: duplicate words in vocabulary {words!r}")

    @property
    def vocab_size(self) -> int:
        return len(self.id_to_word)

    @classmethod
    def train(cls, text: str, vocab_size: int | None = None) -> WordTokenizer:
        """Keep the `vocab_size - 1` most frequent words of `text` (all of them if None)."""
        counts = Counter(pretokenize(text))
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        if vocab_size is not None:
            if vocab_size < 1:
                raise ValueError(f"WordTokenizer.train: vocab_size {vocab_size!r} must be >= 1")
            ranked = ranked[: vocab_size - 1]
        return cls(ranked)

    def encode(self, text: str) -> list[int]:
        """ "the cat" -> [3, 7] (ids depend on training); unseen words -> 0."""
        get = self.word_to_id.get
        return [get(w, self.unknown_id) for w in pretokenize(text)]

    def decode(self, ids: list[int]) -> str:
        """[3, 7] -> "the cat"; the unknown id decodes to "<unk>"."""
        for i in ids:
            if not (isinstance(i, int) and 0 <= i < len(self.id_to_word)):
                raise ValueError(
                    f"WordTokenizer.decode: id {i!r} is outside the vocabulary "
                    f"(expected 0..{len(self.id_to_word) - 1})"
                )
        return "".join(self.id_to_word[i] for i in ids)
