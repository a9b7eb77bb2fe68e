"""FlashAttention-2 forward and backward as Triton kernels (pointer arithmetic + masks).

Shapes: B batch (leading dims flattened), Nq queries, Nk keys, D head dim padded to D_BLOCK;
Q_TILE x K_TILE tiles. Same algorithm and saved tensors as `flash_pytorch.py`, which reads more
easily: forward keeps one query tile in SRAM and streams key/value tiles from HBM; backward runs
one kernel per key tile for dK, dV and one per query tile for dQ (no atomics), recomputing
P = exp(S - L). Dao 2023, https://arxiv.org/abs/2307.08691.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from lm.kernels.flash_pytorch import check_attention_inputs
from lm.kernels.launch import IS_INTERPRETING, autotune_on_gpu, check_device, dot, tile_meta

_KEY = ["N_QUERIES", "N_KEYS", "D_BLOCK", "IS_CAUSAL"]
_FWD_CONFIGS = [
    triton.Config({"Q_TILE": q, "K_TILE": k}, num_warps=w, num_stages=s)
    for (q, k, w, s) in [
        (128, 64, 8, 3), (128, 64, 4, 3), (128, 128, 8, 2), (64, 64, 4, 3), (64, 32, 4, 4),
        (128, 32, 4, 4), (32, 32, 4, 1),  # the last fits SRAM even for fp32 with D=256
    ]
]  # fmt: skip
_BWD_CONFIGS = [
    triton.Config({"Q_TILE": q, "K_TILE": k}, num_warps=w, num_stages=s)
    for (q, k, w, s) in [
        (64, 64, 4, 2), (32, 64, 4, 2), (64, 128, 8, 2), (32, 128, 4, 2), (64, 32, 4, 3),
        (32, 32, 4, 1),  # fits SRAM even for fp32 with D=256
    ]
]  # fmt: skip
_INTERPRETER_TILES = {"Q_TILE": 16, "K_TILE": 16}
LOG2E = tl.constexpr(1.4426950408889634)  # exp(x) = exp2(x * log2(e)): exp2 is the native op
LN2 = tl.constexpr(0.6931471805599453)


@triton.jit
def _fwd_key_tiles(
    q, acc, m, row_sum, k_ptr, v_ptr, stride_kn, stride_vn, q_rows, dims,
    k_start, k_stop, N_KEYS, HEAD_DIM, qk_scale,
    IS_MASKED: tl.constexpr, IS_CAUSAL: tl.constexpr, UPCAST: tl.constexpr,
    Q_TILE: tl.constexpr, K_TILE: tl.constexpr,
):  # fmt: skip
    """Fold key tiles [k_start, k_stop) into the running (acc, m, row_sum) of one query tile.

    Scores are in log2 units (qk_scale includes log2(e)) so the exponentials are exp2. Only the
    tiles on the causal diagonal or past the end of the keys pay for masking (IS_MASKED).
    """
    for k0 in range(k_start, k_stop, K_TILE):
        k_rows = k0 + tl.arange(0, K_TILE)  # (K_TILE,)
        kv_mask = dims[None, :] < HEAD_DIM  # (1, D_BLOCK): padding of the head dim
        if IS_MASKED:
            kv_mask = kv_mask & (k_rows[:, None] < N_KEYS)
        k = tl.load(k_ptr + k_rows[:, None] * stride_kn + dims[None, :], mask=kv_mask, other=0.0)
        v = tl.load(v_ptr + k_rows[:, None] * stride_vn + dims[None, :], mask=kv_mask, other=0.0)
        s = dot(q, tl.trans(k), tl.zeros((Q_TILE, K_TILE), dtype=tl.float32), UPCAST) * qk_scale
        if IS_MASKED:
            is_valid = k_rows[None, :] < N_KEYS  # (1, K_TILE): keys past the end
            if IS_CAUSAL:
                is_valid = is_valid & (k_rows[None, :] <= q_rows[:, None])
            s = tl.where(is_valid, s, float("-inf"))  # (Q_TILE, K_TILE)
        m_new = tl.maximum(m, tl.max(s, axis=1))
        p = tl.exp2(s - m_new[:, None])
        alpha = tl.exp2(m - m_new)  # rescale old statistics to the new max
        row_sum = row_sum * alpha + tl.sum(p, axis=1)
        acc = dot(p.to(v.dtype), v, acc * alpha[:, None], UPCAST)  # (Q_TILE, D_BLOCK)
        m = m_new
    return acc, m, row_sum


@autotune_on_gpu(_FWD_CONFIGS, key=_KEY)
@triton.jit
def _flash_fwd_kernel(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr,
    stride_qb, stride_qn, stride_kb, stride_kn, stride_vb, stride_vn, stride_ob, stride_on,
    N_QUERIES, N_KEYS, HEAD_DIM, scale,
    IS_CAUSAL: tl.constexpr, UPCAST: tl.constexpr, D_BLOCK: tl.constexpr,
    Q_TILE: tl.constexpr, K_TILE: tl.constexpr,
):  # fmt: skip
    q_tile_idx, b = tl.program_id(0), tl.program_id(1).to(tl.int64)  # b * stride: 64-bit
    q_start = q_tile_idx * Q_TILE
    q_rows = q_start + tl.arange(0, Q_TILE)  # (Q_TILE,)
    dims = tl.arange(0, D_BLOCK)  # (D_BLOCK,): head dim padded to a power of two
    q_mask = (q_rows[:, None] < N_QUERIES) & (dims[None, :] < HEAD_DIM)
    q = tl.load(
        q_ptr + b * stride_qb + q_rows[:, None] * stride_qn + dims[None, :], mask=q_mask, other=0.0
    )  # (Q_TILE, D_BLOCK): read from HBM once, reused against every key tile
    m = tl.full((Q_TILE,), float("-inf"), tl.float32)  # running row max (log2 units)
    row_sum = tl.zeros((Q_TILE,), dtype=tl.float32)
    acc = tl.zeros((Q_TILE, D_BLOCK), dtype=tl.float32)
    k_end = N_KEYS
    k_full = (N_KEYS // K_TILE) * K_TILE  # key tiles [0, k_full) need no mask
    if IS_CAUSAL:
        k_end = tl.minimum(N_KEYS, q_start + Q_TILE)  # skip tiles above the diagonal
        k_full = tl.minimum(k_full, (q_start // K_TILE) * K_TILE)  # wholly below the diagonal
    qk_scale = scale * LOG2E
    k_base, v_base = k_ptr + b * stride_kb, v_ptr + b * stride_vb
    acc, m, row_sum = _fwd_key_tiles(
        q, acc, m, row_sum, k_base, v_base, stride_kn, stride_vn, q_rows, dims, 0, k_full,
        N_KEYS, HEAD_DIM, qk_scale, False, IS_CAUSAL, UPCAST, Q_TILE, K_TILE,
    )  # fmt: skip
    acc, m, row_sum = _fwd_key_tiles(
        q, acc, m, row_sum, k_base, v_base, stride_kn, stride_vn, q_rows, dims, k_full, k_end,
        N_KEYS, HEAD_DIM, qk_scale, True, IS_CAUSAL, UPCAST, Q_TILE, K_TILE,
    )  # fmt: skip
    o = acc / row_sum[:, None]
    tl.store(o_ptr + b * stride_ob + q_rows[:, None] * stride_on + dims[None, :],
             o.to(o_ptr.dtype.element_ty), mask=q_mask)  # fmt: skip
    lse = (m + tl.log2(row_sum)) * LN2  # back to natural log: L = log sum_j exp(s_j)
    tl.store(lse_ptr + b * N_QUERIES + q_rows, lse, mask=q_rows < N_QUERIES)


@triton.jit
def _bwd_tile(
    q, k, v, do, lse, delta, q_rows, k_rows, N_QUERIES, N_KEYS, qk_scale, scale,
    IS_CAUSAL: tl.constexpr, UPCAST: tl.constexpr, Q_TILE: tl.constexpr, K_TILE: tl.constexpr,
):  # fmt: skip
    """One (query tile, key tile) of the backward, shared by the dK/dV and the dQ kernels.

    Returns P = exp(S - L), recomputed from the saved L (log2 units; 0 past the queries, the keys
    or the causal mask), and dS = P * (dP - delta) * scale, both (Q_TILE, K_TILE).
    """
    s = dot(q, tl.trans(k), tl.zeros((Q_TILE, K_TILE), dtype=tl.float32), UPCAST) * qk_scale
    is_valid = (q_rows[:, None] < N_QUERIES) & (k_rows[None, :] < N_KEYS)
    if IS_CAUSAL:
        is_valid = is_valid & (k_rows[None, :] <= q_rows[:, None])
    p = tl.where(is_valid, tl.exp2(s - lse[:, None]), 0.0)
    dp = dot(do, tl.trans(v), tl.zeros((Q_TILE, K_TILE), dtype=tl.float32), UPCAST)
    ds = p * (dp - delta[:, None]) * scale
    return p, ds


@autotune_on_gpu(_BWD_CONFIGS, key=_KEY)
@triton.jit
def _flash_bwd_dkdv_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr,
    stride_b_q, stride_n_q, stride_b_k, stride_n_k,
    N_QUERIES, N_KEYS, HEAD_DIM, scale,
    IS_CAUSAL: tl.constexpr, UPCAST: tl.constexpr, D_BLOCK: tl.constexpr,
    Q_TILE: tl.constexpr, K_TILE: tl.constexpr,
):  # fmt: skip
    # q, do share (stride_b_q, stride_n_q); k, v, dk, dv share (stride_b_k, stride_n_k).
    k_tile_idx, b = tl.program_id(0), tl.program_id(1).to(tl.int64)  # b * stride: 64-bit
    qk_scale = scale * LOG2E  # scores and L in log2 units, as in the forward
    k_rows = k_tile_idx * K_TILE + tl.arange(0, K_TILE)
    dims = tl.arange(0, D_BLOCK)
    kv_mask = (k_rows[:, None] < N_KEYS) & (dims[None, :] < HEAD_DIM)
    kv_offs = b * stride_b_k + k_rows[:, None] * stride_n_k + dims[None, :]
    k = tl.load(k_ptr + kv_offs, mask=kv_mask, other=0.0)  # (K_TILE, D_BLOCK)
    v = tl.load(v_ptr + kv_offs, mask=kv_mask, other=0.0)
    dk = tl.zeros((K_TILE, D_BLOCK), dtype=tl.float32)
    dv = tl.zeros((K_TILE, D_BLOCK), dtype=tl.float32)
    q_start = 0
    if IS_CAUSAL:
        q_start = ((k_tile_idx * K_TILE) // Q_TILE) * Q_TILE  # earlier queries never see k_rows
    for q0 in range(q_start, N_QUERIES, Q_TILE):
        q_rows = q0 + tl.arange(0, Q_TILE)
        q_mask = (q_rows[:, None] < N_QUERIES) & (dims[None, :] < HEAD_DIM)
        q_offs = b * stride_b_q + q_rows[:, None] * stride_n_q + dims[None, :]
        q = tl.load(q_ptr + q_offs, mask=q_mask, other=0.0)  # (Q_TILE, D_BLOCK)
        do = tl.load(do_ptr + q_offs, mask=q_mask, other=0.0)
        lse = tl.load(lse_ptr + b * N_QUERIES + q_rows, mask=q_rows < N_QUERIES, other=0.0) * LOG2E
        delta = tl.load(delta_ptr + b * N_QUERIES + q_rows, mask=q_rows < N_QUERIES, other=0.0)
        p, ds = _bwd_tile(q, k, v, do, lse, delta, q_rows, k_rows, N_QUERIES, N_KEYS, qk_scale,
                          scale, IS_CAUSAL, UPCAST, Q_TILE, K_TILE)  # fmt: skip
        dv = dot(tl.trans(p.to(do.dtype)), do, dv, UPCAST)  # (K_TILE, D_BLOCK)
        dk = dot(tl.trans(ds.to(q.dtype)), q, dk, UPCAST)  # (K_TILE, D_BLOCK)
    tl.store(dk_ptr + kv_offs, dk.to(dk_ptr.dtype.element_ty), mask=kv_mask)
    tl.store(dv_ptr + kv_offs, dv.to(dv_ptr.dtype.element_ty), mask=kv_mask)


@autotune_on_gpu(_BWD_CONFIGS, key=_KEY)
@triton.jit
def _flash_bwd_dq_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr,
    stride_b_q, stride_n_q, stride_b_k, stride_n_k,
    N_QUERIES, N_KEYS, HEAD_DIM, scale,
    IS_CAUSAL: tl.constexpr, UPCAST: tl.constexpr, D_BLOCK: tl.constexpr,
    Q_TILE: tl.constexpr, K_TILE: tl.constexpr,
):  # fmt: skip
    # q, do, dq share (stride_b_q, stride_n_q); k, v share (stride_b_k, stride_n_k).
    q_tile_idx, b = tl.program_id(0), tl.program_id(1).to(tl.int64)  # b * stride: 64-bit
    qk_scale = scale * LOG2E
    q_rows = q_tile_idx * Q_TILE + tl.arange(0, Q_TILE)
    dims = tl.arange(0, D_BLOCK)
    q_mask = (q_rows[:, None] < N_QUERIES) & (dims[None, :] < HEAD_DIM)
    q_offs = b * stride_b_q + q_rows[:, None] * stride_n_q + dims[None, :]
    q = tl.load(q_ptr + q_offs, mask=q_mask, other=0.0)  # (Q_TILE, D_BLOCK)
    do = tl.load(do_ptr + q_offs, mask=q_mask, other=0.0)
    lse = tl.load(lse_ptr + b * N_QUERIES + q_rows, mask=q_rows < N_QUERIES, other=0.0) * LOG2E
    delta = tl.load(delta_ptr + b * N_QUERIES + q_rows, mask=q_rows < N_QUERIES, other=0.0)
    dq = tl.zeros((Q_TILE, D_BLOCK), dtype=tl.float32)
    k_end = N_KEYS
    if IS_CAUSAL:
        k_end = tl.minimum(N_KEYS, (q_tile_idx + 1) * Q_TILE)
    for k0 in range(0, k_end, K_TILE):
        k_rows = k0 + tl.arange(0, K_TILE)
        kv_mask = (k_rows[:, None] < N_KEYS) & (dims[None, :] < HEAD_DIM)
        kv_offs = b * stride_b_k + k_rows[:, None] * stride_n_k + dims[None, :]
        k = tl.load(k_ptr + kv_offs, mask=kv_mask, other=0.0)  # (K_TILE, D_BLOCK)
        v = tl.load(v_ptr + kv_offs, mask=kv_mask, other=0.0)
        _, ds = _bwd_tile(q, k, v, do, lse, delta, q_rows, k_rows, N_QUERIES, N_KEYS, qk_scale,
                          scale, IS_CAUSAL, UPCAST, Q_TILE, K_TILE)  # fmt: skip
        dq = dot(ds.to(k.dtype), k, dq, UPCAST)  # (Q_TILE, D_BLOCK)
    tl.store(dq_ptr + q_offs, dq.to(dq_ptr.dtype.element_ty), mask=q_mask)


def _grid(n_rows: int, batch: int, tile: str):
    """(row tiles, batch) programs; the tile size comes from autotune or the interpreter default."""
    return lambda meta: (triton.cdiv(n_rows, meta[tile]), batch)


class FlashAttentionTriton(torch.autograd.Function):
    """FlashAttention-2 forward and backward in Triton. Call `.apply(q, k, v, is_causal)`."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, is_causal: bool = False):  # type: ignore[override]
        check_attention_inputs("FlashAttentionTriton", q, k, v)
        check_device("FlashAttentionTriton", q, k, v)
        lead, (Nq, D), Nk = q.shape[:-2], q.shape[-2:], k.shape[-2]
        q3 = q.reshape(-1, Nq, D).contiguous()  # (B, Nq, D)
        k3, v3 = k.reshape(-1, Nk, D).contiguous(), v.reshape(-1, Nk, D).contiguous()  # (B, Nk, D)
        B = q3.shape[0]
        o = torch.empty_like(q3)  # (B, Nq, D)
        lse = torch.empty(B, Nq, device=q.device, dtype=torch.float32)  # (B, Nq)
        _flash_fwd_kernel[_grid(Nq, B, "Q_TILE")](
            q3, k3, v3, o, lse, q3.stride(0), q3.stride(1), k3.stride(0), k3.stride(1),
            v3.stride(0), v3.stride(1), o.stride(0), o.stride(1), Nq, Nk, D, 1.0 / math.sqrt(D),
            IS_CAUSAL=bool(is_causal), UPCAST=IS_INTERPRETING, D_BLOCK=_d_block(D),
            **tile_meta(**_INTERPRETER_TILES),
        )  # fmt: skip
        ctx.save_for_backward(lse, q3, k3, v3, o)
        ctx.is_causal, ctx.lead = bool(is_causal), lead
        return o.reshape(*lead, Nq, D)

    @staticmethod
    def backward(ctx, do: torch.Tensor):  # type: ignore[override]
        lse, q3, k3, v3, o = ctx.saved_tensors
        (B, Nq, D), Nk = q3.shape, k3.shape[1]
        do3 = do.reshape(B, Nq, D).contiguous()  # (B, Nq, D)
        delta = (o.float() * do3.float()).sum(dim=-1)  # (B, Nq): rowsum(dO * O)
        dq, dk, dv = torch.empty_like(q3), torch.empty_like(k3), torch.empty_like(v3)
        common = dict(
            IS_CAUSAL=ctx.is_causal, UPCAST=IS_INTERPRETING, D_BLOCK=_d_block(D),
            **tile_meta(**_INTERPRETER_TILES),
        )  # fmt: skip
        args = (Nq, Nk, D, 1.0 / math.sqrt(D))
        strides = (q3.stride(0), q3.stride(1), k3.stride(0), k3.stride(1))
        _flash_bwd_dkdv_kernel[_grid(Nk, B, "K_TILE")](
            q3, k3, v3, do3, lse, delta, dk, dv, *strides, *args, **common
        )
        _flash_bwd_dq_kernel[_grid(Nq, B, "Q_TILE")](
            q3, k3, v3, do3, lse, delta, dq, *strides, *args, **common
        )
        lead = ctx.lead
        return dq.reshape(*lead, Nq, D), dk.reshape(*lead, Nk, D), dv.reshape(*lead, Nk, D), None


def _d_block(head_dim: int) -> int:
    """Head dim padded to a power of two, at least 16 (the smallest tl.dot tile)."""
    return max(16, triton.next_power_of_2(head_dim))
