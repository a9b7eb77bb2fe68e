"""Tensor parallelism (Megatron-LM, Shoeybi et al. 2019, https://arxiv.org/abs/1909.08053): split
each weight matrix over ranks so every rank does 1/p of every matmul on the same batch.

Column-parallel Linear: rank r holds rows r of W [d_out, d_in] and produces outputs [..., d_out/p].
Row-parallel Linear: rank r holds columns r, takes inputs [..., d_in/p] and its partial sums are
all-reduced. Column then row (attention heads, MLP hidden units) needs one all-reduce forward and
one backward per block. `parallelize_transformer` swaps an lm.model TransformerLM's layers in place,
from outside (as torchtitan does): the model's own attention code runs on the local heads.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn


class _CopyToParallel(torch.autograd.Function):
    """Megatron's f: identity forward; backward all-reduces the partial input gradients."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad


class _ReduceFromParallel(torch.autograd.Function):
    """Megatron's g: forward all-reduces partial outputs; backward is the identity."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


def _split_size(size: int, what: str) -> int:
    world_size = dist.get_world_size()
    if size % world_size:
        raise ValueError(
            f"{what}={size!r} in tensor parallelism "
            f"(expected a multiple of world_size={world_size})"
        )
    return size // world_size


class ColumnParallelLinear(nn.Module):
    """y_local = x @ W[rows of this rank].T: [..., d_in] -> [..., d_out / p]."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        rows = _split_size(weight.shape[0], "d_out")
        rank = dist.get_rank()
        self.w_local = nn.Parameter(weight.detach()[rank * rows : (rank + 1) * rows].clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _CopyToParallel.apply(x)  # every rank's slice contributes to dL/dx
        return x @ self.w_local.T  # [..., d_in] -> [..., d_out / p]


class RowParallelLinear(nn.Module):
    """y = all_reduce(x_local @ W[:, columns of this rank].T): [..., d_in / p] -> [..., d_out]."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        cols = _split_size(weight.shape[1], "d_in")
        rank = dist.get_rank()
        self.w_local = nn.Parameter(weight.detach()[:, rank * cols : (rank + 1) * cols].clone())

    def forward(self, x_local: torch.Tensor) -> torch.Tensor:
        partial = x_local @ self.w_local.T  # [..., d_in / p] -> [..., d_out], a partial sum
        return _ReduceFromParallel.apply(partial)


def gather_column_weight(layer: ColumnParallelLinear) -> torch.Tensor:
    """The full [d_out, d_in] weight (or its grad shape) from the row shards: a collective."""
    parts = [torch.empty_like(layer.w_local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, layer.w_local.detach().contiguous())
    return torch.cat(parts, dim=0)


def parallelize_attention(attn: nn.Module) -> None:
    """q/k/v column-parallel (a contiguous block of heads per rank), output row-parallel."""
    num_heads_local = _split_size(attn.num_heads, "num_heads")
    num_kv_heads_local = _split_size(attn.num_kv_heads, "num_kv_heads")
    attn.q_proj = ColumnParallelLinear(attn.q_proj.weight)  # [C, C] -> rows of H/p heads
    attn.k_proj = ColumnParallelLinear(attn.k_proj.weight)  # [K*D, C] -> K/p heads
    attn.v_proj = ColumnParallelLinear(attn.v_proj.weight)
    attn.output_proj = RowParallelLinear(attn.output_proj.weight)  # [C, C] -> columns of H/p heads
    attn.num_heads, attn.num_kv_heads = num_heads_local, num_kv_heads_local


def parallelize_ffn(ffn: nn.Module) -> None:
    """SwiGLU (w1, w3 column; w2 row) or MLP (w1 column; w2 row): hidden units split over ranks."""
    ffn.w1 = ColumnParallelLinear(ffn.w1.weight)  # [F, C] -> [F/p, C]
    if hasattr(ffn, "w3"):
        ffn.w3 = ColumnParallelLinear(ffn.w3.weight)  # [F, C] -> [F/p, C]
    ffn.w2 = RowParallelLinear(ffn.w2.weight)  # [C, F] -> [C, F/p]


def parallelize_transformer(model: nn.Module) -> nn.Module:
    """Tensor-parallelize every block of an lm.model TransformerLM in place; embeddings, norms and
    the output head stay replicated. Every rank must feed the same batch."""
    for block in model.layers:
        parallelize_attention(block.attn)
        parallelize_ffn(block.ffn)
    return model
