"""lm.model: shapes, equivalence with PyTorch built-ins, gradcheck, snapshots, KV cache, overfit."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lm import model as M

SNAPSHOTS = Path(__file__).parent / "snapshots"
SNAPSHOT_RTOL, SNAPSHOT_ATOL = 1e-5, 1e-6
TINY = dict(vocab_size=32, context_length=16, d_model=16, num_layers=2, num_heads=4, d_ff=24)  # noqa: C408


def tiny_lm(seed: int = 0, **options) -> M.TransformerLM:
    torch.manual_seed(seed)
    return M.TransformerLM(**{**TINY, **options})


def test_state_dict_keys_are_the_course_names():
    keys = set(tiny_lm().state_dict())
    expected = {"token_embeddings.weight", "ln_final.weight", "lm_head.weight"}
    for i in range(2):
        expected |= {f"layers.{i}.ln1.weight", f"layers.{i}.ln2.weight"}
        expected |= {f"layers.{i}.attn.{p}_proj.weight" for p in ("q", "k", "v", "output")}
        expected |= {f"layers.{i}.ffn.w{j}.weight" for j in (1, 2, 3)}
    assert keys == expected


def test_shapes():
    lm = tiny_lm()
    x = torch.randint(0, 32, (3, 7))
    assert lm(x).shape == (3, 7, 32)
    assert M.Linear(5, 3).weight.shape == (3, 5)
    assert M.Embedding(32, 4)(x).shape == (3, 7, 4)
    assert M.SwiGLU(8, 12)(torch.randn(2, 8)).shape == (2, 8)
    attn = M.CausalMultiHeadSelfAttention(16, 4, 16, 10000.0)
    assert attn(torch.randn(2, 5, 16)).shape == (2, 5, 16)


def test_linear_init_is_truncated_normal():
    torch.manual_seed(0)
    w = M.Linear(300, 500).weight
    std = (2 / 800) ** 0.5
    assert abs(w.std().item() - std) / std < 0.15  # truncation shrinks std by ~1.3%
    assert w.abs().max().item() <= 3 * std + 1e-6


def test_softmax_stable_for_large_logits():
    x = torch.tensor([[1000.0, 1000.0, -1000.0], [1e4, 0.0, 0.0]])
    out = M.softmax(x, dim=-1)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.softmax(x, dim=-1))


def test_sdpa_matches_torch():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 8)
    mask = torch.rand(5, 7) > 0.3
    mask[:, 0] = True  # no fully masked row (torch gives NaN there too)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(M.scaled_dot_product_attention(q, k, v, mask), expected)


def test_causal_attention_matches_torch_is_causal():
    torch.manual_seed(0)
    attn = M.CausalMultiHeadSelfAttention(16, 4)
    x = torch.randn(2, 6, 16)
    B, T, _ = x.shape
    heads = [p(x).view(B, T, 4, 4).transpose(1, 2) for p in (attn.q_proj, attn.k_proj, attn.v_proj)]
    ref = F.scaled_dot_product_attention(*heads, is_causal=True).transpose(1, 2).reshape(B, T, 16)
    torch.testing.assert_close(attn(x), attn.output_proj(ref))


def test_rmsnorm_matches_torch_and_keeps_dtype():
    torch.manual_seed(0)
    ours, theirs = M.RMSNorm(8), torch.nn.RMSNorm(8, eps=1e-5)
    with torch.no_grad():
        ours.weight.uniform_()
        theirs.weight.copy_(ours.weight)
    x = torch.randn(3, 4, 8) * 5
    torch.testing.assert_close(ours(x), theirs(x))
    assert ours(x.bfloat16()).dtype == torch.bfloat16


def test_layernorm_matches_torch():
    torch.manual_seed(0)
    ours, theirs = M.LayerNorm(8), torch.nn.LayerNorm(8, eps=1e-5)
    x = torch.randn(3, 8) * 3 + 1
    torch.testing.assert_close(ours(x), theirs(x))


def test_silu_and_gelu_mlp_match_torch():
    x = torch.randn(50)
    torch.testing.assert_close(M.silu(x), F.silu(x))
    mlp = M.MLP(4, 6, "gelu")
    y = torch.randn(2, 4)
    torch.testing.assert_close(mlp(y), mlp.w2(F.gelu(mlp.w1(y))))


def test_rope_rotates_interleaved_pairs():
    rope = M.RotaryEmbedding(10000.0, 4, 8)
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0]] * 3)  # [T=3, D=4]
    out = rope(x, torch.tensor([0, 1, 2]))
    # pair (0,1) turns by pos * 1 rad, pair (2,3) by pos * 10000^(-1/2) rad
    for pos in range(3):
        for pair, freq in ((0, 1.0), (1, 0.01)):
            angle = torch.tensor(pos * freq)
            expected = torch.stack((angle.cos(), angle.sin()))
            torch.testing.assert_close(out[pos, 2 * pair : 2 * pair + 2], expected)
    # relative: <R(m) q, R(n) k> depends only on m - n
    q, k = torch.randn(4), torch.randn(4)
    dot = lambda m, n: rope(q[None], torch.tensor([m])) @ rope(k[None], torch.tensor([n])).T  # noqa: E731
    torch.testing.assert_close(dot(5, 3), dot(4, 2))


def test_gradcheck_float64():
    torch.manual_seed(0)
    lm = M.TransformerLM(**{**TINY, "num_layers": 1}, dtype=torch.float64)
    x = torch.randint(0, 32, (2, 5))
    emb = lm.token_embeddings(x).detach().requires_grad_()

    def from_embeddings(h):
        for layer in lm.layers:
            h = layer(h)
        return lm.lm_head(lm.ln_final(h))

    assert torch.autograd.gradcheck(from_embeddings, (emb,), eps=1e-6, atol=1e-5)
    inputs = torch.randn(2, 3, 4, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: M.softmax(t, -1), (inputs,))
    norm = M.RMSNorm(8, dtype=torch.float64)
    assert torch.autograd.gradcheck(norm, (inputs,))


def test_gqa_equals_mha_with_repeated_kv_heads():
    torch.manual_seed(0)
    gqa = M.CausalMultiHeadSelfAttention(16, 4, 16, 10000.0, num_kv_heads=2)
    mha = M.CausalMultiHeadSelfAttention(16, 4, 16, 10000.0)
    with torch.no_grad():
        mha.q_proj.weight.copy_(gqa.q_proj.weight)
        mha.output_proj.weight.copy_(gqa.output_proj.weight)
        for name in ("k_proj", "v_proj"):  # kv head j serves query heads 2j, 2j+1
            w = getattr(gqa, name).weight.view(2, 1, 4, 16).expand(2, 2, 4, 16).reshape(16, 16)
            getattr(mha, name).weight.copy_(w)
    x = torch.randn(2, 6, 16)
    torch.testing.assert_close(gqa(x), mha(x))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"num_kv_heads": 2},
        {"norm": "layernorm", "ffn": "relu", "position": "sinusoidal", "is_post_norm": True},
        {"ffn": "gelu", "position": "none", "is_tied": True},
    ],
)
def test_kv_cache_equals_full_forward(options):
    lm = tiny_lm(**options)
    x = torch.randint(0, 32, (2, 12))
    full = lm(x)
    cache = lm.new_kv_cache(2)
    pieces = [lm(x[:, :5], kv_cache=cache)] + [
        lm(x[:, t : t + 1], kv_cache=cache) for t in range(5, 12)
    ]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full)
    assert cache.length == 12


def test_left_padding_with_key_mask_and_positions():
    lm = tiny_lm()
    short, long = torch.randint(0, 32, (1, 4)), torch.randint(0, 32, (1, 7))
    batch = torch.cat([torch.cat([torch.zeros(1, 3, dtype=torch.long), short], 1), long])  # [2, 7]
    key_mask = torch.tensor([[False] * 3 + [True] * 4, [True] * 7])
    positions = (key_mask.cumsum(-1) - 1).clamp(min=0)  # [2, 7]
    out = lm(batch, positions, key_mask=key_mask)
    torch.testing.assert_close(out[0, 3:], lm(short)[0])
    torch.testing.assert_close(out[1], lm(long)[0])
    assert torch.isfinite(out).all()


def test_tied_weights_are_one_tensor():
    lm = tiny_lm(is_tied=True)
    assert lm.lm_head.weight is lm.token_embeddings.weight
    untied = M.count_parameters(tiny_lm())
    assert M.count_parameters(lm) == untied - 32 * 16


def test_bad_inputs_raise_value_error():
    lm = tiny_lm()
    with pytest.raises(ValueError, match="context_length=16"):
        lm(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="'batchnorm'"):
        tiny_lm(norm="batchnorm")
    with pytest.raises(ValueError, match="num_kv_heads=3"):
        tiny_lm(num_kv_heads=3)
    with pytest.raises(ValueError, match="max_seq_len=8"):
        M.RotaryEmbedding(10000.0, 4, 8)(torch.randn(9, 4), torch.arange(9))


def test_numeric_snapshot():
    """Logits of a fixed tiny model on fixed tokens; weights live in the snapshot too."""
    path = SNAPSHOTS / "tiny_lm_logits.npz"
    lm = tiny_lm(seed=1234)
    x = torch.arange(12).reshape(2, 6) * 5 % 32
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        arrays = {f"param/{k}": v.numpy() for k, v in lm.state_dict().items()}
        np.savez(path, tokens=x.numpy(), logits=lm(x).detach().numpy(), **arrays)
    snap = np.load(path)
    state = {
        k.removeprefix("param/"): torch.from_numpy(snap[k]) for k in snap if k.startswith("param/")
    }
    lm.load_state_dict(state)
    got = lm(torch.from_numpy(snap["tokens"])).detach().numpy()
    np.testing.assert_allclose(got, snap["logits"], rtol=SNAPSHOT_RTOL, atol=SNAPSHOT_ATOL)


def test_overfits_one_batch():
    lm = tiny_lm()
    torch.manual_seed(0)
    x = torch.randint(0, 32, (4, 16))
    opt = torch.optim.AdamW(lm.parameters(), lr=1e-2)
    for _ in range(150):
        logits = lm(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 32), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05, loss.item()
