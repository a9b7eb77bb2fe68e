"""GRPO: policy gradients whose baseline is the mean reward of a group of answers to one prompt.

Shao et al. 2024 (DeepSeekMath), https://arxiv.org/abs/2402.03300. No value network: sample
`group_size` responses per prompt, normalise each reward against its group, and apply a PPO-style
clipped ratio loss (Schulman et al. 2017, https://arxiv.org/abs/1707.06347). Pure tensor code.
Shapes: N rollouts (= prompts * group_size), B microbatch, T response positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch

from lm.alignment.masking import masked_mean

LossType = Literal["no_baseline", "reinforce_with_baseline", "grpo_clip"]
LOSS_TYPES = ("no_baseline", "reinforce_with_baseline", "grpo_clip")


def compute_group_normalized_rewards(
    reward_fn: Callable[[str, str], dict[str, float]],
    rollout_responses: Sequence[str],
    repeated_ground_truths: Sequence[str],
    group_size: int,
    advantage_eps: float,
    normalize_by_std: bool,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Score rollouts and normalise within groups: (advantages [N], raw_rewards [N], metadata).

    Groups are consecutive runs of `group_size`. A = r - mean(group), divided by
    (unbiased std(group) + advantage_eps) when normalize_by_std.
    Rewards [1, 0], eps 0 -> advantages [0.707, -0.707].
    """
    num = len(rollout_responses)
    if len(repeated_ground_truths) != num:
        raise ValueError(
            f"compute_group_normalized_rewards: {num} responses but {len(repeated_ground_truths)} "
            "ground truths (expected one per response)"
        )
    if group_size < 1 or num % group_size != 0:
        raise ValueError(
            f"compute_group_normalized_rewards: group_size={group_size!r} does not divide {num} "
            "rollouts (expected a positive divisor)"
        )
    scores = [
        reward_fn(r, g) for r, g in zip(rollout_responses, repeated_ground_truths, strict=True)
    ]
    raw_rewards = torch.tensor([float(s["reward"]) for s in scores])  # [N]
    grouped = raw_rewards.view(-1, group_size)  # [N / G, G]
    advantages = grouped - grouped.mean(dim=1, keepdim=True)  # [N / G, G]
    if normalize_by_std:
        # unbiased std (divides by G - 1), as in the course; a group of one gives NaN, on purpose.
        advantages = advantages / (grouped.std(dim=1, keepdim=True) + advantage_eps)
    metadata = {
        "reward_mean": raw_rewards.mean().item(),
        "reward_std": raw_rewards.std().item() if num > 1 else 0.0,
        "reward_max": raw_rewards.max().item(),
        "reward_min": raw_rewards.min().item(),
        "format_reward_mean": sum(float(s["format_reward"]) for s in scores) / num,
        "answer_reward_mean": sum(float(s["answer_reward"]) for s in scores) / num,
        "frac_groups_all_same": (grouped.std(dim=1) == 0).float().mean().item()
        if group_size > 1
        else 1.0,
    }
    return advantages.reshape(-1), raw_rewards, metadata


def compute_naive_policy_gradient_loss(
    raw_rewards_or_advantages: torch.Tensor, policy_log_probs: torch.Tensor
) -> torch.Tensor:
    """REINFORCE per-token loss -A * log pi: A [B, 1], log-probs [B, T] -> [B, T]."""
    _check_column(raw_rewards_or_advantages, policy_log_probs, "compute_naive_policy_gradient_loss")
    return -raw_rewards_or_advantages * policy_log_probs  # [B, T]


def compute_grpo_clip_loss(
    advantages: torch.Tensor,
    policy_log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    cliprange: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-token -min(r A, clip(r, 1 - c, 1 + c) A), r = pi / pi_old: -> (loss [B, T], metadata)."""
    _check_column(advantages, policy_log_probs, "compute_grpo_clip_loss")
    if old_log_probs.shape != policy_log_probs.shape:
        raise ValueError(
            f"compute_grpo_clip_loss: old_log_probs shape {tuple(old_log_probs.shape)!r} != "
            f"policy_log_probs shape {tuple(policy_log_probs.shape)!r} (expected equal)"
        )
    if cliprange < 0:
        raise ValueError(f"compute_grpo_clip_loss: cliprange={cliprange!r} (expected >= 0)")
    ratio = torch.exp(policy_log_probs - old_log_probs)  # [B, T]
    unclipped = ratio * advantages  # [B, T]
    clipped = torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange) * advantages  # [B, T]
    loss = -torch.minimum(unclipped, clipped)  # [B, T]
    metadata = {"ratio": ratio.detach(), "clipped": (clipped < unclipped).detach()}
    return loss, metadata


def compute_policy_gradient_loss(
    policy_log_probs: torch.Tensor,
    loss_type: LossType,
    raw_rewards: torch.Tensor | None = None,
    advantages: torch.Tensor | None = None,
    old_log_probs: torch.Tensor | None = None,
    cliprange: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Dispatch on loss_type: "no_baseline" uses raw_rewards, the others use advantages."""
    if loss_type == "no_baseline":
        _require(raw_rewards=raw_rewards, loss_type=loss_type)
        return compute_naive_policy_gradient_loss(raw_rewards, policy_log_probs), {}
    if loss_type == "reinforce_with_baseline":
        _require(advantages=advantages, loss_type=loss_type)
        return compute_naive_policy_gradient_loss(advantages, policy_log_probs), {}
    if loss_type == "grpo_clip":
        _require(advantages=advantages, old_log_probs=old_log_probs, cliprange=cliprange,
                 loss_type=loss_type)  # fmt: skip
        return compute_grpo_clip_loss(advantages, policy_log_probs, old_log_probs, cliprange)
    raise ValueError(
        f"compute_policy_gradient_loss: loss_type={loss_type!r} (expected one of {LOSS_TYPES})"
    )


def grpo_microbatch_train_step(
    policy_log_probs: torch.Tensor,
    response_mask: torch.Tensor,
    gradient_accumulation_steps: int,
    loss_type: LossType,
    raw_rewards: torch.Tensor | None = None,
    advantages: torch.Tensor | None = None,
    old_log_probs: torch.Tensor | None = None,
    cliprange: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Backward one microbatch's policy-gradient loss; returns (scaled loss, metadata).

    Per-token loss -> masked mean over each response -> mean over the batch -> divided by
    gradient_accumulation_steps (so accumulated microbatches sum to the full-batch gradient).
    """
    if gradient_accumulation_steps < 1:
        raise ValueError(
            "grpo_microbatch_train_step: gradient_accumulation_steps="
            f"{gradient_accumulation_steps!r} (expected an integer >= 1)"
        )
    per_token, metadata = compute_policy_gradient_loss(
        policy_log_probs, loss_type, raw_rewards, advantages, old_log_probs, cliprange
    )  # [B, T]
    per_example = masked_mean(per_token, response_mask, dim=-1)  # [B]
    loss = per_example.mean() / gradient_accumulation_steps
    loss.backward()
    metadata = {**metadata, "loss_per_example": per_example.detach()}
    if "clipped" in metadata:
        metadata["clip_fraction"] = masked_mean(metadata["clipped"].float(), response_mask)
    return loss.detach(), metadata


def _check_column(values: torch.Tensor, log_probs: torch.Tensor, where: str) -> None:
    """Rewards/advantages must be [B, 1]: a bare [B] would broadcast against T, silently wrong."""
    if values.dim() != 2 or values.shape[1] != 1 or values.shape[0] != log_probs.shape[0]:
        raise ValueError(
            f"{where}: rewards/advantages shape {tuple(values.shape)!r} (expected "
            f"[{log_probs.shape[0]}, 1] to match policy_log_probs {tuple(log_probs.shape)!r})"
        )


def _require(loss_type: str, **named: object) -> None:
    missing = [name for name, value in named.items() if value is None]
    if missing:
        raise ValueError(
            f"compute_policy_gradient_loss: loss_type={loss_type!r} needs {', '.join(missing)} "
            "(got None)"
        )
