"""Direct Preference Optimization: the RLHF objective's optimum turned into a classification loss.

Rafailov et al. 2023, https://arxiv.org/abs/2305.18290. The implicit reward of a response is
beta * log(pi(y|x) / pi_ref(y|x)); the loss is -log sigmoid(reward_chosen - reward_rejected).
`dpo_loss` is pure tensor code; `compute_per_instance_dpo_loss` runs the two models on one pair.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lm.alignment.data import tokenize_prompt_and_output
from lm.alignment.masking import get_response_log_probs, masked_normalize


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-pair DPO loss [B] from summed response log-probs [B]; metadata has rewards and margin.

    Equal policy and reference -> margin 0 -> loss log(2) = 0.6931.
    """
    if beta <= 0:
        raise ValueError(f"dpo_loss: beta={beta!r} (expected a positive number)")
    chosen_reward = beta * (policy_chosen_logps - ref_chosen_logps)  # [B]
    rejected_reward = beta * (policy_rejected_logps - ref_rejected_logps)  # [B]
    margin = chosen_reward - rejected_reward  # [B]
    loss = -F.logsigmoid(margin)  # [B]; logsigmoid is stable for large |margin|
    metadata = {
        "chosen_reward": chosen_reward.detach(),
        "rejected_reward": rejected_reward.detach(),
        "margin": margin.detach(),
        "accuracy": (margin > 0).float().detach(),
    }
    return loss, metadata


def sequence_log_probs(
    model: torch.nn.Module, tokenizer: Any, prompts: list[str], responses: list[str]
) -> torch.Tensor:
    """Summed log p(response | prompt) under `model`, one number per pair: [B]."""
    batch = tokenize_prompt_and_output(prompts, responses, tokenizer)
    device = next(model.parameters()).device
    token_lp = get_response_log_probs(
        model, batch["input_ids"].to(device), batch["labels"].to(device)
    )["log_probs"]  # [B, T]
    return masked_normalize(token_lp, batch["response_mask"].to(device), dim=-1)  # [B]


def compute_per_instance_dpo_loss(
    lm: torch.nn.Module,
    lm_ref: torch.nn.Module,
    tokenizer: Any,
    beta: float,
    prompt: str,
    response_chosen: str,
    response_rejected: str,
) -> torch.Tensor:
    """DPO loss (scalar) of one preference pair; gradients flow into `lm` only.

    The prompt is used as given (format it with a template first); responses are scored as
    continuations of it, summed over their tokens.
    """
    prompts = [prompt, prompt]
    responses = [response_chosen, response_rejected]
    policy = sequence_log_probs(lm, tokenizer, prompts, responses)  # [2]
    with torch.no_grad():
        ref = sequence_log_probs(lm_ref, tokenizer, prompts, responses).to(policy.device)  # [2]
    loss, _ = dpo_loss(policy[:1], policy[1:], ref[:1], ref[1:], beta)
    return loss[0]
