"""Lecture 03: Architecture and training

Building the Transformer language model of lm.model piece by piece (embeddings, RMSNorm, attention
with RoPE, SwiGLU, blocks), the variants people argue about, and a short training run with its loss
curve next to a bigram baseline. Follows Stanford CS336 lectures 3 and 4 (assignment 1).
"""

import json
import os
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from execlecture import link, note, plot, text  # noqa: E402
from lm import model as M  # noqa: E402
from lm.nn_utils import cross_entropy  # noqa: E402
from lm.optim import cosine_lr  # noqa: E402
from lm.train import train  # noqa: E402
from lm.train_config import config_from_dict  # noqa: E402

IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"


def main():
    the_pieces()  # embeddings, RMSNorm, attention with RoPE, SwiGLU
    the_model()  # blocks stacked into TransformerLM; the state_dict names
    variants()  # LayerNorm, post-norm, ReLU/GeLU, sinusoidal, GQA, tying
    training_ingredients()  # cross-entropy, AdamW, cosine schedule, clipping
    a_training_run()  # train on TinyStories and compare with a bigram model


def the_pieces():
    """The pieces"""
    text("# Architecture and training")
    text(
        "A decoder-only Transformer maps token ids $[B, T]$ to next-token logits $[B, T, V]$. "
        "We build the Llama-style recipe: pre-norm RMSNorm, RoPE, SwiGLU, no biases."
    )
    link(
        "https://arxiv.org/abs/1706.03762",
        title="Attention Is All You Need",
        authors=["Vaswani et al."],
        date="2017",
    )
    torch.manual_seed(0)
    B, T, C, H, V = 2, 5, 16, 4, 50
    ids = torch.randint(0, V, (B, T))  # @inspect ids
    embedding = M.Embedding(V, C)
    x = embedding(ids)  # @inspect x
    text(
        "**RMSNorm** rescales each vector to unit root-mean-square (in float32), then by a learned gain."
    )
    link(
        "https://arxiv.org/abs/1910.07467",
        title="Root Mean Square Layer Normalization",
        authors=["Zhang", "Sennrich"],
        date="2019",
    )
    norm = M.RMSNorm(C)
    h = norm(x)  # @inspect h
    rms_after = h.pow(2).mean(-1).sqrt()  # @inspect rms_after
    text(
        "**Attention**: each position mixes the values of earlier positions, weighted by query-key similarity."
    )
    attn = M.CausalMultiHeadSelfAttention(C, H, max_seq_len=16, theta=10000.0)
    q = attn.q_proj(h).view(B, T, H, C // H).transpose(1, 2)  # @inspect q
    mask = M.causal_mask(T, T)  # @inspect mask
    k = attn.k_proj(h).view(B, T, H, C // H).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / (C // H) ** 0.5  # @inspect scores
    weights = M.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # @inspect weights
    text(
        "Row $i$ of `weights` sums to one over positions $\\le i$: the model cannot peek at the future."
    )
    text(
        "**RoPE** rotates each pair of query/key dimensions by an angle proportional to the position, "
        "so $\\langle R_m q, R_n k \\rangle$ depends only on $m - n$."
    )
    link(
        "https://arxiv.org/abs/2104.09864",
        title="RoFormer: Rotary Position Embedding",
        authors=["Su et al."],
        date="2021",
    )
    rope = M.RotaryEmbedding(10000.0, 4, 16)
    vec = torch.tensor([1.0, 0.0, 1.0, 0.0])
    rotated = rope(vec.expand(4, 4), torch.arange(4))  # @inspect rotated
    qv, kv = torch.randn(4), torch.randn(4)
    dot_3_1 = (
        rope(qv[None], torch.tensor([3])) @ rope(kv[None], torch.tensor([1])).T
    ).item()  # @inspect dot_3_1
    dot_7_5 = (
        rope(qv[None], torch.tensor([7])) @ rope(kv[None], torch.tensor([5])).T
    ).item()  # @inspect dot_7_5
    out = attn(h)  # @inspect out
    text("**SwiGLU**: a gated MLP, $W_2(\\mathrm{silu}(W_1 x) \\odot W_3 x)$.")
    link(
        "https://arxiv.org/abs/2002.05202",
        title="GLU Variants Improve Transformer",
        authors=["Shazeer"],
        date="2020",
    )
    ffn = M.SwiGLU(C, 3 * C)
    y = ffn(h)  # @inspect y


def the_model():
    """The model"""
    text(
        "A block adds attention and MLP outputs to the residual stream, each after a norm (pre-norm):"
    )
    text(
        "$$x \\leftarrow x + \\mathrm{Attn}(\\mathrm{RMSNorm}(x)), \\quad x \\leftarrow x + \\mathrm{SwiGLU}(\\mathrm{RMSNorm}(x))$$"
    )
    torch.manual_seed(0)
    lm = M.TransformerLM(
        vocab_size=50, context_length=16, d_model=16, num_layers=2, num_heads=4, d_ff=48
    )
    ids = torch.randint(0, 50, (2, 5))
    logits = lm(ids)  # @inspect logits
    names = list(lm.state_dict())[:11]  # @inspect names
    text(
        "The module names are the `state_dict` keys of the course (token_embeddings, layers.i.attn.q_proj, "
        "..., ln_final, lm_head), so weights move between implementations without renaming."
    )
    num_params = M.count_parameters(lm)  # @inspect num_params
    initial_loss = cross_entropy(
        logits, torch.randint(0, 50, (2, 5))
    ).item()  # @inspect initial_loss
    text(
        f"At initialization the loss is close to $\\ln V = {torch.log(torch.tensor(50.0)).item():.2f}$: a near-uniform guess."
    )


def variants():
    """Variants"""
    text(
        "Each choice is a keyword option of `TransformerLM`, so the variants share all other code."
    )
    base = {
        "vocab_size": 512,
        "context_length": 64,
        "d_model": 64,
        "num_layers": 2,
        "num_heads": 8,
        "d_ff": 176,
    }
    options = {
        "llama (default)": {},
        "LayerNorm": {"norm": "layernorm"},
        "post-norm": {"is_post_norm": True},
        "GeLU MLP (d_ff=256)": {"ffn": "gelu", "d_ff": 256},
        "sinusoidal positions": {"position": "sinusoidal"},
        "GQA (2 kv heads)": {"num_kv_heads": 2},
        "tied embeddings": {"is_tied": True},
    }
    table = {name: describe_variant(base, opt) for name, opt in options.items()}  # @inspect table
    text(
        "- **LayerNorm vs RMSNorm**: RMSNorm drops the mean and the bias; as good, a bit cheaper.\n"
        "- **Pre vs post norm**: post-norm (the 2017 original) normalizes the residual stream itself; "
        "pre-norm keeps a clean residual path and trains stably without warmup tricks.\n"
        "- **GeLU vs SwiGLU**: with $d_{ff} = \\frac{8}{3} d$ SwiGLU has the parameters of a $4d$ MLP.\n"
        "- **Sinusoidal vs RoPE**: absolute positions added once vs relative rotation in every layer.\n"
        "- **GQA**: several query heads share a key/value head: a smaller KV cache at inference.\n"
        "- **Tying** the embedding and output matrices saves $V \\cdot d$ parameters."
    )
    link(
        "https://arxiv.org/abs/2002.04745",
        title="On Layer Normalization in the Transformer Architecture",
        authors=["Xiong et al."],
        date="2020",
    )
    link(
        "https://arxiv.org/abs/2305.13245",
        title="GQA: Training Generalized Multi-Query Transformer Models",
        authors=["Ainslie et al."],
        date="2023",
    )


def describe_variant(base, option):  # @hide
    torch.manual_seed(0)
    model = M.TransformerLM(**{**base, **option})
    ids = torch.randint(0, base["vocab_size"], (4, base["context_length"]))
    start = time.perf_counter()
    with torch.no_grad():
        model(ids)
    kv_values = 2 * model.num_layers * model.num_kv_heads * (model.d_model // model.num_heads)
    return {"params": M.count_parameters(model), "kv_values_per_token": kv_values,
            "forward_ms": round(1e3 * (time.perf_counter() - start), 1)}  # fmt: skip


def training_ingredients():
    """Training ingredients"""
    text(
        "Loss: cross-entropy $-\\log p(x_{t+1} \\mid x_{\\le t})$, computed from logits with the "
        "log-sum-exp trick so huge logits do not overflow:"
    )
    logits = torch.tensor([[1000.0, 0.0, -1000.0]])
    naive = -torch.log(torch.exp(logits[0, 0]) / torch.exp(logits).sum()).item()  # @inspect naive
    stable = cross_entropy(logits, torch.tensor([0])).item()  # @inspect stable
    text(
        "Optimizer: **AdamW**, Adam with weight decay applied to the weights directly rather than "
        "through the gradient. Learning rate: linear warmup then cosine decay. Gradients are "
        "clipped to a maximum global norm to survive loss spikes."
    )
    link(
        "https://arxiv.org/abs/1711.05101",
        title="Decoupled Weight Decay Regularization",
        authors=["Loshchilov", "Hutter"],
        date="2017",
    )
    steps = list(range(0, 1001, 10))
    lrs = [cosine_lr(t, 3e-3, 3e-4, 50, 1000) for t in steps]
    fig, ax = plt.subplots(figsize=(5, 2.5))
    ax.plot(steps, lrs)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title("Warmup 50 steps, cosine to 10% at 1000")
    plot(fig)
    plt.close(fig)


def a_training_run():
    """A training run"""
    text(
        "Now a real run with `lm.train` (the same code as `python -m lm.train`): our BPE tokenizer "
        "trained on 2 MiB of TinyStories, a small model, AdamW, the cosine schedule."
    )
    out_dir = tempfile.mkdtemp(prefix="lecture03_")
    max_steps = 8 if IS_SMOKE else 500
    config = config_from_dict(make_config(out_dir, max_steps), "lecture_03")
    summary = train(config)  # @inspect summary
    records = [
        json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines()
    ]
    steps = [r["step"] for r in records if "loss" in r]
    losses = [r["loss"] for r in records if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(steps, losses, label="train")
    ax.plot([s for s, _ in val], [v for _, v in val], "o", label="validation")
    ax.axhline(summary["bigram_val_loss"], color="gray", linestyle="--", label="bigram (val)")
    ax.axhline(summary["unigram_val_loss"], color="gray", linestyle=":", label="unigram (val)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.legend()
    ax.set_title(f"TransformerLM on TinyStories, {max_steps} steps")
    plot(fig)
    plt.close(fig)
    gap_to_bigram = summary["val_loss"] - summary["bigram_val_loss"]  # @inspect gap_to_bigram
    text(
        f"After {summary['step']} steps the validation loss is {summary['val_loss']:.3f} nats/token; "
        f"a bigram model counted on the same tokens gets {summary['bigram_val_loss']:.3f}. "
        "A short run on 2 CPU cores is still above it: beating the bigram needs more steps."
        if gap_to_bigram > 0
        else f"After {summary['step']} steps the validation loss {summary['val_loss']:.3f} is already "
        f"below the bigram model's {summary['bigram_val_loss']:.3f}."
    )
    note(
        "The full CPU config (configs/tinystories_cpu.yaml) trains longer; see `python -m lm.train`."
    )


def make_config(out_dir, max_steps):  # @hide
    return {
        "out_dir": out_dir, "num_threads": 1,
        "data": {"text": "ts_2MiB.txt", "vocab_size": 1024},
        "model": {"context_length": 64, "d_model": 64, "num_layers": 2, "num_heads": 4, "d_ff": 176},
        "train": {"batch_size": 16, "max_steps": max_steps, "lr": 5e-3, "min_lr": 5e-4,
                  "warmup_steps": max(1, max_steps // 10), "eval_every": max(4, max_steps // 5),
                  "eval_batches": 4, "log_every": 2, "checkpoint_every": 10_000},
    }  # fmt: skip


if __name__ == "__main__":
    main()
