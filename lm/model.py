"""A decoder-only Transformer LM from scratch on torch tensors and nn.Parameter (CS336 A1).

Pre-norm RMSNorm + RoPE + SwiGLU by default (the Llama recipe); the variants the lectures compare
(LayerNorm, post-norm, ReLU/GeLU MLP, sinusoidal positions, GQA, weight tying) are keyword options.
Module names equal the state_dict keys of the course. Knows nothing of parallelism: attention,
normalization and the SwiGLU gate each happen in one place, and `is_fused=True` routes them through
lm.kernels (fp32/bf16 only; Triton on CUDA, the kernels' PyTorch paths elsewhere). softmax has a
hand-written backward that keeps only its output; with it the training step runs about as fast as
the same model from PyTorch built-ins (benchmarks/model.py).
Papers: https://arxiv.org/abs/1706.03762 (Transformer), https://arxiv.org/abs/2104.09864 (RoPE),
https://arxiv.org/abs/2002.05202 (SwiGLU), https://arxiv.org/abs/2305.13245 (GQA).

Shape legend: B batch, T query time, S key time (cache + new), C d_model, F d_ff, V vocab_size,
H query heads, K key/value heads, G = H // K query heads per key head, D head dim.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lm.nn_utils import exp_minus_max

NORMS = ("rmsnorm", "layernorm")
FFNS = ("swiglu", "relu", "gelu")
POSITIONS = ("rope", "sinusoidal", "none")
INIT_CLIP_STDS = 3.0  # truncated-normal init clips at +-3 standard deviations


# ---------------------------------------------------------------- elementary layers


class Linear(nn.Module):
    """y = x W^T, no bias; W [d_out, d_in] is truncated-normal, std sqrt(2/(d_in+d_out))."""

    def __init__(self, in_features: int, out_features: int, device=None, dtype=None) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            torch.empty(out_features, in_features, device=device, dtype=dtype)
        )
        std = math.sqrt(2.0 / (in_features + out_features))
        nn.init.trunc_normal_(self.weight, 0.0, std, -INIT_CLIP_STDS * std, INIT_CLIP_STDS * std)

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight.T  # [..., d_in] -> [..., d_out]


class Embedding(nn.Module):
    """Lookup table [vocab_size, d_model], truncated-normal init with std 1."""

    def __init__(self, num_embeddings: int, embedding_dim: int, device=None, dtype=None) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            torch.empty(num_embeddings, embedding_dim, device=device, dtype=dtype)
        )
        nn.init.trunc_normal_(self.weight, 0.0, 1.0, -INIT_CLIP_STDS, INIT_CLIP_STDS)

    def forward(self, token_ids: Tensor) -> Tensor:
        return self.weight[token_ids]  # [B, T] -> [B, T, C]


class RMSNorm(nn.Module):
    """x / rms(x) * g, computed in float32 and cast back (https://arxiv.org/abs/1910.07467)."""

    is_fused = False  # set by TransformerLM(is_fused=True): lm.kernels.rmsnorm instead

    def __init__(self, d_model: int, eps: float = 1e-5, device=None, dtype=None) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model, device=device, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        if self.is_fused:
            return _kernels().rmsnorm(x, self.weight.to(x.dtype), self.eps)
        in_dtype = x.dtype
        x = _at_least_float32(x)  # subtle: squares of bf16 activations lose precision
        inv_rms = torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + self.eps)  # [..., 1]
        return (x * inv_rms * self.weight.to(x.dtype)).to(in_dtype)


def _kernels():  # -> the lm.kernels module
    """lm.kernels, imported on first fused use: importing it loads Triton, which reads
    TRITON_INTERPRET at that moment, and plain (unfused) models should not pay for it."""
    from lm import kernels

    return kernels


def _at_least_float32(x: Tensor) -> Tensor:
    """bf16/fp16 -> float32; float32 and float64 stay as they are."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


class LayerNorm(nn.Module):
    """(x - mean) / std * g + b in float32, the original Transformer's norm (variant of RMSNorm)."""

    def __init__(self, d_model: int, eps: float = 1e-5, device=None, dtype=None) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(d_model, device=device, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        in_dtype = x.dtype
        x = _at_least_float32(x)
        mean = x.mean(dim=-1, keepdim=True)  # [..., 1]
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True)  # [..., 1]
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight.to(x.dtype) + self.bias.to(
            x.dtype
        )
        return y.to(in_dtype)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x): 0.0 -> 0.0, 1.0 -> 0.7311."""
    return x * torch.sigmoid(x)


class SwiGLU(nn.Module):
    """w2(silu(w1 x) * w3 x): a gated MLP with three [C<->F] matrices."""

    is_fused = False  # set by TransformerLM(is_fused=True): lm.kernels.swiglu for the gate

    def __init__(self, d_model: int, d_ff: int, device=None, dtype=None) -> None:
        super().__init__()
        self.w1 = Linear(d_model, d_ff, device=device, dtype=dtype)
        self.w2 = Linear(d_ff, d_model, device=device, dtype=dtype)
        self.w3 = Linear(d_model, d_ff, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        if self.is_fused:
            return self.w2(_kernels().swiglu(self.w1(x), self.w3(x)))  # [..., C] -> [..., C]
        return self.w2(silu(self.w1(x)) * self.w3(x))  # [..., C] -> [..., F] -> [..., C]


class MLP(nn.Module):
    """w2(act(w1 x)) with ReLU or GeLU: the ungated feed-forward of GPT-2 (variant of SwiGLU)."""

    def __init__(self, d_model: int, d_ff: int, activation: str, device=None, dtype=None) -> None:
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"MLP activation {activation!r} (expected 'relu' or 'gelu')")
        self.activation = activation
        self.w1 = Linear(d_model, d_ff, device=device, dtype=dtype)
        self.w2 = Linear(d_ff, d_model, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        h = self.w1(x)  # [..., C] -> [..., F]
        h = torch.relu(h) if self.activation == "relu" else nn.functional.gelu(h)
        return self.w2(h)  # [..., F] -> [..., C]


# ---------------------------------------------------------------- positions


class RotaryEmbedding(nn.Module):
    """Rotate interleaved pairs (2i, 2i+1) of the last dim by angle pos * theta^(-2i/d_k)."""

    def __init__(self, theta: float, d_k: int, max_seq_len: int, device=None) -> None:
        super().__init__()
        if d_k % 2:
            raise ValueError(f"RotaryEmbedding d_k={d_k!r} must be even (it rotates pairs)")
        self.max_seq_len = max_seq_len
        inv_freq = theta ** (-torch.arange(0, d_k, 2, device=device, dtype=torch.float32) / d_k)
        angles = torch.outer(torch.arange(max_seq_len, device=device).float(), inv_freq)  # [S, D/2]
        # persistent=False: derived from (theta, d_k), so not part of the course's state_dict keys
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: Tensor, token_positions: Tensor) -> Tensor:
        """x [..., T, D], token_positions [..., T] (broadcastable) -> rotated x [..., T, D]."""
        # subtle: the check reads a value back from the device, which torch.compile cannot put in
        # its graph (a graph break per call), so compiled code skips it: the gather still fails
        is_checked = not torch.compiler.is_compiling() and token_positions.numel()
        if is_checked and int(token_positions.max()) >= self.max_seq_len:
            raise ValueError(
                f"RotaryEmbedding: position {int(token_positions.max())!r} is past "
                f"max_seq_len={self.max_seq_len} (expected positions < max_seq_len)"
            )
        # the pair (x_2i, x_2i+1) is the complex number x_2i + i x_2i+1, and turning it by the
        # angle a is multiplying it by e^(ia) = cos a + i sin a: one complex multiply per pair
        cos, sin = self.cos[token_positions], self.sin[token_positions]  # [..., T, D/2] each
        turn = torch.complex(_at_least_float32(cos), _at_least_float32(sin))  # [..., T, D/2]
        pairs = torch.view_as_complex(_at_least_float32(x).unflatten(-1, (-1, 2)))  # [..., T, D/2]
        rotated = torch.view_as_real(pairs * turn)  # [..., T, D/2, 2]
        return rotated.flatten(-2).to(x.dtype)  # [..., T, D/2, 2] -> [..., T, D]


def sinusoidal_positions(max_seq_len: int, d_model: int) -> Tensor:
    """The fixed sin/cos table of Vaswani et al., added to the embeddings: -> [S, C]."""
    pos = torch.arange(max_seq_len, dtype=torch.float32)[:, None]  # [S, 1]
    inv_freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # [C/2]
    table = torch.zeros(max_seq_len, d_model)
    table[:, 0::2] = torch.sin(pos * inv_freq)
    table[:, 1::2] = torch.cos(pos * inv_freq[: d_model // 2])
    return table


# ---------------------------------------------------------------- attention


def softmax(x: Tensor, dim: int) -> Tensor:
    """Numerically stable softmax: [1000., 1000.] -> [0.5, 0.5] (subtract the max before exp)."""
    return _Softmax.apply(x, dim)


class _Softmax(torch.autograd.Function):
    """softmax with a hand-written backward that keeps only the output y.

    Autograd through max/sub/exp/sum/div would keep exp(x) and the sums and run five backward
    ops; with y = softmax(x), the vector-Jacobian product is dx = y * (g - sum(g * y)).
    """

    @staticmethod
    def forward(ctx, x: Tensor, dim: int) -> Tensor:
        in_dtype = x.dtype
        x = _at_least_float32(x)  # subtle: exp and sums of bf16 scores lose precision
        x_max = x.amax(dim=dim, keepdim=True)  # subtle: exp(x - max) <= 1, so no overflow
        y = exp_minus_max(x, x_max)  # (computed as exp2, ~4x faster than exp on CPU)
        y /= y.sum(dim=dim, keepdim=True)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y.to(in_dtype)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor, None]:
        (y,) = ctx.saved_tensors
        gy = g * y  # [..., S]
        dx = gy.addcmul_(y, gy.sum(dim=ctx.dim, keepdim=True), value=-1)  # y g - y sum(g y)
        return dx.to(g.dtype), None


def scaled_dot_product_attention(
    Q: Tensor, K: Tensor, V: Tensor, mask: Tensor | None = None
) -> Tensor:
    """softmax(Q K^T / sqrt(D)) V: Q [..., T, D] -> [..., T, D].

    `mask` is bool (True = may attend) or float (added to the scores: 0 or -inf), as in
    torch.nn.functional.scaled_dot_product_attention.
    """
    # the scale goes on Q [.., T, D], not on the scores [.., T, S]: same product, fewer multiplies
    scores = (Q * (1.0 / math.sqrt(Q.shape[-1]))) @ K.transpose(-2, -1)  # [..., T, S]
    if mask is not None:
        # in place: the matmul does not need its output for backward, and adding a constant
        # bias has no backward work at all (unlike masked_fill on the scores)
        scores += mask if mask.is_floating_point() else attention_bias(mask, scores.dtype)
    return softmax(scores, dim=-1) @ V  # [..., T, S] @ [..., S, D] -> [..., T, D]


def attention_bias(mask: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """Bool mask (True = may attend) -> additive bias: [True, False] -> [0., -inf]."""
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(
        ~mask, float("-inf")
    )


class KVCache:
    """Keys and values of past positions for every layer, [L, B, K, S_max, D], filled left to right.

    `length` is the number of positions already stored; the model advances it after a forward
    pass, and speculative decoding rolls it back with `truncate`.
    """

    def __init__(
        self,
        num_layers: int,
        batch_size: int,
        num_kv_heads: int,
        max_len: int,
        d_head: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = (num_layers, batch_size, num_kv_heads, max_len, d_head)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0
        self.max_len = max_len

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store new k, v [B, K, T, D] after the past ones; return all of them [B, K, S, D]."""
        end = self.length + k.shape[-2]
        if end > self.max_len:
            raise ValueError(f"KVCache: {end!r} positions exceed its max_len={self.max_len}")
        self.keys[layer, :, :, self.length : end] = k
        self.values[layer, :, :, self.length : end] = v
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]

    def truncate(self, length: int) -> None:
        """Forget every position from `length` on (used to reject speculative tokens)."""
        if not 0 <= length <= self.length:
            raise ValueError(f"KVCache.truncate({length!r}) (expected 0..{self.length})")
        self.length = length

    def nbytes(self) -> int:
        """Bytes held by the preallocated key and value buffers."""
        return self.keys.nbytes + self.values.nbytes


class CausalMultiHeadSelfAttention(nn.Module):
    """Causal self-attention with H query heads sharing K = num_kv_heads key/value heads (GQA)."""

    is_fused = False  # set by TransformerLM(is_fused=True): FlashAttention when plainly causal

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        max_seq_len: int | None = None,
        theta: float | None = None,
        *,
        num_kv_heads: int | None = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if d_model % num_heads or num_heads % num_kv_heads:
            raise ValueError(
                f"attention: d_model={d_model!r}, num_heads={num_heads!r}, "
                f"num_kv_heads={num_kv_heads!r} "
                "(expected num_heads to divide d_model and num_kv_heads to divide num_heads)"
            )
        self.num_heads, self.num_kv_heads = num_heads, num_kv_heads
        self.d_head = d_model // num_heads
        kv_dim = num_kv_heads * self.d_head
        self.q_proj = Linear(d_model, d_model, device=device, dtype=dtype)
        self.k_proj = Linear(d_model, kv_dim, device=device, dtype=dtype)
        self.v_proj = Linear(d_model, kv_dim, device=device, dtype=dtype)
        self.output_proj = Linear(d_model, d_model, device=device, dtype=dtype)
        self.rope = None
        if theta is not None:
            if max_seq_len is None:
                raise ValueError("attention: theta given without max_seq_len (RoPE needs both)")
            self.rope = RotaryEmbedding(theta, self.d_head, max_seq_len, device=device)

    def forward(
        self,
        x: Tensor,
        token_positions: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        kv_cache: KVCache | None = None,
        layer_index: int = 0,
    ) -> Tensor:
        """x [B, T, C] -> [B, T, C]; mask [B|1, 1, T, S] (None = plain causal, no cache)."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.num_heads, self.d_head).transpose(1, 2)  # [B, H, T, D]
        k = (
            self.k_proj(x).view(B, T, self.num_kv_heads, self.d_head).transpose(1, 2)
        )  # [B, K, T, D]
        v = (
            self.v_proj(x).view(B, T, self.num_kv_heads, self.d_head).transpose(1, 2)
        )  # [B, K, T, D]
        if self.rope is not None:
            if token_positions is None:
                start = kv_cache.length if kv_cache is not None else 0
                token_positions = torch.arange(start, start + T, device=x.device)  # [T]
            if token_positions.dim() == 2:
                token_positions = token_positions[:, None, :]  # [B, T] -> [B, 1, T]
            q = self.rope(q, token_positions)
            k = self.rope(k, token_positions)
        if kv_cache is not None:
            k, v = kv_cache.update(layer_index, k, v)  # [B, K, S, D]
        out = self._attend(q, k, v, mask)  # [B, H, T, D]
        out = out.transpose(1, 2).reshape(B, T, self.num_heads * self.d_head)  # [B, T, C]
        return self.output_proj(out)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        """The one place attention is computed: q [B, H, T, D], k/v [B, K, S, D] -> [B, H, T, D]."""
        B, H, T, D = q.shape
        S = k.shape[-2]
        group = H // self.num_kv_heads
        if self.is_fused and mask is None:  # plain causal, T == S: no cache, no padding
            k = k.repeat_interleave(group, dim=1)  # [B, K, S, D] -> [B, H, S, D]
            v = v.repeat_interleave(group, dim=1)  # [B, K, S, D] -> [B, H, S, D]
            return _kernels().flash_attention(q, k, v, causal=True)
        if mask is None:
            mask = causal_mask(T, S, device=q.device)  # [T, S]
        if group == 1:
            return scaled_dot_product_attention(q, k, v, mask)
        # GQA: broadcast each key head over its group of query heads instead of copying K and V
        q = q.view(B, self.num_kv_heads, group, T, D)  # [B, K, G, T, D]
        if mask.dim() == 4:
            mask = mask[:, :, None]  # [B, 1, T, S] -> [B, 1, 1, T, S]
        out = scaled_dot_product_attention(q, k[:, :, None], v[:, :, None], mask)  # [B, K, G, T, D]
        return out.reshape(B, H, T, D)


def causal_mask(T: int, S: int, device=None) -> Tensor:
    """[T, S] bool, query i (the last T of S positions) may see keys j <= S - T + i."""
    q_index = torch.arange(S - T, S, device=device)[:, None]  # [T, 1]
    return torch.arange(S, device=device)[None, :] <= q_index  # [T, S]


# ---------------------------------------------------------------- blocks and the LM


def _make_norm(norm: str, d_model: int, device, dtype) -> nn.Module:
    if norm == "rmsnorm":
        return RMSNorm(d_model, device=device, dtype=dtype)
    return LayerNorm(d_model, device=device, dtype=dtype)


def _make_ffn(ffn: str, d_model: int, d_ff: int, device, dtype) -> nn.Module:
    if ffn == "swiglu":
        return SwiGLU(d_model, d_ff, device=device, dtype=dtype)
    return MLP(d_model, d_ff, ffn, device=device, dtype=dtype)


class TransformerBlock(nn.Module):
    """x + attn(ln1(x)), then + ffn(ln2(.)) (pre-norm); post-norm puts ln after each add."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        max_seq_len: int,
        theta: float | None,
        *,
        num_kv_heads: int | None = None,
        norm: str = "rmsnorm",
        ffn: str = "swiglu",
        is_post_norm: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_choice("norm", norm, NORMS)
        _check_choice("ffn", ffn, FFNS)
        self.is_post_norm = is_post_norm
        self.ln1 = _make_norm(norm, d_model, device, dtype)
        self.attn = CausalMultiHeadSelfAttention(
            d_model,
            num_heads,
            max_seq_len,
            theta,
            num_kv_heads=num_kv_heads,
            device=device,
            dtype=dtype,
        )
        self.ln2 = _make_norm(norm, d_model, device, dtype)
        self.ffn = _make_ffn(ffn, d_model, d_ff, device, dtype)

    def forward(self, x: Tensor, token_positions: Tensor | None = None, **attn_kwargs) -> Tensor:
        """x [B, T, C] -> [B, T, C]; attn_kwargs (mask, kv_cache, layer_index) go to attention."""
        if self.is_post_norm:
            x = self.ln1(x + self.attn(x, token_positions, **attn_kwargs))
            return self.ln2(x + self.ffn(x))
        x = x + self.attn(self.ln1(x), token_positions, **attn_kwargs)
        return x + self.ffn(self.ln2(x))


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"TransformerLM option {name}={value!r} (expected one of {choices})")


class TransformerLM(nn.Module):
    """Token ids [B, T] -> next-token logits [B, T, V]; see the module docstring for the options."""

    def __init__(
        self,
        vocab_size: int,
        context_length: int,
        d_model: int,
        num_layers: int,
        num_heads: int,
        d_ff: int,
        rope_theta: float = 10000.0,
        *,
        num_kv_heads: int | None = None,
        norm: str = "rmsnorm",
        ffn: str = "swiglu",
        position: str = "rope",
        is_post_norm: bool = False,
        is_tied: bool = False,
        is_fused: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_choice("position", position, POSITIONS)
        self.vocab_size, self.context_length = vocab_size, context_length
        self.num_layers, self.d_model, self.num_heads, self.d_ff = (
            num_layers,
            d_model,
            num_heads,
            d_ff,
        )
        self.num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        self.position = position
        self._architecture = {
            "vocab_size": vocab_size, "context_length": context_length, "d_model": d_model,
            "num_layers": num_layers, "num_heads": num_heads, "d_ff": d_ff,
            "rope_theta": rope_theta, "num_kv_heads": self.num_kv_heads, "norm": norm, "ffn": ffn,
            "position": position, "is_post_norm": is_post_norm, "is_tied": is_tied,
        }  # fmt: skip
        self.token_embeddings = Embedding(vocab_size, d_model, device=device, dtype=dtype)
        if position == "sinusoidal":
            table = sinusoidal_positions(context_length, d_model).to(device=device)
            self.register_buffer("position_table", table, persistent=False)
        theta = rope_theta if position == "rope" else None
        self.layers = nn.ModuleList(
            TransformerBlock(
                d_model,
                num_heads,
                d_ff,
                context_length,
                theta,
                num_kv_heads=num_kv_heads,
                norm=norm,
                ffn=ffn,
                is_post_norm=is_post_norm,
                device=device,
                dtype=dtype,
            )  # fmt: skip
            for _ in range(num_layers)
        )
        self.ln_final = _make_norm(norm, d_model, device, dtype)
        self.lm_head = Linear(d_model, vocab_size, device=device, dtype=dtype)
        if is_tied:
            self.lm_head.weight = self.token_embeddings.weight  # both are [V, C]
        # is_fused swaps in lm.kernels (Triton on CUDA, their PyTorch paths elsewhere); it changes
        # no parameter, so it stays out of architecture() and checkpoints
        for module in self.modules():
            if isinstance(module, RMSNorm | SwiGLU | CausalMultiHeadSelfAttention):
                module.is_fused = is_fused

    def forward(
        self,
        in_indices: Tensor,
        token_positions: Tensor | None = None,
        *,
        kv_cache: KVCache | None = None,
        key_mask: Tensor | None = None,
    ) -> Tensor:
        """in_indices [B, T] -> logits [B, T, V].

        With `kv_cache`, the T new tokens follow the cached ones and the cache advances by T.
        `key_mask` [B, S] (S = cached + T) marks real tokens True, padding False (left padding).
        `token_positions` [B, T] or [T] defaults to the cache index of each token.
        """
        B, T = in_indices.shape
        start = kv_cache.length if kv_cache is not None else 0
        if start + T > self.context_length:
            raise ValueError(
                f"TransformerLM: sequence of {start + T!r} tokens is longer than "
                f"context_length={self.context_length} (expected at most that many)"
            )
        if token_positions is None:
            token_positions = torch.arange(start, start + T, device=in_indices.device)  # [T]
        mask = None
        if kv_cache is not None or key_mask is not None:
            mask = self._mask(T, start + T, key_mask, in_indices.device)  # [B|1, 1, T, S]
        x = self.token_embeddings(in_indices)  # [B, T] -> [B, T, C]
        if self.position == "sinusoidal":
            x = x + self.position_table[token_positions].to(x.dtype)
        for i, layer in enumerate(self.layers):
            x = layer(x, token_positions, mask=mask, kv_cache=kv_cache, layer_index=i)
        if kv_cache is not None:
            kv_cache.length = start + T
        return self.lm_head(self.ln_final(x))  # [B, T, C] -> [B, T, V]

    @staticmethod
    def _mask(T: int, S: int, key_mask: Tensor | None, device) -> Tensor:
        """Causal [1, 1, T, S] and, with key_mask [B, S], no attention to padding keys."""
        mask = causal_mask(T, S, device=device)[None, None]  # [1, 1, T, S]
        if key_mask is None:
            return mask
        if key_mask.shape[-1] != S:
            raise ValueError(f"key_mask covers {key_mask.shape[-1]!r} positions, expected {S}")
        # subtle: a padding query would see no key at all (softmax of all -inf = NaN, and 0 * NaN
        # poisons later layers), so every query may always see itself
        is_self = (
            torch.arange(S, device=device)[None, :]
            == torch.arange(S - T, S, device=device)[:, None]
        )
        return mask & (key_mask[:, None, None, :] | is_self)  # [B, 1, T, S]

    def new_kv_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty cache for `batch_size` sequences of up to `max_len` (default context_length)."""
        p = self.lm_head.weight
        d_head = self.d_model // self.num_heads
        max_len = self.context_length if max_len is None else max_len
        return KVCache(
            self.num_layers, batch_size, self.num_kv_heads, max_len, d_head, p.device, p.dtype
        )

    def architecture(self) -> dict[str, object]:
        """The constructor arguments: all that fixes the state_dict shapes (kept in checkpoints)."""
        return dict(self._architecture)


def count_parameters(model: nn.Module, *, exclude_embeddings: bool = False) -> int:
    """Number of distinct parameters (a tied matrix counts once)."""
    params = {id(p): p for p in model.parameters()}
    if exclude_embeddings and isinstance(model, TransformerLM):
        params.pop(id(model.token_embeddings.weight), None)
    return sum(p.numel() for p in params.values())
