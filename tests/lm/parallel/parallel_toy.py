"""A toy model and the per-rank training loops that the parallel tests compare with one process.

Lives in its own importable module (tests.lm.parallel.parallel_toy) because spawned ranks import
the functions they run by name. The toy has every awkward case: uneven sizes, a tied weight, a
frozen parameter and a parameter that never gets a gradient.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

VOCAB = 13
D_MODEL = 6
D_HIDDEN = 7
BATCH, SEQ = 4, 5
NUM_STEPS = 3
SEED = 1234


class Toy(nn.Module):
    """Embedding -> MLP residual -> gain -> tied output head."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D_MODEL)
        self.fc1 = nn.Linear(D_MODEL, D_HIDDEN)
        self.fc2 = nn.Linear(D_HIDDEN, D_MODEL, bias=False)
        self.gain = nn.Parameter(torch.ones(D_MODEL))
        self.frozen = nn.Parameter(torch.randn(D_MODEL), requires_grad=False)
        self.unused = nn.Linear(3, 3)  # never called: its grads stay None
        self.head = nn.Linear(D_MODEL, VOCAB, bias=False)
        self.head.weight = self.emb.weight  # tied

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.emb(idx) + self.frozen  # [B, T, D]
        x = x + self.fc2(torch.tanh(self.fc1(x)))  # [B, T, D]
        return self.head(x * self.gain)  # [B, T, V]


def make_model(seed: int = SEED, kind: str = "toy") -> nn.Module:
    """The toy, or a tiny lm.model.TransformerLM ("lm", "lm_tied") with uneven layer sizes."""
    torch.manual_seed(seed)
    if kind == "toy":
        return Toy()
    from lm.model import TransformerLM

    return TransformerLM(
        vocab_size=VOCAB,
        context_length=SEQ,
        d_model=8,
        num_layers=2,
        num_heads=2,
        d_ff=11,
        is_tied=kind == "lm_tied",
    )


def make_batches(num_steps: int = NUM_STEPS) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(SEED + 1)
    return [torch.randint(0, VOCAB, (BATCH, SEQ + 1), generator=g) for _ in range(num_steps)]


def lm_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    logits = model(batch[:, :-1])  # [B, T, V]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Weight decay on matrices only: exercises parameter groups with different options."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def local_slice(batch: torch.Tensor) -> torch.Tensor:
    """This rank's equal share of the global batch."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    per_rank = batch.shape[0] // world_size
    return batch[rank * per_rank : (rank + 1) * per_rank]


def global_mean(value: torch.Tensor) -> float:
    t = value.detach().clone()
    dist.all_reduce(t)
    return float(t) / dist.get_world_size()


def train_reference(num_steps: int = NUM_STEPS, kind: str = "toy") -> dict[str, Any]:
    """One process, whole batch: the answer every strategy must reproduce."""
    model = make_model(kind=kind)
    opt = torch.optim.AdamW(param_groups(model), lr=1e-2)
    losses, grads = [], []
    for batch in make_batches(num_steps):
        opt.zero_grad(set_to_none=True)
        loss = lm_loss(model, batch)
        loss.backward()
        grads.append(
            {
                n: None if p.grad is None else p.grad.clone()
                for n, p in model.named_parameters(remove_duplicate=False)
            }
        )
        opt.step()
        losses.append(float(loss.detach()))
    params = {n: p.detach().clone() for n, p in model.named_parameters(remove_duplicate=False)}
    return {"losses": losses, "grads": grads, "params": params}


def _wrap(strategy: str, model: nn.Module, options: dict[str, Any]) -> tuple[Any, Any]:
    """(wrapped model, optimizer) for one strategy."""
    from lm.parallel.ddp import DDP, NaiveDDP
    from lm.parallel.fsdp import FSDP
    from lm.parallel.sharded_optimizer import ShardedOptimizer

    if strategy == "naive":
        wrapped: Any = NaiveDDP(model)
    elif strategy in ("ddp", "zero1", "zero1_generator"):
        wrapped = DDP(model, bucket_size_mb=options.get("bucket_size_mb", 25.0))
    elif strategy == "fsdp":
        # the toy uses torch.nn layers; TransformerLM gets FSDP's default (lm.model's layers)
        shard_types = (nn.Linear, nn.Embedding) if isinstance(model, Toy) else None
        wrapped = FSDP(model, shard_types=shard_types)
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    if strategy == "zero1":
        opt: Any = ShardedOptimizer(param_groups(wrapped.module), torch.optim.AdamW, lr=1e-2)
    elif strategy == "zero1_generator":
        # a plain generator and one group: weight decay everywhere, also in the reference below
        opt = ShardedOptimizer(
            (p for p in wrapped.module.parameters() if p.requires_grad),
            torch.optim.AdamW,
            lr=1e-2,
            weight_decay=0.1,
        )
    elif strategy == "fsdp":
        opt = torch.optim.AdamW(param_groups(wrapped), lr=1e-2)
    else:
        opt = torch.optim.AdamW(param_groups(wrapped.module), lr=1e-2)
    return wrapped, opt


def _named_grads(strategy: str, wrapped: Any) -> dict[str, torch.Tensor | None]:
    if strategy == "fsdp":
        return wrapped.gather_full_grads()
    return {
        n: None if p.grad is None else p.grad.clone()
        for n, p in wrapped.module.named_parameters(remove_duplicate=False)
    }


def _named_params(strategy: str, wrapped: Any) -> dict[str, torch.Tensor]:
    if strategy == "fsdp":
        return wrapped.gather_full_params()
    return {
        n: p.detach().clone() for n, p in wrapped.module.named_parameters(remove_duplicate=False)
    }


def train_ranked(
    strategy: str, options: dict[str, Any], num_steps: int = NUM_STEPS
) -> dict[str, Any]:
    """Run on every rank: each rank starts from different weights (the wrapper must broadcast
    rank 0's), trains on its slice of each batch and reports global losses, grads and params."""
    model = make_model(seed=SEED + dist.get_rank(), kind=options.get("model", "toy"))
    if dist.get_rank() != 0:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)  # not a re-seed artefact: really different weights
    wrapped, opt = _wrap(strategy, model, options)
    losses, grads = [], []
    for batch in make_batches(num_steps):
        opt.zero_grad(set_to_none=True)
        loss = lm_loss(wrapped, local_slice(batch))
        loss.backward()
        wrapped.finish_gradient_synchronization()
        grads.append(_named_grads(strategy, wrapped))
        opt.step()
        losses.append(global_mean(loss))
    return {"losses": losses, "grads": grads, "params": _named_params(strategy, wrapped)}


def train_reference_one_group(num_steps: int = NUM_STEPS) -> dict[str, Any]:
    """Reference for `zero1_generator`: one group, weight decay 0.1 on every parameter."""
    model = make_model()
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1
    )
    losses = []
    for batch in make_batches(num_steps):
        opt.zero_grad(set_to_none=True)
        loss = lm_loss(model, batch)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return {
        "losses": losses,
        "params": {
            n: p.detach().clone() for n, p in model.named_parameters(remove_duplicate=False)
        },
    }


def run_strategies(configs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Run several strategies in turn in one process group (one spawn, many checks)."""
    out: dict[str, Any] = {f"{s}:{sorted(o.items())}": train_ranked(s, o) for s, o in configs}
    out["fsdp_probe"] = fsdp_probe()
    out["zero1_probe"] = zero1_probe()
    out["overlap_probe"] = overlap_probe()
    return out


def overlap_probe() -> dict[str, int]:
    """How many all-reduces DDP has launched when backward produces its very last gradient."""
    from lm.parallel.ddp import DDP

    model = DDP(make_model(kind="lm"), bucket_size_mb=1e-4)  # one parameter per bucket
    seen = {}
    embedding = model.module.token_embeddings.weight  # the first layer: its grad comes last

    def record(_param: torch.Tensor) -> None:  # registered after DDP's hook, so it runs after it
        seen["launched"] = model._bucketer._next_to_launch

    embedding.register_post_accumulate_grad_hook(record)
    lm_loss(model, local_slice(make_batches(1)[0])).backward()
    model.finish_gradient_synchronization()
    return {"launched_during_backward": seen["launched"], "num_buckets": model.num_buckets}


def zero1_probe() -> dict[str, Any]:
    """Which parameters this rank keeps AdamW state for after one ZeRO-1 step."""
    from lm.parallel.ddp import DDP
    from lm.parallel.sharded_optimizer import ShardedOptimizer

    model = DDP(make_model(kind="lm"))
    opt = ShardedOptimizer(model.parameters(), torch.optim.AdamW, lr=1e-2)
    lm_loss(model, local_slice(make_batches(1)[0])).backward()
    model.finish_gradient_synchronization()
    opt.step()
    names = {id(p): n for n, p in model.module.named_parameters()}
    with_state = sorted(names[id(p)] for p in opt.state)
    numel = {n: p.numel() for n, p in model.module.named_parameters()}
    return {"with_state": with_state, "numel": numel}


def fsdp_probe() -> dict[str, Any]:
    """What FSDP does to a TransformerLM in bf16: shard shapes, dtypes, when it all-gathers."""
    from lm.parallel import fsdp as fsdp_module

    model = make_model(kind="lm_tied")
    wrapped = fsdp_module.FSDP(model, compute_dtype=torch.bfloat16)
    calls = {"n": 0}
    real_all_gather = fsdp_module.dist.all_gather_single

    def counting_all_gather(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return real_all_gather(*args, **kwargs)

    fsdp_module.dist.all_gather_single = counting_all_gather
    try:
        batch = local_slice(make_batches(1)[0])
        loss = lm_loss(wrapped, batch)
        gathers_forward = calls["n"]
        weight_after_forward = model.layers[0].attn.q_proj.weight
        loss.backward()
        gathers_backward = calls["n"] - gathers_forward
    finally:
        fsdp_module.dist.all_gather_single = real_all_gather
    wrapped.finish_gradient_synchronization()
    return {
        "loss": global_mean(loss),
        "logits_dtype": wrapped(batch[:, :-1]).dtype,
        "shard_shapes": {n: tuple(p.shape) for n, p in wrapped.named_parameters()},
        "shard_dtypes": {p.dtype for p in wrapped.parameters()},
        "grad_dtypes": {p.grad.dtype for p in wrapped.parameters() if p.grad is not None},
        "weight_after_forward": weight_after_forward,
        "gathers_forward": gathers_forward,
        "gathers_backward": gathers_backward,
        "max_gathered_bytes": wrapped.max_gathered_bytes,
        "full_shapes": {n: tuple(t.shape) for n, t in wrapped.gather_full_params().items()},
    }


def zero1_load_probe() -> dict[str, Any]:
    """Each rank loads its own ZeRO-1 state (fine) and the other rank's (same sizes: must raise)."""
    from lm.parallel import ShardedOptimizer

    torch.manual_seed(SEED)
    model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Linear(4, 4, bias=False))
    opt = ShardedOptimizer(model.parameters(), torch.optim.AdamW, lr=1e-2)
    model(torch.ones(2, 4)).sum().backward()
    opt.step()
    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, opt.state_dict())
    opt.load_state_dict(states[dist.get_rank()])
    try:
        opt.load_state_dict(states[1 - dist.get_rank()])
    except ValueError as e:
        return {"error": str(e)}
    return {"error": None}


def die_or_all_reduce() -> None:
    """Rank 1 dies before the collective; rank 0 must get an error, not wait forever."""
    import os

    if dist.get_rank() == 1:
        os._exit(3)
    dist.all_reduce(torch.ones(4))


def stall_or_all_reduce(stall_s: float) -> None:
    """Rank 1 is alive but late; rank 0's all-reduce must time out, not wait forever."""
    import time

    if dist.get_rank() == 1:
        time.sleep(stall_s)
        return
    dist.all_reduce(torch.ones(4))
