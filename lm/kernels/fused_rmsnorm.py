"""RMSNorm: a plain-PyTorch reference and a fused Triton forward + backward (one row per program).

Shapes: N rows (all leading dims flattened), D features. Eager PyTorch reads and writes x several
times (square, mean, rsqrt, two multiplies); the fused kernel reads x and weight once and writes y
once, so it is memory-bound at about 2 * N * D * bytes. Follows Zhang & Sennrich 2019,
https://arxiv.org/abs/1910.07467, and the Triton layer-norm tutorial.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from lm.kernels.launch import autotune_on_gpu, check_device, check_dtype

DEFAULT_EPS = 1e-5
_WARP_CONFIGS = [triton.Config({}, num_warps=w) for w in (1, 2, 4, 8, 16)]
_BWD_ROWS_PER_PROGRAM = 64  # rows one backward program walks, accumulating its dweight share


def rmsnorm_reference(
    x: torch.Tensor, weight: torch.Tensor, eps: float = DEFAULT_EPS
) -> torch.Tensor:
    """y = x / sqrt(mean(x^2) + eps) * weight over the last dim, computed in fp32, in x's dtype."""
    x32 = x.float()
    rstd = torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + eps)  # (..., 1)
    return (x32 * rstd * weight.float()).to(x.dtype)


@autotune_on_gpu(_WARP_CONFIGS, key=["D"])
@triton.jit
def _rmsnorm_fwd_kernel(x_ptr, weight_ptr, y_ptr, rstd_ptr, D, eps, BLOCK_D: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)  # 64-bit: row * D may pass 2**31
    cols = tl.arange(0, BLOCK_D)
    is_col = cols < D
    x = tl.load(x_ptr + row * D + cols, mask=is_col, other=0.0).to(tl.float32)  # (BLOCK_D,)
    w = tl.load(weight_ptr + cols, mask=is_col, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / D + eps)  # scalar
    tl.store(y_ptr + row * D + cols, (x * rstd * w).to(y_ptr.dtype.element_ty), mask=is_col)
    tl.store(rstd_ptr + row, rstd)  # 4 bytes per row saved for backward instead of x_hat


@triton.jit
def _rmsnorm_bwd_kernel(
    x_ptr, weight_ptr, rstd_ptr, dy_ptr, dx_ptr, dweight_partial_ptr, N, D,
    ROWS_PER_PROGRAM: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_D)
    is_col = cols < D
    w = tl.load(weight_ptr + cols, mask=is_col, other=0.0).to(tl.float32)
    dw_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    row_start = pid * ROWS_PER_PROGRAM
    for row in range(row_start, tl.minimum(row_start + ROWS_PER_PROGRAM, N)):
        x = tl.load(x_ptr + row * D + cols, mask=is_col, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + row * D + cols, mask=is_col, other=0.0).to(tl.float32)
        rstd = tl.load(rstd_ptr + row)
        x_hat = x * rstd
        dy_w = dy * w
        # d/dx of x * rstd(x): rstd * (g - x_hat * mean(g * x_hat)) with g = dy * w
        dx = rstd * (dy_w - x_hat * (tl.sum(dy_w * x_hat, axis=0) / D))
        tl.store(dx_ptr + row * D + cols, dx.to(dx_ptr.dtype.element_ty), mask=is_col)
        dw_acc += dy * x_hat
    # One partial row per program, summed on the host: no atomics, deterministic.
    tl.store(dweight_partial_ptr + pid * D + cols, dw_acc, mask=is_col)


class RMSNormTriton(torch.autograd.Function):
    """Fused RMSNorm; saves x, weight and one fp32 rstd per row. Call `.apply(x, weight, eps)`."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, eps: float = DEFAULT_EPS):  # type: ignore[override]
        _check_inputs(x, weight)
        D = x.shape[-1]
        x2 = x.reshape(-1, D).contiguous()  # (N, D)
        y = torch.empty_like(x2)
        rstd = torch.empty(x2.shape[0], device=x.device, dtype=torch.float32)  # (N,)
        _rmsnorm_fwd_kernel[(x2.shape[0],)](
            x2, weight.contiguous(), y, rstd, D, eps, BLOCK_D=triton.next_power_of_2(D)
        )
        ctx.save_for_backward(x2, weight, rstd)
        ctx.x_shape = x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):  # type: ignore[override]
        x2, weight, rstd = ctx.saved_tensors
        N, D = x2.shape
        dy2 = dy.reshape(N, D).contiguous()  # (N, D)
        dx = torch.empty_like(x2)
        num_programs = triton.cdiv(N, _BWD_ROWS_PER_PROGRAM)
        dw_partial = torch.empty(num_programs, D, device=x2.device, dtype=torch.float32)
        _rmsnorm_bwd_kernel[(num_programs,)](
            x2, weight.contiguous(), rstd, dy2, dx, dw_partial, N, D,
            ROWS_PER_PROGRAM=_BWD_ROWS_PER_PROGRAM, BLOCK_D=triton.next_power_of_2(D),
        )  # fmt: skip
        dweight = dw_partial.sum(dim=0).to(weight.dtype)  # (D,)
        return dx.reshape(ctx.x_shape), dweight, None


def rmsnorm_triton(x: torch.Tensor, weight: torch.Tensor, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """Fused RMSNorm over the last dim; same signature and result as `rmsnorm_reference`."""
    return RMSNormTriton.apply(x, weight, eps)


def _check_inputs(x: torch.Tensor, weight: torch.Tensor) -> None:
    if weight.ndim != 1 or weight.shape[0] != x.shape[-1]:
        raise ValueError(
            f"rmsnorm: weight shape {tuple(weight.shape)!r} does not match x's last dim "
            f"{x.shape[-1]!r}; expected weight of shape ({x.shape[-1]},)"
        )
    check_dtype("rmsnorm", x, weight)
    check_device("rmsnorm", x, weight)
