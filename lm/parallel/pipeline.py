"""Pipeline parallelism, GPipe schedule (Huang et al. 2019, https://arxiv.org/abs/1811.06965): the
layers are cut into stages, one per rank; the batch is cut into micro-batches that flow forward
through the stages, then all backward passes run, then one optimizer step.

With p stages and m micro-batches each stage idles for (p - 1) of the (m + p - 1) time slots:
the bubble. Activations travel between neighbouring ranks with point-to-point send/recv.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn


def bubble_fraction(num_stages: int, num_microbatches: int) -> float:
    """Idle share of a GPipe step: (4, 4) -> 3/7 = 0.4286; more micro-batches shrink it."""
    if num_stages < 1 or num_microbatches < 1:
        raise ValueError(
            f"num_stages={num_stages!r}, num_microbatches={num_microbatches!r} in bubble_fraction "
            "(expected both >= 1)"
        )
    return (num_stages - 1) / (num_microbatches + num_stages - 1)


class _FirstStage(nn.Module):
    """Token embedding and the first blocks of a TransformerLM."""

    def __init__(self, model: nn.Module, num_layers: int) -> None:
        super().__init__()
        self.token_embeddings = model.token_embeddings
        self.layers = nn.ModuleList(model.layers[:num_layers])

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.token_embeddings(idx)  # [B, T] -> [B, T, C]
        for layer in self.layers:
            x = layer(x)
        return x


class _LastStage(nn.Module):
    """The remaining blocks, the final norm and the output head."""

    def __init__(self, model: nn.Module, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(model.layers[num_layers:])
        self.ln_final, self.lm_head = model.ln_final, model.lm_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.ln_final(x))  # [B, T, C] -> [B, T, V]


def split_transformer(model: nn.Module) -> nn.Module:
    """This rank's stage of an lm.model TransformerLM cut in 2 (RoPE positions; untied head).

    The stage holds the model's own modules, so its parameters keep their storage and values.
    """
    if dist.get_world_size() != 2:
        raise ValueError(f"world_size={dist.get_world_size()!r} in split_transformer (expected 2)")
    if model.position != "rope" or model.lm_head.weight is model.token_embeddings.weight:
        raise ValueError("split_transformer supports RoPE models with an untied head")
    cut = len(model.layers) // 2
    return _FirstStage(model, cut) if dist.get_rank() == 0 else _LastStage(model, cut)


def gpipe_step(
    stage: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    num_microbatches: int,
    activation_shape: tuple[int, ...],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> float:
    """Forward all micro-batches through 2 stages, then backward them all; grads accumulate in the
    stage's parameters (the mean loss over the whole batch). Returns the loss on every rank.

    inputs [B, T] (used by rank 0), targets [B, T] (used by rank 1), activation_shape: one
    micro-batch's activation [B/m, T, C] as it crosses the cut.
    """
    if inputs.shape[0] % num_microbatches:
        raise ValueError(
            f"batch of {inputs.shape[0]!r} in gpipe_step "
            f"(expected a multiple of num_microbatches={num_microbatches})"
        )
    rank = dist.get_rank()
    micro_inputs, micro_targets = inputs.chunk(num_microbatches), targets.chunk(num_microbatches)
    saved = []  # rank 0: outputs sent downstream; rank 1: (received input, loss)
    for i in range(num_microbatches):  # all forwards first: GPipe keeps every activation alive
        if rank == 0:
            out = stage(micro_inputs[i])  # [B/m, T, C]
            dist.send(out.detach().contiguous(), dst=1)
            saved.append(out)
        else:
            x = torch.empty(activation_shape, device=inputs.device)
            dist.recv(x, src=0)
            x.requires_grad_(True)
            loss = loss_fn(stage(x), micro_targets[i]) / num_microbatches
            saved.append((x, loss))
    total = torch.zeros((), device=inputs.device)
    for i in range(num_microbatches):  # then all backwards
        if rank == 0:
            grad = torch.empty(activation_shape, device=inputs.device)
            dist.recv(grad, src=1)
            saved[i].backward(grad)
        else:
            x, loss = saved[i]
            loss.backward()
            dist.send(x.grad.contiguous(), dst=0)
            total += loss.detach()
    dist.broadcast(total, src=1)
    return float(total)
