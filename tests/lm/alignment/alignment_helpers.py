"""Tiny test stand-ins: a char tokenizer with a pad id and a bigram model with known logits."""

from __future__ import annotations

import torch


class CharTokenizer:
    """One id per character of `alphabet`; pad id 0 is not a character."""

    def __init__(self, alphabet: str = "abcdefghijklmnopqrstuvwxyz +=0123456789") -> None:
        self.pad_id = 0
        self.stoi = {c: i + 1 for i, c in enumerate(alphabet)}
        self.itos = {i: c for c, i in self.stoi.items()}

    @property
    def vocab_size(self) -> int:
        return len(self.stoi) + 1

    def encode(self, text: str) -> list[int]:
        return [self.stoi[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.itos.get(i, "") for i in ids)


class BigramLM(torch.nn.Module):
    """logits[b, t] = table[input_ids[b, t]]: next-token log-probs can be computed by hand."""

    def __init__(self, vocab_size: int, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.table = torch.nn.Parameter(torch.randn(vocab_size, vocab_size, generator=gen))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.table[input_ids]  # [B, T, V]


class HFStyleOutput:
    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits


class HFStyleLM(BigramLM):
    """Like BigramLM but returns an object with `.logits`, as Hugging Face models do."""

    def forward(self, input_ids: torch.Tensor) -> HFStyleOutput:  # type: ignore[override]
        return HFStyleOutput(super().forward(input_ids))
