import math

import pytest
import torch

from lm.alignment import (
    compute_group_normalized_rewards,
    compute_grpo_clip_loss,
    compute_naive_policy_gradient_loss,
    compute_per_instance_dpo_loss,
    compute_policy_gradient_loss,
    dpo_loss,
    get_response_log_probs,
    grpo_microbatch_train_step,
    sft_microbatch_train_step,
    tokenize_prompt_and_output,
)
from tests.lm.alignment.alignment_helpers import BigramLM, CharTokenizer


def test_dpo_loss_hand_computed() -> None:
    # margin = 0.5 * ((-1 - -2) - (-3 - -2)) = 1.0 -> loss = log(1 + e^-1)
    loss, meta = dpo_loss(
        torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), torch.tensor([-2.0]), 0.5
    )
    assert loss.item() == pytest.approx(math.log1p(math.exp(-1.0)))
    assert loss.item() == pytest.approx(0.31326168751822286)
    assert meta["margin"].item() == pytest.approx(1.0)
    assert meta["chosen_reward"].item() == pytest.approx(0.5)


def test_dpo_loss_is_stable_at_large_margin() -> None:
    loss, _ = dpo_loss(
        torch.tensor([0.0]), torch.tensor([-1e4]), torch.zeros(1), torch.zeros(1), 1.0
    )
    assert loss.item() == 0.0
    loss, _ = dpo_loss(
        torch.tensor([-1e4]), torch.tensor([0.0]), torch.zeros(1), torch.zeros(1), 1.0
    )
    assert loss.item() == pytest.approx(1e4)


def _seq_logp(model: BigramLM, tok: CharTokenizer, prompt: str, response: str) -> float:
    ids = tok.encode(prompt + response)
    table = model.table.detach()
    return sum(
        torch.log_softmax(table[ids[t - 1]], -1)[ids[t]].item()
        for t in range(len(prompt), len(ids))
    )


def test_per_instance_dpo_loss_hand_computed() -> None:
    tok = CharTokenizer()
    lm, ref = BigramLM(tok.vocab_size, seed=1), BigramLM(tok.vocab_size, seed=2)
    prompt, chosen, rejected, beta = "12+3=", "15", "1599", 0.3
    margin = beta * (
        (_seq_logp(lm, tok, prompt, chosen) - _seq_logp(ref, tok, prompt, chosen))
        - (_seq_logp(lm, tok, prompt, rejected) - _seq_logp(ref, tok, prompt, rejected))
    )
    loss = compute_per_instance_dpo_loss(lm, ref, tok, beta, prompt, chosen, rejected)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-margin)), abs=1e-5)
    loss.backward()
    assert lm.table.grad is not None and ref.table.grad is None
    same = compute_per_instance_dpo_loss(lm, lm, tok, beta, prompt, chosen, rejected)
    assert same.item() == pytest.approx(math.log(2.0), abs=1e-6)


def test_group_normalized_rewards_fixed() -> None:
    rewards = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    responses = [str(r) for r in rewards]

    def reward_fn(response: str, truth: str) -> dict[str, float]:
        return {"reward": float(response), "format_reward": 1.0, "answer_reward": float(response)}

    eps = 1e-6
    adv, raw, meta = compute_group_normalized_rewards(
        reward_fn, responses, ["x"] * 8, group_size=4, advantage_eps=eps, normalize_by_std=True
    )
    # each group: mean 0.75 (or 0.25), unbiased std 0.5
    expected = [0.25, -0.75, 0.25, 0.25, -0.25, -0.25, -0.25, 0.75]
    assert adv.tolist() == pytest.approx([e / (0.5 + eps) for e in expected], abs=1e-7)
    assert raw.tolist() == rewards
    assert meta["reward_mean"] == 0.5
    adv_raw, _, _ = compute_group_normalized_rewards(
        reward_fn, responses, ["x"] * 8, 4, eps, normalize_by_std=False
    )
    assert adv_raw.tolist() == pytest.approx(expected)
    flat, _, meta = compute_group_normalized_rewards(
        reward_fn, ["1.0"] * 4, ["x"] * 4, 2, eps, True
    )
    assert flat.tolist() == [0.0] * 4 and meta["frac_groups_all_same"] == 1.0


def test_group_normalized_rewards_rejects_bad_group() -> None:
    def fn(r: str, g: str) -> dict[str, float]:
        return {"reward": 0.0, "format_reward": 0.0, "answer_reward": 0.0}

    with pytest.raises(ValueError, match="group_size=3 does not divide 4"):
        compute_group_normalized_rewards(fn, ["a"] * 4, ["b"] * 4, 3, 1e-6, True)


def test_grpo_clip_loss_by_hand() -> None:
    logp = torch.log(torch.tensor([[1.5, 0.5], [1.5, 0.5]]))
    old = torch.zeros(2, 2)
    adv = torch.tensor([[1.0], [-1.0]])
    loss, meta = compute_grpo_clip_loss(adv, logp, old, cliprange=0.2)
    # A=+1: -min(1.5, 1.2) = -1.2, -min(0.5, 0.8) = -0.5; A=-1: -min(-1.5, -1.2) = 1.5, 0.8
    assert loss.flatten().tolist() == pytest.approx([-1.2, -0.5, 1.5, 0.8])
    assert meta["clipped"].tolist() == [[True, False], [False, True]]
    assert meta["ratio"].flatten().tolist() == pytest.approx([1.5, 0.5, 1.5, 0.5])


def test_grpo_clip_equals_naive_when_ratio_is_one_and_gradients_match() -> None:
    logp = torch.randn(3, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    adv = torch.tensor([[0.5], [-1.0], [2.0]])
    clip_loss, _ = compute_grpo_clip_loss(adv, logp, logp.detach(), 0.2)
    naive = compute_naive_policy_gradient_loss(adv, logp)
    (g_clip,) = torch.autograd.grad(clip_loss.sum(), logp)
    (g_naive,) = torch.autograd.grad(naive.sum(), logp)
    # at ratio 1, d(-r A)/dlogp = -A = d(-A logp)/dlogp
    assert torch.allclose(g_clip, g_naive)


def test_advantages_must_be_a_column() -> None:
    with pytest.raises(ValueError, match=r"shape \(3,\) \(expected \[3, 1\]"):
        compute_naive_policy_gradient_loss(torch.ones(3), torch.zeros(3, 3))


def test_policy_gradient_dispatch() -> None:
    logp = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
    rewards, adv = torch.tensor([[1.0], [0.0]]), torch.tensor([[0.7], [-0.7]])
    loss, _ = compute_policy_gradient_loss(logp, "no_baseline", raw_rewards=rewards)
    assert torch.equal(loss, -rewards * logp)
    loss, _ = compute_policy_gradient_loss(logp, "reinforce_with_baseline", advantages=adv)
    assert torch.equal(loss, -adv * logp)
    loss, meta = compute_policy_gradient_loss(logp, "grpo_clip", None, adv, logp, 0.2)
    assert torch.allclose(loss, -adv * torch.ones_like(logp)) and "clipped" in meta
    with pytest.raises(ValueError, match="needs old_log_probs, cliprange"):
        compute_policy_gradient_loss(logp, "grpo_clip", advantages=adv)
    with pytest.raises(ValueError, match="loss_type='ppo'"):
        compute_policy_gradient_loss(logp, "ppo", raw_rewards=rewards)  # type: ignore[arg-type]


def test_grpo_microbatch_train_step_by_hand() -> None:
    logp = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]], requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    adv = torch.tensor([[1.0], [2.0]])
    loss, meta = grpo_microbatch_train_step(
        logp, mask, 2, "reinforce_with_baseline", advantages=adv
    )
    # per example: mean(1, 2) = 1.5 and 2 * 1 = 2 -> batch mean 1.75 -> / 2 steps
    assert loss.item() == pytest.approx(0.875)
    assert meta["loss_per_example"].tolist() == pytest.approx([1.5, 2.0])
    assert logp.grad.flatten().tolist() == pytest.approx([-0.125, -0.125, 0, -0.5, 0, 0])


def _sft_grads(model: BigramLM, batch: dict[str, torch.Tensor], micro: int) -> torch.Tensor:
    model.zero_grad()
    steps = batch["input_ids"].shape[0] // micro
    for i in range(steps):
        rows = slice(i * micro, (i + 1) * micro)
        lp = get_response_log_probs(model, batch["input_ids"][rows], batch["labels"][rows])
        sft_microbatch_train_step(lp["log_probs"], batch["response_mask"][rows], steps, 3.0)
    return model.table.grad.clone()


def test_sft_gradient_accumulation_1x8_equals_8x1() -> None:
    tok = CharTokenizer()
    model = BigramLM(tok.vocab_size)
    prompts = [f"{i}+{i + 3}=" for i in range(8)]
    outputs = [str(2 * i + 3) + " ok" * (i % 3) for i in range(8)]
    batch = tokenize_prompt_and_output(prompts, outputs, tok)
    full = _sft_grads(model, batch, micro=8)
    accumulated = _sft_grads(model, batch, micro=1)
    assert full.abs().sum() > 0
    assert torch.allclose(full, accumulated, atol=1e-6), (full - accumulated).abs().max()


def test_sft_loss_by_hand() -> None:
    logp = torch.tensor([[-1.0, -2.0, -4.0], [-3.0, -1.0, -1.0]], requires_grad=True)
    mask = torch.tensor([[0, 1, 1], [1, 0, 0]], dtype=torch.bool)
    loss, meta = sft_microbatch_train_step(logp, mask, 4, normalize_constant=2.0)
    # per example: 6 / 2 = 3 and 3 / 2 = 1.5 -> mean 2.25 -> / 4
    assert loss.item() == pytest.approx(2.25 / 4)
    assert meta["nll_per_example"].tolist() == pytest.approx([3.0, 1.5])
    assert logp.grad[0].tolist() == pytest.approx([0.0, -1 / 16, -1 / 16])
