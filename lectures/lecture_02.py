"""Lecture 02: PyTorch and resource accounting

Tensors and their memory, number formats, the FLOPs of a matrix multiply, the 6N rule for training
and where training memory goes (parameters, gradients, optimizer state, activations), each number
measured on the machine that traces the lecture. Follows Stanford CS336 lecture 2.
"""

import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from execlecture import link, note, plot, text  # noqa: E402
from lm.accounting import (  # noqa: E402
    activation_bytes,
    parameter_count,
    saved_activation_bytes,
    static_training_bytes,
    train_flops_per_token,
)
from lm.model import TransformerLM, count_parameters  # noqa: E402
from lm.nn_utils import cross_entropy  # noqa: E402
from lm.optim import AdamW  # noqa: E402

IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"
MIB = 2**20
SMALL = {
    "vocab_size": 512,
    "context_length": 64,
    "d_model": 64,
    "num_layers": 2,
    "num_heads": 4,
    "d_ff": 176,
}
MEDIUM = {
    "vocab_size": 2048,
    "context_length": 128,
    "d_model": 128,
    "num_layers": 4,
    "num_heads": 4,
    "d_ff": 352,
}


def main():
    tensors_and_memory()  # a tensor is numbers plus a shape; memory = numel x bytes per number
    number_formats()  # fp32, bf16, fp16, fp8: range, precision, bytes
    matmul_flops()  # a [m,k] @ [k,n] matmul costs 2mnk FLOPs; measure FLOP/s here
    six_n_rule()  # training costs about 6 FLOPs per parameter per token
    training_memory()  # parameters, gradients, optimizer state, activations


def tensors_and_memory():
    """Tensors and memory"""
    text("# PyTorch and resource accounting")
    text(
        "Training a language model is a budget problem: a number of **FLOPs** (compute) and "
        "**bytes** (memory). Everything in this lecture is measured on the machine that traced it."
    )
    x = torch.zeros(4, 8)  # @inspect x
    num_elements = x.numel()  # @inspect num_elements
    bytes_per_element = x.element_size()  # @inspect bytes_per_element
    num_bytes = num_elements * bytes_per_element  # @inspect num_bytes
    text(f"A float32 tensor of shape {tuple(x.shape)} holds {num_elements} numbers of 4 bytes.")
    text("A tensor is a view onto storage: transposing or slicing changes strides, not data.")
    y = x.T  # @inspect y
    is_same_storage = (
        y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    )  # @inspect is_same_storage
    strides = (x.stride(), y.stride())  # @inspect strides
    is_contiguous = y.is_contiguous()  # @inspect is_contiguous
    text("`.contiguous()` (or `reshape` of a non-contiguous view) copies: that costs memory.")
    d_model, vocab_size = 4096, 50257
    embedding_mib = d_model * vocab_size * 4 / MIB  # @inspect embedding_mib
    text(
        f"One GPT-style embedding matrix [{vocab_size}, {d_model}] in float32: {embedding_mib:.0f} MiB."
    )


def number_formats():
    """Number formats"""
    text("Fewer bits per number: less memory and faster matmuls, but less range or precision.")
    formats = [torch.float32, torch.float16, torch.bfloat16, torch.float8_e4m3fn]
    table = {
        str(f).removeprefix("torch."): {
            "bytes": torch.finfo(f).bits // 8,
            "max": float(torch.finfo(f).max),
            "eps": float(torch.finfo(f).eps),
        }
        for f in formats
    }  # @inspect table
    text(
        "bf16 keeps float32's 8 exponent bits (same range) with only 7 mantissa bits; fp16 has "
        "more precision but overflows past 65504."
    )
    big = torch.tensor([70000.0])
    as_fp16 = big.half()  # @inspect as_fp16
    as_bf16 = big.bfloat16()  # @inspect as_bf16
    small_step = torch.tensor(1.0, dtype=torch.bfloat16) + 1e-3  # @inspect small_step
    text(
        f"In bf16, 1 + 0.001 = {small_step.item()}: updates much smaller than the weight vanish. "
        "That is why mixed precision keeps float32 master weights and optimizer state."
    )
    fp8 = torch.tensor([0.1, 1.0, 300.0, 1000.0]).to(torch.float8_e4m3fn).float()  # @inspect fp8
    text(
        f"fp8 (e4m3) stores 0.1 as {fp8[0].item():.4f} and saturates at {torch.finfo(torch.float8_e4m3fn).max}."
    )
    link(
        "https://arxiv.org/abs/1710.03740",
        title="Mixed Precision Training",
        authors=["Micikevicius et al."],
        date="2017",
    )


def time_matmul(n, dtype, repeats):  # @hide
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return (time.perf_counter() - start) / repeats


def matmul_flops():
    """FLOPs of a matmul"""
    text(
        "$C = AB$ with $A \\in \\mathbb{R}^{m \\times k}$, $B \\in \\mathbb{R}^{k \\times n}$: each of "
        "the $mn$ outputs needs $k$ multiplies and $k$ adds, so **2mnk FLOPs**."
    )
    m, k, n = 512, 512, 512
    flops = 2 * m * n * k  # @inspect flops
    sizes = [64, 128, 256] if IS_SMOKE else [64, 128, 256, 512, 768, 1024]
    repeats = 2 if IS_SMOKE else 5
    threads = torch.get_num_threads()  # @inspect threads
    results = {
        n: round(2 * n**3 / time_matmul(n, torch.float32, repeats) / 1e9, 2) for n in sizes
    }  # @inspect results
    best_gflops = max(results.values())  # @inspect best_gflops
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(list(results), list(results.values()), marker="o")
    ax.set_xlabel("n (square n x n matmul, float32)")
    ax.set_ylabel("GFLOP/s measured")
    ax.set_title(f"Matmul throughput on this machine ({threads} threads)")
    plot(fig)
    plt.close(fig)
    text(
        f"Small matmuls waste the machine (overheads dominate); large ones reach about "
        f"{best_gflops:.0f} GFLOP/s here. An H100 does ~989 TFLOP/s in dense bf16: MFU "
        "(model FLOPs utilization) is achieved FLOP/s over that peak."
    )


def six_n_rule():
    """The 6N rule"""
    text(
        "Forward: every parameter of a matrix is used in one multiply-add per token: **2N FLOPs "
        "per token**. Backward computes gradients for both the inputs and the weights: **4N**. "
        "Total **6N FLOPs per token** (plus attention scores, which grow with context length)."
    )
    link(
        "https://arxiv.org/abs/2001.08361",
        title="Scaling Laws for Neural Language Models",
        authors=["Kaplan et al."],
        date="2020",
    )
    shape = SMALL if IS_SMOKE else MEDIUM  # @inspect shape
    torch.manual_seed(0)
    model = TransformerLM(**shape)
    num_params = count_parameters(model)  # @inspect num_params
    formula_params = parameter_count(
        shape["vocab_size"],
        shape["d_model"],
        shape["num_layers"],
        shape["d_ff"],
        shape["num_heads"],
    )  # @inspect formula_params
    non_embedding = count_parameters(model, exclude_embeddings=True)  # @inspect non_embedding
    flops_per_token = train_flops_per_token(
        model, shape["context_length"]
    )  # @inspect flops_per_token
    ratio_to_6n = flops_per_token / (6 * non_embedding)  # @inspect ratio_to_6n
    text(
        f"Counting every matmul (including the attention scores) gives {ratio_to_6n:.2f} x 6N "
        "for this small model, where attention and the output layer are a large share."
    )
    batch = 4 if IS_SMOKE else 8
    tokens = torch.randint(0, shape["vocab_size"], (batch, shape["context_length"] + 1))
    opt = AdamW(model.parameters(), lr=1e-3)
    seconds = measure_train_step(model, opt, tokens, 1 if IS_SMOKE else 3)  # @inspect seconds
    achieved_gflops = (
        flops_per_token * batch * shape["context_length"] / seconds / 1e9
    )  # @inspect achieved_gflops
    text(
        f"One training step of {batch} x {shape['context_length']} tokens takes {seconds * 1e3:.0f} ms: {achieved_gflops:.1f} GFLOP/s of useful model FLOPs."
    )


def measure_train_step(model, opt, tokens, repeats):  # @hide
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        loss = cross_entropy(model(tokens[:, :-1]), tokens[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def training_memory():
    """Training memory"""
    text(
        "Training in float32 with AdamW holds, per parameter: the weight (4 bytes), its gradient "
        "(4), and Adam's two moments (8): **16 bytes per parameter**, before any activation."
    )
    shape = SMALL  # @inspect shape
    torch.manual_seed(0)
    model = TransformerLM(**shape)
    static = static_training_bytes(count_parameters(model))  # @inspect static
    text(
        "Activations are the tensors autograd keeps for the backward pass. Per layer, our model "
        "keeps about $10BTC + 5BTF + BHT^2$ numbers (see `lm.accounting.activation_bytes`): "
        "linear in batch size, quadratic in context length because of the attention matrix "
        "(only its softmax output: `lm.model.softmax` has a hand-written backward that needs "
        "nothing else)."
    )
    batch_sizes = [1, 2, 4] if IS_SMOKE else [1, 2, 4, 8, 16]
    measured, predicted = [], []
    for batch in batch_sizes:  # @stepover
        tokens = torch.randint(0, shape["vocab_size"], (batch, shape["context_length"] + 1))
        measured.append(
            saved_activation_bytes(
                lambda t=tokens: cross_entropy(model(t[:, :-1]), t[:, 1:]), list(model.parameters())
            )
            / MIB
        )
        sizes = {k: v for k, v in shape.items() if k != "context_length"}
        predicted.append(activation_bytes(batch, shape["context_length"], **sizes) / MIB)
    comparison = {
        b: (round(m, 2), round(p, 2))
        for b, m, p in zip(batch_sizes, measured, predicted, strict=True)
    }  # @inspect comparison
    worst_error = max(
        abs(p / m - 1) for m, p in zip(measured, predicted, strict=True)
    )  # @inspect worst_error
    static_mib = sum(static.values()) / MIB
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(
        [str(b) for b in batch_sizes],
        [static_mib] * len(batch_sizes),
        label="params + grads + AdamW",
    )
    ax.bar(
        [str(b) for b in batch_sizes],
        measured,
        bottom=[static_mib] * len(batch_sizes),
        label="activations (measured)",
    )
    ax.plot(
        [str(b) for b in batch_sizes], [static_mib + p for p in predicted], "k.--", label="formula"
    )
    ax.set_xlabel("batch size")
    ax.set_ylabel("MiB")
    ax.legend()
    ax.set_title("Training memory of a small TransformerLM")
    plot(fig)
    plt.close(fig)
    text(f"The formula is within {100 * worst_error:.1f}% of what autograd actually saves.")
    note(
        "Activation checkpointing trades memory for compute: keep only block inputs and recompute the rest in the backward pass."
    )


if __name__ == "__main__":
    main()
