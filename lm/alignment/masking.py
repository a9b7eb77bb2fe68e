"""Masked reductions and per-token log-probs: the pieces every alignment loss is built from.

Follows the CS336 assignment 5 API (names and shapes), so course code runs on ours.
Shapes: B batch, T time (response positions after the one-token shift), V vocab.
"""

from __future__ import annotations

from typing import Any

import torch


def masked_mean(tensor: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of `tensor` over positions where `mask` is true; an all-masked slice gives NaN (0/0).

    [[1., 2.], [3., 4.]], mask [[1, 0], [1, 1]], dim=-1 -> [1.0, 3.5]
    """
    _check_same_shape(tensor, mask, "masked_mean")
    mask = mask.to(tensor.dtype)
    # subtle: where() rather than tensor * mask, so a masked-out inf/NaN cannot leak in
    # (inf * 0 = NaN).
    kept = torch.where(mask.bool(), tensor, torch.zeros_like(tensor))
    if dim is None:
        return kept.sum() / mask.sum()
    return kept.sum(dim=dim) / mask.sum(dim=dim)


def masked_normalize(
    tensor: torch.Tensor,
    mask: torch.Tensor,
    dim: int | None = None,
    normalize_constant: float = 1.0,
) -> torch.Tensor:
    """Sum of `tensor` over masked-in positions, divided by `normalize_constant`.

    [[1., 2.], [3., 4.]], mask [[1, 0], [1, 1]], dim=-1, normalize_constant=2 -> [0.5, 3.5]
    """
    _check_same_shape(tensor, mask, "masked_normalize")
    if normalize_constant == 0:
        raise ValueError("masked_normalize: normalize_constant=0 (expected a non-zero number)")
    kept = torch.where(mask.bool(), tensor, torch.zeros_like(tensor))
    total = kept.sum() if dim is None else kept.sum(dim=dim)
    return total / normalize_constant


def compute_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of the next-token distribution at each position: [..., V] -> [...].

    Stable form: H = logsumexp(z) - sum(softmax(z) * z), never forming log(0).
    """
    logits = logits.float()
    log_z = torch.logsumexp(logits, dim=-1)  # [...]
    probs = torch.softmax(logits, dim=-1)  # [..., V]
    return log_z - (probs * logits).sum(dim=-1)  # [...]


def _logits_of(output: Any) -> torch.Tensor:
    """Our TransformerLM returns logits; Hugging Face models return an object with `.logits`."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits"):
        return output.logits
    raise TypeError(
        f"get_response_log_probs: model returned {type(output).__name__!r} "
        "(expected a logits tensor [B, T, V] or an object with .logits)"
    )


def get_response_log_probs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    return_token_entropy: bool = False,
) -> dict[str, torch.Tensor]:
    """Per-token log p(labels | prefix): {"log_probs": [B, T], "token_entropy": [B, T] if asked}."""
    if input_ids.shape != labels.shape:
        raise ValueError(
            f"get_response_log_probs: input_ids shape {tuple(input_ids.shape)!r} != labels shape "
            f"{tuple(labels.shape)!r} (expected labels = input_ids shifted by one, same shape)"
        )
    logits = _logits_of(model(input_ids)).float()  # [B, T, V]
    log_probs = torch.log_softmax(logits, dim=-1)  # [B, T, V]
    token_log_probs = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # [B, T]
    result = {"log_probs": token_log_probs}
    if return_token_entropy:
        result["token_entropy"] = compute_entropy(logits)  # [B, T]
    return result


def _check_same_shape(tensor: torch.Tensor, mask: torch.Tensor, where: str) -> None:
    if tensor.shape != mask.shape:
        raise ValueError(
            f"{where}: mask shape {tuple(mask.shape)!r} != tensor shape {tuple(tensor.shape)!r} "
            "(expected equal shapes)"
        )
