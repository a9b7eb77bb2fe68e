"""Row-wise softmax: a PyTorch reference and a Triton kernel with the online (one-pass) normalizer.

Shapes: N rows (leading dims flattened), C columns. The kernel walks a row in BLOCK_C chunks,
keeping a running max m and a running sum s of exp(x - m), rescaling s whenever m grows
(Milakov & Gimelshein 2018, https://arxiv.org/abs/1805.02867): rows of any length, one read
for the statistics and one read + write for the output. FlashAttention reuses exactly this trick.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from lm.kernels.launch import autotune_on_gpu, check_device, check_dtype, tile_meta

_CONFIGS = [
    triton.Config({"BLOCK_C": c}, num_warps=w) for c in (1024, 4096) for w in (4, 8)
]  # fmt: skip
_INTERPRETER_BLOCK_C = 16


def softmax_reference(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim in fp32, returned in x's dtype: [0., 0.] -> [0.5, 0.5]."""
    return torch.softmax(x.float(), dim=-1).to(x.dtype)


@autotune_on_gpu(_CONFIGS, key=["C"])
@triton.jit
def _softmax_fwd_kernel(x_ptr, y_ptr, C, BLOCK_C: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)  # 64-bit: row * C may pass 2**31
    offs = tl.arange(0, BLOCK_C)
    m = tl.full((), float("-inf"), tl.float32)  # running row max
    s = tl.zeros((), dtype=tl.float32)  # running sum of exp(x - m)
    for start in range(0, C, BLOCK_C):
        cols = start + offs
        x = tl.load(x_ptr + row * C + cols, mask=cols < C, other=float("-inf")).to(tl.float32)
        m_new = tl.maximum(m, tl.max(x, axis=0))
        # subtle: while every value so far is -inf (a masked prefix), m_new - m is -inf - -inf =
        # NaN; subtracting 0 instead keeps the sum at exactly 0 until a finite value arrives.
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        s = s * tl.exp(m - m_safe) + tl.sum(tl.exp(x - m_safe), axis=0)  # rescale the old sum
        m = m_new
    for start in range(0, C, BLOCK_C):
        cols = start + offs
        x = tl.load(x_ptr + row * C + cols, mask=cols < C, other=float("-inf")).to(tl.float32)
        y = tl.exp(x - m) / s
        tl.store(y_ptr + row * C + cols, y.to(y_ptr.dtype.element_ty), mask=cols < C)


@autotune_on_gpu(_CONFIGS, key=["C"])
@triton.jit
def _softmax_bwd_kernel(y_ptr, dy_ptr, dx_ptr, C, BLOCK_C: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)  # 64-bit: row * C may pass 2**31
    offs = tl.arange(0, BLOCK_C)
    dot = tl.zeros((), dtype=tl.float32)  # sum_j dy_j * y_j
    for start in range(0, C, BLOCK_C):
        cols = start + offs
        y = tl.load(y_ptr + row * C + cols, mask=cols < C, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + row * C + cols, mask=cols < C, other=0.0).to(tl.float32)
        dot += tl.sum(y * dy, axis=0)
    for start in range(0, C, BLOCK_C):
        cols = start + offs
        y = tl.load(y_ptr + row * C + cols, mask=cols < C, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + row * C + cols, mask=cols < C, other=0.0).to(tl.float32)
        dx = y * (dy - dot)  # Jacobian-vector product of softmax
        tl.store(dx_ptr + row * C + cols, dx.to(dx_ptr.dtype.element_ty), mask=cols < C)


class SoftmaxTriton(torch.autograd.Function):
    """Online softmax over the last dim; saves only the output y for backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor):  # type: ignore[override]
        check_dtype("softmax", x)
        check_device("softmax", x)
        C = x.shape[-1]
        x2 = x.reshape(-1, C).contiguous()  # (N, C)
        y = torch.empty_like(x2)
        _softmax_fwd_kernel[(x2.shape[0],)](x2, y, C, **tile_meta(BLOCK_C=_INTERPRETER_BLOCK_C))
        ctx.save_for_backward(y)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):  # type: ignore[override]
        (y,) = ctx.saved_tensors
        dy2 = dy.reshape(y.shape).contiguous()  # (N, C)
        dx = torch.empty_like(y)
        _softmax_bwd_kernel[(y.shape[0],)](
            y, dy2, dx, y.shape[1], **tile_meta(BLOCK_C=_INTERPRETER_BLOCK_C)
        )
        return dx.reshape(dy.shape)


def softmax_triton(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim with the online Triton kernel; same contract as the reference."""
    return SoftmaxTriton.apply(x)
