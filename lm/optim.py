"""AdamW with decoupled weight decay (https://arxiv.org/abs/1711.05101) and the cosine LR schedule.

A from-scratch `torch.optim.Optimizer`, written for reading rather than speed (one parameter at a
time); benchmarks/model.py compares it with torch.optim.AdamW(foreach/fused).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch


class AdamW(torch.optim.Optimizer):
    """Adam moments with bias correction, plus weight decay applied straight to the weights."""

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        if lr < 0:
            raise ValueError(f"AdamW: lr={lr!r} (expected >= 0)")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"AdamW: betas={betas!r} (expected each in [0, 1))")
        if eps <= 0 or weight_decay < 0:
            raise ValueError(
                f"AdamW: eps={eps!r}, weight_decay={weight_decay!r} (expected > 0, >= 0)"
            )
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        )

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)  # first moment m
                    state["exp_avg_sq"] = torch.zeros_like(p)  # second moment v
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(p.grad, 1 - beta1)  # m = b1 m + (1 - b1) g
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)  # v = b2 v + (1 - b2) g^2
                # bias-corrected m_hat / (sqrt(v_hat) + eps), eps outside the sqrt as in the paper
                denom = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(group["eps"])
                # decoupled: decay the weights directly, not through the gradient (that is Adam+L2)
                p.mul_(1 - lr * group["weight_decay"])
                p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))
        return loss


def cosine_lr(
    t: int, max_lr: float, min_lr: float, warmup_iters: int, cosine_cycle_iters: int
) -> float:
    """Linear warmup to max_lr, cosine decay to min_lr at cosine_cycle_iters, then min_lr.

    Example: cosine_lr(0, 1.0, 0.1, 10, 100) -> 0.0; cosine_lr(10, ...) -> 1.0; (100, ...) -> 0.1.
    """
    if t < warmup_iters:
        return t / warmup_iters * max_lr
    if t > cosine_cycle_iters:
        return min_lr
    progress = (t - warmup_iters) / max(1, cosine_cycle_iters - warmup_iters)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - min_lr)
