"""Per-rank code for the tensor- and pipeline-parallel tests (importable by spawned ranks)."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from lm.model import TransformerLM

VOCAB, SEQ, D_MODEL = 17, 6, 8
SEED = 7


def make_model(**kwargs: Any) -> TransformerLM:
    torch.manual_seed(SEED)
    options = {"num_layers": 2, "num_heads": 2, "d_ff": 12, **kwargs}
    return TransformerLM(VOCAB, SEQ, D_MODEL, **options)


def make_batch(batch_size: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(SEED)
    return torch.randint(0, VOCAB, (batch_size, SEQ + 1), generator=g)


def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def reference(**kwargs: Any) -> dict[str, Any]:
    model = make_model(**kwargs)
    batch = make_batch()
    logits = model(batch[:, :-1])
    loss = loss_fn(logits, batch[:, 1:])
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    return {"loss": float(loss.detach()), "logits": logits.detach(), "grads": grads}


def tensor_parallel(**kwargs: Any) -> dict[str, Any]:
    from lm.parallel.tensor_parallel import parallelize_transformer

    model = parallelize_transformer(make_model(**kwargs))
    batch = make_batch()  # tensor parallelism: every rank sees the same batch
    logits = model(batch[:, :-1])
    loss = loss_fn(logits, batch[:, 1:])
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    return {
        "loss": float(loss.detach()),
        "logits": logits.detach(),
        "grads": grads,
        "shapes": shapes,
    }


def pipeline(num_microbatches: int) -> dict[str, Any]:
    from lm.parallel.pipeline import gpipe_step, split_transformer

    model = make_model(num_layers=4)
    stage = split_transformer(model)
    batch = make_batch()
    shape = (batch.shape[0] // num_microbatches, SEQ, D_MODEL)
    loss = gpipe_step(stage, batch[:, :-1], batch[:, 1:], num_microbatches, shape, loss_fn)
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {"loss": loss, "grads": grads, "stage_params": [n for n, _ in stage.named_parameters()]}


def run_all() -> dict[str, Any]:
    """One spawn for every model-parallel and collectives check (start-up dominates)."""
    return {
        "tp": tensor_parallel(),
        "tp_gqa_mlp": tensor_parallel(num_heads=4, num_kv_heads=2, ffn="gelu"),
        "pp": pipeline(num_microbatches=2),
        "collectives": collectives(),
        "rank": dist.get_rank(),
    }


def collectives() -> dict[str, Any]:
    """Each collective on rank-dependent data, and all-reduce rebuilt from its two halves."""
    from lm.parallel.collectives import all_reduce_via_reduce_scatter, measure_collectives

    rank, world_size = dist.get_rank(), dist.get_world_size()
    x = torch.arange(7.0) * (rank + 1)  # 7: not a multiple of world_size, exercises padding
    built = all_reduce_via_reduce_scatter(x.clone())
    reference = x.clone()
    dist.all_reduce(reference)
    shard = torch.empty(2)
    dist.reduce_scatter_single(shard, torch.arange(4.0) * (rank + 1))
    gathered = torch.empty(2 * world_size)
    dist.all_gather_single(gathered, torch.full((2,), float(rank)))
    rows = measure_collectives([1024], num_iters=2)
    return {
        "built": built,
        "reference": reference,
        "shard": shard,
        "gathered": gathered,
        "rows": rows,
    }
