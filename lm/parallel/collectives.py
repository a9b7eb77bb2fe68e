"""Collective operations: what each one computes, what it costs on the wire, and how to time it.

With p ranks each holding a tensor, a collective is one coordinated call on every rank:
- broadcast(x, src):   every rank ends with src's x.
- all_reduce(x):       every rank ends with x_0 + ... + x_{p-1}.
- reduce_scatter(x):   rank r ends with chunk r of x_0 + ... + x_{p-1} (1/p of the result).
- all_gather(x_r):     every rank ends with the concatenation [x_0, ..., x_{p-1}].
all_reduce == reduce_scatter then all_gather; `all_reduce_via_reduce_scatter` does exactly that.
Costs follow the bandwidth-optimal ring algorithms (Patarasuk & Yuan 2009,
https://doi.org/10.1016/j.jpdc.2008.09.002; NCCL's ring).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.distributed as dist

COLLECTIVES = ("all_reduce", "reduce_scatter", "all_gather", "broadcast")


def bytes_on_wire(op: str, num_bytes: int, world_size: int) -> float:
    """Bytes each rank sends for `op` over a ring; `num_bytes` is the size of the full tensor.

    ("all_reduce", 1000, 4) -> 1500.0: reduce-scatter sends 3/4 of the data, all-gather again 3/4.
    For all_gather `num_bytes` is the gathered output, for reduce_scatter the full input.
    """
    if world_size < 1:
        raise ValueError(f"world_size={world_size!r} in bytes_on_wire (expected >= 1)")
    share = (world_size - 1) / world_size  # a rank already holds its own 1/p of the data
    if op == "all_reduce":
        return 2 * share * num_bytes
    if op in ("reduce_scatter", "all_gather"):
        return share * num_bytes
    if op == "broadcast":
        # pipelined ring: every rank but the last forwards the whole tensor once
        return float(num_bytes) if world_size > 1 else 0.0
    raise ValueError(f"unknown collective {op!r} in bytes_on_wire (expected one of {COLLECTIVES})")


def collective_time_s(
    op: str, num_bytes: int, world_size: int, bandwidth_bytes_s: float, latency_s: float = 0.0
) -> float:
    """The alpha-beta model: a ring does 2(p-1) or (p-1) latency hops plus bytes / bandwidth."""
    hops = {"all_reduce": 2, "reduce_scatter": 1, "all_gather": 1, "broadcast": 1}[op]
    return (
        hops * (world_size - 1) * latency_s
        + bytes_on_wire(op, num_bytes, world_size) / bandwidth_bytes_s
    )


def pad_to_multiple(flat: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad a 1-D tensor so its length divides by `multiple`: ([1, 2, 3], 2) -> [1, 2, 3, 0]."""
    remainder = flat.numel() % multiple
    if remainder == 0:
        return flat
    return torch.cat([flat, flat.new_zeros(multiple - remainder)])


def all_reduce_via_reduce_scatter(tensor: torch.Tensor) -> torch.Tensor:
    """In-place sum over ranks from reduce_scatter + all_gather (what ring all-reduce does)."""
    world_size = dist.get_world_size()
    flat = pad_to_multiple(tensor.detach().reshape(-1), world_size)  # [n_padded]
    shard = flat.new_empty(flat.numel() // world_size)  # [n_padded / p]
    dist.reduce_scatter_single(shard, flat.contiguous())  # rank r: chunk r of the sum
    gathered = flat.new_empty(flat.numel())  # [n_padded]
    dist.all_gather_single(gathered, shard)  # every rank: all the chunks
    tensor.copy_(gathered[: tensor.numel()].view_as(tensor))
    return tensor


def _device() -> torch.device:
    """Where this rank's tensors must live for its backend: its GPU under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _collective_call(op: str, num_elements: int) -> Callable[[], None]:
    """A closure running one `op` on a float32 tensor of `num_elements` (the full size)."""
    world_size = dist.get_world_size()
    full = torch.randn(num_elements, device=_device())
    shard = torch.empty(num_elements // world_size, device=_device())
    if op == "all_reduce":
        return lambda: dist.all_reduce(full)
    if op == "reduce_scatter":
        return lambda: dist.reduce_scatter_single(shard, full)
    if op == "all_gather":
        return lambda: dist.all_gather_single(full, shard)
    if op == "broadcast":
        return lambda: dist.broadcast(full, src=0)
    raise ValueError(f"unknown collective {op!r} (expected one of {COLLECTIVES})")


def time_collective(op: str, num_elements: int, num_iters: int = 5, num_warmup: int = 1) -> float:
    """Median seconds of one `op` on float32 data of `num_elements` (call on every rank)."""
    world_size = dist.get_world_size()
    if num_elements % world_size:
        raise ValueError(
            f"num_elements={num_elements!r} in time_collective "
            f"(expected a multiple of {world_size})"
        )
    call = _collective_call(op, num_elements)
    for _ in range(num_warmup):
        call()
    times = []
    is_cuda = _device().type == "cuda"
    for _ in range(num_iters):
        dist.barrier()
        start = time.perf_counter()
        call()
        if is_cuda:
            torch.cuda.synchronize()  # NCCL calls return before the transfer is done
        times.append(time.perf_counter() - start)
    # The slowest rank sets the pace of a collective: agree on the max per iteration.
    t = torch.tensor(times, dtype=torch.float64, device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.median())


def measure_collectives(sizes: list[int], num_iters: int = 5) -> list[dict[str, float | str]]:
    """Time every collective at each size (in float32 elements); rows with seconds and GB/s."""
    world_size = dist.get_world_size()
    rows: list[dict[str, float | str]] = []
    for num_elements in sizes:
        for op in COLLECTIVES:
            seconds = time_collective(op, num_elements, num_iters)
            num_bytes = 4 * num_elements
            wire = bytes_on_wire(op, num_bytes, world_size)
            rows.append(
                {
                    "op": op,
                    "num_bytes": float(num_bytes),
                    "seconds": seconds,
                    "wire_bytes": wire,
                    "bus_gb_s": wire / seconds / 1e9,
                }
            )
    return rows


def demo_collectives() -> dict[str, dict[str, list[float]]]:
    """Each collective on a tiny rank-dependent tensor: {op: {"input": ..., "output": ...}}.

    Rank r starts from [r*10 + 1, r*10 + 2, ...] (world_size * 2 values) so every result shows
    where its numbers came from.
    """
    rank, world_size = dist.get_rank(), dist.get_world_size()
    x = torch.arange(1.0, 2 * world_size + 1) + 10 * rank  # [2p]
    out: dict[str, dict[str, list[float]]] = {}
    y = x.clone()
    dist.all_reduce(y)
    out["all_reduce"] = {"input": x.tolist(), "output": y.tolist()}
    shard = torch.empty(2)
    dist.reduce_scatter_single(shard, x.clone())
    out["reduce_scatter"] = {"input": x.tolist(), "output": shard.tolist()}
    mine = x[2 * rank : 2 * rank + 2].clone()  # [2]: this rank's chunk
    gathered = torch.empty(2 * world_size)
    dist.all_gather_single(gathered, mine)
    out["all_gather"] = {"input": mine.tolist(), "output": gathered.tolist()}
    b = x.clone()
    dist.broadcast(b, src=0)
    out["broadcast"] = {"input": x.tolist(), "output": b.tolist()}
    return out
