"""An obviously-correct, slow BPE trainer: recount every pair after every merge.

The reference the fast `train_bpe` is pinned against. Same contract: GPT-2 pre-tokens, split on
special tokens first, most frequent pair wins, ties -> the greater (bytes, bytes) tuple.
"""

from __future__ import annotations

from collections import Counter

import regex

from lm.tokenizer import GPT2_PATTERN


def slow_train_bpe(
    text: str, vocab_size: int, special_tokens: list[str]
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    parts = [text]
    if special_tokens:
        parts = regex.split("|".join(regex.escape(s) for s in special_tokens), text)
    words: Counter[tuple[bytes, ...]] = Counter()
    for part in parts:
        for pretoken in regex.findall(GPT2_PATTERN, part):
            words[tuple(bytes([b]) for b in pretoken.encode("utf-8"))] += 1
    vocab = {i: bytes([i]) for i in range(256)}
    for token in special_tokens:
        vocab[len(vocab)] = token.encode("utf-8")
    merges = []
    while len(vocab) < vocab_size:
        pairs: Counter[tuple[bytes, bytes]] = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:], strict=False):
                pairs[pair] += count
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], p))
        merges.append(best)
        vocab[len(vocab)] = best[0] + best[1]
        merged: Counter[tuple[bytes, ...]] = Counter()
        for word, count in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += count
        words = merged
    return vocab, merges
