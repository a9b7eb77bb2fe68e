"""ZeRO stage 1: shard the optimizer state over ranks, keep parameters and gradients whole.

Each parameter is owned by one rank (greedy by size, so shards are balanced). A rank keeps optimizer
state only for the parameters it owns, steps only those, then each owner broadcasts its updated
parameters. Gradients must already be averaged (wrap the model in DDP). Rajbhandari et al. 2020,
ZeRO, https://arxiv.org/abs/1910.02054.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


class ShardedOptimizer(torch.optim.Optimizer):
    """`optimizer_cls(**kwargs)` on this rank's shard of `params`; same results as unsharded.

    `params` may be a generator of tensors or a list of parameter groups (dicts), as for any
    torch optimizer. `state_dict()` holds only this rank's shard of the state.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter] | Iterable[dict[str, Any]],
        optimizer_cls: type[torch.optim.Optimizer],
        **kwargs: Any,
    ) -> None:
        if not (
            isinstance(optimizer_cls, type) and issubclass(optimizer_cls, torch.optim.Optimizer)
        ):
            raise TypeError(
                f"optimizer_cls={optimizer_cls!r} in ShardedOptimizer "
                "(expected a torch.optim.Optimizer subclass such as torch.optim.AdamW)"
            )
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self._optimizer_cls = optimizer_cls
        self._kwargs = kwargs
        self._local_optimizer: torch.optim.Optimizer | None = None
        self.owner: dict[int, int] = {}  # id(param) -> owning rank
        self._load = [0] * self.world_size  # elements owned per rank
        super().__init__(params, defaults=kwargs)  # calls add_param_group for each group

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the full view and this rank's owned part of it to the local optimizer."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        # Largest first onto the least-loaded rank; ties break by rank so all ranks agree.
        for p in sorted(group["params"], key=lambda t: -t.numel()):
            if id(p) not in self.owner:
                rank = min(range(self.world_size), key=lambda r: (self._load[r], r))
                self.owner[id(p)] = rank
                self._load[rank] += p.numel()
        local_group = {k: v for k, v in group.items() if k != "params"}
        local_group["params"] = [p for p in group["params"] if self.owner[id(p)] == self.rank]
        if self._local_optimizer is None:
            self._local_optimizer = self._optimizer_cls([local_group], **self._kwargs)
        else:
            self._local_optimizer.add_param_group(local_group)

    @property
    def local_optimizer(self) -> torch.optim.Optimizer:
        assert self._local_optimizer is not None, "ShardedOptimizer has no parameter groups"
        return self._local_optimizer

    @property
    def state(self) -> Any:  # the local shard's state (the base class sets a dict we ignore)
        return self._local_optimizer.state if self._local_optimizer is not None else {}

    @state.setter
    def state(self, value: Any) -> None:
        pass  # Optimizer.__init__ assigns an empty dict; ours lives in the local optimizer

    def state_dict(self) -> dict[str, Any]:
        """This rank's shard of the optimizer state (save one file per rank), tagged with the
        rank and world size: another rank's shard may have the same sizes and load silently."""
        return {**self.local_optimizer.state_dict(), "shard": (self.rank, self.world_size)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        shard = state_dict.pop("shard", None)
        if shard != (self.rank, self.world_size):
            raise ValueError(
                f"ShardedOptimizer.load_state_dict got the shard of (rank, world_size)={shard!r} "
                f"(expected {(self.rank, self.world_size)!r}: load the file this rank saved)"
            )
        self.local_optimizer.load_state_dict(state_dict)

    def step(self, closure: Callable[[], float] | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """Step the owned shard, then every owner broadcasts its updated parameters."""
        local = self.local_optimizer
        # Hyperparameters may have changed on the full view (an LR schedule): copy them over.
        for full_group, local_group in zip(self.param_groups, local.param_groups, strict=True):
            for key, value in full_group.items():
                if key != "params":
                    local_group[key] = value
        loss = local.step(closure, **kwargs)
        self._broadcast_params()
        return loss

    def _broadcast_params(self) -> None:
        """One flat broadcast per owner rank (few large messages beat many small ones)."""
        for src in range(self.world_size):
            owned = [p for g in self.param_groups for p in g["params"] if self.owner[id(p)] == src]
            by_dtype: dict[torch.dtype, list[nn.Parameter]] = {}
            for p in owned:
                by_dtype.setdefault(p.dtype, []).append(p)
            for params in by_dtype.values():
                with torch.no_grad():
                    flat = torch.cat([p.detach().reshape(-1) for p in params])
                    dist.broadcast(flat, src=src)
                    if src != self.rank:
                        offset = 0
                        for p in params:
                            p.copy_(flat[offset : offset + p.numel()].view_as(p))
                            offset += p.numel()
