"""Pretrain TransformerLM: `python -m lm.train --config configs/tinystories_cpu.yaml`.

Resumable (out_dir/checkpoints/latest.pt), deterministic at a fixed seed (data RNG state is
checkpointed), gradient accumulation, optional mixed precision and torch.compile. Writes
metrics.jsonl (one JSON object per line), loss.svg and a rich progress bar with loss, tokens/s, ETA.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lm.accounting import train_flops_per_token
from lm.atomic_file import write_text_atomic
from lm.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from lm.data_loading import get_batch
from lm.loss_plot import write_loss_svg
from lm.model import TransformerLM, count_parameters
from lm.nn_utils import clip_gradients, cross_entropy
from lm.optim import AdamW, cosine_lr
from lm.pretrain_data import bigram_loss, prepare_tokens, unigram_loss
from lm.train_config import RunConfig, load_config

CHECKPOINT_NAME = "latest.pt"


@dataclasses.dataclass
class Run:
    """Everything the loop touches, built by `setup`."""

    config: RunConfig
    out_dir: Path
    device: torch.device
    model: TransformerLM
    optimizer: AdamW
    train_tokens: np.memmap
    val_tokens: np.memmap
    rng: np.random.Generator
    step: int
    flops_per_token: float


def pick_device(name: str) -> torch.device:
    """'auto' -> cuda when available else cpu; 'cuda' without a GPU is a ValueError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("config device='cuda' but torch sees no CUDA device (use 'cpu' or 'auto')")
    return torch.device(name)


def setup(config: RunConfig) -> Run:
    """Tokenize data, build model and optimizer, and resume from the latest checkpoint if any."""
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.seed)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(config.device)
    d = config.data
    train_tokens, val_tokens, tokenizer = prepare_tokens(
        d.text, d.vocab_size, d.special_tokens, d.val_fraction, out_dir
    )
    model = TransformerLM(tokenizer.vocab_size, **dataclasses.asdict(config.model), device=device)
    t = config.train
    optimizer = AdamW(
        model.parameters(), lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay
    )
    rng = np.random.default_rng(config.seed)
    step = 0
    checkpoint = out_dir / "checkpoints" / CHECKPOINT_NAME
    if config.resume and checkpoint.exists():
        step = load_checkpoint(checkpoint, model, optimizer)
        extra = read_checkpoint(checkpoint)["extra"]
        rng.bit_generator.state = extra["data_rng"]
        torch.set_rng_state(extra["torch_rng"])
        _truncate_metrics(out_dir / "metrics.jsonl", step)
    else:
        (out_dir / "metrics.jsonl").unlink(missing_ok=True)
    flops = train_flops_per_token(model, config.model.context_length)
    return Run(
        config, out_dir, device, model, optimizer, train_tokens, val_tokens, rng, step, flops
    )


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metrics logged after `step` (they will be recomputed by the resumed run)."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
    write_text_atomic(path, "".join(line + "\n" for line in kept))


def autocast(run: Run) -> contextlib.AbstractContextManager:
    """bf16/fp16 autocast when configured; weights, grads and optimizer stay float32."""
    dtype = run.config.autocast_dtype
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(run.device.type, dtype=getattr(torch, dtype))


def train_step(run: Run, forward: Any) -> tuple[float, float, float]:
    """One optimizer step over grad_accum_steps micro-batches: returns (loss, grad norm, lr)."""
    t = run.config.train
    lr = cosine_lr(run.step, t.lr, t.min_lr, t.warmup_steps, t.max_steps)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    total = 0.0
    for _ in range(t.grad_accum_steps):
        x, y = get_batch(
            run.train_tokens, t.batch_size, run.config.model.context_length, run.device, run.rng
        )
        with autocast(run):
            loss = cross_entropy(forward(x), y) / t.grad_accum_steps  # mean over all micro-batches
        loss.backward()
        total += loss.item()
    norm = clip_gradients(run.model.parameters(), t.grad_clip)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    run.step += 1
    return total, float(norm), lr


@torch.no_grad()
def evaluate(run: Run, forward: Any) -> float:
    """Mean loss on eval_batches validation batches, the same batches at every evaluation."""
    t, rng = run.config.train, np.random.default_rng(run.config.seed + 1)
    losses = []
    for _ in range(t.eval_batches):
        x, y = get_batch(
            run.val_tokens, t.batch_size, run.config.model.context_length, run.device, rng
        )
        with autocast(run):
            losses.append(cross_entropy(forward(x), y).item())
    return float(np.mean(losses))


def checkpoint(run: Run) -> None:
    """Save model, optimizer, step and RNG states atomically to checkpoints/latest.pt."""
    extra = {"data_rng": run.rng.bit_generator.state, "torch_rng": torch.get_rng_state()}
    path = run.out_dir / "checkpoints" / CHECKPOINT_NAME
    save_checkpoint(run.model, run.optimizer, run.step, path, extra=extra)


def log(run: Run, record: dict[str, Any]) -> None:
    """Append one JSON line to metrics.jsonl."""
    with open(run.out_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def train(config: RunConfig, *, stop_after: int | None = None, progress: Any = None) -> dict:
    """Run (or resume) training until max_steps, `stop_after` steps, or max_minutes.

    `progress(run, record)` is called after every logged step (the CLI draws a rich bar with it).
    Returns a summary dict: step, train_loss, val_loss, bigram/unigram val loss, tokens_per_s.
    """
    run = setup(config)
    t = config.train
    vocab = run.model.vocab_size
    baselines = {
        "bigram_val_loss": bigram_loss(run.train_tokens, run.val_tokens, vocab),
        "unigram_val_loss": unigram_loss(run.train_tokens, run.val_tokens, vocab),
    }
    if run.step == 0:
        num_params = count_parameters(run.model)
        start_record = {"step": 0, "event": "start", **baselines, "num_params": num_params}
        log(run, {**start_record, "config": dataclasses.asdict(config)})
    forward = torch.compile(run.model) if config.compile else run.model
    tokens_per_step = t.batch_size * t.grad_accum_steps * config.model.context_length
    start, last_time, last_step = time.perf_counter(), time.perf_counter(), run.step
    summary: dict[str, Any] = {**baselines, "val_loss": None}
    end = min(t.max_steps, stop_after) if stop_after is not None else t.max_steps
    while run.step < end:
        loss, norm, lr = train_step(run, forward)
        record: dict[str, Any] = {"step": run.step, "loss": loss, "lr": lr, "grad_norm": norm}
        is_last = run.step == end or _out_of_time(start, t.max_minutes)
        if run.step % t.log_every == 0 or is_last:
            if run.device.type == "cuda":
                torch.cuda.synchronize()
            now = time.perf_counter()
            tokens_per_s = (run.step - last_step) * tokens_per_step / (now - last_time)
            last_time, last_step = now, run.step
            record["tokens_per_s"] = tokens_per_s
            if config.peak_flops:
                record["mfu"] = tokens_per_s * run.flops_per_token / config.peak_flops
        if run.step % t.eval_every == 0 or is_last:
            record["val_loss"] = summary["val_loss"] = evaluate(run, forward)
        if "tokens_per_s" in record or "val_loss" in record:
            log(run, record)
            if progress is not None:
                progress(run, record)
        if run.step % t.checkpoint_every == 0 or is_last:
            checkpoint(run)
        summary.update(step=run.step, train_loss=loss, tokens_per_s=record.get("tokens_per_s"))
        if is_last:
            break
    plot_metrics(run.out_dir, baselines)
    return summary


def _out_of_time(start: float, max_minutes: float | None) -> bool:
    return max_minutes is not None and time.perf_counter() - start > 60 * max_minutes


def plot_metrics(out_dir: Path, baselines: dict[str, float]) -> Path:
    """loss.svg from metrics.jsonl (the whole run, across resumes)."""
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    path = out_dir / "loss.svg"
    if train or val:
        short = {k.removesuffix("_val_loss"): v for k, v in baselines.items()}
        write_loss_svg(path, train, val, short, f"TransformerLM on {out_dir.name}")
    return path


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: parse --config, train with a rich progress bar, print a summary."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    parser = argparse.ArgumentParser(prog="python -m lm.train", description=__doc__)
    parser.add_argument("--config", required=True, help="YAML file (see configs/)")
    parser.add_argument("--max-steps", type=int, help="override train.max_steps")
    parser.add_argument("--out-dir", help="override out_dir")
    parser.add_argument(
        "--parallel",
        choices=("ddp", "zero1", "fsdp"),
        help="data-parallel training under torchrun (runs lm.parallel.train)",
    )
    args = parser.parse_args(argv)
    if args.parallel is not None:  # the distributed loop lives beside the wrappers it uses
        from lm.parallel.train import main as parallel_main

        return parallel_main(argv)
    config = load_config(args.config)
    if args.max_steps is not None:
        config.train.max_steps = args.max_steps
    if args.out_dir is not None:
        config.out_dir = args.out_dir
    console = Console(stderr=True)
    columns = [
        TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
    ]  # fmt: skip
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("train", total=config.train.max_steps, info="")

        def show(run: Run, record: dict[str, Any]) -> None:
            info = f"loss {record['loss']:.3f}"
            if "val_loss" in record:
                info += f" val {record['val_loss']:.3f}"
            if "tokens_per_s" in record:
                info += f" {record['tokens_per_s']:,.0f} tok/s"
            if "mfu" in record:
                info += f" MFU {100 * record['mfu']:.1f}%"
            bar.update(task, completed=run.step, info=info)

        summary = train(config, progress=show)
    console.print_json(json.dumps(summary))


if __name__ == "__main__":
    main()
