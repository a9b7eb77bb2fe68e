"""FlashAttention-2 in plain PyTorch, tile by tile: the CPU path, and the algorithm to read first.

Shapes: B batch (all leading dims flattened), Nq queries, Nk keys, D head dim; Bq x Bk tiles.
Same algorithm, inputs and saved tensors as `flash_triton.py`: the forward streams key tiles
past each query tile with an online softmax and saves only O and the row logsumexp L (B, Nq);
the backward recomputes each attention tile from Q, K and L. Dao 2023,
https://arxiv.org/abs/2307.08691 (Algorithms 1 and 2). Causal means query i sees keys j <= i.
"""

from __future__ import annotations

import math

import torch

from lm.kernels.launch import check_dtype

Q_TILE = 32  # Bq: query rows per tile
K_TILE = 32  # Bk: key rows per tile


def attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, is_causal: bool = False
) -> torch.Tensor:
    """softmax(q k^T / sqrt(D)) v, materializing the (.., Nq, Nk) score matrix, in fp32."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    s = (q.float() @ k.float().transpose(-1, -2)) * scale  # (..., Nq, Nk)
    if is_causal:
        s = s.masked_fill(_causal_mask(q.shape[-2], k.shape[-2], q.device), float("-inf"))
    return (torch.softmax(s, dim=-1) @ v.float()).to(q.dtype)  # (..., Nq, D)


def _causal_mask(n_queries: int, n_keys: int, device: torch.device, q0: int = 0, k0: int = 0):
    """True where key index > query index (masked out), for a tile starting at (q0, k0)."""
    rows = torch.arange(q0, q0 + n_queries, device=device)[:, None]
    cols = torch.arange(k0, k0 + n_keys, device=device)[None, :]
    return cols > rows  # (n_queries, n_keys)


def check_attention_inputs(where: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """Raise unless q (..., Nq, D), k and v (..., Nk, D) agree in leading dims, D and dtype."""
    if (
        q.ndim < 3
        or k.shape != v.shape
        or q.shape[:-2] != k.shape[:-2]
        or q.shape[-1] != k.shape[-1]
    ):
        raise ValueError(
            f"{where}: shapes q={tuple(q.shape)!r} k={tuple(k.shape)!r} v={tuple(v.shape)!r}; "
            "expected q (..., Nq, D) and k, v (..., Nk, D) with the same leading dims and D"
        )
    check_dtype(where, q, k, v)


def flash_forward_tiles(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, is_causal: bool,
    q_tile: int = Q_TILE, k_tile: int = K_TILE,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Tiled forward on (B, N, D) inputs -> (O (B, Nq, D) in q's dtype, L (B, Nq) fp32)."""
    B, Nq, D = q.shape
    Nk = k.shape[1]
    scale = 1.0 / math.sqrt(D)
    o = torch.empty_like(q)
    lse = torch.empty(B, Nq, device=q.device, dtype=torch.float32)
    for i in range(0, Nq, q_tile):
        q_i = q[:, i : i + q_tile].float()  # (B, Bq, D): one query tile, kept "in SRAM"
        bq = q_i.shape[1]
        m = torch.full((B, bq), float("-inf"), device=q.device)  # running row max
        row_sum = torch.zeros(B, bq, device=q.device)  # running row sum of exp(s - m)
        acc = torch.zeros(B, bq, D, device=q.device)  # unnormalized output
        k_end = min(Nk, i + bq) if is_causal else Nk  # key tiles past the diagonal are all masked
        for j in range(0, k_end, k_tile):
            k_j, v_j = k[:, j : j + k_tile].float(), v[:, j : j + k_tile].float()  # (B, Bk, D)
            s = q_i @ k_j.transpose(1, 2) * scale  # (B, Bq, Bk): this tile's scores only
            if is_causal:
                s = s.masked_fill(_causal_mask(bq, k_j.shape[1], q.device, i, j), float("-inf"))
            m_new = torch.maximum(m, s.amax(dim=-1))  # (B, Bq)
            p = torch.exp(s - m_new[..., None])  # (B, Bq, Bk)
            alpha = torch.exp(m - m_new)  # rescales what was accumulated under the old max
            row_sum = alpha * row_sum + p.sum(dim=-1)
            acc = alpha[..., None] * acc + p @ v_j  # (B, Bq, D)
            m = m_new
        o[:, i : i + bq] = (acc / row_sum[..., None]).to(q.dtype)
        lse[:, i : i + bq] = m + torch.log(row_sum)  # L = log sum_j exp(s_j), all backward needs
    return o, lse


def flash_backward_tiles(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, o: torch.Tensor, lse: torch.Tensor,
    do: torch.Tensor, is_causal: bool, q_tile: int = Q_TILE, k_tile: int = K_TILE,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Tiled backward on (B, N, D) inputs -> (dq, dk, dv), recomputing P = exp(S - L) per tile."""
    B, Nq, D = q.shape
    Nk = k.shape[1]
    scale = 1.0 / math.sqrt(D)
    delta = (o.float() * do.float()).sum(dim=-1)  # (B, Nq): rowsum(dO * O) = rowsum(P * dP)
    dq = torch.zeros(B, Nq, D, device=q.device)
    dk = torch.zeros(B, Nk, D, device=q.device)
    dv = torch.zeros(B, Nk, D, device=q.device)
    for j in range(0, Nk, k_tile):
        k_j, v_j = k[:, j : j + k_tile].float(), v[:, j : j + k_tile].float()  # (B, Bk, D)
        q_start = (j // q_tile) * q_tile if is_causal else 0  # earlier query tiles see none of k_j
        for i in range(q_start, Nq, q_tile):
            q_i, do_i = q[:, i : i + q_tile].float(), do[:, i : i + q_tile].float()  # (B, Bq, D)
            s = q_i @ k_j.transpose(1, 2) * scale  # (B, Bq, Bk)
            if is_causal:
                s = s.masked_fill(
                    _causal_mask(q_i.shape[1], k_j.shape[1], q.device, i, j), float("-inf")
                )
            p = torch.exp(s - lse[:, i : i + q_tile, None])  # (B, Bq, Bk): recomputed, not saved
            dv[:, j : j + k_tile] += p.transpose(1, 2) @ do_i  # (B, Bk, D)
            dp = do_i @ v_j.transpose(1, 2)  # (B, Bq, Bk)
            ds = p * (dp - delta[:, i : i + q_tile, None]) * scale  # softmax backward, per tile
            dq[:, i : i + q_tile] += ds @ k_j  # (B, Bq, D)
            dk[:, j : j + k_tile] += ds.transpose(1, 2) @ q_i  # (B, Bk, D)
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)


class FlashAttentionPytorch(torch.autograd.Function):
    """FlashAttention-2 forward and backward in PyTorch. Call `.apply(q, k, v, is_causal)`."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, is_causal: bool = False):  # type: ignore[override]
        check_attention_inputs("FlashAttentionPytorch", q, k, v)
        lead, (Nq, D), Nk = q.shape[:-2], q.shape[-2:], k.shape[-2]
        q3, k3, v3 = q.reshape(-1, Nq, D), k.reshape(-1, Nk, D), v.reshape(-1, Nk, D)  # (B, N, D)
        o, lse = flash_forward_tiles(q3, k3, v3, bool(is_causal))
        ctx.save_for_backward(lse, q3, k3, v3, o)  # lse (B, Nq): the only softmax state kept
        ctx.is_causal, ctx.lead = bool(is_causal), lead
        return o.reshape(*lead, Nq, D)

    @staticmethod
    def backward(ctx, do: torch.Tensor):  # type: ignore[override]
        lse, q3, k3, v3, o = ctx.saved_tensors
        do3 = do.reshape(o.shape)  # (B, Nq, D)
        dq, dk, dv = flash_backward_tiles(q3, k3, v3, o, lse, do3, ctx.is_causal)
        lead = ctx.lead
        return dq.reshape(*lead, *dq.shape[1:]), dk.reshape(*lead, *dk.shape[1:]), \
            dv.reshape(*lead, *dv.shape[1:]), None  # fmt: skip
