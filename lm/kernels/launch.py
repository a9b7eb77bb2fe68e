"""Launch settings shared by the Triton kernels: interpreter detection, autotuning, dtype checks.

Triton reads TRITON_INTERPRET when a kernel is decorated (at import), so set it before importing
`lm.kernels` to run the kernels on CPU tensors. On a GPU the kernels are autotuned; under the
interpreter they use one fixed small config, since autotuning would re-run every config in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import triton
import triton.language as tl
from triton import knobs

IS_INTERPRETING: bool = bool(knobs.runtime.interpret)
"""True when Triton was imported with TRITON_INTERPRET=1: kernels run on CPU tensors, in Python."""

SUPPORTED_DTYPES = (torch.float32, torch.bfloat16)


def autotune_on_gpu(configs: Sequence[triton.Config], key: list[str]) -> Callable[[Any], Any]:
    """Wrap a kernel in triton.autotune on a GPU; leave it plain jit when interpreting."""

    def wrap(kernel: Any) -> Any:
        if IS_INTERPRETING:
            return kernel
        return triton.autotune(configs=list(configs), key=key)(kernel)

    return wrap


def tile_meta(**interpreter_tiles: int) -> dict[str, int]:
    """Tile sizes to pass at launch: fixed ones under the interpreter, none when autotune picks."""
    return dict(interpreter_tiles) if IS_INTERPRETING else {}


def check_device(where: str, *tensors: torch.Tensor) -> None:
    """Raise unless the tensors can go through a Triton kernel (CUDA, or CPU when interpreting)."""
    for t in tensors:
        if t.device.type == "cuda":
            continue
        if t.device.type == "cpu" and IS_INTERPRETING:
            continue
        raise ValueError(
            f"{where}: got a tensor on {t.device!r}; expected a CUDA tensor, or a CPU tensor with "
            "TRITON_INTERPRET=1 set before importing lm.kernels"
        )


def check_dtype(where: str, *tensors: torch.Tensor) -> None:
    """Raise unless every tensor is float32 or bfloat16 and they all share one dtype."""
    for t in tensors:
        if t.dtype not in SUPPORTED_DTYPES or t.dtype != tensors[0].dtype:
            raise TypeError(
                f"{where}: got dtype {t.dtype!r} (first input {tensors[0].dtype!r}); expected all "
                f"inputs in one of {SUPPORTED_DTYPES!r}"
            )


@triton.jit
def dot(a, b, acc, UPCAST: tl.constexpr):
    """acc + a @ b; with UPCAST the operands go to fp32 first.

    Subtle: Triton 3.9's interpreter stores bf16 as uint16 and multiplies the raw bits in tl.dot,
    so under the interpreter we upcast (on a GPU bf16 tiles go straight to the tensor cores).
    """
    if UPCAST:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), acc)
    return tl.dot(a, b, acc)
