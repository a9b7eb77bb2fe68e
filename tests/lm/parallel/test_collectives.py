"""Collectives on 2 gloo ranks: results, all-reduce = reduce-scatter + all-gather, wire costs."""

from __future__ import annotations

import pytest
import torch

from lm.parallel.collectives import bytes_on_wire, collective_time_s, pad_to_multiple

pytestmark = pytest.mark.multiproc


def test_collective_results(model_parallel_runs: list[dict]) -> None:
    for rank, result in enumerate(model_parallel_runs):
        c = result["collectives"]
        assert torch.equal(c["reference"], torch.arange(7.0) * 3)  # ranks scale by 1 and 2
        assert torch.equal(c["built"], c["reference"]), "reduce-scatter + all-gather != all-reduce"
        assert torch.equal(c["shard"], (torch.arange(4.0) * 3).chunk(2)[rank])
        assert torch.equal(c["gathered"], torch.tensor([0.0, 0.0, 1.0, 1.0]))


def test_measured_rows(model_parallel_runs: list[dict]) -> None:
    rows = model_parallel_runs[0]["collectives"]["rows"]
    assert [r["op"] for r in rows] == ["all_reduce", "reduce_scatter", "all_gather", "broadcast"]
    for r in rows:
        assert r["seconds"] > 0 and r["bus_gb_s"] > 0
        assert r["wire_bytes"] == bytes_on_wire(r["op"], 4096, 2)


def test_bytes_on_wire() -> None:
    assert bytes_on_wire("all_reduce", 1000, 4) == 1500.0
    assert bytes_on_wire("reduce_scatter", 1000, 4) == 750.0
    assert bytes_on_wire("all_gather", 1000, 4) == 750.0
    assert bytes_on_wire("broadcast", 1000, 4) == 1000.0
    assert bytes_on_wire("all_reduce", 1000, 1) == 0.0
    # all-reduce costs exactly its two halves
    halves = bytes_on_wire("reduce_scatter", 1000, 8) + bytes_on_wire("all_gather", 1000, 8)
    assert bytes_on_wire("all_reduce", 1000, 8) == halves
    with pytest.raises(ValueError, match="'gather'"):
        bytes_on_wire("gather", 1, 2)


def test_alpha_beta_model() -> None:
    # 1 GB all-reduce on 8 ranks at 100 GB/s: 2 * 7/8 GB / 100 GB/s = 17.5 ms, plus 14 hops
    t = collective_time_s("all_reduce", 10**9, 8, 100e9, latency_s=1e-5)
    assert t == pytest.approx(0.0175 + 14e-5)


def test_pad_to_multiple() -> None:
    assert pad_to_multiple(torch.tensor([1.0, 2.0, 3.0]), 2).tolist() == [1.0, 2.0, 3.0, 0.0]
    assert pad_to_multiple(torch.tensor([1.0, 2.0]), 2).tolist() == [1.0, 2.0]
