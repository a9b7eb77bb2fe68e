"""lm.nn_utils, lm.optim, lm.data_loading, lm.checkpoint against PyTorch and by hand."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lm import model as M
from lm.checkpoint import load_checkpoint, save_checkpoint
from lm.data_loading import get_batch, load_tokens, write_tokens
from lm.nn_utils import clip_gradients, cross_entropy
from lm.optim import AdamW, cosine_lr


def test_cross_entropy_matches_torch_and_is_stable():
    torch.manual_seed(0)
    logits, targets = torch.randn(4, 6, 50) * 3, torch.randint(0, 50, (4, 6))
    torch.testing.assert_close(
        cross_entropy(logits, targets), F.cross_entropy(logits.view(-1, 50), targets.view(-1))
    )
    huge = torch.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
    loss = cross_entropy(huge, torch.tensor([0, 0]))
    assert torch.isfinite(loss) and abs(loss.item() - 5e3) < 1e-3  # (0 + 1e4) / 2


def test_cross_entropy_hand_written_backward_passes_gradcheck():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 7, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 7, (2, 3))
    assert torch.autograd.gradcheck(lambda z: cross_entropy(z, targets), (logits,))
    bf16 = logits.detach().bfloat16().requires_grad_()
    cross_entropy(bf16, targets).backward()
    assert bf16.grad is not None and bf16.grad.dtype == torch.bfloat16


def test_clip_gradients_matches_torch():
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(5, 3)) for _ in range(3)]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    for p, q in zip(a, b, strict=True):
        p.grad = torch.randn_like(p) * 10
        q.grad = p.grad.clone()
    norm = clip_gradients(a, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(b, 1.0)
    torch.testing.assert_close(norm, expected)
    for p, q in zip(a, b, strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-6, rtol=1e-5)
    small = torch.nn.Parameter(torch.zeros(2))
    small.grad = torch.tensor([0.3, 0.4])
    clip_gradients([small], 1.0)  # norm 0.5 < 1: untouched
    torch.testing.assert_close(small.grad, torch.tensor([0.3, 0.4]))


def test_adamw_matches_torch():
    torch.manual_seed(0)
    ours_model = M.TransformerLM(32, 16, 16, 1, 2, 24)
    ref_model = M.TransformerLM(32, 16, 16, 1, 2, 24)
    ref_model.load_state_dict(ours_model.state_dict())
    kwargs = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)  # noqa: C408
    ours, ref = (
        AdamW(ours_model.parameters(), **kwargs),
        torch.optim.AdamW(ref_model.parameters(), **kwargs),
    )
    x = torch.randint(0, 32, (2, 9))
    for _ in range(5):
        for model, opt in ((ours_model, ours), (ref_model, ref)):
            opt.zero_grad()
            cross_entropy(model(x[:, :-1]), x[:, 1:]).backward()
            opt.step()
    for (name, p), q in zip(ours_model.named_parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4, msg=name)


def test_cosine_lr_by_hand():
    args = dict(max_lr=1.0, min_lr=0.1, warmup_iters=10, cosine_cycle_iters=110)  # noqa: C408
    assert cosine_lr(0, **args) == 0.0
    assert cosine_lr(5, **args) == 0.5
    assert cosine_lr(10, **args) == 1.0
    assert cosine_lr(60, **args) == pytest.approx(0.55)  # halfway: (1 + 0.1) / 2
    assert cosine_lr(110, **args) == pytest.approx(0.1)
    assert cosine_lr(500, **args) == 0.1


def test_get_batch_windows_are_shifted_by_one(tmp_path):
    path = tmp_path / "tokens.bin"
    write_tokens(str(path), np.arange(100))
    data = load_tokens(str(path))
    x, y = get_batch(data, 8, 5, "cpu", np.random.default_rng(0))
    assert x.shape == y.shape == (8, 5) and x.dtype == torch.int64
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(x - x[:, :1], torch.arange(5).expand(8, 5))  # contiguous windows
    starts = get_batch(data, 3000, 5, "cpu", np.random.default_rng(0))[0][:, 0]
    assert starts.min() == 0 and starts.max() == 94  # every window start 0..N-T-1 reachable
    with pytest.raises(ValueError, match="context_length=100"):
        get_batch(data, 1, 100)
    with pytest.raises(ValueError, match="uint16"):
        write_tokens(str(tmp_path / "big.bin"), [70000])


def test_checkpoint_round_trip_resumes_identically(tmp_path):
    def make():
        torch.manual_seed(0)
        model = M.TransformerLM(32, 16, 16, 1, 2, 24)
        return model, AdamW(model.parameters(), lr=1e-2)

    x = torch.randint(0, 32, (2, 9), generator=torch.Generator().manual_seed(1))

    def steps(model, opt, n):
        losses = []
        for _ in range(n):
            opt.zero_grad()
            loss = cross_entropy(model(x[:, :-1]), x[:, 1:])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    model, opt = make()
    straight = steps(model, opt, 6)
    model, opt = make()
    steps(model, opt, 3)
    save_checkpoint(model, opt, 3, tmp_path / "ckpt.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temp file left
    model, opt = make()
    assert load_checkpoint(tmp_path / "ckpt.pt", model, opt) == 3
    assert steps(model, opt, 3) == straight[3:]
    buffer = io.BytesIO()
    save_checkpoint(model, opt, 6, buffer)
    buffer.seek(0)
    assert load_checkpoint(buffer, model) == 6


def test_checkpoint_from_other_architecture_is_refused(tmp_path):
    save_checkpoint(M.TransformerLM(32, 16, 16, 1, 2, 24), None, 0, tmp_path / "a.pt")
    with pytest.raises(ValueError, match="another architecture.*d_model"):
        load_checkpoint(tmp_path / "a.pt", M.TransformerLM(32, 16, 32, 1, 2, 24))
    plain = torch.nn.Linear(3, 3)
    save_checkpoint(plain, None, 0, tmp_path / "b.pt")
    with pytest.raises(ValueError, match="does not fit"):
        load_checkpoint(tmp_path / "b.pt", torch.nn.Linear(3, 4))
