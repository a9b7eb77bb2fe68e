"""A small scaling sweep on CPU: TransformerLMs of a few sizes trained at a few compute budgets.

Each run trains a byte-level (vocab 256) `lm.model.TransformerLM` on `ts_2MiB.txt` with
D = C / (6 N) tokens, N counting non-embedding parameters (Kaplan+ 2020), and records the
validation loss. Results are cached as JSON keyed by the run's settings, so re-running (or a
lecture) costs nothing. Bytes keep the sweep free of tokenizer choices; the point is the shape
of L(N, D), not the absolute loss.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from lm.atomic_file import write_text_atomic
from lm.model import TransformerLM
from lm.scaling.fit import FLOPS_PER_PARAM_TOKEN, Run

CONTEXT_LENGTH = 64
BATCH_SIZE = 32
VOCAB_SIZE = 256
VAL_FRACTION = 0.1
VAL_BATCHES = 8
WARMUP_FRACTION = 0.1


@dataclass(frozen=True)
class SweepPoint:
    """One run's settings."""

    d_model: int
    num_layers: int
    compute: float
    lr: float = 3e-3
    seed: int = 0

    @property
    def key(self) -> str:
        return (
            f"d{self.d_model}-l{self.num_layers}-c{self.compute:.3g}-lr{self.lr:g}-s{self.seed}"
            f"-b{BATCH_SIZE}x{CONTEXT_LENGTH}"
        )


def make_model(d_model: int, num_layers: int, seed: int) -> TransformerLM:
    """A small LM of width `d_model` (heads of 16 dims, d_ff = 8/3 d rounded to 16)."""
    torch.manual_seed(seed)
    d_ff = 16 * math.ceil(8 * d_model / 3 / 16)
    return TransformerLM(
        VOCAB_SIZE, CONTEXT_LENGTH, d_model, num_layers, max(1, d_model // 16), d_ff
    )


def non_embedding_params(model: torch.nn.Module) -> int:
    """Parameters outside the token embedding and the output head."""
    skip = ("token_embeddings", "lm_head")
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(skip))


def load_bytes(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) byte tensors from a text file, val = the last VAL_FRACTION."""
    data = torch.from_numpy(np.frombuffer(path.read_bytes(), dtype=np.uint8).astype(np.int64))
    cut = int(len(data) * (1 - VAL_FRACTION))
    return data[:cut], data[cut:]


def _batch(data: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    starts = torch.randint(0, len(data) - CONTEXT_LENGTH - 1, (BATCH_SIZE,), generator=generator)
    x = torch.stack([data[s : s + CONTEXT_LENGTH] for s in starts])  # [B, T]
    y = torch.stack([data[s + 1 : s + 1 + CONTEXT_LENGTH] for s in starts])  # [B, T]
    return x, y


@torch.no_grad()
def evaluate(model: TransformerLM, val: torch.Tensor) -> float:
    """Mean next-byte cross-entropy (nats) over fixed validation batches."""
    generator = torch.Generator().manual_seed(1234)
    losses = []
    for _ in range(VAL_BATCHES):
        x, y = _batch(val, generator)
        logits = model(x)  # [B, T, V]
        losses.append(float(torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())))
    return float(np.mean(losses))


def train_point(point: SweepPoint, train: torch.Tensor, val: torch.Tensor) -> dict[str, float]:
    """Train one model for D = C / (6 N) tokens with warmup + cosine decay; returns its record."""
    model = make_model(point.d_model, point.num_layers, point.seed)
    num_params = non_embedding_params(model)
    num_tokens = point.compute / (FLOPS_PER_PARAM_TOKEN * num_params)
    num_steps = max(1, round(num_tokens / (BATCH_SIZE * CONTEXT_LENGTH)))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=point.lr, weight_decay=0.1, betas=(0.9, 0.95)
    )
    warmup = max(1, int(WARMUP_FRACTION * num_steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda t: (
            (t + 1) / warmup
            if t < warmup
            else 0.1 + 0.45 * (1 + math.cos(math.pi * (t - warmup) / max(1, num_steps - warmup)))
        ),
    )
    generator = torch.Generator().manual_seed(point.seed)
    start = time.perf_counter()
    for _ in range(num_steps):
        x, y = _batch(train, generator)
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    return {
        **asdict(point), "num_params": num_params,
        "num_tokens": num_steps * BATCH_SIZE * CONTEXT_LENGTH, "num_steps": num_steps,
        "loss": evaluate(model, val), "seconds": time.perf_counter() - start,
    }  # fmt: skip


def _write_json_atomic(path: Path, data: object) -> None:
    write_text_atomic(path, json.dumps(data, indent=1))


def run_sweep(
    points: list[SweepPoint], data_file: Path, cache_path: Path, progress=None
) -> list[dict[str, float]]:
    """Train every point not already in the cache (saved after each run); returns all records."""
    cache: dict[str, dict[str, float]] = (
        json.loads(cache_path.read_text()) if cache_path.exists() else {}
    )
    missing = [p for p in points if p.key not in cache]
    if missing:
        num_threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny models: a second thread only adds sync overhead
        try:
            train, val = load_bytes(data_file)
            for point in missing:
                cache[point.key] = train_point(point, train, val)
                _write_json_atomic(cache_path, cache)
                if progress is not None:
                    progress(point, cache[point.key])
        finally:
            torch.set_num_threads(num_threads)
    return [cache[p.key] for p in points]


# Widths bracketing the compute-optimal size at each budget (found by a coarser first sweep).
DEFAULT_GRID = {
    3e10: (6, 8, 12, 16, 24),
    1e11: (8, 12, 16, 24, 32),
    3e11: (16, 24, 32, 48, 64),
}


def default_grid(grid: dict[float, tuple[int, ...]] | None = None) -> list[SweepPoint]:
    """Each budget with its widths, 2 layers each (about 5 CPU-minutes in all, uncontended)."""
    grid = DEFAULT_GRID if grid is None else grid
    return [SweepPoint(d_model=w, num_layers=2, compute=c) for c, ws in grid.items() for w in ws]


def records_to_runs(records: list[dict[str, float]]) -> list[Run]:
    """Sweep records -> fit inputs."""
    return [Run(r["num_params"], r["num_tokens"], r["loss"]) for r in records]
