"""Random training batches from a token array on disk (a uint16 np.memmap, CS336 A1 `get_batch`).

The whole corpus stays on disk; each batch reads B windows of T+1 tokens at random offsets.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from lm.atomic_file import atomic_path


def get_batch(
    dataset: npt.NDArray,
    batch_size: int,
    context_length: int,
    device: str | torch.device = "cpu",
    generator: np.random.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """B windows of inputs and their next tokens: tokens [N] -> (x [B, T], y [B, T]) int64.

    Example: dataset [0..9], B=1, T=3 -> x [[4, 5, 6]], y [[5, 6, 7]] for offset 4.
    """
    if dataset.ndim != 1 or len(dataset) <= context_length:
        raise ValueError(
            f"get_batch: dataset of shape {dataset.shape!r} (expected 1-d, longer than "
            f"context_length={context_length})"
        )
    rng = generator if generator is not None else np.random.default_rng()
    starts = rng.integers(0, len(dataset) - context_length, size=batch_size)  # [B]
    windows = np.stack([dataset[s : s + context_length + 1] for s in starts]).astype(np.int64)
    batch = torch.from_numpy(windows)  # [B, T+1]
    if torch.device(device).type == "cuda":
        batch = batch.pin_memory().to(device, non_blocking=True)
    else:
        batch = batch.to(device)
    return batch[:, :-1], batch[:, 1:]  # [B, T] each


def load_tokens(path: str) -> np.memmap:
    """Open a uint16 token file (written by `write_tokens`) without reading it into memory."""
    return np.memmap(path, dtype=np.uint16, mode="r")


def write_tokens(path: str, token_ids: list[int] | npt.NDArray) -> None:
    """Save token ids as uint16 atomically (temp file + rename); ids must be < 65536."""
    array = np.asarray(token_ids)
    if array.size and (array.min() < 0 or array.max() >= 2**16):
        raise ValueError(f"write_tokens: ids in [{array.min()}, {array.max()}] do not fit uint16")
    with atomic_path(path) as tmp:
        array.astype(np.uint16).tofile(tmp)
