"""Benchmark lm.parallel on 2 local gloo ranks (CPU); prints ratios.

1. Step time (forward + backward + gradient sync + AdamW step) of a TransformerLM: our bucketed DDP
   vs torch.nn.parallel.DistributedDataParallel (target <= 1.1x) and vs our naive per-parameter DDP;
   ZeRO-1 and FSDP step times for reference. Variants run interleaved in rounds; medians.
2. Memory per rank of params + grads + optimizer state, measured by walking the live tensors after a
   step, under DDP, ZeRO-1 and FSDP, against ZeRO's arithmetic (target: within 15%); FSDP's peak
   adds its largest gathered weight and that weight's full gradient (counted by FSDP itself).
3. For comparison, the peak of all live tensors during one step (activations included), tracked by
   torch.distributed._tools.mem_tracker.MemTracker (a private PyTorch tool; CPU tensors too).

    PYTHONPATH=. python benchmarks/parallel.py [--d-model 256 --num-layers 4 --rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import torch
import torch.distributed as dist

from lm.parallel.launch import run_ranks
from lm.parallel.measurements import (
    VARIANTS,
    measure_strategies,
    predicted_bytes,
    setup_variant,
    train_step,
)

TRACKED = ("ddp", "zero1", "fsdp")


def tracked_peaks(cfg: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Run on every rank: MemTracker's per-category bytes at the peak of one step, by strategy."""
    from torch.distributed._tools.mem_tracker import MemTracker

    g = torch.Generator().manual_seed(dist.get_rank())
    batch = torch.randint(0, cfg["vocab_size"], (cfg["batch"], cfg["seq"] + 1), generator=g)
    out = {}
    for variant in TRACKED:
        wrapped, syncer, opt = setup_variant(variant, cfg)
        train_step(wrapped, syncer, opt, batch)  # optimizer state exists before tracking
        tracker = MemTracker()
        tracker.track_external(wrapped, opt)
        with tracker:
            train_step(wrapped, syncer, opt, batch)
        peak = tracker.get_tracker_snapshot("peak")[torch.device("cpu")]
        out[variant] = {str(k).split(".")[-1]: int(v) for k, v in peak.items()}
    return out


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
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps-per-round", type=int, default=2)
    cfg = vars(parser.parse_args())
    world_size = cfg.pop("world_size")
    results = run_ranks(
        measure_strategies, cfg, world_size=world_size, timeout_s=1200, num_threads=1
    )
    predicted = predicted_bytes(cfg, world_size)
    print(f"config: {cfg}, world_size={world_size}, backend=gloo (CPU, 1 thread per rank)")
    print(f"parameters: {predicted['num_params']:,} ({predicted['num_sharded']:,} sharded by FSDP)")
    times = results[0]["times"]  # medians of the slowest rank per round
    for v in VARIANTS:
        print(f"step time {v:>10}: {times[v] * 1e3:8.1f} ms")
    rounds = results[0]["round_times"]  # already the slowest rank per round

    def paired(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rounds[a], rounds[b], strict=True))

    print("ratios: median over rounds of the per-round ratio (robust to load drift)")
    print(f"ratio ours bucketed DDP / torch DDP: {paired('ddp', 'torch_ddp'):.3f} (target <= 1.1)")
    print(f"ratio naive DDP / ours bucketed DDP: {paired('naive', 'ddp'):.3f}")
    print(
        f"ratio ZeRO-1 / ours DDP: {paired('zero1', 'ddp'):.3f}, FSDP / ours DDP: "
        f"{paired('fsdp', 'ddp'):.3f}"
    )
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
    peaks = run_ranks(tracked_peaks, cfg, world_size=world_size, timeout_s=600)
    for v in TRACKED:
        p = max((r[v] for r in peaks), key=lambda d: d["Total"])
        parts = ", ".join(f"{k} {b / 2**20:.2f}" for k, b in p.items() if k != "Total")
        print(f"MemTracker step peak {v:>5}: {p['Total'] / 2**20:6.2f} MiB ({parts})")


if __name__ == "__main__":
    main()
