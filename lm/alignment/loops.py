"""Short training loops that use the pure functions of lm.alignment on a real TransformerLM.

pretrain (next-token loss on whole texts), sft (loss on the response only), dpo (preference pairs
built on-policy from the reference model's own samples) and grpo (sampled groups, verifier
reward, clipped ratio loss). Each loop calls `log(step, metrics)` once per step; `evaluate`
greedily decodes held-out prompts and grades them with `r1_zero_reward_fn`. The loops run on the
model's device: batches are built on the CPU and moved there.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from lm.alignment.addition_task import EOS, AdditionTokenizer, Problem, has_carry
from lm.alignment.addition_task import worked as worked_response
from lm.alignment.data import tokenize_prompt_and_output
from lm.alignment.dpo import dpo_loss, sequence_log_probs
from lm.alignment.grpo import compute_group_normalized_rewards, grpo_microbatch_train_step
from lm.alignment.masking import get_response_log_probs, masked_mean
from lm.alignment.rewards import r1_zero_reward_fn
from lm.alignment.sft import sft_microbatch_train_step
from lm.generate import Sampling, generate
from lm.model import TransformerLM

Log = Callable[[int, dict[str, float]], None]
Pair = tuple[str, str, str]  # (prompt, chosen response, rejected response)
MAX_NEW_TOKENS = 64  # the longest three-digit worked response is 61 characters + EOS


@dataclass(frozen=True)
class ModelSize:
    """A TransformerLM shape for the demo (context: an 8-character prompt + MAX_NEW_TOKENS)."""

    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    d_ff: int = 192
    context_length: int = 72


def make_model(tokenizer: AdditionTokenizer, size: ModelSize, seed: int = 0) -> TransformerLM:
    """A fresh TransformerLM for the task's vocabulary."""
    torch.manual_seed(seed)
    return TransformerLM(
        tokenizer.vocab_size, size.context_length, size.d_model, size.num_layers,
        size.num_heads, size.d_ff, rope_theta=10000.0,
    )  # fmt: skip


def _on_device(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch's tensors moved to the model's device (a no-op on the CPU)."""
    device = next(model.parameters()).device
    return {name: t.to(device) for name, t in batch.items()}


def seeded_generator(model: torch.nn.Module, seed: int) -> torch.Generator:
    """A sampling generator on the model's device (a CPU one cannot drive CUDA sampling)."""
    return torch.Generator(device=next(model.parameters()).device).manual_seed(seed)


def _decay_lr(optimizer: torch.optim.Optimizer, lr: float, step: int, steps: int) -> None:
    """Set lr falling linearly from `lr` to 0 over `steps`, so a stage ends on a settled model."""
    for group in optimizer.param_groups:
        group["lr"] = lr * (1.0 - step / max(steps, 1))


def _nll_step(
    model: TransformerLM,
    optimizer: torch.optim.Optimizer,
    tokenizer: AdditionTokenizer,
    prompts: list[str],
    outputs: list[str],
) -> float:
    """One optimizer step of the masked negative log-likelihood, per response token."""
    batch = _on_device(model, tokenize_prompt_and_output(prompts, outputs, tokenizer))
    log_probs = get_response_log_probs(model, batch["input_ids"], batch["labels"])["log_probs"]
    mask = batch["response_mask"]
    tokens_per_example = float(mask.sum()) / len(prompts)
    optimizer.zero_grad(set_to_none=True)
    loss, _ = sft_microbatch_train_step(log_probs, mask, 1, normalize_constant=tokens_per_example)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return float(loss)


def pretrain(
    model: TransformerLM,
    tokenizer: AdditionTokenizer,
    sample_texts: Callable[[int], list[str]],
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    log: Log | None = None,
) -> None:
    """Next-token training on whole documents (empty prompt: every token is a target)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=max(steps, 1))
    model.train()
    for step in range(steps):
        texts = sample_texts(batch_size)
        loss = _nll_step(model, optimizer, tokenizer, [""] * len(texts), texts)
        schedule.step()
        if log:
            log(step, {"loss": loss})


@torch.no_grad()
def rollouts(
    model: TransformerLM,
    tokenizer: AdditionTokenizer,
    prompts: Sequence[str],
    temperature: float,
    generator: torch.Generator | None = None,
) -> list[str]:
    """Sampled (temperature > 0) or greedy responses, EOS kept when the model emitted it."""
    model.eval()
    ids = [tokenizer.encode(p) for p in prompts]
    new = generate(model, ids, MAX_NEW_TOKENS, sampling=Sampling(temperature=temperature),
                   stop_tokens=[tokenizer.eos_id], generator=generator)  # fmt: skip
    texts = []
    for tokens in new:
        text = tokenizer.decode(tokens)
        texts.append(text + EOS if len(tokens) < MAX_NEW_TOKENS else text)
    return texts


def evaluate(
    model: TransformerLM, tokenizer: AdditionTokenizer, problems: Sequence[Problem]
) -> dict[str, float]:
    """Greedy decoding on held-out problems: exact-match accuracy, format rate, carry accuracy."""
    responses = rollouts(model, tokenizer, [p.prompt for p in problems], temperature=0.0)
    scores = [r1_zero_reward_fn(r, p.answer) for r, p in zip(responses, problems, strict=True)]
    carry = [
        s["answer_reward"] for s, p in zip(scores, problems, strict=True) if has_carry(p.a, p.b)
    ]
    return {
        "accuracy": sum(s["answer_reward"] for s in scores) / len(scores),
        "format_rate": sum(s["format_reward"] for s in scores) / len(scores),
        "carry_accuracy": sum(carry) / max(len(carry), 1),
    }


def sft(
    model: TransformerLM,
    tokenizer: AdditionTokenizer,
    train: Sequence[Problem],
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    log: Log | None = None,
) -> None:
    """Supervised fine-tuning on correct worked examples; the prompt is masked out of the loss."""
    rng = random.Random(seed)
    train = list(train)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for step in range(steps):
        model.train()
        _decay_lr(optimizer, lr, step, steps)
        batch = rng.sample(train, min(batch_size, len(train)))
        outputs = [worked_response(p.a, p.b) + EOS for p in batch]
        loss = _nll_step(model, optimizer, tokenizer, [p.prompt for p in batch], outputs)
        if log:
            log(step, {"loss": loss})


def on_policy_pairs(
    model: TransformerLM,
    tokenizer: AdditionTokenizer,
    problems: Sequence[Problem],
    num_samples: int = 4,
    generator: torch.Generator | None = None,
) -> list[Pair]:
    """Preference pairs from the model's own samples (temperature 1), graded by the verifier.

    Per prompt: rejected = the first wrong sample (e.g. one that forgets a carry), chosen = the
    first correct sample, else the gold worked solution (a fine-tuned model's samples vary little,
    so its own correct ones alone leave few pairs). Prompts without a wrong sample are skipped:
    there is nothing to prefer against.
    """
    prompts = [p.prompt for p in problems for _ in range(num_samples)]
    samples = rollouts(model, tokenizer, prompts, temperature=1.0, generator=generator)
    pairs = []
    for i, problem in enumerate(problems):
        group = samples[i * num_samples : (i + 1) * num_samples]
        rewards = [r1_zero_reward_fn(r, problem.answer)["reward"] for r in group]
        wrong = [r for r, reward in zip(group, rewards, strict=True) if reward == 0.0]
        right = [r for r, reward in zip(group, rewards, strict=True) if reward == 1.0]
        if wrong:
            gold = worked_response(problem.a, problem.b) + EOS
            pairs.append((problem.prompt, right[0] if right else gold, wrong[0]))
    return pairs


def _pair_log_probs(model: TransformerLM, tokenizer: AdditionTokenizer, pairs: Sequence[Pair]):
    """Summed log-probs of the chosen [P] and the rejected [P] responses of `pairs`."""
    prompts = [p for p, _, _ in pairs] * 2
    responses = [c for _, c, _ in pairs] + [r for _, _, r in pairs]
    log_probs = sequence_log_probs(model, tokenizer, prompts, responses)  # [2P]
    return log_probs[: len(pairs)], log_probs[len(pairs) :]


@torch.no_grad()
def preference_margin(
    model: TransformerLM,
    reference: TransformerLM,
    tokenizer: AdditionTokenizer,
    pairs: Sequence[Pair],
    beta: float,
) -> dict[str, float]:
    """DPO's implicit-reward margin on fixed pairs (0 when model == reference), pair accuracy."""
    model.eval()
    _, meta = dpo_loss(*_pair_log_probs(model, tokenizer, pairs),
                       *_pair_log_probs(reference, tokenizer, pairs), beta)  # fmt: skip
    return {"margin": float(meta["margin"].mean()), "pair_accuracy": float(meta["accuracy"].mean())}


def frozen_copy(model: TransformerLM) -> TransformerLM:
    """A copy in eval mode with gradients off: DPO's reference model."""
    reference = copy.deepcopy(model).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    return reference


def dpo(
    model: TransformerLM,
    tokenizer: AdditionTokenizer,
    train: Sequence[Problem],
    steps: int,
    batch_size: int = 16,
    beta: float = 0.1,
    lr: float = 5e-4,
    nll_weight: float = 0.0,
    num_samples: int = 4,
    seed: int = 0,
    reference: TransformerLM | None = None,
    log: Log | None = None,
    dpo_weight: float = 1.0,
) -> None:
    """DPO against a frozen reference (default: a copy of the starting model), pairs on-policy.

    Each step samples `num_samples` responses from the reference for `batch_size` prompts and
    pairs a correct answer with the reference's own mistake (`on_policy_pairs`): DPO's derivation
    assumes the pairs come from pi_ref, and fixed hand-made mistakes the model no longer makes
    teach it little. nll_weight > 0 adds the chosen responses' per-token negative log-likelihood
    (as in RPO, Pang et al. 2024, https://arxiv.org/abs/2404.19733): pure DPO can lower the
    likelihood of both responses, and with them the tokens every answer shares (in our runs pure
    DPO raised the margin while held-out accuracy collapsed). dpo_weight = 0 leaves only that
    likelihood term (an ablation: what the DPO term itself adds). The lr decays linearly to 0.
    """
    rng = random.Random(seed)
    generator = seeded_generator(model, seed)
    train = list(train)
    reference = reference if reference is not None else frozen_copy(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for step in range(steps):
        _decay_lr(optimizer, lr, step, steps)
        problems = rng.sample(train, batch_size)
        pairs = on_policy_pairs(reference, tokenizer, problems, num_samples, generator)
        if not pairs:  # the reference solved every sample: no update, zeros in the log
            if log:
                log(
                    step,
                    dict.fromkeys(("loss", "nll", "margin", "pair_accuracy", "num_pairs"), 0.0),
                )
            continue
        model.train()
        chosen, rejected = _pair_log_probs(model, tokenizer, pairs)  # [P], [P]
        with torch.no_grad():
            ref_chosen, ref_rejected = _pair_log_probs(reference, tokenizer, pairs)
        loss, meta = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta)
        nll = -chosen.sum() / sum(len(tokenizer.encode(c)) for _, c, _ in pairs)
        optimizer.zero_grad(set_to_none=True)
        (dpo_weight * loss.mean() + nll_weight * nll).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if log:
            log(step, {"loss": float(loss.mean().detach()), "nll": float(nll.detach()),
                       "margin": float(meta["margin"].mean()),
                       "pair_accuracy": float(meta["accuracy"].mean()),
                       "num_pairs": float(len(pairs))})  # fmt: skip


def grpo_step_tensors(
    model: TransformerLM,
    tokenizer: AdditionTokenizer,
    problems: Sequence[Problem],
    group_size: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> dict:
    """Sample a group per prompt, score it and build the tensors of one GRPO update."""
    prompts = [p.prompt for p in problems for _ in range(group_size)]
    truths = [p.answer for p in problems for _ in range(group_size)]
    responses = rollouts(model, tokenizer, prompts, temperature, generator)
    advantages, raw_rewards, meta = compute_group_normalized_rewards(
        r1_zero_reward_fn, [r.strip() for r in responses], truths, group_size,
        advantage_eps=1e-6, normalize_by_std=True,
    )  # fmt: skip
    batch = _on_device(model, tokenize_prompt_and_output(prompts, responses, tokenizer))
    advantages = advantages.to(batch["labels"].device)
    with torch.no_grad():
        old = get_response_log_probs(model, batch["input_ids"], batch["labels"])["log_probs"]
    return {"batch": batch, "advantages": advantages, "raw_rewards": raw_rewards,
            "old_log_probs": old, "responses": responses, "meta": meta}  # fmt: skip


def grpo(
    model: TransformerLM,
    tokenizer: AdditionTokenizer,
    train: Sequence[Problem],
    steps: int,
    prompts_per_step: int = 16,
    group_size: int = 8,
    epochs_per_step: int = 2,
    cliprange: float = 0.2,
    lr: float = 5e-4,
    seed: int = 0,
    log: Log | None = None,
) -> None:
    """GRPO with the r1-zero verifier reward: group baseline, clipped ratio, no value function."""
    rng = random.Random(seed)
    generator = seeded_generator(model, seed)
    train = list(train)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for step in range(steps):
        problems = rng.sample(train, prompts_per_step)
        roll = grpo_step_tensors(model, tokenizer, problems, group_size, generator=generator)
        batch, advantages = roll["batch"], roll["advantages"][:, None]  # [N, 1]
        model.train()
        clip_fraction, ratio_mean = 0.0, 1.0
        for _ in range(epochs_per_step):
            log_probs = get_response_log_probs(model, batch["input_ids"], batch["labels"])
            optimizer.zero_grad(set_to_none=True)
            loss, meta = grpo_microbatch_train_step(
                log_probs["log_probs"], batch["response_mask"], 1, "grpo_clip",
                advantages=advantages, old_log_probs=roll["old_log_probs"], cliprange=cliprange,
            )  # fmt: skip
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            clip_fraction = float(meta["clip_fraction"])
            ratio_mean = float(masked_mean(meta["ratio"], batch["response_mask"]))
        if log:
            log(step, {"loss": float(loss), "reward": roll["meta"]["reward_mean"],
                       "format_reward": roll["meta"]["format_reward_mean"],
                       "clip_fraction": clip_fraction, "ratio_mean": ratio_mean})  # fmt: skip
