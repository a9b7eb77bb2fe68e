"""Loss and gradient helpers for training lm.model: a stable cross-entropy and global-norm clipping.

Written from scratch like lm/model.py (CS336 A1); tests compare them with torch.nn.functional and
torch.nn.utils.clip_grad_norm_.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

CLIP_EPS = 1e-6  # keeps the clip factor finite when the gradient norm is ~0
LOG2_E = math.log2(math.e)  # e^z = 2^(z * LOG2_E)


def exp_minus_max(x: Tensor, x_max: Tensor) -> Tensor:
    """exp(x - x_max) as a new tensor (x_max broadcasts against x), for softmax-like code.

    Computed as 2^((x - x_max) log2 e) in one fused pass plus an in-place exp2: torch's CPU exp2
    is ~4x faster than exp, and not slowed by the -inf of masked scores. No autograd graph is
    built through the in-place step, so call it where gradients are handled by hand (inside a
    torch.autograd.Function's forward).
    """
    return torch.add(-LOG2_E * x_max, x, alpha=LOG2_E).exp2_()


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean -log softmax(logits)[target]: logits [..., V], targets [...] -> scalar.

    Stable for large logits: log-sum-exp is taken after subtracting the row max, so exp never
    overflows. Example: logits [[1e4, 0.]], targets [0] -> 0.0.
    """
    return _CrossEntropy.apply(logits, targets)


class _CrossEntropy(torch.autograd.Function):
    """Cross-entropy with its textbook gradient: d loss / d logits = (softmax - one_hot) / N.

    Autograd through max/sub/exp/sum/log/gather would keep the shifted logits and their exp
    ([N, V] each) and run a backward op per forward op; here only the softmax is kept.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, targets: Tensor) -> Tensor:
        # [N, V] in at least float32; subtle: a bf16 log-sum-exp loses ~2 digits of the loss
        x = logits.reshape(-1, logits.shape[-1]).to(
            torch.promote_types(logits.dtype, torch.float32)
        )
        targets = targets.reshape(-1)  # [N]
        row_max = x.amax(dim=-1, keepdim=True)  # [N, 1]
        probs = exp_minus_max(x, row_max)  # [N, V], unnormalized
        sum_exp = probs.sum(dim=-1, keepdim=True)  # [N, 1]
        log_norm = row_max + sum_exp.log()  # [N, 1], log sum exp(x)
        loss = (log_norm - x.gather(-1, targets[:, None])).mean()
        ctx.save_for_backward(probs.div_(sum_exp), targets)  # probs is now softmax(x)
        ctx.logits_shape, ctx.logits_dtype = logits.shape, logits.dtype
        return loss

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor, None]:
        probs, targets = ctx.saved_tensors
        scale = g / len(probs)  # d mean / d row = 1 / N
        grad = probs * scale  # [N, V]
        grad[torch.arange(len(probs), device=grad.device), targets] -= scale  # minus one_hot
        return grad.view(ctx.logits_shape).to(ctx.logits_dtype), None


def global_grad_norm(params: Iterable[torch.nn.Parameter]) -> Tensor:
    """sqrt of the sum of squares of every gradient (all parameters taken as one vector)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    return torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])
    )


def clip_gradients(params: Iterable[torch.nn.Parameter], max_norm: float) -> Tensor:
    """Scale all gradients by max_norm / (norm + eps) when their global norm exceeds max_norm.

    Returns the norm before clipping (what training logs show).
    """
    if max_norm <= 0:
        raise ValueError(f"clip_gradients: max_norm={max_norm!r} (expected > 0)")
    params = [p for p in params if p.grad is not None]
    norm = global_grad_norm(params)
    if norm > max_norm:
        scale = max_norm / (norm + CLIP_EPS)
        for p in params:
            p.grad.mul_(scale.to(p.grad.dtype))
    return norm
