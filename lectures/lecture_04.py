"""Lecture 04: Inference

Generating text with lm.model: prefill vs decode, arithmetic intensity, the KV cache and its size,
batching, and speculative decoding, each measured on the machine that traces the lecture. Follows
Stanford CS336's inference lecture.
"""

import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from execlecture import link, note, plot, text  # noqa: E402
from lm.generate import Sampling, generate, speculative_generate  # noqa: E402
from lm.model import TransformerLM  # noqa: E402
from lm.nn_utils import cross_entropy  # noqa: E402
from lm.optim import AdamW  # noqa: E402

IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"
SHAPE = {
    "vocab_size": 2048,
    "context_length": 320,
    "d_model": 128,
    "num_layers": 4,
    "num_heads": 4,
    "d_ff": 352,
}
GREEDY = Sampling(temperature=0)


def main():
    prefill_and_decode()  # the prompt is processed in parallel, new tokens one at a time
    arithmetic_intensity()  # FLOPs per byte moved decides compute- vs memory-bound
    kv_cache()  # keep keys and values instead of recomputing them
    batching()  # decode many sequences at once to reuse the weights
    speculative_decoding()  # a cheap draft proposes, the target verifies


def make_model(**overrides):  # @hide
    torch.manual_seed(0)
    return TransformerLM(**{**SHAPE, **overrides}).eval()


def prefill_and_decode():
    """Prefill and decode"""
    text("# Inference")
    text(
        "Generation has two phases. **Prefill** runs the whole prompt through the model in one "
        "forward pass (all positions in parallel). **Decode** then produces one token per forward "
        "pass, each depending on the previous one."
    )
    note(
        "We time inference on one CPU thread: single-token ops are too small to split, and on a "
        "shared machine a second OpenMP thread spinning at barriers made them ~20x slower."
    )
    torch.set_num_threads(1)
    model = make_model()
    prompt_len = 32 if IS_SMOKE else 128
    prompt = torch.randint(0, SHAPE["vocab_size"], (1, prompt_len))
    with torch.no_grad():
        cache = model.new_kv_cache(1)
        start = time.perf_counter()
        model(prompt, kv_cache=cache)
        prefill_s = time.perf_counter() - start  # @inspect prefill_s
        num_decode = 8 if IS_SMOKE else 32
        start = time.perf_counter()
        for _ in range(num_decode):  # @stepover
            model(torch.randint(0, SHAPE["vocab_size"], (1, 1)), kv_cache=cache)
        decode_s = (time.perf_counter() - start) / num_decode  # @inspect decode_s
    prefill_tokens_per_s = prompt_len / prefill_s  # @inspect prefill_tokens_per_s
    decode_tokens_per_s = 1 / decode_s  # @inspect decode_tokens_per_s
    text(
        f"Prefill processes {prefill_tokens_per_s:.0f} tokens/s, decode only {decode_tokens_per_s:.0f}: "
        "a decode step does almost as much work per *weight read* as prefill, but for one token."
    )


def arithmetic_intensity():
    """Arithmetic intensity"""
    text(
        "A matmul $[B, d] \\times [d, d]$ does $2Bd^2$ FLOPs and reads $2d^2$ bytes of bf16 weights "
        "(plus small activations): **arithmetic intensity** $\\approx B$ FLOPs per byte. A GPU "
        "needs ~300 FLOPs/byte (H100: 989 TFLOP/s / 3.35 TB/s) to be compute-bound."
    )
    link(
        "https://arxiv.org/abs/2211.05102",
        title="Efficiently Scaling Transformer Inference",
        authors=["Pope et al."],
        date="2022",
    )
    d = 4096
    intensity = {
        n: round(2 * n * d * d / (2 * (d * d + 2 * n * d)), 1) for n in [1, 8, 64, 512, 4096]
    }  # @inspect intensity
    h100_balance = 989e12 / 3.35e12  # @inspect h100_balance
    text(
        "Decode at batch 1 has intensity ~1: it is **memory-bound**, limited by how fast the weights "
        "stream from memory. Prefill over hundreds of tokens is compute-bound."
    )
    n = 256 if IS_SMOKE else 1024
    big = torch.randn(n * n * 8)
    start = time.perf_counter()
    big.clone()
    copy_gbs = 2 * big.nbytes / (time.perf_counter() - start) / 1e9  # @inspect copy_gbs
    a = torch.randn(n, n)
    start = time.perf_counter()
    a @ a
    matmul_gflops = 2 * n**3 / (time.perf_counter() - start) / 1e9  # @inspect matmul_gflops
    machine_balance = matmul_gflops / copy_gbs  # @inspect machine_balance
    text(
        f"This machine: ~{matmul_gflops:.0f} GFLOP/s, ~{copy_gbs:.1f} GB/s memory copy: balance ~{machine_balance:.0f} FLOPs/byte."
    )


def kv_cache():
    """The KV cache"""
    text(
        "Without a cache, step $t$ recomputes keys and values of all $t$ earlier tokens: $O(t^2)$ work "
        "for $t$ tokens. The **KV cache** stores them: per token, $2 \\cdot L \\cdot K \\cdot D$ numbers "
        "(keys and values, L layers, K key/value heads of dim D)."
    )
    model = make_model()
    cache = model.new_kv_cache(batch_size=1)
    bytes_per_token = cache.nbytes() // SHAPE["context_length"]  # @inspect bytes_per_token
    formula = 2 * SHAPE["num_layers"] * SHAPE["d_model"] * 4  # @inspect formula
    llama2_7b_per_token = 2 * 32 * 32 * 128 * 2  # @inspect llama2_7b_per_token
    llama2_7b_4k_batch16_gib = (
        llama2_7b_per_token * 4096 * 16 / 2**30
    )  # @inspect llama2_7b_4k_batch16_gib
    text(
        f"For Llama-2-7B in bf16 that is {llama2_7b_per_token // 1024} KiB per token: a batch of 16 "
        f"sequences of 4096 tokens needs {llama2_7b_4k_batch16_gib:.0f} GiB, more than the 13 GiB of "
        "weights. GQA shrinks it by sharing key/value heads:"
    )
    gqa = make_model(num_kv_heads=1)
    gqa_bytes_per_token = (
        gqa.new_kv_cache(1).nbytes() // SHAPE["context_length"]
    )  # @inspect gqa_bytes_per_token
    new_tokens = 32 if IS_SMOKE else 256
    prompt = [list(range(1, 9))]
    start = time.perf_counter()
    cached = generate(model, prompt, new_tokens, sampling=GREEDY, use_cache=True)
    cached_tps = new_tokens / (time.perf_counter() - start)  # @inspect cached_tps
    start = time.perf_counter()
    uncached = generate(model, prompt, new_tokens, sampling=GREEDY, use_cache=False)
    uncached_tps = new_tokens / (time.perf_counter() - start)  # @inspect uncached_tps
    is_identical = cached == uncached  # @inspect is_identical
    speedup = cached_tps / uncached_tps  # @inspect speedup
    text(
        f"Generating {new_tokens} tokens: {speedup:.1f}x faster with the cache, token-for-token identical output."
    )


def batching():
    """Batching"""
    text(
        "Decode is memory-bound, so reading the weights once for many sequences is nearly free: "
        "batching raises throughput until the step becomes compute-bound. Prompts of different "
        "lengths are left-padded; a key mask hides the padding and each sequence counts its own positions."
    )
    model = make_model()
    new_tokens = 8 if IS_SMOKE else 32
    batch_sizes = [1, 4] if IS_SMOKE else [1, 2, 4, 8, 16]
    throughput = {
        b: decode_throughput(model, b, new_tokens) for b in batch_sizes
    }  # @inspect throughput
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(list(throughput), list(throughput.values()), marker="o")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("tokens/s (decode)")
    ax.set_title("Batched decoding on this machine")
    plot(fig)
    plt.close(fig)
    gain = throughput[batch_sizes[-1]] / throughput[1]  # @inspect gain
    note("Serving systems go further with continuous batching and paged KV caches (vLLM).")
    link(
        "https://arxiv.org/abs/2309.06180",
        title="Efficient Memory Management for LLM Serving with PagedAttention",
        authors=["Kwon et al."],
        date="2023",
    )


def decode_throughput(model, batch, new_tokens):  # @hide
    prompts = [list(range(1, 2 + i % 7)) for i in range(batch)]
    start = time.perf_counter()
    generate(model, prompts, new_tokens, sampling=GREEDY)
    return round(batch * new_tokens / (time.perf_counter() - start), 1)


def train_on_counting(model, steps):  # @hide
    """A toy task both models can learn: next token = current + 1 (mod V), 10% noise."""
    gen = torch.Generator().manual_seed(0)
    opt = AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    V = model.vocab_size
    for _ in range(steps):
        start = torch.randint(0, V, (16, 1), generator=gen)
        seq = (start + torch.arange(33)) % V
        noise = torch.rand(seq.shape, generator=gen) < 0.1
        seq = torch.where(noise, torch.randint(0, V, seq.shape, generator=gen), seq)
        loss = cross_entropy(model(seq[:, :-1]), seq[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def speculative_decoding():
    """Speculative decoding"""
    text(
        "A small **draft** model proposes $k$ tokens; the **target** scores all of them in one forward "
        "pass. Draft token $x$ is accepted with probability $\\min(1, p(x)/q(x))$; at the first "
        "rejection we sample from $\\mathrm{norm}(\\max(0, p - q))$. The output has exactly the "
        "target's distribution, and each target pass yields between 1 and $k+1$ tokens."
    )
    link(
        "https://arxiv.org/abs/2211.17192",
        title="Fast Inference from Transformers via Speculative Decoding",
        authors=["Leviathan et al."],
        date="2022",
    )
    text(
        "Random models never agree, so we first teach a target (4 layers, d=128) and a much smaller "
        "draft (1 layer, d=32) the same toy rule: the next token is the current one plus one."
    )
    steps = 10 if IS_SMOKE else 50
    target = train_on_counting(make_model(vocab_size=64), steps)  # @stepover
    draft = train_on_counting(
        make_model(vocab_size=64, d_model=32, num_layers=1, num_heads=2, d_ff=96), steps
    )  # @stepover
    new_tokens = 16 if IS_SMOKE else 64
    prompt = list(range(1, 9))
    start = time.perf_counter()
    plain = generate(target, [prompt], new_tokens, sampling=GREEDY)[0]
    plain_s = time.perf_counter() - start  # @inspect plain_s
    start = time.perf_counter()
    fast, info = speculative_generate(
        target, draft, prompt, new_tokens, num_draft=4, sampling=GREEDY
    )  # @inspect info
    speculative_s = time.perf_counter() - start  # @inspect speculative_s
    is_identical = fast == plain  # @inspect is_identical
    acceptance = info["acceptance_rate"]  # @inspect acceptance
    tokens_per_target_call = new_tokens / info["target_calls"]  # @inspect tokens_per_target_call
    speedup = plain_s / speculative_s  # @inspect speedup
    text(
        f"Greedy output is identical; {100 * acceptance:.0f}% of drafts were accepted, "
        f"{tokens_per_target_call:.2f} tokens per target pass, a {speedup:.2f}x wall-clock change. "
        "On a GPU the target pass over k+1 tokens costs about as much as over 1 (memory-bound), "
        "which is where the speedup comes from; on a small CPU model the gain is smaller."
    )
    sampled, sampled_info = speculative_generate(
        target,
        draft,
        prompt,
        new_tokens,
        num_draft=4,
        sampling=Sampling(1.0),
        generator=torch.Generator().manual_seed(0),
    )  # @inspect sampled_info
    text(
        "Sampling at temperature 1 works the same way; a statistical test in tests/lm/model checks the output distribution equals the target's."
    )
    alphas = [0.5, 0.7, 0.8, 0.9]
    expected = {a: round((1 - a**5) / (1 - a), 2) for a in alphas}  # @inspect expected
    note(
        "Expected tokens per target pass with k=4 drafts and acceptance rate a: (1 - a^5) / (1 - a)."
    )


if __name__ == "__main__":
    main()
