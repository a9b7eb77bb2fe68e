"""Data-parallel pretraining under torchrun: the lm.train config, with DDP, ZeRO-1 or FSDP.

    torchrun --nproc-per-node 2 -m lm.parallel.train --config configs/tinystories_cpu.yaml \
        --parallel fsdp [--max-steps N] [--out-dir DIR]

Each rank samples its own batches (seeded by rank), so the global batch is world_size x
batch_size x grad_accum_steps sequences. Reuses lm.train's config, data, schedule and loss; what
differs is here: process group, wrapping, sharded optimizer, global grad clipping, rank-0 logging.
No resume: the final full weights are saved by rank 0 (checkpoints/parallel_<strategy>.pt).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from lm.atomic_file import atomic_path
from lm.data_loading import get_batch
from lm.model import TransformerLM
from lm.nn_utils import clip_gradients, cross_entropy
from lm.optim import AdamW, cosine_lr
from lm.parallel.ddp import DDP
from lm.parallel.fsdp import FSDP
from lm.parallel.sharded_optimizer import ShardedOptimizer
from lm.pretrain_data import prepare_tokens
from lm.train_config import RunConfig, load_config

STRATEGIES = ("ddp", "zero1", "fsdp")


def _device(config: RunConfig) -> torch.device:
    is_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    if is_cuda:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def _prepare_data(config: RunConfig, out_dir: Path) -> tuple[Any, Any, Any]:
    """Rank 0 trains the tokenizer and writes token files first; the others then read them."""
    d = config.data
    if dist.get_rank() == 0:
        data = prepare_tokens(d.text, d.vocab_size, d.special_tokens, d.val_fraction, out_dir)
    dist.barrier()
    if dist.get_rank() != 0:
        data = prepare_tokens(d.text, d.vocab_size, d.special_tokens, d.val_fraction, out_dir)
    return data


def build(config: RunConfig, strategy: str, vocab_size: int, device: torch.device) -> tuple:
    """(model, wrapped model, optimizer) for one strategy; same initial weights on every rank."""
    if strategy not in STRATEGIES:
        raise ValueError(f"--parallel {strategy!r} (expected one of {STRATEGIES})")
    torch.manual_seed(config.seed)
    model = TransformerLM(vocab_size, **dataclasses.asdict(config.model), device=device)
    t = config.train
    opt_kwargs = {"lr": t.lr, "betas": tuple(t.betas), "weight_decay": t.weight_decay}
    if strategy == "fsdp":
        dtype = getattr(torch, config.autocast_dtype) if config.autocast_dtype else None
        wrapped: Any = FSDP(model, compute_dtype=dtype)
    else:
        wrapped = DDP(model)
    if strategy == "zero1":
        optimizer: torch.optim.Optimizer = ShardedOptimizer(
            wrapped.parameters(), AdamW, **opt_kwargs
        )
    else:
        optimizer = AdamW(wrapped.parameters(), **opt_kwargs)
    return model, wrapped, optimizer


def _global_mean(value: float) -> float:
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t) / dist.get_world_size()


def train_step(
    wrapped: Any, optimizer: Any, config: RunConfig, tokens: Any, rng: Any, step: int, device: Any
) -> tuple[float, float]:
    """One optimizer step; returns (loss averaged over ranks, global grad norm)."""
    t = config.train
    lr = cosine_lr(step, t.lr, t.min_lr, t.warmup_steps, t.max_steps)
    for group in optimizer.param_groups:
        group["lr"] = lr
    is_fsdp = isinstance(wrapped, FSDP)
    autocast = (
        torch.autocast(device.type, dtype=getattr(torch, config.autocast_dtype))
        if config.autocast_dtype and not is_fsdp  # FSDP casts its layers itself
        else contextlib.nullcontext()
    )
    total = 0.0
    for i in range(t.grad_accum_steps):
        x, y = get_batch(tokens, t.batch_size, config.model.context_length, device, rng)
        is_last = i == t.grad_accum_steps - 1
        with contextlib.nullcontext() if is_last else wrapped.no_sync(), autocast:
            loss = cross_entropy(wrapped(x), y) / t.grad_accum_steps
            loss.backward()
        total += loss.item()
    wrapped.finish_gradient_synchronization()
    if is_fsdp:
        norm = wrapped.clip_grad_norm_(t.grad_clip)
    else:  # DDP grads are whole and identical on every rank: the local norm is the global one
        norm = clip_gradients(wrapped.module.parameters(), t.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return _global_mean(total), float(norm)


@torch.no_grad()
def evaluate(wrapped: Any, config: RunConfig, tokens: Any, device: Any) -> float:
    """Mean validation loss; every rank runs the same batches (FSDP needs all ranks anyway)."""
    rng = np.random.default_rng(config.seed + 1)
    t = config.train
    losses = [
        cross_entropy(wrapped(x), y).item()
        for x, y in (
            get_batch(tokens, t.batch_size, config.model.context_length, device, rng)
            for _ in range(t.eval_batches)
        )
    ]
    return float(np.mean(losses))


def _save_full_weights(model: TransformerLM, wrapped: Any, path: Path, step: int) -> None:
    """Full float32 weights keyed by the model's names, saved atomically by rank 0."""
    if isinstance(wrapped, FSDP):
        state = wrapped.gather_full_params()  # a collective: every rank calls it
    else:
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if dist.get_rank() == 0:
        with atomic_path(path) as tmp:
            torch.save({"model": state, "architecture": model.architecture(), "step": step}, tmp)


def train_parallel(
    config: RunConfig, strategy: str, log: Any = None, stop_after: int | None = None
) -> dict[str, Any]:
    """Train with `strategy` in the current process group; returns rank-0's summary dict.

    `log(record)` is called on rank 0 with every logged record (also written to metrics.jsonl).
    """
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    rank, world_size = dist.get_rank(), dist.get_world_size()
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = _device(config)
    train_tokens, val_tokens, tokenizer = _prepare_data(config, out_dir)
    model, wrapped, optimizer = build(config, strategy, tokenizer.vocab_size, device)
    rng = np.random.default_rng([config.seed, rank])  # each rank its own batches
    metrics = out_dir / f"metrics_{strategy}.jsonl"
    if rank == 0:
        metrics.unlink(missing_ok=True)
    t = config.train
    end = t.max_steps if stop_after is None else min(t.max_steps, stop_after)
    summary: dict[str, Any] = {"strategy": strategy, "world_size": world_size}
    for step in range(end):
        loss, norm = train_step(wrapped, optimizer, config, train_tokens, rng, step, device)
        record: dict[str, Any] = {"step": step + 1, "loss": loss, "grad_norm": norm}
        if (step + 1) % t.eval_every == 0 or step + 1 == end:
            record["val_loss"] = _global_mean(evaluate(wrapped, config, val_tokens, device))
        if rank == 0 and ((step + 1) % t.log_every == 0 or "val_loss" in record):
            with open(metrics, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            if log is not None:
                log(record)
        summary.update(record)
    _save_full_weights(model, wrapped, out_dir / "checkpoints" / f"parallel_{strategy}.pt", end)
    return summary


def main(argv: list[str] | None = None) -> None:
    """CLI: parse args, join the torchrun process group, train, print rank 0's summary."""
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m lm.parallel.train", description=__doc__)
    parser.add_argument("--config", required=True, help="YAML file (see configs/)")
    parser.add_argument("--parallel", required=True, choices=STRATEGIES)
    parser.add_argument("--max-steps", type=int, help="override train.max_steps")
    parser.add_argument("--out-dir", help="override out_dir")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if args.max_steps is not None:
        config.train.max_steps = args.max_steps
    if args.out_dir is not None:
        config.out_dir = args.out_dir
    if "RANK" not in os.environ:
        raise ValueError(
            "lm.parallel.train runs under torchrun (no RANK in the environment): "
            "torchrun --nproc-per-node 2 -m lm.parallel.train --config ... --parallel ddp"
        )
    backend = "nccl" if _device(config).type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(_device(config))
    dist.init_process_group(backend)
    console = Console(stderr=True)
    try:
        summary = train_parallel(
            config, args.parallel, log=lambda r: console.print_json(json.dumps(r))
        )
        if dist.get_rank() == 0:
            console.print_json(json.dumps(summary))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
