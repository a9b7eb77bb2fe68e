"""The alignment demo at tiny size: the addition task, each stage's loop, the chained run (each
stage from the previous stage's checkpoint), logs, plots and results."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lm.alignment import loops
from lm.alignment.addition_task import (
    AdditionTokenizer,
    Problem,
    has_carry,
    split_problems,
    worked,
)
from lm.alignment.demo import (
    STAGES,
    DemoConfig,
    dpo_ablation,
    gpu_config,
    run_demo,
    stage_key,
    tiny_config,
)
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
    assert worked(999, 1) == "<think>9+1=10 9+0+1=10 9+0+1=10</think> <answer>1000</answer>"


def test_on_policy_pairs_prefer_a_correct_answer_to_the_models_own_mistake() -> None:
    tok = AdditionTokenizer()
    model = loops.make_model(tok, tiny_config().size)  # untrained: every sample is wrong
    problems = [Problem(47, 38), Problem(123, 456)]
    gen = torch.Generator().manual_seed(0)
    pairs = loops.on_policy_pairs(model, tok, problems, num_samples=2, generator=gen)
    assert [p for p, _, _ in pairs] == ["47+38=", "123+456="]
    for (_, chosen, rejected), problem in zip(pairs, problems, strict=True):
        assert chosen == worked(problem.a, problem.b) + "\n"  # no correct sample: the gold one
        assert r1_zero_reward_fn(rejected, problem.answer)["reward"] == 0.0
    reference = loops.frozen_copy(model)
    held_out = loops.preference_margin(model, reference, tok, pairs, beta=0.1)
    assert held_out["margin"] == 0.0  # policy == reference


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
    assert split_problems(num_test=50) is split_problems(num_test=50)  # cached, immutable
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


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "log.jsonl").read_text().splitlines()]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stage", ["sft", "dpo", "grpo"])
def test_each_stage_runs_logs_and_reports(stage: str, tmp_path: Path) -> None:
    results = run_demo(stage, tmp_path, tiny_config())
    records = _records(tmp_path)
    pretrain = [r["loss"] for r in records if r["stage"] == "pretrain"]
    assert len(pretrain) == tiny_config().pretrain_steps
    assert sum(pretrain[-5:]) < sum(pretrain[:5])  # the base model learned something
    trained = [r for r in records if r["stage"] == stage and r["kind"] == "train"]
    assert len(trained) == getattr(tiny_config(), f"{stage}_steps")
    assert all(math.isfinite(v) for r in trained for k, v in r.items() if isinstance(v, float))
    # the stages before this one were trained first (no checkpoints yet), in chain order
    assert list(results["stages"]) == list(STAGES[: STAGES.index(stage) + 1])
    r = results["stages"][stage]
    for metrics in (r["before"], r["after"]):
        assert 0.0 <= metrics["accuracy"] <= metrics["format_rate"] <= 1.0
    assert "<svg" in (tmp_path / f"curves_{stage}.svg").read_text()
    assert json.loads((tmp_path / "results.json").read_text())["stages"][stage]["steps"] > 0
    # checkpoints are cached: a second run trains only the stage asked for
    again = run_demo(stage, tmp_path, tiny_config(), steps=1)
    assert list(again["stages"]) == [stage] and again["pretrain_seconds"] is None
    assert {x["stage"] for x in _records(tmp_path)} == {stage}


@pytest.mark.timeout(180)
def test_all_chains_the_stages_and_one_stage_resumes_from_the_cached_chain(tmp_path: Path) -> None:
    chain = run_demo("all", tmp_path / "a", tiny_config())
    sft, dpo, grpo = (chain["stages"][s] for s in ("sft", "dpo", "grpo"))
    accuracy = ("accuracy", "format_rate", "carry_accuracy")
    assert {k: sft["after"][k] for k in accuracy} == {k: dpo["before"][k] for k in accuracy}
    assert {k: dpo["after"][k] for k in accuracy} == {k: grpo["before"][k] for k in accuracy}
    assert dpo["before"]["margin"] == 0.0 and dpo["after"]["margin"] != 0.0  # ref = SFT model
    for name in ("base", "sft", "dpo", "grpo"):
        assert (tmp_path / "a" / f"{name}.pt").exists()
    assert "<svg" in (tmp_path / "a" / "curves_chain.svg").read_text()
    # grpo alone, from the cached DPO checkpoint and from scratch: the same numbers (seeded)
    resumed = run_demo("grpo", tmp_path / "a", tiny_config())["stages"]
    fresh = run_demo("grpo", tmp_path / "b", tiny_config())["stages"]
    assert resumed["grpo"]["after"] == fresh["grpo"]["after"] == grpo["after"]
    assert list(fresh) == ["sft", "dpo", "grpo"] and fresh["dpo"]["after"] == dpo["after"]


@pytest.mark.timeout(180)
def test_dpo_ablation_reruns_the_chains_dpo_stage_three_ways(tmp_path: Path) -> None:
    chain_dpo = run_demo("dpo", tmp_path, tiny_config())["stages"]["dpo"]["after"]
    ablation = dpo_ablation(tmp_path, tiny_config())
    assert json.loads((tmp_path / "dpo_ablation.json").read_text()) == ablation
    variants = ablation["variants"]
    assert list(variants) == ["DPO only", "DPO + NLL", "NLL only"]
    assert variants["NLL only"]["dpo_weight"] == 0.0 and variants["DPO only"]["nll_weight"] == 0.0
    # the chain's own setting, from the cached SFT model with the same seed: the same result
    same = variants["DPO + NLL"]
    assert {k: same[k] for k in ("accuracy", "margin")} == {
        k: chain_dpo[k] for k in ("accuracy", "margin")
    }


def test_checkpoint_keys_follow_the_chain() -> None:
    config, names = tiny_config(), ("base", "sft", "dpo", "grpo")
    changed = {"grpo_lr": 1.0, "sft_lr": 1.0, "pretrain_steps": 1, "eval_every": {}}
    keys = {name: {s: stage_key(replace(config, **{name: v}), s) for s in names}
            for name, v in changed.items()}  # fmt: skip
    same = {s: stage_key(config, s) for s in names}
    assert keys["grpo_lr"]["dpo"] == same["dpo"] and keys["grpo_lr"]["grpo"] != same["grpo"]
    assert keys["sft_lr"]["base"] == same["base"]
    assert all(keys["sft_lr"][s] != same[s] for s in ("sft", "dpo", "grpo"))
    assert all(keys["pretrain_steps"][s] != same[s] for s in same)
    assert keys["eval_every"] == same  # evaluation cadence changes no weights


def test_gpu_config_is_the_same_recipe_larger() -> None:
    gpu, cpu = gpu_config(), DemoConfig()
    assert gpu.size.d_model > cpu.size.d_model and gpu.num_test > cpu.num_test
    assert gpu.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert (gpu.num_digits, gpu.p_forget) == (cpu.num_digits, cpu.p_forget)


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
