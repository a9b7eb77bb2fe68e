"""Turn (prompt, output) string pairs into model inputs, labels and a response mask.

Prompt and output are tokenized separately (no added special tokens) and concatenated, so the mask
marks exactly the output's tokens. CS336 assignment 5 names and shapes.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch


def pad_id_of(tokenizer: Any) -> int:
    """The tokenizer's pad id: `pad_token_id` (Hugging Face), `pad_id`, else `eos_token_id`."""
    for name in ("pad_token_id", "pad_id", "eos_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, int):
            return value
    raise TypeError(
        f"tokenizer {type(tokenizer).__name__!r} has no integer pad id "
        "(expected an attribute pad_token_id, pad_id or eos_token_id)"
    )


def encode_plain(tokenizer: Any, text: str) -> list[int]:
    """Encode `text` without added special tokens (Hugging Face tokenizers add BOS by default)."""
    encode = getattr(tokenizer, "encode", None)
    if encode is None:
        raise TypeError(f"tokenizer {type(tokenizer).__name__!r} has no encode() method")
    try:
        params = inspect.signature(encode).parameters
    except (TypeError, ValueError):  # builtins without a signature
        params = {}
    if "add_special_tokens" in params:
        return list(encode(text, add_special_tokens=False))
    return list(encode(text))


def tokenize_prompt_and_output(
    prompt_strs: Sequence[str],
    output_strs: Sequence[str],
    tokenizer: Any,
) -> dict[str, torch.Tensor]:
    """Tokenize pairs into {"input_ids", "labels", "response_mask"}, each [B, max_len - 1].

    labels are input_ids shifted left by one; response_mask is True where the label is an output
    token. With a char tokenizer: ("ab", "c") -> ids [a, b], labels [b, c], mask [False, True].
    """
    if len(prompt_strs) != len(output_strs):
        raise ValueError(
            f"tokenize_prompt_and_output: {len(prompt_strs)} prompts but {len(output_strs)} "
            "outputs (expected one output per prompt)"
        )
    if not prompt_strs:
        raise ValueError("tokenize_prompt_and_output: empty batch (expected at least one pair)")
    pad_id = pad_id_of(tokenizer)
    prompts = [encode_plain(tokenizer, p) for p in prompt_strs]
    outputs = [encode_plain(tokenizer, o) for o in output_strs]
    max_len = max(len(p) + len(o) for p, o in zip(prompts, outputs, strict=True))
    if max_len < 2:
        raise ValueError(
            f"tokenize_prompt_and_output: longest prompt+output has {max_len} token(s) "
            "(expected at least 2, one input and one label)"
        )
    full = torch.full((len(prompts), max_len), pad_id, dtype=torch.long)  # [B, L]
    is_output = torch.zeros((len(prompts), max_len), dtype=torch.bool)  # [B, L]
    for row, (p, o) in enumerate(zip(prompts, outputs, strict=True)):
        full[row, : len(p) + len(o)] = torch.tensor(p + o, dtype=torch.long)
        is_output[row, len(p) : len(p) + len(o)] = True
    return {
        "input_ids": full[:, :-1],  # [B, L-1]
        "labels": full[:, 1:],  # [B, L-1]
        "response_mask": is_output[:, 1:],  # [B, L-1]: label at t is output token t+1
    }
