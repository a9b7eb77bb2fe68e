"""Fused SwiGLU gate vs silu(gate) * up: forward, both grads, odd shapes, dtypes."""

import pytest
import torch
from kernel_checks import (
    DTYPES,
    GPU_TOLERANCES,
    TOLERANCES,
    compare_fwd_bwd,
    randn,
    requires_cuda,
    triton_device,
)

from lm.kernels import swiglu, swiglu_reference, swiglu_triton


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 3, 17), (2, 5, 129)])
def test_swiglu_matches_reference(shape, dtype):
    torch.manual_seed(0)
    gate = randn(*shape, dtype=dtype, device=triton_device(), scale=2.0)
    up = randn(*shape, dtype=dtype, device=triton_device())
    atol, rtol = TOLERANCES[dtype]
    compare_fwd_bwd(swiglu_triton, swiglu_reference, [gate, up], atol, rtol, f"swiglu {shape}")


def test_swiglu_rejects_mismatched_shapes():
    a = torch.randn(2, 4, device=triton_device())
    with pytest.raises(ValueError, match=r"gate shape \(2, 4\) != up shape \(2, 5\)"):
        swiglu_triton(a, torch.randn(2, 5, device=a.device))


def test_dispatcher_uses_reference_on_cpu():
    a, b = torch.randn(3, 5), torch.randn(3, 5)
    assert torch.equal(swiglu(a, b), swiglu_reference(a, b))


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_swiglu_large_on_gpu(dtype):
    torch.manual_seed(0)
    gate, up = (randn(8, 1024, 2731, dtype=dtype, device="cuda") for _ in range(2))
    atol, rtol = GPU_TOLERANCES[dtype]
    compare_fwd_bwd(
        swiglu, swiglu_reference, [gate, up], atol, rtol, "swiglu gpu", is_atol_scaled=True
    )
