"""Training-state memory per rank: measured by walking the live tensors, and predicted by ZeRO's
arithmetic (float32 Adam: 4 bytes param + 4 grad + 8 moments = 16 bytes per parameter).

ZeRO stage 1 shards the optimizer moments, stage 2 also the gradients, stage 3 (FSDP) also the
parameters (Rajbhandari et al. 2020, https://arxiv.org/abs/1910.02054, Figure 1).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

BYTES_PARAM, BYTES_GRAD, BYTES_ADAM = 4, 4, 8  # float32 master, float32 grad, two float32 moments


def _unique_bytes(tensors: Iterable[torch.Tensor], seen: set[int]) -> int:
    """Bytes of the distinct storages behind `tensors` (a tied weight or a view counts once)."""
    total = 0
    for t in tensors:
        storage = t.untyped_storage()
        if storage.data_ptr() in seen:
            continue
        seen.add(storage.data_ptr())
        total += storage.nbytes()
    return total


def training_state_bytes(
    params: Iterable[torch.Tensor], optimizer: torch.optim.Optimizer
) -> dict[str, int]:
    """Measured bytes this rank holds for params, grads and optimizer state (call after a step)."""
    params = list(params)
    seen: set[int] = set()
    state = [
        v
        for s in optimizer.state.values()
        for v in s.values()
        if isinstance(v, torch.Tensor) and v.numel() > 1  # skip scalar step counters
    ]
    out = {
        "params": _unique_bytes(params, seen),
        "grads": _unique_bytes((p.grad for p in params if p.grad is not None), seen),
        "optimizer": _unique_bytes(state, seen),
    }
    out["total"] = out["params"] + out["grads"] + out["optimizer"]
    return out


def zero_bytes(stage: int, num_params: int, world_size: int) -> float:
    """Predicted bytes per rank for Adam training of `num_params` float32 parameters.

    (0, 1000, 4) -> 16000.0 (plain DDP); (1, 1000, 4) -> 10000.0; (3, 1000, 4) -> 4000.0
    """
    if stage not in (0, 1, 2, 3):
        raise ValueError(f"stage={stage!r} in zero_bytes (expected 0, 1, 2 or 3)")
    shard = 1 / world_size
    params = BYTES_PARAM * (shard if stage >= 3 else 1)
    grads = BYTES_GRAD * (shard if stage >= 2 else 1)
    adam = BYTES_ADAM * (shard if stage >= 1 else 1)
    return num_params * (params + grads + adam)
