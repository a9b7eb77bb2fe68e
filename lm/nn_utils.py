"""Loss and gradient helpers for training lm.model: a stable cross-entropy and global-norm clipping.

Written from scratch like lm/model.py (CS336 A1); tests compare them with torch.nn.functional and
torch.nn.utils.clip_grad_norm_.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

CLIP_EPS = 1e-6  # keeps the clip factor finite when the gradient norm is ~0


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean -log softmax(logits)[target]: logits [..., V], targets [...] -> scalar.

    Stable for large logits: log-sum-exp is taken after subtracting the row max, so exp never
    overflows. Example: logits [[1e4, 0.]], targets [0] -> 0.0.
    """
    logits = logits.float()  # subtle: bf16 log-sum-exp loses ~2 digits of the loss
    row_max = logits.amax(dim=-1, keepdim=True)  # [..., 1]
    shifted = logits - row_max  # [..., V]
    log_norm = torch.log(torch.exp(shifted).sum(dim=-1))  # [...]
    target_logit = shifted.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # [...]
    return (log_norm - target_logit).mean()


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
