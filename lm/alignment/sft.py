"""Supervised fine-tuning loss: negative log-likelihood of the response tokens only.

The prompt is masked out, so the model learns to answer, not to write questions.
CS336 assignment 5 API: the microbatch step calls backward() itself and scales for accumulation.
"""

from __future__ import annotations

import torch

from lm.alignment.masking import masked_normalize


def sft_microbatch_train_step(
    policy_log_probs: torch.Tensor,
    response_mask: torch.Tensor,
    gradient_accumulation_steps: int,
    normalize_constant: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Backward the SFT loss of one microbatch; returns (scaled loss, metadata).

    loss = mean over examples of (-sum of response log-probs / normalize_constant), divided by
    gradient_accumulation_steps, so that k microbatches of size b give the gradient of one batch kb.
    """
    if gradient_accumulation_steps < 1:
        raise ValueError(
            "sft_microbatch_train_step: gradient_accumulation_steps="
            f"{gradient_accumulation_steps!r} (expected an integer >= 1)"
        )
    per_example_nll = -masked_normalize(
        policy_log_probs, response_mask, dim=-1, normalize_constant=normalize_constant
    )  # [B]
    loss = per_example_nll.mean() / gradient_accumulation_steps
    loss.backward()
    metadata = {
        "nll_per_example": per_example_nll.detach(),
        "num_response_tokens": response_mask.sum().detach(),
    }
    return loss.detach(), metadata
