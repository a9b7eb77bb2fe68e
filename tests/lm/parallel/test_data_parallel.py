"""DDP (bucketed, naive), ZeRO-1 and FSDP on 2 gloo ranks equal one process on the whole batch."""

from __future__ import annotations

import time

import pytest
import torch

from lm.parallel.launch import run_ranks
from tests.lm.parallel import parallel_toy as toy

pytestmark = [pytest.mark.multiproc, pytest.mark.timeout(120)]

# float32, but summation order differs between one process and two half-batches
RTOL, ATOL = 1e-5, 1e-6

CONFIGS = [
    ("naive", {}),
    ("ddp", {"bucket_size_mb": 25.0}),  # everything in one bucket
    ("ddp", {"bucket_size_mb": 1e-4}),  # ~100 bytes: smaller than most single params
    ("zero1", {"bucket_size_mb": 1e-4}),
    ("zero1_generator", {}),
    ("fsdp", {}),
    ("ddp", {"model": "lm", "bucket_size_mb": 1e-3}),
    ("zero1", {"model": "lm_tied"}),
    ("fsdp", {"model": "lm"}),
    ("fsdp", {"model": "lm_tied"}),
]


def _key(strategy: str, options: dict) -> str:
    return f"{strategy}:{sorted(options.items())}"


@pytest.fixture(scope="module")
def runs() -> dict:
    """All strategies in one spawn of 2 ranks (process start-up dominates the cost)."""
    return run_ranks(toy.run_strategies, CONFIGS, world_size=2, timeout_s=100)


@pytest.fixture(scope="module")
def references() -> dict:
    return {kind: toy.train_reference(kind=kind) for kind in ("toy", "lm", "lm_tied")}


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    diff = (actual - expected).abs()
    assert torch.allclose(actual, expected, rtol=RTOL, atol=ATOL), (
        f"{what}: max abs diff {diff.max():.3g}, mean {diff.mean():.3g}"
    )


@pytest.mark.parametrize("strategy,options", CONFIGS, ids=[_key(*c) for c in CONFIGS])
def test_matches_single_process(runs: dict, references: dict, strategy: str, options: dict) -> None:
    key = _key(strategy, options)
    expected = references[options.get("model", "toy")]
    if strategy == "zero1_generator":
        expected = toy.train_reference_one_group()
    for rank, result in enumerate(runs):
        got = result[key]
        assert got["losses"] == pytest.approx(expected["losses"], rel=RTOL), f"rank {rank} losses"
        assert got["params"].keys() == expected["params"].keys()
        for name, value in expected["params"].items():
            _assert_close(got["params"][name], value, f"{key} rank {rank} param {name}")
        if strategy == "zero1_generator":
            continue  # its reference differs only in the optimizer; grads checked by "zero1"
        for step, grads in enumerate(expected["grads"]):
            for name, g in grads.items():
                if g is None:
                    assert got["grads"][step][name] is None, f"{key} {name} should have no grad"
                else:
                    _assert_close(got["grads"][step][name], g, f"{key} step {step} grad {name}")


def test_ranks_agree_after_training(runs: dict) -> None:
    """Replicas must stay bitwise identical: every rank applied the same averaged update."""
    for key in runs[0]:
        if key.endswith("_probe"):
            continue
        for name, value in runs[0][key]["params"].items():
            assert torch.equal(value, runs[1][key]["params"][name]), f"{key} {name} diverged"


def test_dead_rank_raises_instead_of_hanging() -> None:
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="rank") as info:
        run_ranks(toy.die_or_all_reduce, world_size=2, timeout_s=60, collective_timeout_s=5)
    elapsed = time.monotonic() - start
    assert elapsed < 45, f"took {elapsed:.1f} s to notice a dead rank"
    assert "--- rank 0 ---" in str(info.value), "the surviving rank itself must raise"
    assert "rank 1 exited" in str(info.value)


@pytest.mark.slow  # ~10 s: a spawn plus the gloo timeout; the dead-rank test covers the default run
def test_stuck_rank_times_out() -> None:
    """A peer that is alive but never joins the collective trips gloo's timeout on the others."""
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="--- rank 0 ---") as info:
        run_ranks(
            toy.stall_or_all_reduce,
            30.0,
            world_size=2,
            timeout_s=60,
            collective_timeout_s=2,
            grace_s=1,
        )
    assert "Timed out" in str(info.value)
    assert time.monotonic() - start < 30, "a stuck peer must be killed after a short grace"


def test_fsdp_shards_gathers_and_mixed_precision(runs: dict) -> None:
    """bf16 compute on a tied TransformerLM: float32 shards and grads, half-size row shards, one
    all-gather per layer in forward, a second one in backward only where the weight was saved."""
    probe = runs[0]["fsdp_probe"]
    full = probe["full_shapes"]
    assert full["token_embeddings.weight"] == (toy.VOCAB, 8)
    # tied: both names, like state_dict(), so a checkpoint loads strictly into a fresh model
    assert full.keys() == toy.make_model(kind="lm_tied").state_dict().keys()
    assert full["lm_head.weight"] == full["token_embeddings.weight"]
    shards = probe["shard_shapes"]
    assert shards["shards.0"] == ((toy.VOCAB + 1) // 2, 8), "uneven rows are padded, then halved"
    assert probe["shard_dtypes"] == {torch.float32}
    assert probe["grad_dtypes"] == {torch.float32}
    assert probe["logits_dtype"] == torch.bfloat16
    assert probe["weight_after_forward"] is None, "the gathered weight must be dropped"
    # per layer: q, k, v, out, w1, w2, w3 = 7 Linear; plus embedding and lm_head (tied: 2 uses)
    num_linear_calls = 2 * 7 + 1
    assert probe["gathers_forward"] == num_linear_calls + 1
    assert probe["gathers_backward"] == num_linear_calls, "Embedding saves no weight: no regather"
    bf16_bytes = 2 * ((toy.VOCAB + 1) // 2 * 2) * 8  # the padded [V, C] table in bf16
    assert probe["max_gathered_bytes"] == bf16_bytes
    fp32 = toy.train_reference(num_steps=1, kind="lm_tied")["losses"][0]
    assert probe["loss"] == pytest.approx(fp32, rel=2e-2), "bf16 compute drifted too far"
    assert probe["loss"] != fp32, "compute_dtype had no effect"


def test_zero1_shards_the_optimizer_state(runs: dict) -> None:
    """Every parameter has Adam state on exactly one rank, and the ranks hold near-equal shares."""
    owned = [set(r["zero1_probe"]["with_state"]) for r in runs]
    numel = runs[0]["zero1_probe"]["numel"]
    assert owned[0].isdisjoint(owned[1])
    assert owned[0] | owned[1] == set(numel)
    shares = [sum(numel[n] for n in names) for names in owned]
    assert max(shares) - min(shares) <= max(numel.values()), f"unbalanced shards {shares}"


def test_ddp_launches_all_reduces_during_backward(runs: dict) -> None:
    """Every bucket's all-reduce is already in flight when backward produces its last gradient:
    communication overlaps the rest of backward instead of waiting for finish."""
    probe = runs[0]["overlap_probe"]
    assert probe["num_buckets"] > 10
    assert probe["launched_during_backward"] == probe["num_buckets"]


def test_zero1_refuses_another_ranks_state() -> None:
    """Both ranks own one [4, 4] weight: the other shard has the right sizes, wrong values."""
    results = run_ranks(toy.zero1_load_probe, world_size=2, timeout_s=60)
    assert results[0]["error"] is not None and "(rank, world_size)=(1, 2)" in results[0]["error"]
    assert results[1]["error"] is not None and "(rank, world_size)=(0, 2)" in results[1]["error"]
