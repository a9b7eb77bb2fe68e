"""Run one function on N local ranks: spawn processes, join a process group, collect results.

`torchrun` does this job for real training (see lm/parallel/train.py); this helper serves tests,
benchmarks and the lecture, where a dead or stuck rank must turn into an error, never a hang.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import queue
import socket
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

# How long a collective may wait for a peer before gloo raises (a dead peer usually fails faster).
DEFAULT_COLLECTIVE_TIMEOUT_S = 30.0
# Default grace given to surviving ranks to report their own error after one rank failed.
DEFAULT_GRACE_S = 5.0
# How long a dead rank's report may still be in flight in the queue's pipe.
_REPORT_LAG_S = 1.0


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_process_group(
    rank: int,
    world_size: int,
    port: int,
    backend: str = "gloo",
    collective_timeout_s: float = DEFAULT_COLLECTIVE_TIMEOUT_S,
) -> None:
    """Join a process group on 127.0.0.1; collectives raise after `collective_timeout_s`."""
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group(
        backend,
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=collective_timeout_s),
    )


def _dumps(obj: Any) -> bytes:
    """Serialize through torch.save: tensors travel by value, not via shared-memory handles."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _worker(
    rank: int,
    world_size: int,
    port: int,
    backend: str,
    collective_timeout_s: float,
    num_threads: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    results: Any,
) -> None:
    torch.set_num_threads(num_threads)
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)  # one GPU per rank, as torchrun's LOCAL_RANK would give
        init_process_group(rank, world_size, port, backend, collective_timeout_s)
        out = fn(*args)
        results.put((rank, "ok", _dumps(out)))
    except BaseException:  # report everything, including KeyboardInterrupt, to the parent
        results.put((rank, "error", traceback.format_exc()))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def run_ranks(
    fn: Callable[..., Any],
    *args: Any,
    world_size: int = 2,
    backend: str = "gloo",
    timeout_s: float = 120.0,
    collective_timeout_s: float = DEFAULT_COLLECTIVE_TIMEOUT_S,
    num_threads: int = 1,
    grace_s: float = DEFAULT_GRACE_S,
) -> list[Any]:
    """Run `fn(*args)` on `world_size` fresh processes in one process group; return results by rank.

    `fn` must be importable by name (a module-level function) since the children are spawned.
    Raises RuntimeError with the failing rank's traceback if any rank raises or dies (the others
    then get `grace_s` to report their own errors before they are killed), and
    TimeoutError (after killing the children) if the ranks are not done within `timeout_s`.
    """
    if world_size < 1:
        raise ValueError(f"world_size={world_size!r} in run_ranks (expected >= 1)")
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = find_free_port()
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                r,
                world_size,
                port,
                backend,
                collective_timeout_s,
                num_threads,
                fn,
                args,
                results,
            ),
            daemon=True,
        )
        for r in range(world_size)
    ]
    for p in procs:
        p.start()
    try:
        return _collect(procs, results, world_size, timeout_s, grace_s)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join(timeout=5)


def _collect(
    procs: list[Any], results: Any, world_size: int, timeout_s: float, grace_s: float
) -> list[Any]:
    """Wait for one report per rank; a silent death or the deadline becomes an exception."""
    deadline = time.monotonic() + timeout_s
    outputs: dict[int, Any] = {}
    errors: dict[int, str] = {}
    dead_since: dict[int, float] = {}
    while len(outputs) + len(errors) < world_size:
        if errors:  # one rank failed: give the others a short grace to report, not the full budget
            deadline = min(deadline, time.monotonic() + grace_s)
        try:
            rank, status, payload = results.get(timeout=0.2)
        except queue.Empty:
            now = time.monotonic()
            for r, p in enumerate(procs):
                if p.is_alive() or r in outputs or r in errors:
                    continue
                # subtle: a rank may have reported just before exiting; wait before calling it lost
                first_seen = dead_since.setdefault(r, now)
                if now - first_seen > _REPORT_LAG_S:
                    errors[r] = f"rank {r} exited with code {p.exitcode} without reporting"
            if time.monotonic() > deadline:
                if errors:
                    break
                missing = sorted(set(range(world_size)) - set(outputs))
                raise TimeoutError(
                    f"ranks {missing} did not finish within {timeout_s} s in run_ranks"
                ) from None
            continue
        if status == "ok":
            outputs[rank] = torch.load(io.BytesIO(payload), weights_only=False)
        else:
            errors[rank] = payload
    if errors:
        report = "\n".join(f"--- rank {r} ---\n{tb}" for r, tb in sorted(errors.items()))
        raise RuntimeError(f"{len(errors)} of {world_size} ranks failed in run_ranks:\n{report}")
    return [outputs[r] for r in range(world_size)]


def call_each(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
    """Run `fn(*args)` for each pair in turn on this rank: `run_ranks(call_each, calls)` pays the
    process start-up once for several measurements."""
    return [fn(*args) for fn, args in calls]
