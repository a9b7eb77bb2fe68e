"""Online softmax vs torch.softmax: forward and backward, rows longer than one block, dtypes."""

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

from lm.kernels import softmax, softmax_reference, softmax_triton


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 3, 17), (2, 5, 129), (3, 1)])
def test_softmax_matches_reference(shape, dtype):
    torch.manual_seed(0)
    x = randn(*shape, dtype=dtype, device=triton_device(), scale=3.0)
    atol, rtol = TOLERANCES[dtype]
    compare_fwd_bwd(softmax_triton, softmax_reference, [x], atol, rtol, f"softmax {shape}")


def test_softmax_is_stable_for_huge_logits():
    # The running max must be subtracted before exp, or exp(1e4) overflows to inf.
    x = torch.tensor([[1e4, 1e4 - 1.0, -1e4] * 7], device=triton_device())  # (1, 21)
    y = softmax_triton(x)
    assert torch.isfinite(y).all()
    assert torch.allclose(y, softmax_reference(x), atol=1e-6)


def test_softmax_with_a_masked_first_block_is_not_nan():
    # Left padding / masks: the first 20 columns (more than one interpreter block of 16) are
    # -inf. The online update computed exp(-inf - -inf) = NaN there and poisoned the whole row.
    x = randn(2, 40, dtype=torch.float32, device=triton_device())
    x[:, :20] = float("-inf")
    x[1] = float("-inf")  # an all -inf row stays NaN, as in torch.softmax
    y = softmax_triton(x)
    expected = softmax_reference(x)
    assert torch.isfinite(y[0]).all(), y[0]
    assert torch.allclose(y[0], expected[0], atol=1e-6)
    assert torch.isnan(y[1]).all() and torch.isnan(expected[1]).all()


def test_dispatcher_uses_reference_on_cpu():
    x = torch.randn(3, 5)
    assert torch.equal(softmax(x), softmax_reference(x))


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_large_on_gpu(dtype):
    torch.manual_seed(0)
    x = randn(512, 10_007, dtype=dtype, device="cuda", scale=3.0)
    atol, rtol = GPU_TOLERANCES[dtype]
    compare_fwd_bwd(softmax, softmax_reference, [x], atol, rtol, "softmax gpu", is_atol_scaled=True)
