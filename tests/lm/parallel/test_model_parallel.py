"""Tensor parallelism (column/row Linear in attention and MLP) and the GPipe pipeline on 2 gloo
ranks give the loss, logits and gradients of the unsplit TransformerLM."""

from __future__ import annotations

import pytest
import torch

from lm.parallel.pipeline import bubble_fraction
from tests.lm.parallel import model_parallel_ranks as ranks

pytestmark = [pytest.mark.multiproc, pytest.mark.timeout(120)]
RTOL, ATOL = 1e-5, 1e-6
WORLD_SIZE = 2


def _close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    diff = (actual - expected).abs()
    assert torch.allclose(actual, expected, rtol=RTOL, atol=ATOL), (
        f"{what}: max abs diff {diff.max():.3g}, mean {diff.mean():.3g}"
    )


def _expected_local_grad(name: str, full: torch.Tensor, rank: int) -> torch.Tensor:
    """The slice of the unsplit gradient a rank's shard must hold."""
    is_row_parallel = name.endswith("output_proj.w_local") or name.endswith("w2.w_local")
    dim = 1 if is_row_parallel else 0
    return full.chunk(WORLD_SIZE, dim=dim)[rank]


@pytest.mark.parametrize(
    "key,options", [("tp", {}), ("tp_gqa_mlp", {"num_heads": 4, "num_kv_heads": 2, "ffn": "gelu"})]
)
def test_tensor_parallel_matches_unsplit(
    model_parallel_runs: list[dict], key: str, options: dict
) -> None:
    expected = ranks.reference(**options)
    for result in model_parallel_runs:
        rank, got = result["rank"], result[key]
        assert got["loss"] == pytest.approx(expected["loss"], rel=RTOL)
        _close(got["logits"], expected["logits"], f"{key} rank {rank} logits")
        num_sharded = 0
        for name, grad in got["grads"].items():
            if name.endswith(".w_local"):
                num_sharded += 1
                full = expected["grads"][name.removesuffix(".w_local") + ".weight"]
                _close(grad, _expected_local_grad(name, full, rank), f"{key} rank {rank} {name}")
            else:  # replicated: embeddings, norms, head get the whole gradient on every rank
                _close(grad, expected["grads"][name], f"{key} rank {rank} {name}")
        assert num_sharded == 2 * (4 + (3 if "ffn" not in options else 2))
        q_shape = got["shapes"]["layers.0.attn.q_proj.w_local"]
        assert q_shape == (ranks.D_MODEL // WORLD_SIZE, ranks.D_MODEL)


def test_pipeline_matches_unsplit(model_parallel_runs: list[dict]) -> None:
    expected = ranks.reference(num_layers=4)
    first, last = model_parallel_runs[0]["pp"], model_parallel_runs[1]["pp"]
    assert first["loss"] == pytest.approx(expected["loss"], rel=RTOL)
    assert last["loss"] == first["loss"]
    assert {n.split(".")[0] for n in first["stage_params"]} == {"token_embeddings", "layers"}
    assert "lm_head.weight" in last["stage_params"]
    # the two stages' gradients together are exactly the unsplit model's gradients
    assert set(first["grads"]).isdisjoint(last["grads"])
    merged = {**first["grads"], **last["grads"]}
    assert set(merged) == set(expected["grads"])
    for name, grad in merged.items():
        _close(grad, expected["grads"][name], f"pipeline {name}")


def test_bubble_fraction() -> None:
    assert bubble_fraction(2, 1) == pytest.approx(0.5)
    assert bubble_fraction(4, 4) == pytest.approx(3 / 7)
    assert bubble_fraction(1, 8) == 0.0
    with pytest.raises(ValueError, match="num_microbatches=0"):
        bubble_fraction(2, 0)
