"""Streaming helpers for the data stages: fixed-size chunks and an ordered, bounded parallel map.

Why not `Pool.imap`: its task-feeder thread drains the whole input iterable as fast as it can,
so a slow worker pool lets the queued chunks (the whole corpus) pile up in memory. `bounded_imap`
keeps at most `max_in_flight` chunks submitted and not yet consumed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.pool import Pool
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter): `"abcde", 2 -> ab cd e`."""
    if size <= 0:
        raise ValueError(f"chunked(): size={size!r}, expected a positive integer")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def bounded_imap(
    pool: Pool, fn: Callable[[T], R], jobs: Iterable[T], max_in_flight: int
) -> Iterator[R]:
    """Like `pool.imap(fn, jobs)`, in order, but with at most `max_in_flight` jobs submitted."""
    pending: deque = deque()
    for job in jobs:
        if len(pending) >= max_in_flight:
            yield pending.popleft().get()
        pending.append(pool.apply_async(fn, (job,)))
    while pending:
        yield pending.popleft().get()
