"""Kernel-test helpers: tolerances and a forward + backward comparison with max/mean errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch

HAS_CUDA = torch.cuda.is_available()
requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU (none visible)")

# (atol, rtol) per dtype under the interpreter; bf16 rounds outputs and intermediates to 8 bits.
CPU_TOLERANCES = {torch.float32: (1e-5, 1e-5), torch.bfloat16: (5e-2, 5e-2)}


def assert_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    atol: float,
    rtol: float,
    what: str,
    is_atol_scaled: bool = False,
):
    """Fail with max and mean abs error unless |actual - expected| <= atol + rtol * |expected|.

    With is_atol_scaled, atol is relative to max |expected| (large reductions in bf16/TF32, where
    rounding noise grows with the magnitude of the sum, not of each element).
    """
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    a, e = actual.double(), expected.double()
    diff = (a - e).abs()
    if is_atol_scaled:
        atol = atol * e.abs().max().item()
    ok = bool((diff <= atol + rtol * e.abs()).all())
    assert ok, (
        f"{what}: max abs err {diff.max().item():.3e}, mean abs err {diff.mean().item():.3e} "
        f"(atol={atol:g}, rtol={rtol:g}, {int((diff > atol + rtol * e.abs()).sum())} of "
        f"{diff.numel()} elements off)"
    )


def compare_fwd_bwd(
    fn: Callable[..., torch.Tensor],
    reference: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    atol: float,
    rtol: float,
    what: str,
    is_atol_scaled: bool = False,
) -> None:
    """Run fn and reference on copies of inputs; compare outputs and grads of every float input."""

    def run(f):
        leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
        out = f(*leaves)
        torch.manual_seed(1)
        grad_out = torch.randn(out.shape, dtype=torch.float32, device=out.device).to(out.dtype)
        out.backward(grad_out)
        return out.detach(), [x.grad for x in leaves if x.is_floating_point()]

    out, grads = run(fn)
    ref_out, ref_grads = run(reference)
    assert_close(out, ref_out, atol, rtol, f"{what} forward", is_atol_scaled)
    for i, (g, rg) in enumerate(zip(grads, ref_grads, strict=True)):
        assert g is not None, f"{what}: no gradient for input {i}"
        assert_close(g, rg, atol, rtol, f"{what} grad of input {i}", is_atol_scaled)


# Looser on a GPU: fp32 tl.dot uses TF32 tensor cores there (10-bit mantissa).
GPU_TOLERANCES = {torch.float32: (2e-2, 2e-2), torch.bfloat16: (5e-2, 5e-2)}
# What the small-shape tests use: they run on the GPU when there is one.
TOLERANCES = GPU_TOLERANCES if HAS_CUDA else CPU_TOLERANCES
DTYPES = [torch.float32, torch.bfloat16]


def triton_device() -> str:
    """Where the Triton kernels run in this session: the GPU, else the CPU under the interpreter."""
    from lm.kernels import IS_INTERPRETING

    if HAS_CUDA:
        return "cuda"
    if not IS_INTERPRETING:
        pytest.fail("lm.kernels was imported before TRITON_INTERPRET=1 was set (see conftest.py)")
    return "cpu"


def randn(*shape: int, dtype: torch.dtype, device: str = "cpu", scale: float = 1.0) -> torch.Tensor:
    """Normal tensor drawn in fp32 then cast, so both dtypes see the same values."""
    return (torch.randn(*shape) * scale).to(device=device, dtype=dtype)
