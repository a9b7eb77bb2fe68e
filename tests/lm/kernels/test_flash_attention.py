"""FlashAttention-2 (Triton and tiled PyTorch) vs naive attention: forward, backward, saved L."""

import math

import pytest
import torch
from kernel_checks import (
    DTYPES,
    GPU_TOLERANCES,
    HAS_CUDA,
    TOLERANCES,
    assert_close,
    compare_fwd_bwd,
    randn,
    requires_cuda,
    triton_device,
)

from lm.kernels import (
    FlashAttentionPytorch,
    FlashAttentionTriton,
    attention_reference,
    flash_attention,
    flash_triton,
)
from lm.kernels.flash_pytorch import flash_backward_tiles, flash_forward_tiles

FUNCTIONS = {"triton": FlashAttentionTriton, "pytorch": FlashAttentionPytorch}
# (q shape, n_keys): odd sizes, several tiles (interpreter tiles are 16, PyTorch tiles 32),
# Nq != Nk both ways, and extra leading dims (batch, heads).
SHAPES = [((1, 3, 17), 3), ((2, 5, 129), 5), ((2, 70, 16), 70), ((2, 33, 24), 45),
          ((1, 45, 8), 33), ((2, 3, 20, 16), 20)]  # fmt: skip


def _qkv(q_shape, n_keys, dtype, device):
    kv_shape = (*q_shape[:-2], n_keys, q_shape[-1])
    return [randn(*s, dtype=dtype, device=device) for s in (q_shape, kv_shape, kv_shape)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize(("q_shape", "n_keys"), SHAPES)
@pytest.mark.parametrize("impl", FUNCTIONS)
def test_flash_matches_reference(impl, q_shape, n_keys, is_causal, dtype):
    torch.manual_seed(0)
    device = triton_device() if impl == "triton" else "cpu"
    atol, rtol = TOLERANCES[dtype]
    compare_fwd_bwd(
        lambda q, k, v: FUNCTIONS[impl].apply(q, k, v, is_causal),
        lambda q, k, v: attention_reference(q, k, v, is_causal),
        _qkv(q_shape, n_keys, dtype, device), atol, rtol,
        f"flash[{impl}] q={q_shape} Nk={n_keys} causal={is_causal}",
    )  # fmt: skip


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("impl", FUNCTIONS)
def test_saves_only_output_and_logsumexp(impl, is_causal):
    torch.manual_seed(0)
    device = triton_device() if impl == "triton" else "cpu"
    q, k, v = _qkv((2, 37, 16), 29, torch.float32, device)
    o = FUNCTIONS[impl].apply(q.requires_grad_(), k, v, is_causal)
    saved = o.grad_fn.saved_tensors
    lse = [t for t in saved if t.shape == (2, 37)]
    assert len(lse) == 1, f"expected one saved L of shape (2, 37), saved {[t.shape for t in saved]}"
    assert all(tuple(t.shape[-2:]) != (37, 29) for t in saved), "an (Nq, Nk) matrix was saved"
    s = q.detach() @ k.transpose(1, 2) / math.sqrt(16)  # (2, 37, 29)
    if is_causal:
        s = s.masked_fill(torch.ones(37, 29, dtype=torch.bool, device=device).triu(1), -math.inf)
    assert_close(lse[0], torch.logsumexp(s, dim=-1), *TOLERANCES[torch.float32], "saved L")


def test_dispatcher_picks_pytorch_on_cpu():
    q, k, v = _qkv((2, 9, 8), 9, torch.float32, "cpu")
    out = flash_attention(q.requires_grad_(), k, v, causal=True)
    assert type(out.grad_fn).__name__ == "FlashAttentionPytorchBackward"
    assert torch.allclose(out, attention_reference(q, k, v, True), atol=1e-6)


def test_rejects_mismatched_shapes_and_dtypes():
    q = torch.randn(2, 5, 8)
    with pytest.raises(
        ValueError, match=r"q=\(2, 5, 8\) k=\(2, 5, 4\).*expected q \(\.\.\., Nq, D\)"
    ):
        flash_attention(q, torch.randn(2, 5, 4), torch.randn(2, 5, 4))
    with pytest.raises(TypeError, match="torch.float64"):
        flash_attention(q.double(), q.double(), q.double())


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("head_dim", [64, 128])
def test_flash_large_on_gpu(head_dim, is_causal, dtype):
    torch.manual_seed(0)
    q, k, v = _qkv((2, 4, 1029, head_dim), 1029, dtype, "cuda")
    atol, rtol = GPU_TOLERANCES[dtype]
    compare_fwd_bwd(
        lambda q, k, v: flash_attention(q, k, v, is_causal),
        lambda q, k, v: attention_reference(q, k, v, is_causal),
        [q, k, v], atol, rtol, f"flash gpu D={head_dim} causal={is_causal}", is_atol_scaled=True
    )  # fmt: skip


@pytest.mark.skipif(HAS_CUDA, reason="interpreter tile sizes only; on a GPU autotune picks tiles")
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize(("q_tile", "k_tile"), [(32, 16), (16, 32)])
def test_triton_with_unequal_tiles(monkeypatch, q_tile, k_tile, is_causal):
    # Autotuned GPU configs use Q_TILE != K_TILE; the causal bounds must hold for those too.
    monkeypatch.setattr(flash_triton, "_INTERPRETER_TILES", {"Q_TILE": q_tile, "K_TILE": k_tile})
    torch.manual_seed(0)
    for q_shape, n_keys in [((2, 70, 16), 70), ((1, 45, 8), 33), ((2, 33, 24), 45)]:
        compare_fwd_bwd(
            lambda q, k, v: FlashAttentionTriton.apply(q, k, v, is_causal),
            lambda q, k, v: attention_reference(q, k, v, is_causal),
            _qkv(q_shape, n_keys, torch.float32, triton_device()), *TOLERANCES[torch.float32],
            f"flash[triton {q_tile}x{k_tile}] q={q_shape} Nk={n_keys} causal={is_causal}",
        )  # fmt: skip


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize(("q_tile", "k_tile"), [(8, 24), (24, 8)])
def test_pytorch_tiles_with_unequal_tiles(q_tile, k_tile, is_causal):
    torch.manual_seed(0)
    q, k, v = _qkv((2, 45, 8), 37, torch.float32, "cpu")
    o, lse = flash_forward_tiles(q, k, v, is_causal, q_tile, k_tile)
    assert_close(o, attention_reference(q, k, v, is_causal), 1e-5, 1e-5, "tiled forward")
    do = torch.randn_like(o)
    grads = flash_backward_tiles(q, k, v, o, lse, do, is_causal, q_tile, k_tile)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    attention_reference(*leaves, is_causal).backward(do)
    for name, g, leaf in zip("qkv", grads, leaves, strict=True):
        assert_close(g, leaf.grad, 1e-5, 1e-5, f"tiled backward d{name}")
