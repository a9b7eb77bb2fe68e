"""lm.accounting: the formulas agree with what the model actually holds."""

from __future__ import annotations

import torch

from lm.accounting import (
    activation_bytes,
    forward_flops_per_token,
    parameter_count,
    saved_activation_bytes,
)
from lm.model import TransformerLM, count_parameters
from lm.nn_utils import cross_entropy


def test_parameter_count_formula():
    for kv, tied in ((None, False), (2, True)):
        model = TransformerLM(100, 16, 32, 3, 4, 48, num_kv_heads=kv, is_tied=tied)
        assert count_parameters(model) == parameter_count(100, 32, 3, 48, 4, kv, tied)


def test_activation_formula_within_ten_percent_of_saved_tensors():
    torch.manual_seed(0)
    B, T, C, L, H, F, V = 2, 32, 32, 2, 4, 96, 300
    model = TransformerLM(V, T, C, L, H, F)
    x = torch.randint(0, V, (B, T + 1))
    measured = saved_activation_bytes(
        lambda: cross_entropy(model(x[:, :-1]), x[:, 1:]), list(model.parameters())
    )
    predicted = activation_bytes(B, T, C, L, H, F, V)
    assert abs(predicted / measured - 1) < 0.10, (predicted, measured)


def test_forward_flops_counts_matrices_twice():
    model = TransformerLM(100, 16, 32, 1, 4, 48)
    matrices = 4 * 32 * 32 + 3 * 32 * 48 + 100 * 32  # attention, ffn, lm_head (no embeddings)
    assert forward_flops_per_token(model, 16) == 2 * matrices + 4 * 1 * 16 * 32
