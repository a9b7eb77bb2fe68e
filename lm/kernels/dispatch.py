"""Dispatchers: the Triton kernel on CUDA tensors, the plain-PyTorch path everywhere else.

Shapes: as each kernel's module says. These are the functions the model and lectures call;
`FlashAttentionTriton` / `FlashAttentionPytorch` and the `*_triton` / `*_reference` pairs stay
importable for tests and benchmarks that want one path explicitly.
"""

from __future__ import annotations

import torch

from lm.kernels.flash_pytorch import FlashAttentionPytorch
from lm.kernels.flash_triton import FlashAttentionTriton
from lm.kernels.fused_rmsnorm import DEFAULT_EPS, rmsnorm_reference, rmsnorm_triton
from lm.kernels.fused_swiglu import swiglu_reference, swiglu_triton
from lm.kernels.online_softmax import softmax_reference, softmax_triton
from lm.kernels.tiled_matmul import matmul_reference, matmul_triton


def flash_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """FlashAttention-2 on (..., N, D) inputs: Triton on CUDA, tiled PyTorch elsewhere."""
    if q.is_cuda:
        return FlashAttentionTriton.apply(q, k, v, causal)
    return FlashAttentionPytorch.apply(q, k, v, causal)


def rmsnorm(x: torch.Tensor, weight: torch.Tensor, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """RMSNorm over the last dim: fused Triton kernel on CUDA, eager PyTorch elsewhere."""
    return rmsnorm_triton(x, weight, eps) if x.is_cuda else rmsnorm_reference(x, weight, eps)


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim: online Triton kernel on CUDA, torch.softmax elsewhere."""
    return softmax_triton(x) if x.is_cuda else softmax_reference(x)


def swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """silu(gate) * up: fused Triton kernel on CUDA, eager PyTorch elsewhere."""
    return swiglu_triton(gate, up) if gate.is_cuda else swiglu_reference(gate, up)


def matmul(a: torch.Tensor, b: torch.Tensor, activation: str | None = None) -> torch.Tensor:
    """act(a @ b): tiled Triton kernel on CUDA, torch matmul elsewhere."""
    return matmul_triton(a, b, activation) if a.is_cuda else matmul_reference(a, b, activation)
