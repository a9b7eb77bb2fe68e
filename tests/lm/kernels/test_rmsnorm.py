"""Fused RMSNorm vs the PyTorch reference: forward, grads for x and weight, odd shapes, dtypes."""

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

from lm.kernels import rmsnorm, rmsnorm_reference, rmsnorm_triton


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 3, 17), (2, 5, 129), (70, 8)])
def test_rmsnorm_matches_reference(shape, dtype):
    torch.manual_seed(0)
    device = triton_device()
    x = randn(*shape, dtype=dtype, device=device)
    w = randn(shape[-1], dtype=dtype, device=device, scale=0.5) + 1
    atol, rtol = TOLERANCES[dtype]
    compare_fwd_bwd(rmsnorm_triton, rmsnorm_reference, [x, w], atol, rtol, f"rmsnorm {shape}")


def test_rmsnorm_output_has_unit_rms():
    torch.manual_seed(0)
    x = randn(4, 33, dtype=torch.float32, device=triton_device(), scale=7.0)
    y = rmsnorm_triton(x, torch.ones(33, device=x.device))
    assert torch.allclose(y.pow(2).mean(-1), torch.ones(4, device=x.device), atol=1e-4)


def test_rmsnorm_rejects_mismatched_weight():
    x = torch.randn(2, 8, device=triton_device())
    with pytest.raises(ValueError, match=r"weight shape \(7,\).*expected weight of shape \(8,\)"):
        rmsnorm_triton(x, torch.ones(7, device=x.device))


def test_rmsnorm_rejects_float16():
    x = torch.randn(2, 8, device=triton_device()).half()
    with pytest.raises(TypeError, match="torch.float16"):
        rmsnorm_triton(x, torch.ones(8, device=x.device, dtype=torch.float16))


def test_dispatcher_uses_reference_on_cpu():
    x, w = torch.randn(3, 5), torch.randn(5)
    assert torch.equal(rmsnorm(x, w), rmsnorm_reference(x, w))


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_rmsnorm_large_on_gpu(dtype):
    torch.manual_seed(0)
    x = randn(4, 1000, 4096, dtype=dtype, device="cuda")
    w = randn(4096, dtype=dtype, device="cuda", scale=0.5) + 1
    atol, rtol = GPU_TOLERANCES[dtype]
    compare_fwd_bwd(
        rmsnorm, rmsnorm_reference, [x, w], atol, rtol, "rmsnorm gpu", is_atol_scaled=True
    )
