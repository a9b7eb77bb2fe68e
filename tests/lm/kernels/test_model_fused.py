"""TransformerLM(is_fused=True) routes RMSNorm, SwiGLU and attention through lm.kernels."""

import pytest
import torch
from kernel_checks import assert_close, requires_cuda

from lm.model import TransformerLM

CONFIG = {
    "vocab_size": 50,
    "context_length": 40,
    "d_model": 32,
    "num_layers": 2,
    "num_heads": 4,
    "d_ff": 48,
}


def _logits_and_grads(model, tokens):
    model.zero_grad()
    logits = model(tokens)
    logits.float().square().mean().backward()
    return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("num_kv_heads", [4, 2])
def test_fused_model_matches_plain_model(num_kv_heads):
    torch.manual_seed(0)
    plain = TransformerLM(**CONFIG, num_kv_heads=num_kv_heads)
    fused = TransformerLM(**CONFIG, num_kv_heads=num_kv_heads, is_fused=True)
    fused.load_state_dict(plain.state_dict())
    tokens = torch.randint(0, 50, (2, 37))  # 37: several 32-wide PyTorch tiles, one partial
    logits, grads = _logits_and_grads(plain, tokens)
    fused_logits, fused_grads = _logits_and_grads(fused, tokens)
    assert_close(fused_logits, logits, 1e-5, 1e-4, "fused model logits")
    for name, grad in grads.items():
        assert_close(fused_grads[name], grad, 1e-5, 1e-4, f"fused model grad {name}")


def test_fused_model_really_calls_the_kernels(monkeypatch):
    import lm.kernels

    calls = []
    original = lm.kernels.flash_attention

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(lm.kernels, "flash_attention", spy)
    model = TransformerLM(**CONFIG, is_fused=True)
    model(torch.randint(0, 50, (1, 9)))
    assert calls == [torch.Size([1, 4, 9, 8])] * CONFIG["num_layers"]


def test_kv_cache_decoding_falls_back_to_masked_attention():
    torch.manual_seed(0)
    model = TransformerLM(**CONFIG, is_fused=True)
    tokens = torch.randint(0, 50, (1, 12))
    full = model(tokens)
    cache = model.new_kv_cache(1)
    model(tokens[:, :8], kv_cache=cache)
    step = model(tokens[:, 8:], kv_cache=cache)
    assert_close(step, full[:, 8:], 1e-5, 1e-4, "cached decode vs full forward")


@pytest.mark.gpu
@requires_cuda
def test_fused_model_on_gpu_bf16():
    torch.manual_seed(0)
    kwargs = {
        "vocab_size": 500,
        "context_length": 300,
        "d_model": 256,
        "num_layers": 2,
        "num_heads": 4,
        "d_ff": 688,
    }
    plain = TransformerLM(**kwargs, device="cuda", dtype=torch.bfloat16)
    fused = TransformerLM(**kwargs, is_fused=True, device="cuda", dtype=torch.bfloat16)
    fused.load_state_dict(plain.state_dict())
    tokens = torch.randint(0, 500, (4, 257), device="cuda")
    logits, _ = _logits_and_grads(plain, tokens)
    fused_logits, _ = _logits_and_grads(fused, tokens)
    assert_close(fused_logits, logits, 5e-2, 5e-2, "fused bf16 logits on GPU", is_atol_scaled=True)
