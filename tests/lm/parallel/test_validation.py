"""Bad arguments to the parallel wrappers fail fast with a message naming the value (no ranks)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lm.parallel import DDP, FSDP, ShardedOptimizer
from lm.parallel.launch import run_ranks
from lm.parallel.memory import zero_bytes


def test_sharded_optimizer_needs_an_optimizer_class() -> None:
    with pytest.raises(TypeError, match="optimizer_cls='adamw'"):
        ShardedOptimizer(nn.Linear(2, 2).parameters(), "adamw", lr=1e-3)


def test_ddp_rejects_empty_buckets() -> None:
    with pytest.raises(ValueError, match="bucket_size_mb=0"):
        DDP(nn.Linear(2, 2), bucket_size_mb=0)


def test_fsdp_rejects_integer_compute_dtype() -> None:
    with pytest.raises(ValueError, match="compute_dtype=torch.int64"):
        FSDP(nn.Linear(2, 2), compute_dtype=torch.int64)


def test_run_ranks_rejects_zero_ranks() -> None:
    with pytest.raises(ValueError, match="world_size=0"):
        run_ranks(print, world_size=0)


def test_zero_bytes_stages() -> None:
    assert [zero_bytes(s, 1000, 4) for s in range(4)] == [16000, 10000, 7000, 4000]
    with pytest.raises(ValueError, match="stage=4"):
        zero_bytes(4, 1000, 4)
