"""Tiled matmul C = act(A @ B): a PyTorch reference and a Triton kernel with a fused activation.

Shapes: A (M, K) (leading dims flattened into M), B (K, N), C (M, N). Each program computes one
(BLOCK_M, BLOCK_N) tile of C, streaming BLOCK_K slices of A and B through SRAM: every loaded
element is reused BLOCK_N (or BLOCK_M) times, which is what lifts arithmetic intensity above
the memory roofline. Programs are ordered in GROUP_M super-rows so neighbours share L2 (the
Triton matmul tutorial). Applying the activation before the store saves a full write + read of C.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from lm.kernels.launch import (
    IS_INTERPRETING,
    autotune_on_gpu,
    check_device,
    check_dtype,
    dot,
    tile_meta,
)

ACTIVATIONS = (None, "relu", "silu", "gelu")
_CONFIGS = [
    triton.Config(
        {"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": k, "GROUP_M": 8}, num_warps=w, num_stages=s
    )
    for (m, n, k, w, s) in [
        (128, 128, 64, 8, 3), (128, 64, 32, 4, 4), (64, 128, 32, 4, 4), (64, 64, 32, 4, 4),
        (128, 256, 64, 8, 3),
    ]
]  # fmt: skip
_INTERPRETER_TILES = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2}


def _activate_torch(z: torch.Tensor, activation: str | None) -> torch.Tensor:
    if activation is None:
        return z
    if activation == "relu":
        return torch.relu(z)
    if activation == "silu":
        return torch.nn.functional.silu(z)
    return torch.nn.functional.gelu(z)  # exact (erf) GELU, as the kernel computes


def matmul_reference(
    a: torch.Tensor, b: torch.Tensor, activation: str | None = None
) -> torch.Tensor:
    """act(a @ b) with fp32 accumulation, in a's dtype: [[1, 2]] @ [[3], [4]] -> [[11]]."""
    _check_activation(activation)
    return _activate_torch(a.float() @ b.float(), activation).to(a.dtype)


@autotune_on_gpu(_CONFIGS, key=["M", "N", "K"])
@triton.jit
def _matmul_kernel(
    a_ptr, b_ptr, c_ptr, M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    ACTIVATION: tl.constexpr, UPCAST: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # Grouped ordering: walk GROUP_M tile-rows down one tile-column before moving right.
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    group_id = pid // (GROUP_M * num_pid_n)
    first_m = group_id * GROUP_M
    group_size = tl.minimum(num_pid_m - first_m, GROUP_M)
    pid_m = first_m + (pid % (GROUP_M * num_pid_n)) % group_size
    pid_n = (pid % (GROUP_M * num_pid_n)) // group_size

    # 64-bit indices: rows * stride_am (or k * stride_bk) may pass 2**31 on big matrices
    rows = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)  # (BLOCK_M,)
    cols = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)  # (BLOCK_N,)
    ks = tl.arange(0, BLOCK_K).to(tl.int64)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k_idx = k0 + ks
        a = tl.load(
            a_ptr + rows[:, None] * stride_am + k_idx[None, :] * stride_ak,
            mask=(rows[:, None] < M) & (k_idx[None, :] < K),
            other=0.0,
        )  # (BLOCK_M, BLOCK_K)
        b = tl.load(
            b_ptr + k_idx[:, None] * stride_bk + cols[None, :] * stride_bn,
            mask=(k_idx[:, None] < K) & (cols[None, :] < N),
            other=0.0,
        )  # (BLOCK_K, BLOCK_N)
        acc = dot(a, b, acc, UPCAST)
    if ACTIVATION == "relu":
        acc = tl.maximum(acc, 0.0)
    elif ACTIVATION == "silu":
        acc = acc * tl.sigmoid(acc)
    elif ACTIVATION == "gelu":
        acc = 0.5 * acc * (1.0 + tl.erf(acc * 0.7071067811865476))  # x * Phi(x)
    c_ptrs = c_ptr + rows[:, None] * stride_cm + cols[None, :] * stride_cn
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=(rows[:, None] < M) & (cols[None, :] < N))


def _launch(a: torch.Tensor, b: torch.Tensor, activation: str | None) -> torch.Tensor:
    """C = act(a @ b) for 2-D a (M, K) and b (K, N) of any strides."""
    M, K = a.shape
    N = b.shape[1]
    c = torch.empty(M, N, device=a.device, dtype=a.dtype)  # (M, N)

    def grid(meta):  # one program per output tile
        return (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),)

    _matmul_kernel[grid](
        a, b, c, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
        c.stride(0), c.stride(1), ACTIVATION=activation or "", UPCAST=IS_INTERPRETING,
        **tile_meta(**_INTERPRETER_TILES),
    )  # fmt: skip
    return c


def _activation_grad(z: torch.Tensor, activation: str) -> torch.Tensor:
    """d act / d z at the pre-activation z (fp32)."""
    if activation == "relu":
        return (z > 0).to(z.dtype)
    if activation == "silu":
        sig = torch.sigmoid(z)
        return sig * (1 + z * (1 - sig))
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    return cdf + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


class MatmulTriton(torch.autograd.Function):
    """act(a @ b) with the tiled kernel; backward recomputes a @ b, then two more tiled matmuls."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, activation: str | None = None):  # type: ignore[override]
        _check_activation(activation)
        if b.ndim != 2 or a.shape[-1] != b.shape[0]:
            raise ValueError(
                f"matmul: shapes {tuple(a.shape)!r} @ {tuple(b.shape)!r} do not chain; "
                "expected a (..., K) and b (K, N)"
            )
        check_dtype("matmul", a, b)
        check_device("matmul", a, b)
        a2 = a.reshape(-1, a.shape[-1])  # (M, K)
        ctx.save_for_backward(a2, b)
        ctx.activation, ctx.a_shape = activation, a.shape
        return _launch(a2, b, activation).reshape(*a.shape[:-1], b.shape[1])

    @staticmethod
    def backward(ctx, dc: torch.Tensor):  # type: ignore[override]
        a2, b = ctx.saved_tensors
        dz = dc.reshape(a2.shape[0], b.shape[1])  # (M, N)
        if ctx.activation is not None:
            # Recompute the pre-activation rather than storing an (M, N) tensor in forward.
            z = _launch(a2, b, None).float()
            dz = (dz.float() * _activation_grad(z, ctx.activation)).to(a2.dtype)
        da = _launch(dz, b.t(), None)  # (M, K): strides do the transpose, no copy
        db = _launch(a2.t(), dz, None)  # (K, N)
        return da.reshape(ctx.a_shape), db, None


def matmul_triton(a: torch.Tensor, b: torch.Tensor, activation: str | None = None) -> torch.Tensor:
    """act(a @ b) with the tiled Triton kernel; same signature and result as `matmul_reference`."""
    return MatmulTriton.apply(a, b, activation)


def _check_activation(activation: str | None) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"matmul: unknown activation {activation!r}; expected one of {ACTIVATIONS!r}"
        )
