"""Timing kernels honestly: warm up, synchronize the device, repeat, report the median.

Shapes: none (takes a zero-argument callable). Used by benchmarks/kernels.py and lecture 05.
GPU work is asynchronous: without torch.cuda.synchronize() a timer measures only the launch.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device | str) -> None:
    """Wait for queued work on `device` to finish (a no-op on CPU, where calls are synchronous)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_fn(
    fn: Callable[[], object], device: torch.device | str = "cpu", warmup: int = 3, reps: int = 10
) -> float:
    """Median wall-clock seconds of fn() over `reps` runs after `warmup` untimed runs.

    Warm-up absorbs one-off costs (Triton compilation and autotuning, cuBLAS heuristics, caches);
    the median ignores stragglers from other processes better than the mean does.
    """
    if warmup < 0 or reps < 1:
        raise ValueError(
            f"time_fn: warmup={warmup!r}, reps={reps!r}; expected warmup >= 0, reps >= 1"
        )
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
