"""Tiled matmul with fused activation vs torch: forward, grads of both operands, odd shapes."""

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

from lm.kernels import matmul, matmul_reference, matmul_triton


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu", "silu", "gelu"])
@pytest.mark.parametrize(("a_shape", "n"), [((1, 3, 17), 23), ((2, 5, 129), 40)])
def test_matmul_matches_reference(a_shape, n, activation, dtype):
    torch.manual_seed(0)
    k = a_shape[-1]
    a = randn(*a_shape, dtype=dtype, device=triton_device())
    b = randn(k, n, dtype=dtype, device=triton_device(), scale=k**-0.5)  # keeps outputs O(1)
    atol, rtol = TOLERANCES[dtype]
    atol = max(atol, 1e-4) if dtype == torch.float32 else atol  # K-term fp32 sums reorder
    compare_fwd_bwd(
        lambda x, y: matmul_triton(x, y, activation),
        lambda x, y: matmul_reference(x, y, activation),
        [a, b], atol, rtol, f"matmul {a_shape}x({k}, {n}) act={activation}",
    )  # fmt: skip


def test_matmul_rejects_unknown_activation_and_bad_shapes():
    a = torch.randn(2, 4, device=triton_device())
    with pytest.raises(ValueError, match=r"unknown activation 'tanh'"):
        matmul_triton(a, torch.randn(4, 3, device=a.device), "tanh")
    with pytest.raises(ValueError, match=r"\(2, 4\) @ \(5, 3\) do not chain"):
        matmul_triton(a, torch.randn(5, 3, device=a.device))


def test_dispatcher_uses_reference_on_cpu():
    a, b = torch.randn(3, 5), torch.randn(5, 2)
    assert torch.equal(matmul(a, b, "relu"), matmul_reference(a, b, "relu"))


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "gelu"])
def test_matmul_large_on_gpu(dtype, activation):
    torch.manual_seed(0)
    a = randn(1000, 1537, dtype=dtype, device="cuda")
    b = randn(1537, 2049, dtype=dtype, device="cuda", scale=1537**-0.5)
    atol, rtol = GPU_TOLERANCES[dtype]
    compare_fwd_bwd(
        lambda x, y: matmul(x, y, activation),
        lambda x, y: matmul_reference(x, y, activation),
        [a, b], atol, rtol, f"matmul gpu act={activation}", is_atol_scaled=True
    )  # fmt: skip
