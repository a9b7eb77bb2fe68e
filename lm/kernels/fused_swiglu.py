"""SwiGLU gate: a PyTorch reference and a fused elementwise Triton forward + backward.

Shapes: any, gate and up the same (typically (B, T, d_ff), the two projections of x). Eager
`silu(gate) * up` writes silu(gate) to memory and reads it back; the kernel does it in registers.
Shazeer 2020, https://arxiv.org/abs/2002.05202. The matmuls around it: `tiled_matmul.py` or cuBLAS.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from lm.kernels.launch import autotune_on_gpu, check_device, check_dtype, tile_meta

_CONFIGS = [triton.Config({"BLOCK": b}, num_warps=w) for b in (1024, 4096) for w in (4, 8)]
_INTERPRETER_BLOCK = 64


def swiglu_reference(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """silu(gate) * up, computed in fp32 and returned in gate's dtype: (0., 2.) -> 0."""
    return (torch.nn.functional.silu(gate.float()) * up.float()).to(gate.dtype)


@autotune_on_gpu(_CONFIGS, key=["n"])
@triton.jit
def _swiglu_fwd_kernel(gate_ptr, up_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)  # 64-bit offsets
    is_in = offs < n
    g = tl.load(gate_ptr + offs, mask=is_in, other=0.0).to(tl.float32)
    u = tl.load(up_ptr + offs, mask=is_in, other=0.0).to(tl.float32)
    y = g * tl.sigmoid(g) * u
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=is_in)


@autotune_on_gpu(_CONFIGS, key=["n"])
@triton.jit
def _swiglu_bwd_kernel(gate_ptr, up_ptr, dy_ptr, dgate_ptr, dup_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)  # 64-bit offsets
    is_in = offs < n
    g = tl.load(gate_ptr + offs, mask=is_in, other=0.0).to(tl.float32)
    u = tl.load(up_ptr + offs, mask=is_in, other=0.0).to(tl.float32)
    dy = tl.load(dy_ptr + offs, mask=is_in, other=0.0).to(tl.float32)
    sig = tl.sigmoid(g)
    # silu'(g) = sig + g * sig * (1 - sig); recomputed here instead of saving silu(g) in forward
    dgate = dy * u * sig * (1.0 + g * (1.0 - sig))
    dup = dy * g * sig
    tl.store(dgate_ptr + offs, dgate.to(dgate_ptr.dtype.element_ty), mask=is_in)
    tl.store(dup_ptr + offs, dup.to(dup_ptr.dtype.element_ty), mask=is_in)


def _grid(n: int):  # a Triton grid: one program per BLOCK elements
    return lambda meta: (triton.cdiv(n, meta["BLOCK"]),)


class SwiGLUTriton(torch.autograd.Function):
    """Fused silu(gate) * up; saves gate and up and recomputes the sigmoid in backward."""

    @staticmethod
    def forward(ctx, gate: torch.Tensor, up: torch.Tensor):  # type: ignore[override]
        if gate.shape != up.shape:
            raise ValueError(
                f"swiglu: gate shape {tuple(gate.shape)!r} != up shape {tuple(up.shape)!r}; "
                "expected equal shapes"
            )
        check_dtype("swiglu", gate, up)
        check_device("swiglu", gate, up)
        gate_c, up_c = gate.contiguous(), up.contiguous()
        y = torch.empty_like(gate_c)
        n = gate_c.numel()
        _swiglu_fwd_kernel[_grid(n)](gate_c, up_c, y, n, **tile_meta(BLOCK=_INTERPRETER_BLOCK))
        ctx.save_for_backward(gate_c, up_c)
        return y

    @staticmethod
    def backward(ctx, dy: torch.Tensor):  # type: ignore[override]
        gate, up = ctx.saved_tensors
        dy = dy.contiguous()
        dgate, dup = torch.empty_like(gate), torch.empty_like(up)
        n = gate.numel()
        _swiglu_bwd_kernel[_grid(n)](
            gate, up, dy, dgate, dup, n, **tile_meta(BLOCK=_INTERPRETER_BLOCK)
        )
        return dgate, dup


def swiglu_triton(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """Fused silu(gate) * up; same signature and result as `swiglu_reference`."""
    return SwiGLUTriton.apply(gate, up)
