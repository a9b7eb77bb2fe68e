"""The alignment demo at tiny size: the addition task, each stage's loop, logs, plot and results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from lm.alignment import loops
from lm.alignment.addition_task import (
    AdditionTokenizer,
    Problem,
    has_carry,
    preference_pair,
    split_problems,
    worked,
)
from lm.alignment.demo import run_demo, tiny_config
from lm.alignment.rewards import r1_zero_reward_fn


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on two busy cores are several times slower
    yield
    torch.set_num_threads(before)


def test_worked_examples_are_graded_by_the_r1_zero_reward() -> None:
    assert worked(47, 38) == "<think>7+8=15 4+3+1=8</think> <answer>85</answer>"
    assert worked(47, 38, forget_carry=True).endswith("<answer>75</answer>")
    for a, b in [(0, 0), (5, 38), (99, 99), (67, 58), (10, 20)]:
        assert r1_zero_reward_fn(worked(a, b), str(a + b))["reward"] == 1.0
        expect = 0.0 if has_carry(a, b) else 1.0
        assert r1_zero_reward_fn(worked(a, b, True), str(a + b))["reward"] == expect
    chosen, rejected = preference_pair(Problem(67, 58))
    assert chosen != rejected and chosen.endswith("\n")
    for a, b in [(12, 34), (5, 3), (67, 58), (90, 9)]:  # rejected: well formatted but wrong
        chosen, rejected = preference_pair(Problem(a, b))
        assert r1_zero_reward_fn(chosen.strip(), str(a + b))["reward"] == 1.0
        graded = r1_zero_reward_fn(rejected.strip(), str(a + b))
        assert graded["format_reward"] == 1.0 and graded["reward"] == 0.0


def test_tokenizer_round_trip_and_errors() -> None:
    tok = AdditionTokenizer()
    text = worked(12, 89) + "\n"
    assert tok.decode(tok.encode(text)) == text
    assert 0 not in tok.encode(text) and max(tok.encode(text)) < tok.vocab_size
    with pytest.raises(ValueError, match="'x'"):
        tok.encode("1x2")


def test_split_is_disjoint() -> None:
    train, test = split_problems(num_test=50)
    assert len(test) == 50 and len(train) == 9950
    assert not {(p.a, p.b) for p in test} & {(p.a, p.b) for p in train}
    with pytest.raises(ValueError, match="num_digits"):
        split_problems(num_digits=7)


def test_grpo_step_tensors_shapes_and_group_baseline() -> None:
    tok = AdditionTokenizer()
    model = loops.make_model(tok, tiny_config().size)
    problems = [Problem(1, 2), Problem(30, 45)]
    roll = loops.grpo_step_tensors(model, tok, problems, group_size=4,
                                   generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert roll["advantages"].shape == (8,) and roll["raw_rewards"].shape == (8,)
    assert roll["old_log_probs"].shape == roll["batch"]["labels"].shape
    # the group baseline: advantages of each group sum to zero
    sums = roll["advantages"].view(2, 4).sum(dim=1)
    assert torch.allclose(sums, torch.zeros(2), atol=1e-4)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stage", ["sft", "dpo", "grpo"])
def test_each_stage_runs_logs_and_reports(stage: str, tmp_path: Path) -> None:
    results = run_demo(stage, tmp_path, tiny_config())
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    pretrain = [r["loss"] for r in records if r["stage"] == "pretrain"]
    assert len(pretrain) == tiny_config().pretrain_steps
    assert sum(pretrain[-5:]) < sum(pretrain[:5])  # the base model learned something
    trained = [r for r in records if r["stage"] == stage and r["kind"] == "train"]
    assert len(trained) == tiny_config().steps[stage]
    assert all(math.isfinite(v) for r in trained for k, v in r.items() if isinstance(v, float))
    r = results["stages"][stage]
    for metrics in (r["before"], r["after"]):
        assert 0.0 <= metrics["accuracy"] <= metrics["format_rate"] <= 1.0
    assert "<svg" in (tmp_path / f"curves_{stage}.svg").read_text()
    assert json.loads((tmp_path / "results.json").read_text())["stages"][stage]["steps"] > 0
    # the base checkpoint is cached: a second run skips pre-training
    run_demo(stage, tmp_path, tiny_config(), steps=1)
    again = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert not [x for x in again if x["stage"] == "pretrain"]


def test_sft_lowers_the_response_loss() -> None:
    tok = AdditionTokenizer()
    model = loops.make_model(tok, tiny_config().size)
    train, _ = split_problems(num_test=16)
    losses: list[float] = []
    loops.sft(model, tok, train, 30, batch_size=16, lr=3e-3,
              log=lambda step, m: losses.append(m["loss"]))  # fmt: skip
    assert sum(losses[-5:]) < 0.7 * sum(losses[:5])


def test_dpo_raises_the_margin() -> None:
    tok = AdditionTokenizer()
    model = loops.make_model(tok, tiny_config().size)
    train, _ = split_problems(num_test=16)
    margins: list[float] = []
    loops.dpo(model, tok, train, 12, batch_size=8, lr=3e-3,
              log=lambda step, m: margins.append(m["margin"]))  # fmt: skip
    assert margins[0] == pytest.approx(0.0, abs=1e-5)  # policy == reference at the start
    assert sum(margins[-3:]) > 0


def test_bad_stage_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'ppo'"):
        run_demo("ppo", tmp_path, tiny_config())
