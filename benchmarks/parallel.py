"""Benchmark lm.parallel on 2 local gloo ranks (CPU); prints ratios.

1. Step time (forward + backward + gradient sync + AdamW step) of a TransformerLM: our bucketed DDP
   vs torch.nn.parallel.DistributedDataParallel (target <= 1.1x) and vs our naive per-parameter DDP;
   ZeRO-1 and FSDP step times for reference. Variants run interleaved in rounds; medians.
2. Memory per rank of params + grads + optimizer state, measured by walking the live tensors after a
   step, under DDP, ZeRO-1 and FSDP, against ZeRO's arithmetic (target: within 15%).

    PYTHONPATH=. python benchmarks/parallel.py [--d-model 256 --num-layers 4 --rounds 5]
"""

from __future__ import annotations

import argparse
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
from lm.parallel.launch import run_ranks
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


def _setup(variant: str, cfg: dict[str, Any]) -> tuple[nn.Module, Any, torch.optim.Optimizer]:
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


def _step(wrapped: nn.Module, syncer: Any, opt: torch.optim.Optimizer, batch: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    logits = wrapped(batch[:, :-1])  # [B, T, V]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
    loss.backward()
    if syncer is not None:
        syncer.finish_gradient_synchronization()
    opt.step()


def bench_rank(cfg: dict[str, Any]) -> dict[str, Any]:
    """Runs on every rank: interleaved timing rounds, then memory after one step of each."""
    g = torch.Generator().manual_seed(SEED + dist.get_rank())
    batch = torch.randint(0, cfg["vocab_size"], (cfg["batch"], cfg["seq"] + 1), generator=g)
    setups = {v: _setup(v, cfg) for v in VARIANTS}
    for v in VARIANTS:  # warm-up, and fills optimizer state for the memory walk
        _step(*setups[v], batch)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(cfg["rounds"]):
        for v in VARIANTS:
            dist.barrier()
            start = time.perf_counter()
            for _ in range(cfg["steps_per_round"]):
                _step(*setups[v], batch)
            times[v].append((time.perf_counter() - start) / cfg["steps_per_round"])
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
    return {"times": {v: statistics.median(t) for v, t in times.items()}, "memory": memory}


def _predicted(cfg: dict[str, Any], world_size: int) -> dict[str, float]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--d-ff", type=int, default=688)
    parser.add_argument("--batch", type=int, default=4, help="sequences per rank")
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--bucket-mb", type=float, default=25.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps-per-round", type=int, default=3)
    cfg = vars(parser.parse_args())
    world_size = cfg.pop("world_size")
    results = run_ranks(bench_rank, cfg, world_size=world_size, timeout_s=1200, num_threads=1)
    predicted = _predicted(cfg, world_size)
    print(f"config: {cfg}, world_size={world_size}, backend=gloo (CPU, 1 thread per rank)")
    print(f"parameters: {predicted['num_params']:,} ({predicted['num_sharded']:,} sharded by FSDP)")
    times = {v: max(r["times"][v] for r in results) for v in VARIANTS}  # slowest rank
    for v in VARIANTS:
        print(f"step time {v:>10}: {times[v] * 1e3:8.1f} ms")
    print(f"ratio ours bucketed DDP / torch DDP: {times['ddp'] / times['torch_ddp']:.3f} (target <= 1.1)")
    print(f"ratio naive DDP / ours bucketed DDP: {times['naive'] / times['ddp']:.3f}")
    for v in ("ddp", "zero1", "fsdp"):
        m = max((r["memory"][v] for r in results), key=lambda d: d["total"])
        ratio = m["total"] / predicted[v]
        print(
            f"memory {v:>5} per rank: params {m['params'] / 2**20:6.2f} MiB, grads "
            f"{m['grads'] / 2**20:6.2f}, optimizer {m['optimizer'] / 2**20:6.2f}, total "
            f"{m['total'] / 2**20:6.2f} (peak {m['peak'] / 2**20:6.2f}); predicted "
            f"{predicted[v] / 2**20:6.2f} MiB; measured/predicted {ratio:.3f}, "
            f"peak/predicted {m['peak'] / predicted[v]:.3f} (target within 15%)"
        )
    ddp_total = max(r["memory"]["ddp"]["total"] for r in results)
    for v in ("zero1", "fsdp"):
        total = max(r["memory"][v]["total"] for r in results)
        print(f"memory ratio {v} / ddp: {total / ddp_total:.3f}")


if __name__ == "__main__":
    main()
