"""Save and resume training: model weights, optimizer state, iteration (CS336 A1 checkpointing).

Files are written atomically (temp file + rename), so a crash mid-save never leaves a torn
checkpoint. The model's architecture is stored too, and loading into a different one is refused.
"""

from __future__ import annotations

import os
from typing import IO, Any

import torch
from torch import nn

from lm.atomic_file import atomic_path

FORMAT_VERSION = 1


def _architecture(model: nn.Module) -> dict[str, Any] | None:
    get = getattr(model, "architecture", None)
    return get() if callable(get) else None


def save_checkpoint(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    iteration: int,
    out: str | os.PathLike | IO[bytes],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write {model, optimizer, iteration, architecture, extra} to `out` (a path: atomically)."""
    payload = {
        "format_version": FORMAT_VERSION,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "iteration": iteration,
        "architecture": _architecture(model),
        "extra": extra or {},
    }
    if not isinstance(out, (str, os.PathLike)):
        torch.save(payload, out)
        return
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(
    src: str | os.PathLike | IO[bytes],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> int:
    """Restore model (and optimizer) from `src`; returns the saved iteration.

    Raises ValueError when the checkpoint was saved from a different architecture.
    """
    payload = read_checkpoint(src)
    saved, ours = payload.get("architecture"), _architecture(model)
    if saved is not None and ours is not None and saved != ours:
        diff = {k: (saved.get(k), ours.get(k)) for k in saved.keys() | ours.keys()}
        diff = {k: v for k, v in diff.items() if v[0] != v[1]}
        raise ValueError(
            f"checkpoint {_name(src)} is from another architecture: (saved, this model) = {diff!r}"
        )
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as error:  # shape or key mismatch without stored architecture
        raise ValueError(f"checkpoint {_name(src)} does not fit this model: {error}") from None
    if optimizer is not None and payload["optimizer"] is not None:
        optimizer.load_state_dict(payload["optimizer"])
    return int(payload["iteration"])


def read_checkpoint(src: str | os.PathLike | IO[bytes]) -> dict[str, Any]:
    """The raw checkpoint dict (model state_dict, optimizer, iteration, architecture, extra)."""
    payload = torch.load(src, map_location="cpu", weights_only=False)
    if not isinstance(payload, dict) or "model" not in payload or "iteration" not in payload:
        raise ValueError(f"{_name(src)} is not an lm checkpoint (no 'model'/'iteration' entries)")
    return payload


def _name(src: object) -> str:
    return repr(str(src)) if isinstance(src, (str, os.PathLike)) else "<file object>"
