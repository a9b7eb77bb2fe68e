"""Fully sharded data parallelism (ZeRO stage 3): parameters, gradients and optimizer state sharded.

Each rank keeps rows [r*k, (r+1)*k) of every Linear/Embedding weight as a float32 master shard
(`w_local`). A forward pre-hook all-gathers the whole weight just before the layer runs, a post-hook
drops it; autograd saved-tensor hooks keep the layer from holding the gathered weight until backward
and all-gather it again there. The backward of the gather reduce-scatters the gradient, so each rank
only ever stores its float32 gradient shard. Other parameters (norm gains) are replicated and their
gradients averaged like DDP. Zhao et al. 2023, PyTorch FSDP, https://arxiv.org/abs/2304.11277.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from lm.model import Embedding, Linear
from lm.nn_utils import CLIP_EPS
from lm.parallel.ddp import GradBucketer, broadcast_state


class _ShardedTensor:
    """One sharded parameter: this rank's padded rows and how to rebuild or reduce the whole."""

    def __init__(self, full: torch.Tensor, compute_dtype: torch.dtype | None) -> None:
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.full_shape = full.shape  # [d0, *rest]
        self.rows_per_rank = math.ceil(full.shape[0] / self.world_size)  # k
        self.compute_dtype = compute_dtype or full.dtype
        padded = self._pad(full.detach().float())  # [p*k, *rest]
        rows = slice(self.rank * self.rows_per_rank, (self.rank + 1) * self.rows_per_rank)
        self.w_local = nn.Parameter(padded[rows].clone(), requires_grad=full.requires_grad)
        self.max_gathered_bytes = 0  # the largest transient full weight this shard produced

    def _pad(self, t: torch.Tensor) -> torch.Tensor:
        missing = self.rows_per_rank * self.world_size - t.shape[0]
        if missing == 0:
            return t.contiguous()
        return torch.cat([t, t.new_zeros(missing, *t.shape[1:])])

    def gather(self) -> torch.Tensor:
        """The whole weight in compute dtype: [d0, *rest] (a view of the padded gather)."""
        w_local = self.w_local.detach().to(self.compute_dtype).contiguous()  # [k, *rest]
        out = w_local.new_empty(self.world_size * self.rows_per_rank, *self.full_shape[1:])
        dist.all_gather_single(out, w_local)  # [p*k, *rest]: cast first, so half the bytes
        self.max_gathered_bytes = max(self.max_gathered_bytes, out.numel() * out.element_size())
        return out[: self.full_shape[0]]

    def reduce_scatter(self, grad_full: torch.Tensor) -> torch.Tensor:
        """Average the full gradient over ranks, keep this rank's float32 rows: [k, *rest]."""
        padded = self._pad(grad_full.float())  # [p*k, *rest]
        grad_local = padded.new_empty(self.rows_per_rank, *self.full_shape[1:])
        dist.reduce_scatter_single(grad_local, padded)
        return grad_local.div_(self.world_size)

    def gather_master(self, t: torch.Tensor) -> torch.Tensor:
        """All-gather a float32 shard-shaped tensor (master weight or its grad) into [d0, *rest]."""
        out = t.new_empty(self.world_size * self.rows_per_rank, *self.full_shape[1:])
        dist.all_gather_single(out, t.detach().contiguous())
        return out[: self.full_shape[0]].clone()


class _GatherWeight(torch.autograd.Function):
    """Forward: all-gather the shard. Backward: reduce-scatter the gradient into the shard."""

    @staticmethod
    def forward(ctx: Any, w_local: torch.Tensor, sharded: _ShardedTensor) -> torch.Tensor:
        ctx.sharded = sharded
        return sharded.gather()

    @staticmethod
    def backward(ctx: Any, grad_full: torch.Tensor) -> tuple[torch.Tensor, None]:
        return ctx.sharded.reduce_scatter(grad_full), None


class _Regather:
    """What autograd stores instead of a gathered weight: enough to rebuild the same view later."""

    def __init__(self, sharded: _ShardedTensor, t: torch.Tensor) -> None:
        self.sharded = sharded
        self.size, self.stride, self.offset = t.size(), t.stride(), t.storage_offset()

    def unpack(self) -> torch.Tensor:
        full = self.sharded.gather()  # the second all-gather, in backward
        return full.as_strided(self.size, self.stride, self.offset)


class _LayerHooks:
    """Forward pre/post hooks for one layer whose direct parameters are sharded."""

    def __init__(self, module: nn.Module, sharded: dict[str, _ShardedTensor]) -> None:
        self.module = module
        self.sharded = sharded
        self._saved_hooks: Any = None
        dtypes = {s.compute_dtype for s in sharded.values()}
        self.compute_dtype = dtypes.pop() if len(dtypes) == 1 else None

    def pre(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        storages: dict[int, _ShardedTensor] = {}
        for name, s in self.sharded.items():
            full = _GatherWeight.apply(s.w_local, s)
            setattr(module, name, full)  # a plain attribute now: the layer's code is unchanged
            storages[full.untyped_storage().data_ptr()] = s

        def pack(t: torch.Tensor) -> Any:
            # subtle: the layer may save a view (e.g. weight.t()), so match on storage, not identity
            s = storages.get(t.untyped_storage().data_ptr()) if t.layout == torch.strided else None
            return t if s is None else _Regather(s, t)

        def unpack(x: Any) -> torch.Tensor:
            return x.unpack() if isinstance(x, _Regather) else x

        self._saved_hooks = torch.autograd.graph.saved_tensors_hooks(pack, unpack)
        self._saved_hooks.__enter__()
        if self.compute_dtype is None:
            return args
        return tuple(
            a.to(self.compute_dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
            for a in args
        )

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        self._saved_hooks.__exit__(None, None, None)
        self._saved_hooks = None
        for name in self.sharded:
            setattr(module, name, None)  # drop the gathered weight: only autograd's token remains


class FSDP(nn.Module):
    """Shard the direct parameters of every `shard_types` layer (default: lm.model's Linear and
    Embedding); replicate the rest. Optimize `fsdp.parameters()` (shards + replicated params).

    compute_dtype: run those layers in this dtype (e.g. torch.bfloat16); masters and gradient
    shards stay float32. Their floating inputs are cast to it too.
    """

    def __init__(
        self,
        module: nn.Module,
        compute_dtype: torch.dtype | None = None,
        shard_types: tuple[type[nn.Module], ...] | None = None,
        bucket_size_mb: float = 25.0,
    ) -> None:
        super().__init__()
        if compute_dtype is not None and not compute_dtype.is_floating_point:
            raise ValueError(f"compute_dtype={compute_dtype!r} in FSDP (expected a float dtype)")
        self.module = module
        broadcast_state(module)  # every rank shards the same starting weights
        shard_types = shard_types if shard_types is not None else (Linear, Embedding)
        # Every name, tied ones included, so gather_full_params() has the keys of state_dict()
        # (a checkpoint of a tied model must still load strictly into a fresh model).
        self._names = [n for n, _ in module.named_parameters(remove_duplicate=False)]
        self._sharded_by_name: dict[str, _ShardedTensor] = {}
        by_param: dict[int, _ShardedTensor] = {}  # tied weights share one shard
        shards = []
        names_of: dict[int, list[str]] = {}
        for n, p in module.named_parameters(remove_duplicate=False):
            names_of.setdefault(id(p), []).append(n)
        for layer in module.modules():
            if not isinstance(layer, shard_types):
                continue
            layer_shards = {}
            for pname, p in list(layer.named_parameters(recurse=False)):
                if id(p) not in by_param:
                    by_param[id(p)] = _ShardedTensor(p, compute_dtype)
                    shards.append(by_param[id(p)].w_local)
                    for n in names_of[id(p)]:
                        self._sharded_by_name[n] = by_param[id(p)]
                layer_shards[pname] = by_param[id(p)]
                del layer._parameters[pname]
                setattr(layer, pname, None)
            hooks = _LayerHooks(layer, layer_shards)
            layer.register_forward_pre_hook(hooks.pre)
            layer.register_forward_hook(hooks.post, always_call=True)  # also when forward raises
        self.shards = nn.ParameterList(shards)
        self._replicated = dict(module.named_parameters(remove_duplicate=False))
        self._bucketer = GradBucketer(module.parameters(), bucket_size_mb)  # each param once

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def finish_gradient_synchronization(self) -> None:
        """Shard grads were reduce-scattered in backward; wait for the replicated ones."""
        self._bucketer.finish()

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Skip the replicated params' all-reduce for backward passes inside the block (shard
        gradients are still reduce-scattered: they must be, to be stored sharded)."""
        self._bucketer.is_syncing = False
        try:
            yield
        finally:
            self._bucketer.is_syncing = True

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """Clip by the global gradient norm over all shards and replicated params; returns it."""
        if not max_norm > 0:
            raise ValueError(f"max_norm={max_norm!r} in FSDP.clip_grad_norm_ (expected > 0)")
        zero = torch.zeros((), device=self.shards[0].device if len(self.shards) else None)
        shard_sq = sum(
            (p.grad.float().square().sum() for p in self.shards if p.grad is not None), zero
        )
        dist.all_reduce(shard_sq)  # padding rows hold zero grads: they add nothing
        replicated = [p for p in self._replicated.values() if p.grad is not None]
        rep_sq = sum((p.grad.float().square().sum() for p in replicated), zero)
        norm = (shard_sq + rep_sq).sqrt()
        if norm > max_norm:
            scale = max_norm / (norm + CLIP_EPS)
            for p in [*self.shards, *replicated]:
                if p.grad is not None:
                    p.grad.mul_(scale)
        return norm

    @property
    def max_gathered_bytes(self) -> int:
        """The largest transient full weight gathered so far (one is live at a time)."""
        return max((s.max_gathered_bytes for s in self._sharded_by_name.values()), default=0)

    def shard_shapes(self) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
        """{model parameter name: (full shape, the shape this rank stores)}."""
        out = {}
        for name in self._names:
            s = self._sharded_by_name.get(name)
            if s is None:
                shape = tuple(self._replicated[name].shape)
                out[name] = (shape, shape)
            else:
                out[name] = (tuple(s.full_shape), tuple(s.w_local.shape))
        return out

    def gather_full_params(self) -> dict[str, torch.Tensor]:
        """Full float32 parameters keyed like the wrapped model's state_dict() (collective).

        Tied names map to one shared tensor, gathered once (as in state_dict())."""
        out: dict[str, torch.Tensor] = {}
        done: dict[int, torch.Tensor] = {}  # id(shard or param) -> its full tensor
        for name in self._names:
            s = self._sharded_by_name.get(name)
            key = id(s) if s else id(self._replicated[name])
            if key not in done:
                p = self._replicated.get(name)
                done[key] = s.gather_master(s.w_local) if s else p.detach().clone()
            out[name] = done[key]
        return out

    def gather_full_grads(self) -> dict[str, torch.Tensor | None]:
        """Full averaged gradients keyed like gather_full_params (None where there is none)."""
        out: dict[str, torch.Tensor | None] = {}
        done: dict[int, torch.Tensor | None] = {}  # tied names share one gather
        for name in self._names:
            s = self._sharded_by_name.get(name)
            key = id(s) if s else id(self._replicated[name])
            if key not in done:
                grad = s.w_local.grad if s else self._replicated[name].grad
                if s and grad is not None:
                    done[key] = s.gather_master(grad)
                else:
                    done[key] = None if grad is None else grad.clone()
            out[name] = done[key]
        return out
