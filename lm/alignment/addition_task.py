"""A checkable synthetic task for the alignment demo: multi-digit addition with a chain of thought.

Prompt "47+38=", a worked response "<think>7+8=15 4+3+1=8</think> <answer>85</answer>" (r1-zero
format, graded by `r1_zero_reward_fn`); the demo uses three-digit operands. The "base" distribution
the model is pre-trained on is deliberately flawed: some answers are bare sums without the format,
and worked examples forget the carry (the demo: all of them, so the base model has never seen a
column "x+y+1" and greedy decoding repeats the mistake). A character tokenizer with a 29-symbol
vocabulary keeps the model tiny.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

PAD_ID = 0
EOS = "\n"  # a response ends with a newline; generation stops on it
CHARS = "\n0123456789+=<>/ abcehiknrstw"  # every character the task's texts use


class AdditionTokenizer:
    """Characters of the addition task as ids 1..; id 0 is padding: "1+2" -> [3, 12, 4]."""

    pad_id = PAD_ID

    def __init__(self) -> None:
        self._ids = {c: i + 1 for i, c in enumerate(CHARS)}
        self.vocab_size = len(CHARS) + 1
        self.eos_id = self._ids[EOS]

    def encode(self, text: str) -> list[int]:
        """ "1+2" -> [3, 12, 4]; raises on characters outside the task's alphabet."""
        try:
            return [self._ids[c] for c in text]
        except KeyError as e:
            raise ValueError(
                f"AdditionTokenizer.encode: character {e.args[0]!r} in {text!r} "
                f"(expected only characters of {CHARS!r})"
            ) from None

    def decode(self, ids: list[int]) -> str:
        """[3, 12, 4] -> "1+2"; padding ids are dropped."""
        return "".join(CHARS[i - 1] for i in ids if 0 < i <= len(CHARS))


@dataclass(frozen=True)
class Problem:
    """a + b with its prompt and ground-truth answer."""

    a: int
    b: int

    @property
    def prompt(self) -> str:
        return f"{self.a}+{self.b}="

    @property
    def answer(self) -> str:
        return str(self.a + self.b)


def worked(a: int, b: int, forget_carry: bool = False) -> str:
    """The chain-of-thought response for a + b, column by column (least significant first).

    worked(47, 38) -> "<think>7+8=15 4+3+1=8</think> <answer>85</answer>"; with forget_carry the
    carry is dropped: "<think>7+8=15 4+3=7</think> <answer>75</answer>".
    """
    da, db = str(a)[::-1], str(b)[::-1]
    steps, digits, carry = [], [], 0
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        total = x + y + carry
        steps.append(f"{x}+{y}+{carry}={total}" if carry else f"{x}+{y}={total}")
        digits.append(total % 10)
        carry = 0 if forget_carry else total // 10
    digits[-1] = total  # the final column writes its whole sum, e.g. 12
    answer = "".join(str(d) for d in reversed(digits))
    return f"<think>{' '.join(steps)}</think> <answer>{int(answer)}</answer>"


def has_carry(a: int, b: int) -> bool:
    """True when some column of a + b produces a carry (where forgetting it changes the sum)."""
    return worked(a, b) != worked(a, b, forget_carry=True)


@functools.cache  # shuffling a million three-digit problems takes seconds; callers share one
def split_problems(
    num_digits: int = 2, num_test: int = 200, seed: int = 0
) -> tuple[tuple[Problem, ...], tuple[Problem, ...]]:
    """All a + b with operands < 10**num_digits, shuffled: (train, held-out test), immutable."""
    if num_digits < 1 or num_digits > 3:
        raise ValueError(f"split_problems: num_digits={num_digits!r} (expected 1, 2 or 3)")
    top = 10**num_digits
    problems = [Problem(a, b) for a in range(top) for b in range(top)]
    random.Random(seed).shuffle(problems)
    if num_test >= len(problems):
        raise ValueError(
            f"split_problems: num_test={num_test!r} leaves no training problems "
            f"(expected fewer than {len(problems)})"
        )
    return tuple(problems[num_test:]), tuple(problems[:num_test])


def base_text(problem: Problem, rng: random.Random, p_raw: float, p_forget: float) -> str:
    """One pre-training document from the flawed base distribution (prompt + response + EOS)."""
    if rng.random() < p_raw:
        return f"{problem.prompt}{problem.answer}{EOS}"  # a bare sum: no format
    forget = rng.random() < p_forget
    return f"{problem.prompt}{worked(problem.a, problem.b, forget)}{EOS}"
