"""Data parallelism: every rank holds the whole model, sees its own slice of the batch, and
gradients are averaged over ranks before the optimizer step.

`NaiveDDP` all-reduces one parameter at a time after backward (simple, slow: many small messages and
no overlap). `DDP` packs gradients into buckets and launches each bucket's all-reduce asynchronously
from gradient hooks as soon as backward has produced it, so communication overlaps the rest of
backward (Li et al. 2020, PyTorch Distributed, https://arxiv.org/abs/2006.15704).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

BYTES_PER_MB = 2**20
# Gradients of the last layers arrive first: a small first bucket puts the network to work early.
FIRST_BUCKET_BYTES = 1 * BYTES_PER_MB


def broadcast_state(module: nn.Module, src: int = 0) -> None:
    """Copy every parameter and buffer of `module` from rank `src` so all ranks start equal."""
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=src)


class _Bucket:
    """Parameters whose gradients travel in one all-reduce, plus one "has a grad" flag each."""

    def __init__(self, params: list[nn.Parameter]) -> None:
        self.params = params
        self.offsets = [0]
        for p in params:
            self.offsets.append(self.offsets[-1] + p.numel())
        num_values = self.offsets[-1]
        # Values then flags: a flag sums to the number of ranks that produced the gradient, so a
        # parameter no rank used keeps grad None, exactly like single-process training.
        self.buffer = torch.zeros(
            num_values + len(params), dtype=params[0].dtype, device=params[0].device
        )
        self.num_ready = 0
        self.work: Any = None

    def fill(self) -> None:
        num_values = self.offsets[-1]
        for i, p in enumerate(self.params):
            view = self.buffer[self.offsets[i] : self.offsets[i + 1]]
            if p.grad is None:
                view.zero_()
                self.buffer[num_values + i] = 0.0
            else:
                view.copy_(p.grad.reshape(-1))
                self.buffer[num_values + i] = 1.0

    def unpack(self, world_size: int) -> None:
        num_values = self.offsets[-1]
        for i, p in enumerate(self.params):
            if self.buffer[num_values + i] == 0:
                continue  # no rank produced a gradient for p
            avg = self.buffer[self.offsets[i] : self.offsets[i + 1]].view_as(p) / world_size
            if p.grad is None:
                p.grad = avg
            else:
                p.grad.copy_(avg)


def _make_buckets(params: list[nn.Parameter], bucket_bytes: int) -> list[_Bucket]:
    """Greedy packing in the given order; a parameter is never split, so a bucket smaller than one
    parameter simply holds that one parameter alone. The first bucket is capped at
    FIRST_BUCKET_BYTES so the first all-reduce starts early in backward (as torch's DDP does)."""
    buckets: list[_Bucket] = []
    current: list[nn.Parameter] = []
    current_bytes = 0
    for p in params:
        size = p.numel() * p.element_size()
        cap = min(bucket_bytes, FIRST_BUCKET_BYTES) if not buckets else bucket_bytes
        if current and (current_bytes + size > cap or p.dtype != current[0].dtype):
            buckets.append(_Bucket(current))
            current, current_bytes = [], 0
        current.append(p)
        current_bytes += size
    if current:
        buckets.append(_Bucket(current))
    return buckets


class GradBucketer:
    """Average the gradients of `params` over ranks with bucketed, hook-launched all-reduces.

    Used by DDP for all parameters and by FSDP for its replicated ones. Buckets are launched
    strictly in bucket order so every rank issues the same sequence of collectives.
    """

    def __init__(self, params: Iterable[nn.Parameter], bucket_size_mb: float) -> None:
        if not bucket_size_mb > 0:
            raise ValueError(f"bucket_size_mb={bucket_size_mb!r} in GradBucketer (expected > 0)")
        self.world_size = dist.get_world_size()
        trainable = [p for p in params if p.requires_grad]  # frozen params never sync
        # Backward produces gradients roughly from the last layer to the first.
        self.buckets = _make_buckets(trainable[::-1], int(bucket_size_mb * BYTES_PER_MB))
        self.is_syncing = True
        self._next_to_launch = 0
        self._handles = []
        for bucket in self.buckets:
            for p in bucket.params:
                self._handles.append(p.register_post_accumulate_grad_hook(self._hook_for(bucket)))

    def _hook_for(self, bucket: _Bucket) -> Any:
        def hook(_param: torch.Tensor) -> None:
            if not self.is_syncing:
                return
            if bucket.work is not None or bucket.num_ready == len(bucket.params):
                raise RuntimeError(
                    "a second backward reached an already-launched gradient bucket before "
                    "finish_gradient_synchronization() (expected one backward per sync: run the "
                    "other micro-batches inside no_sync())"
                )
            bucket.num_ready += 1
            if bucket.num_ready == len(bucket.params):
                self._launch_ready()

        return hook

    def _launch_ready(self) -> None:
        """Launch every bucket that is complete and has no unlaunched bucket before it."""
        while self._next_to_launch < len(self.buckets):
            bucket = self.buckets[self._next_to_launch]
            if bucket.num_ready < len(bucket.params):
                return
            self._launch(bucket)

    def _launch(self, bucket: _Bucket) -> None:
        bucket.fill()
        bucket.work = dist.all_reduce(bucket.buffer, async_op=True)
        self._next_to_launch += 1

    def finish(self) -> None:
        """Wait for every bucket's all-reduce (launching those whose params got no gradient) and
        write the averaged gradients back into `.grad`."""
        while self._next_to_launch < len(self.buckets):
            self._launch(self.buckets[self._next_to_launch])
        for bucket in self.buckets:
            bucket.work.wait()
            bucket.unpack(self.world_size)
            bucket.work = None
            bucket.num_ready = 0
        self._next_to_launch = 0

    def remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()


class DDP(nn.Module):
    """Bucketed, overlapped data parallelism around an unmodified module.

    Call `finish_gradient_synchronization()` after `loss.backward()` and before `optimizer.step()`.
    One backward per synchronization; wrap extra accumulation steps in `no_sync()`.
    """

    def __init__(self, module: nn.Module, bucket_size_mb: float = 25.0) -> None:
        super().__init__()
        if not bucket_size_mb > 0:
            raise ValueError(f"bucket_size_mb={bucket_size_mb!r} in DDP (expected > 0)")
        self.module = module
        broadcast_state(module)
        self._bucketer = GradBucketer(module.parameters(), bucket_size_mb)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    @property
    def num_buckets(self) -> int:
        return len(self._bucketer.buckets)

    def finish_gradient_synchronization(self) -> None:
        """Block until all gradients are averaged over ranks."""
        self._bucketer.finish()

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Accumulate gradients locally (no communication) for backward passes inside the block."""
        self._bucketer.is_syncing = False
        try:
            yield
        finally:
            self._bucketer.is_syncing = True


class NaiveDDP(nn.Module):
    """Data parallelism the simplest way: after backward, one blocking all-reduce per parameter.

    Assumes every rank produces gradients for the same parameters (no data-dependent control flow).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        broadcast_state(module)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def finish_gradient_synchronization(self) -> None:
        world_size = dist.get_world_size()
        for p in self.module.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad.div_(world_size)
