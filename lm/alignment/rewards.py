"""Answer parsers and verifier rewards: GSM8K numbers, MMLU letters, and the R1-Zero format reward.

A verifier reward needs no learned model: parse the answer, compare with the gold one. The format
reward checks `<think> ... </think> <answer> ... </answer>` (DeepSeek-R1-Zero,
https://arxiv.org/abs/2501.12948); the reward is 1 only when format and answer are both right.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_AFTER_HASHES = re.compile(r"####\s*(-?\d[\d,]*(?:\.\d+)?|-?\.\d+)")
_MMLU_ANSWER = re.compile(r"answer is:?\s*\(?([ABCD])\b", re.IGNORECASE)
_MMLU_BARE = re.compile(r"^\s*\(?([ABCD])[).:]?\s*$")
# The response may start inside <think> (the prompt ends with it) or include the opening tag.
_R1_FORMAT = re.compile(r"^\s*(?:<think>)?(.*?)</think>\s*<answer>(.*?)</answer>\s*$", re.DOTALL)
MMLU_LETTERS = ("A", "B", "C", "D")


def parse_gsm8k_response(text: str) -> str | None:
    """The number after the last `####`, else the last number in the text; commas dropped.

    "so 1,200 in all.\\n#### 1200" -> "1200"; "about 7 or 8" -> "8"; "none" -> None
    """
    hashed = _AFTER_HASHES.findall(text)
    if hashed:
        return hashed[-1].replace(",", "")
    numbers = _NUMBER.findall(text)
    return numbers[-1].replace(",", "") if numbers else None


def parse_mmlu_response(example: dict[str, Any], text: str) -> str | None:
    """The letter A-D the text answers with ("The correct answer is B" -> "B"), else None.

    Also accepts a bare letter ("(C)") or the exact text of one of example["options"].
    """
    match = _MMLU_ANSWER.search(text) or _MMLU_BARE.match(text)
    if match:
        return match.group(1).upper()
    options = example.get("options") or []
    stripped = text.strip().rstrip(".")
    for letter, option in zip(MMLU_LETTERS, options, strict=False):
        if stripped == str(option).strip():
            return letter
    return None


def normalize_answer(answer: str) -> str:
    """Canonical text of a short answer: "$1,200.00 " -> "1200"; "\\boxed{7}" -> "7"."""
    text = answer.strip()
    boxed = re.fullmatch(r"\\boxed\{(.*)\}", text)
    if boxed:
        text = boxed.group(1)
    text = text.replace(",", "").replace("$", "").strip().rstrip(".").strip()
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return " ".join(text.lower().split())
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def grade_answer(given: str, gold: str) -> bool:
    """True when the answers agree after normalisation ("12.0" matches "12", "1,200" "1200")."""
    return normalize_answer(given) == normalize_answer(gold)


def gold_answer(ground_truth: str) -> str:
    """A GSM8K solution ("... #### 18") gives its final number; a bare answer is used as is."""
    if "####" in ground_truth:
        parsed = parse_gsm8k_response(ground_truth)
        if parsed is not None:
            return parsed
    return ground_truth


def r1_zero_reward_fn(response: str, ground_truth: str, fast: bool = True) -> dict[str, float]:
    """Format and answer reward of a `<think>...</think> <answer>...</answer>` response.

    ("<think>2+2</think> <answer>4</answer>", "4") -> reward 1; unformatted -> all three 0.
    `fast` is accepted for course compatibility; grading here is always the fast exact check.
    """
    del fast
    match = _R1_FORMAT.match(response)
    if match is None:
        return {"format_reward": 0.0, "answer_reward": 0.0, "reward": 0.0}
    is_correct = grade_answer(match.group(2), gold_answer(ground_truth))
    answer_reward = 1.0 if is_correct else 0.0
    return {"format_reward": 1.0, "answer_reward": answer_reward, "reward": answer_reward}


def extract_answer(response: str) -> str | None:
    """The text inside <answer>...</answer> of a well-formatted response, else None."""
    match = _R1_FORMAT.match(response)
    return match.group(2).strip() if match else None
