"""Per-rank measurements of the data-parallel strategies on a TransformerLM: step times of our
DDP, naive DDP, torch's DistributedDataParallel, ZeRO-1 and FSDP, and their training-state memory.

Shared by benchmarks/parallel.py and lecture 06; run `measure_strategies` on every rank (run_ranks).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from lm.model import Embedding, Linear, TransformerLM
from lm.parallel.ddp import DDP, NaiveDDP
from lm.parallel.fsdp import FSDP
from lm.parallel.memory import training_state_bytes, zero_bytes
from lm.parallel.sharded_optimizer import ShardedOptimizer

SEED = 0
VARIANTS = ("torch_ddp", "ddp", "naive", "zero1", "fsdp")


def _model(cfg: dict[str, Any]) -> TransformerLM:
    torch.manual_seed(SEED)
    return TransformerLM(
        vocab_size=cfg["vocab_size"],
        context_length=cfg["seq"],
        d_model=cfg["d_model"],
        num_layers=cfg["num_layers"],
        num_heads=cfg["num_heads"],
        d_ff=cfg["d_ff"],
    )


def setup_variant(
    variant: str, cfg: dict[str, Any]
) -> tuple[nn.Module, Any, torch.optim.Optimizer]:
    """(wrapped model, the object to call finish_gradient_synchronization on or None, optimizer)."""
    model = _model(cfg)
    if variant == "torch_ddp":
        wrapped: Any = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=cfg["bucket_mb"])
        return wrapped, None, torch.optim.AdamW(wrapped.parameters(), lr=1e-3)
    if variant == "naive":
        wrapped = NaiveDDP(model)
    elif variant == "fsdp":
        wrapped = FSDP(model)
    else:
        wrapped = DDP(model, bucket_size_mb=cfg["bucket_mb"])
    if variant == "zero1":
        opt: torch.optim.Optimizer = ShardedOptimizer(
            wrapped.parameters(), torch.optim.AdamW, lr=1e-3
        )
    else:
        opt = torch.optim.AdamW(wrapped.parameters(), lr=1e-3)
    return wrapped, wrapped, opt


def train_step(
    wrapped: nn.Module, syncer: Any, opt: torch.optim.Optimizer, batch: torch.Tensor
) -> None:
    opt.zero_grad(set_to_none=True)
    logits = wrapped(batch[:, :-1])  # [B, T, V]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
    loss.backward()
    if syncer is not None:
        syncer.finish_gradient_synchronization()
    opt.step()


def measure_strategies(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run on every rank: timing rounds (variants interleaved), then memory after a step of each.

    cfg: vocab_size, seq, d_model, num_layers, num_heads, d_ff, batch (per rank), bucket_mb,
    rounds, steps_per_round. Returns {"times": median s per step (slowest rank), "round_times":
    per-round s per step, "memory": bytes by strategy}. The variant order rotates every round so
    that machine-load drift hits all of them alike; compare variants by per-round paired ratios.
    """
    g = torch.Generator().manual_seed(SEED + dist.get_rank())
    batch = torch.randint(0, cfg["vocab_size"], (cfg["batch"], cfg["seq"] + 1), generator=g)
    setups = {v: setup_variant(v, cfg) for v in VARIANTS}
    for v in VARIANTS:  # warm-up, and fills optimizer state for the memory walk
        train_step(*setups[v], batch)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(cfg["rounds"]):
        for v in VARIANTS[r % len(VARIANTS) :] + VARIANTS[: r % len(VARIANTS)]:  # rotate order
            dist.barrier()
            start = time.perf_counter()
            for _ in range(cfg["steps_per_round"]):
                train_step(*setups[v], batch)
            elapsed = torch.tensor((time.perf_counter() - start) / cfg["steps_per_round"])
            dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)  # a step ends when its slowest rank does
            times[v].append(float(elapsed))
    memory = {}
    for v in ("ddp", "zero1", "fsdp"):
        wrapped, _, opt = setups[v]
        measured = training_state_bytes(wrapped.parameters(), opt)
        if v == "fsdp":  # transient: one gathered weight plus its full-size gradient
            gathered = wrapped.max_gathered_bytes
            measured["peak"] = measured["total"] + gathered + gathered  # float32 compute
        else:
            measured["peak"] = measured["total"]
        memory[v] = measured
    return {
        "times": {v: statistics.median(t) for v, t in times.items()},
        "round_times": times,
        "memory": memory,
        "num_buckets": setups["ddp"][0].num_buckets,
        "num_grad_tensors": sum(p.requires_grad for p in setups["ddp"][0].parameters()),
    }


def predicted_bytes(cfg: dict[str, Any], world_size: int) -> dict[str, float]:
    """ZeRO arithmetic for the same model: DDP = stage 0, ZeRO-1, FSDP = stage 3 on the sharded
    layers plus stage 0 on the replicated norms."""
    model = _model(cfg)
    num_params = sum(p.numel() for p in model.parameters())
    num_sharded = sum(
        m.weight.numel() for m in model.modules() if isinstance(m, (Linear, Embedding))
    )
    return {
        "ddp": zero_bytes(0, num_params, world_size),
        "zero1": zero_bytes(1, num_params, world_size),
        "fsdp": zero_bytes(3, num_sharded, world_size) + zero_bytes(0, num_params - num_sharded, 1),
        "num_params": num_params,
        "num_sharded": num_sharded,
    }


def fsdp_shards(cfg: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Run on every rank: {parameter name: (full shape, this rank's local shape)} under FSDP."""
    return FSDP(_model(cfg)).shard_shapes()
