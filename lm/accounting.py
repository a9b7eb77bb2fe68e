"""Resource accounting for TransformerLM: parameters, FLOPs per token, training memory.

The formulas the lectures derive (https://arxiv.org/abs/2001.08361 section 2.1, and
https://arxiv.org/abs/2204.02311 appendix B for MFU); benchmarks/model.py checks them against
measurements. Shape names follow lm/model.py: V vocab, C d_model, F d_ff, L layers, T context.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from lm.model import TransformerLM

ADAMW_STATE_PER_PARAM = 2  # first and second moment


def parameter_count(vocab_size: int, d_model: int, num_layers: int, d_ff: int, num_heads: int,
                    num_kv_heads: int | None = None, is_tied: bool = False) -> int:  # fmt: skip
    """Parameters of the default (RMSNorm, SwiGLU) TransformerLM, counted from its matrices."""
    kv_dim = d_model // num_heads * (num_kv_heads or num_heads)
    attn = 2 * d_model * d_model + 2 * d_model * kv_dim  # q, output + k, v
    ffn = 3 * d_model * d_ff
    per_layer = attn + ffn + 2 * d_model  # + ln1, ln2
    embeddings = vocab_size * d_model * (1 if is_tied else 2)  # token_embeddings (+ lm_head)
    return embeddings + num_layers * per_layer + d_model  # + ln_final


def forward_flops_per_token(model: TransformerLM, seq_len: int) -> float:
    """Matmul FLOPs of one forward pass per token: 2 * (matrix params) + attention scores.

    Embedding lookups cost no FLOPs; QK^T and AV cost 2 * 2 * T * C per layer per token
    (averaged over causal positions we still count the full T, as MFU conventions do).
    """
    matrix_params = sum(
        p.numel()
        for name, p in model.named_parameters()
        if p.dim() == 2 and "token_emb" not in name
    )
    attention = 2 * 2 * model.num_layers * seq_len * model.d_model
    return 2.0 * matrix_params + attention


def train_flops_per_token(model: TransformerLM, seq_len: int) -> float:
    """Forward + backward = 3 x forward (the backward pass does two matmuls per forward one)."""
    return 3.0 * forward_flops_per_token(model, seq_len)


def static_training_bytes(num_params: int, bytes_per_value: int = 4) -> dict[str, int]:
    """Parameters, gradients and AdamW state (fp32): 4 + 4 + 8 = 16 bytes per parameter."""
    return {
        "parameters": num_params * bytes_per_value,
        "gradients": num_params * bytes_per_value,
        "optimizer_state": ADAMW_STATE_PER_PARAM * num_params * bytes_per_value,
    }


def activation_bytes(
    batch_size: int, seq_len: int, d_model: int, num_layers: int, num_heads: int, d_ff: int,
    vocab_size: int, bytes_per_value: int = 4,
) -> int:  # fmt: skip
    """Tensors autograd keeps for the backward pass of our eager float32 TransformerLM + loss.

    Per layer: 10 [B,T,C] (each RMSNorm keeps x, x/rms and its output; attention keeps the
    scaled q, the rotated k, v and the merged heads; raw q and k are not kept since RoPE
    multiplies them by constants), 5 [B,T,F] (w1 x, sigmoid, silu, w3 x, the gated product) and
    1 [B,H,T,T] (the attention probabilities: our softmax keeps only its output). After the
    layers: the final norm (3 [B,T,C]) and the loss (its softmax, 1 [B,T,V]). Small [B,T] and
    [T,D] terms are left out.
    """
    btc, btf = batch_size * seq_len * d_model, batch_size * seq_len * d_ff
    bhtt = batch_size * num_heads * seq_len * seq_len
    per_layer = 10 * btc + 5 * btf + bhtt
    values = num_layers * per_layer + 3 * btc + batch_size * seq_len * vocab_size
    return values * bytes_per_value


def saved_activation_bytes(step: Callable[[], Tensor], exclude: list[Tensor]) -> int:
    """Measure: run `step` (a forward returning the loss) and sum the distinct storages autograd
    saves for backward, leaving out `exclude` (the parameters). Calls backward to free them."""
    seen: dict[int, int] = {}
    skip = {t.untyped_storage().data_ptr() for t in exclude}

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in skip:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = step()
    loss.backward()
    return sum(seen.values())
