"""Lecture 05: GPUs, kernels and Triton

What a GPU is and why memory, not arithmetic, is usually the bottleneck; arithmetic intensity and
the roofline; benchmarking and profiling done right; fusion, tiling and FlashAttention, each run
live from lm.kernels (Triton kernels through the interpreter when there is no GPU).
Follows Stanford CS336 (spring 2025) lectures 5-6, retold; every number shown is computed when traced.
"""

import json
import math
import os
import time
from pathlib import Path

import torch

if not torch.cuda.is_available():
    # Triton reads this when lm.kernels is imported: run the kernels through its CPU interpreter.
    os.environ.setdefault("TRITON_INTERPRET", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from execlecture import link, note, plot, text  # noqa: E402
from lm.kernels import (  # noqa: E402
    IS_INTERPRETING,
    FlashAttentionPytorch,
    FlashAttentionTriton,
    attention_reference,
    matmul_triton,
    rmsnorm_reference,
    rmsnorm_triton,
)
from lm.kernels.flash_pytorch import flash_forward_tiles  # noqa: E402
from lm.kernels.fused_rmsnorm import RMSNormTriton  # noqa: E402
from lm.kernels.timing import time_fn  # noqa: E402

IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"
HAS_CUDA = torch.cuda.is_available()
DEVICE = "cuda" if HAS_CUDA else "cpu"
MATMUL_SIZES = [64, 128] if IS_SMOKE else [128, 256, 512, 1024]
NORM_ROWS, NORM_DIM = (64, 128) if IS_SMOKE else (2048, 1024)
TIMING_REPS = 3 if IS_SMOKE else 10
# H100 SXM spec sheet (https://www.nvidia.com/en-us/data-center/h100/): the machine the course
# targets. These are vendor figures, not measurements; everything derived from them is computed.
H100 = {
    "num_sms": 132,
    "sram_per_sm_kib": 228,
    "hbm_gib": 80,
    "hbm_tb_per_s": 3.35,
    "bf16_dense_tflops": 989.0,
}
GPU_RESULTS = Path(__file__).parent / "kernels_benchmark_gpu.json"  # benchmarks/kernels.py --json


def main():
    why_systems()  # training is bounded by hardware; this unit makes it fast
    what_is_a_gpu()  # SMs, SRAM vs HBM: a factory fed by a warehouse
    arithmetic_intensity()  # FLOPs per byte decides compute- vs memory-bound
    roofline()  # the plot that says which wall you hit
    benchmarking()  # warm-up, synchronize, median
    profiling()  # torch.profiler: where the time goes
    fusion()  # RMSNorm: eager vs fused bytes moved
    triton_in_one_kernel()  # the fused RMSNorm kernel, run and checked
    tiling()  # matmul: reuse each load many times
    flash_attention_idea()  # attention without the N x N matrix
    flash_attention_step_by_step()  # online softmax over key tiles, inspected
    flash_attention_backward()  # recompute from L instead of storing P
    gpu_numbers()  # what the benchmark recorded (honestly: nothing yet)
    summary()  # what to remember


def why_systems():
    text("# GPUs, kernels and Triton")
    text(
        "So far we wrote a Transformer as a handful of tensor operations. Each operation is a "
        "*kernel*: a program launched on the GPU. This lecture is about making those kernels fast: "
        "understanding the hardware, measuring honestly, and then three techniques - **fusion**, "
        "**tiling** and **recomputation** - that together give FlashAttention."
    )
    link(
        url="https://arxiv.org/abs/2205.14135",
        title="FlashAttention",
        authors=["Tri Dao", "Daniel Y. Fu", "Stefano Ermon", "Atri Rudra", "Christopher Re"],
        date="2022",
    )
    link(
        url="https://arxiv.org/abs/2307.08691",
        title="FlashAttention-2",
        authors=["Tri Dao"],
        date="2023",
    )
    has_gpu = HAS_CUDA  # @inspect has_gpu
    text(
        "This trace was made on a machine " + ("with" if has_gpu else "**without**") + " a GPU. "
        "The Triton kernels below run through Triton's interpreter on the CPU when there is none: "
        "correct results, but timings that say nothing about GPUs."
    )


def what_is_a_gpu():
    text("## What a GPU is")
    text(
        "A GPU is many small processors, the **streaming multiprocessors** (SMs), each with a little "
        "very fast on-chip memory (**SRAM**: registers and shared memory), all sharing a large slow "
        "off-chip memory (**HBM**). Think of a factory (the SMs) next to a warehouse (HBM): the "
        "factory is enormous, the road to the warehouse is the bottleneck."
    )
    num_sms = H100["num_sms"]  # @inspect num_sms
    sram_total_mib = num_sms * H100["sram_per_sm_kib"] / 1024  # @inspect sram_total_mib
    hbm_gib = H100["hbm_gib"]  # @inspect hbm_gib
    sram_fraction = sram_total_mib / (hbm_gib * 1024)  # @inspect sram_fraction
    text(
        f"On an H100 the SRAM of all {num_sms} SMs together is about {sram_total_mib:.0f} MiB, "
        f"a fraction {sram_fraction:.1e} of the {hbm_gib} GiB of HBM. Anything big lives in HBM; "
        "a kernel is fast when it brings data into SRAM once and does a lot of work on it there."
    )
    bytes_per_flop = H100["hbm_tb_per_s"] * 1e12 / (H100["bf16_dense_tflops"] * 1e12)
    flops_per_byte = 1 / bytes_per_flop  # @inspect flops_per_byte
    text(
        f"Peak bf16 compute over peak HBM bandwidth: {flops_per_byte:.0f} FLOPs can be done in the "
        "time one byte arrives from HBM. Most operations do far fewer FLOPs per byte than that."
    )
    text(
        "The programming model: a kernel is launched as a grid of **thread blocks** (Triton: "
        "*programs*); each block runs on one SM and owns a tile of the data. Threads execute in "
        "groups of 32 (**warps**) in lockstep. In Triton you write one program's work on whole "
        "tiles (`tl.load` a block, compute, `tl.store`), and the compiler maps it to threads."
    )


def bytes_and_flops_of_matmul(n, bytes_per_element=2):
    """(FLOPs, bytes) of an n x n x n matmul reading A, B and writing C once."""
    flops = 2 * n**3
    num_bytes = 3 * n * n * bytes_per_element
    return flops, num_bytes


def arithmetic_intensity():
    text("## Arithmetic intensity")
    text(
        "The **arithmetic intensity** of an operation is FLOPs divided by bytes moved to and from "
        "memory. If it is below the machine's FLOPs-per-byte ratio, the operation is "
        "**memory-bound**: the SMs wait for HBM. Above it, **compute-bound**."
    )
    n = 4096
    # one add per element, read 2 + write 1 bf16 values
    add_intensity = n * n / (3 * n * n * 2)  # @inspect add_intensity
    matmul_flops, matmul_bytes = bytes_and_flops_of_matmul(n)
    matmul_intensity = matmul_flops / matmul_bytes  # @inspect matmul_intensity
    text(
        f"Adding two {n} x {n} bf16 matrices: {add_intensity:.2f} FLOPs per byte, hopelessly "
        f"memory-bound. Multiplying them: {matmul_intensity:.0f} FLOPs per byte, compute-bound. "
        "Elementwise ops, normalizations and softmax are memory-bound; matmuls can be compute-bound "
        "- if the kernel reuses what it loads (tiling, below)."
    )


def roofline():
    text("## The roofline")
    text(
        "Achievable throughput = min(peak FLOP/s, intensity x peak bandwidth). Plotting it on log "
        "axes gives a slanted memory roof and a flat compute roof that meet at the **ridge point**."
    )
    peak = H100["bf16_dense_tflops"]
    bandwidth_tb = H100["hbm_tb_per_s"]
    # FLOPs per byte where the roofs meet
    ridge = peak / bandwidth_tb  # @inspect ridge
    intensities = [2.0**e for e in range(-4, 13)]
    attainable = [min(peak, i * bandwidth_tb) for i in intensities]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.loglog(intensities, attainable, color="black", label="H100 roofline (spec sheet)")
    # FLOPs per element over bf16 bytes per element (2 read + 2 written, add reads 2 inputs)
    points = {
        "elementwise add": 1 / (3 * 2),
        "RMSNorm, fused (square, sum, 2 muls)": 4 / (2 * 2),
        "softmax, fused (max, sub, exp, sum, div)": 5 / (2 * 2),
    }
    for n in (256, 1024, 4096):
        flops, num_bytes = bytes_and_flops_of_matmul(n)
        points[f"matmul n={n}"] = flops / num_bytes
    for name, x in points.items():
        ax.scatter([x], [min(peak, x * bandwidth_tb)], label=f"{name} ({x:.2g} FLOP/B)")
    ax.axvline(ridge, linestyle=":", color="gray")
    ax.set_xlabel("arithmetic intensity (FLOPs / byte)")
    ax.set_ylabel("attainable TFLOP/s")
    ax.legend(fontsize=6)
    fig.tight_layout()
    plot(fig)
    plt.close(fig)
    text(
        f"Left of the ridge ({ridge:.0f} FLOPs/byte) you are limited by bandwidth: the way to go "
        "faster is to move fewer bytes, not to do fewer FLOPs. The rest of the lecture does that. "
        "(RMSNorm and softmax: FLOPs per element over one bf16 read and one write, even when fused.)"
    )


def benchmarking():
    text("## Benchmarking done right")
    text(
        "Three rules. **Warm up**: the first call pays for compilation, autotuning, allocation and "
        "cold caches. **Synchronize**: CUDA calls return as soon as the kernel is queued, so "
        "without `torch.cuda.synchronize()` you time the launch, not the work. **Repeat and take "
        "the median**: other processes and clock changes produce outliers."
    )
    link(time_fn)
    n = MATMUL_SIZES[-1]
    a = torch.randn(n, n, device=DEVICE)
    b = torch.randn(n, n, device=DEVICE)
    first_call_s = _time_once(lambda: torch.tanh(a @ b))  # @inspect first_call_s @stepover
    median_s = time_fn(
        lambda: torch.tanh(a @ b), DEVICE, reps=TIMING_REPS
    )  # @inspect median_s @stepover
    text(
        f"One cold call took {first_call_s * 1e3:.2f} ms; the median of {TIMING_REPS} warm calls "
        f"{median_s * 1e3:.2f} ms (on {DEVICE}; shared machines make these noisy)."
    )
    rates = {}
    for size in MATMUL_SIZES:
        x = torch.randn(size, size, device=DEVICE)
        seconds = time_fn(lambda x=x: x @ x, DEVICE, reps=TIMING_REPS)  # @stepover
        rates[size] = 2 * size**3 / seconds / 1e9  # GFLOP/s
    matmul_gflops = {size: round(r, 1) for size, r in rates.items()}  # @inspect matmul_gflops
    text(
        f"Achieved matmul GFLOP/s by size on {DEVICE}: {matmul_gflops}. On a GPU small matmuls "
        "cannot fill the SMs (launch overhead, too little work per load) and throughput grows "
        "with size; on a busy shared CPU, as when this trace was made, other processes add noise "
        "that even medians only partly remove."
    )


def _time_once(fn):
    start = time.perf_counter()
    fn()
    if HAS_CUDA:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def profiling():
    text("## Profiling")
    text(
        "A benchmark says how long; a profiler says where. `torch.profiler` records every operator "
        "and (on GPU) every kernel it launched, with self time and calls."
    )
    x = torch.randn(NORM_ROWS, NORM_DIM, device=DEVICE)
    weight = torch.ones(NORM_DIM, device=DEVICE)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if HAS_CUDA else [])
    with profile(activities=activities) as prof:
        for _ in range(3):
            rmsnorm_reference(x, weight)  # @stepover
    table = prof.key_averages().table(
        sort_by="self_cpu_time_total", row_limit=8, max_name_column_width=30
    )
    text(table, verbatim=True)
    num_ops = len(prof.key_averages())  # @inspect num_ops
    text(
        f"Eager RMSNorm shows up as {num_ops} distinct aten operators (the math plus dtype "
        "casts and copies): each one a separate kernel that reads its inputs from memory and "
        "writes its output back."
    )


class ByteCounter(TorchDispatchMode):
    """Counts bytes read and written by every aten operator that runs inside it."""

    def __init__(self):
        super().__init__()
        self.num_bytes = 0
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tensors = [t for t in (*args, *(kwargs or {}).values()) if isinstance(t, torch.Tensor)]
        outs = out if isinstance(out, tuple | list) else (out,)
        tensors += [t for t in outs if isinstance(t, torch.Tensor)]
        self.num_bytes += sum(t.numel() * t.element_size() for t in tensors)
        self.ops.append(func.__name__)
        return out


def fusion():
    text("## Fusion: RMSNorm")
    text(
        "Eager RMSNorm computes $y = x / \\sqrt{\\mathrm{mean}(x^2) + \\epsilon} \\cdot g$ as a chain "
        "of operators, each a round trip to HBM. A **fused** kernel loads a row of $x$ once, does "
        "all the arithmetic in registers, and writes $y$ once. Count the bytes:"
    )
    x = torch.randn(NORM_ROWS, NORM_DIM)
    weight = torch.ones(NORM_DIM)
    with ByteCounter() as counter:
        rmsnorm_reference(x, weight)  # @stepover
    eager_ops = counter.ops  # @inspect eager_ops
    eager_bytes = counter.num_bytes  # @inspect eager_bytes
    fused_bytes = (
        2 * x.numel() * x.element_size() + weight.numel() * weight.element_size()
    )  # @inspect fused_bytes
    ratio = eager_bytes / fused_bytes  # @inspect ratio
    text(
        f"Eager moves {eager_bytes / 2**20:.1f} MiB through {len(eager_ops)} operators; the fused "
        f"kernel moves {fused_bytes / 2**20:.1f} MiB (read x and g, write y): {ratio:.1f}x fewer "
        "bytes. Memory-bound, so time follows bytes: the fused kernel's target is the roofline "
        "itself, bytes moved / peak bandwidth."
    )
    roofline_us = fused_bytes / (H100["hbm_tb_per_s"] * 1e12) * 1e6  # @inspect roofline_us
    text(
        f"At H100 bandwidth these {fused_bytes / 2**20:.1f} MiB take at least "
        f"{roofline_us:.1f} microseconds; that lower bound is what benchmarks/kernels.py compares to."
    )


def triton_in_one_kernel():
    text("## A Triton kernel: fused RMSNorm")
    text(
        "One Triton *program* handles one row: it builds offsets with `tl.arange`, masks the tail "
        "(rows need not be a power of two), loads, reduces, and stores. Backward is a second "
        "kernel; both sit behind a `torch.autograd.Function`, next to the PyTorch reference with "
        "the same signature."
    )
    link(RMSNormTriton)
    is_interpreting = IS_INTERPRETING  # @inspect is_interpreting
    rows, dim = 3, 17  # odd on purpose: the masks matter
    x = torch.randn(rows, dim, device=DEVICE, requires_grad=True)
    weight = torch.randn(dim, device=DEVICE, requires_grad=True)
    y_fused = rmsnorm_triton(x, weight)  # @stepover
    y_fused.sum().backward()  # @stepover
    grads_fused = (x.grad.clone(), weight.grad.clone())
    x.grad, weight.grad = None, None
    y_ref = rmsnorm_reference(x, weight)  # @stepover
    y_ref.sum().backward()  # @stepover
    forward_error = (y_fused - y_ref).abs().max().item()  # @inspect forward_error
    grad_x_error = (grads_fused[0] - x.grad).abs().max().item()  # @inspect grad_x_error
    grad_weight_error = (
        (grads_fused[1] - weight.grad).abs().max().item()
    )  # @inspect grad_weight_error
    text(
        f"Largest differences from the reference: forward {forward_error:.1e}, grad of x "
        f"{grad_x_error:.1e}, grad of g {grad_weight_error:.1e}"
        + (
            " (here through the interpreter, which executes the kernel in NumPy)."
            if is_interpreting
            else "."
        )
    )


def tiling():
    text("## Tiling: matmul")
    text(
        "A naive matmul kernel computing one output element reads a whole row of A and column of "
        "B from HBM: $2K$ loads for $2K$ FLOPs. A **tiled** kernel computes a $T \\times T$ block "
        "of C, streaming $T \\times T_K$ slices of A and B through SRAM: each loaded element is "
        "used $T$ times."
    )
    n = 4096
    loads = {}
    for tile in (1, 16, 64, 128):
        loads[tile] = 2 * n**3 // tile  # elements read from HBM for an n x n x n matmul
    intensity_by_tile = {
        t: round(2 * n**3 / (2 * num_loads), 1) for t, num_loads in loads.items()
    }  # @inspect intensity_by_tile
    text(
        f"FLOPs per bf16 byte loaded, by tile size: {intensity_by_tile}. Tiling is what moves a matmul from the memory "
        "roof to the compute roof. Tiles are bounded by SRAM and registers, which is why kernels "
        "are *autotuned* over tile sizes and warps per GPU."
    )
    a = torch.randn(37, 50, device=DEVICE)
    b = torch.randn(50, 29, device=DEVICE)
    c = matmul_triton(a, b, "gelu")  # tiled, with the activation fused before the store
    matmul_error = (c - torch.nn.functional.gelu(a @ b)).abs().max().item()  # @inspect matmul_error
    text(
        f"Our tiled Triton matmul on odd sizes (37 x 50 x 29) differs from torch by at most "
        f"{matmul_error:.1e}, with GELU fused into the epilogue so C is written once instead of "
        "written, read and written again."
    )


def flash_attention_idea():
    text("## FlashAttention: the idea")
    text(
        "Attention computes $S = QK^\\top/\\sqrt{d}$, $P = \\mathrm{softmax}(S)$, $O = PV$. Eagerly, "
        "$S$ and $P$ are $N \\times N$ per head and go through HBM several times: memory-bound and "
        "quadratic in memory. FlashAttention never writes them: it keeps a tile of queries in SRAM, "
        "streams tiles of keys and values past it, and uses an **online softmax** to combine tiles."
    )
    for n in (1024, 4096, 16384):
        score_mib = n * n * 2 / 2**20  # one bf16 N x N matrix per head
        text(f"- N = {n}: the score matrix is {score_mib:.0f} MiB per head, per sequence")
    text(
        "Online softmax: keep a running max $m$ and running sum $\\ell$ of $e^{s - m}$. When a new "
        "tile raises the max to $m'$, rescale: $\\ell \\leftarrow e^{m - m'} \\ell + \\sum e^{s - m'}$, "
        "and the same factor rescales the partial output. At the end $O = \\mathrm{acc}/\\ell$ and "
        "the row **logsumexp** $L = m + \\log \\ell$ is all the backward pass needs."
    )


def flash_attention_step_by_step():
    text("## FlashAttention step by step")
    text("Two query tiles, three key tiles of 4: watch $m$, $\\ell$ and the accumulator evolve.")
    torch.manual_seed(0)
    n_queries, n_keys, head_dim, tile = 8, 11, 4, 4  # 11 keys: the last tile is partial
    q = torch.randn(1, n_queries, head_dim)
    k = torch.randn(1, n_keys, head_dim)
    v = torch.randn(1, n_keys, head_dim)
    scale = 1 / math.sqrt(head_dim)
    # first query tile, "in SRAM"
    q_i = q[0, :tile]  # @inspect q_i
    # running max
    m = torch.full((tile,), float("-inf"))  # @inspect m
    # running sum of exp(s - m)
    row_sum = torch.zeros(tile)  # @inspect row_sum
    # unnormalized output
    acc = torch.zeros(tile, head_dim)  # @inspect acc
    for j in range(0, n_keys, tile):
        k_j, v_j = k[0, j : j + tile], v[0, j : j + tile]  # @inspect k_j
        # this tile's scores only
        s = q_i @ k_j.T * scale  # @inspect s
        m_new = torch.maximum(m, s.amax(dim=1))  # @inspect m_new
        p = torch.exp(s - m_new[:, None])  # @inspect p
        # rescales the old statistics
        alpha = torch.exp(m - m_new)  # @inspect alpha
        row_sum = alpha * row_sum + p.sum(dim=1)  # @inspect row_sum
        acc = alpha[:, None] * acc + p @ v_j  # @inspect acc
        m = m_new  # @inspect m
    o_first_tile = acc / row_sum[:, None]  # @inspect o_first_tile
    lse_first_tile = m + torch.log(row_sum)  # @inspect lse_first_tile
    reference = attention_reference(q, k, v)[0, :tile]
    tile_error = (o_first_tile - reference).abs().max().item()  # @inspect tile_error
    text(
        f"The first query tile's output equals ordinary attention (max difference {tile_error:.1e}), "
        "though no tile ever saw more "
        "than 4 keys. The library version does every query tile, batches, and causal masking "
        "(key tiles beyond the diagonal are skipped entirely):"
    )
    link(flash_forward_tiles)
    o, lse = flash_forward_tiles(q, k, v, is_causal=False, q_tile=tile, k_tile=tile)
    full_error = (o - attention_reference(q, k, v)).abs().max().item()  # @inspect full_error
    lse_error = (lse[0, :tile] - lse_first_tile).abs().max().item()  # @inspect lse_error
    text(
        f"All query tiles: max difference {full_error:.1e} from ordinary attention, and the saved "
        f"logsumexp matches our hand-run tile to {lse_error:.1e}."
    )


def flash_attention_backward():
    text("## Backward: recompute instead of store")
    text(
        "The backward pass needs $P$. Instead of saving it ($N^2$ per head), FlashAttention saves "
        "only $O$ and $L$ and recomputes each tile $P_{ij} = \\exp(Q_i K_j^\\top/\\sqrt d - L_i)$. "
        "With $D_i = \\mathrm{rowsum}(dO_i \\circ O_i)$: $dV_j \\mathrel{+}= P_{ij}^\\top dO_i$, "
        "$dS_{ij} = P_{ij} \\circ (dO_i V_j^\\top - D_i)$, $dQ_i \\mathrel{+}= dS_{ij} K_j / \\sqrt d$, "
        "$dK_j \\mathrel{+}= dS_{ij}^\\top Q_i / \\sqrt d$. Extra FLOPs, far fewer bytes: a good trade "
        "left of the ridge."
    )
    torch.manual_seed(0)
    batch, heads, seq, head_dim = 2, 3, (40 if IS_SMOKE else 150), 16
    shape = (batch, heads, seq, head_dim)
    q, k, v = (torch.randn(shape, requires_grad=True) for _ in range(3))
    out = FlashAttentionPytorch.apply(q, k, v, True)  # @stepover
    saved_shapes = [tuple(t.shape) for t in out.grad_fn.saved_tensors]  # @inspect saved_shapes
    out.sum().backward()  # @stepover
    flash_grads = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    attention_reference(q, k, v, True).sum().backward()  # @stepover
    grad_errors = [
        round((g - t.grad).abs().max().item(), 8)
        for g, t in zip(flash_grads, (q, k, v), strict=True)
    ]  # @inspect grad_errors
    saved_elements = sum(math.prod(s) for s in saved_shapes)
    naive_saved_elements = saved_elements + batch * heads * seq * seq  # plus P
    memory_ratio = naive_saved_elements / saved_elements  # @inspect memory_ratio
    text(
        f"Saved for backward: L of shape {saved_shapes[0]} plus Q, K, V, O - no {seq} x {seq} "
        f"matrix. Storing P as well would need {memory_ratio:.1f}x the memory at N = {seq}, and "
        f"the gap grows linearly with N. Gradients match the naive implementation: max differences "
        f"{grad_errors} for dQ, dK, dV."
    )
    note(
        "The Triton version (lm/kernels/flash_triton.py) runs the same algorithm with one program "
        "per query tile in the forward, and in the backward one kernel per key tile for dK, dV and "
        "one per query tile for dQ, so no two programs write the same memory (no atomics)."
    )
    link(FlashAttentionTriton)
    small = [t.detach()[:1, :1, :37] for t in (q, k, v)]  # (1, 1, 37, 16)
    triton_out = FlashAttentionTriton.apply(*small, True)  # @stepover
    triton_forward_error = (
        (triton_out - attention_reference(*small, True)).abs().max().item()
    )  # @inspect triton_forward_error @stepover
    text(
        f"Run on {triton_out.device.type.upper()}"
        + (" through the Triton interpreter" if IS_INTERPRETING else "")
        + f", the Triton kernel agrees with naive attention to {triton_forward_error:.1e} on 37 "
        "causal tokens (37: the last tile is partial, so the masks are exercised)."
    )


def gpu_numbers():
    text("## GPU numbers")
    if GPU_RESULTS.exists():
        results = json.loads(GPU_RESULTS.read_text())
        device = results["device"]  # @inspect device
        date = results["date"]  # @inspect date
        text(f"Recorded by benchmarks/kernels.py on **{device}** at {date}, bf16, seq 4096:")
        for row in results["attention"]:
            if row["seq"] == 4096:
                f, b = row["fwd_ms"], row["fwd_bwd_ms"]
                text(
                    f"- D={row['head_dim']} causal={row['causal']}: forward "
                    f"{f['sdpa_flash'] / f['triton']:.2f}x flash SDPA throughput, forward+backward "
                    f"{b['sdpa_flash'] / b['triton']:.2f}x"
                )
        return
    text(
        "**No GPU numbers have been recorded.** The session that wrote these kernels had no GPU, "
        "so the FlashAttention and RMSNorm throughput on a real device (vs flash SDPA, "
        "torch.compile and eager) is not known yet, and we will not make numbers up. Run "
        "`python benchmarks/kernels.py --json lectures/kernels_benchmark_gpu.json` on a GPU and "
        "re-trace: this section then shows the device, the date and the measured ratios."
    )
    text(
        "What we can show honestly is the CPU: the tiled PyTorch FlashAttention against naive "
        "attention, both timed below. FlashAttention pays off through the GPU memory hierarchy; "
        "on a CPU the Python loop over tiles usually costs more than the memory traffic it saves "
        "(and a busy shared CPU makes single measurements noisy)."
    )
    seq = 64 if IS_SMOKE else 256
    q, k, v = (torch.randn(1, 4, seq, 64) for _ in range(3))
    tiled_ms = (
        time_fn(lambda: FlashAttentionPytorch.apply(q, k, v, True), reps=TIMING_REPS) * 1e3
    )  # @inspect tiled_ms @stepover
    naive_ms = (
        time_fn(lambda: attention_reference(q, k, v, True), reps=TIMING_REPS) * 1e3
    )  # @inspect naive_ms @stepover
    text(
        f"Causal attention, 4 heads x {seq} tokens x 64 dims, fp32 on CPU: tiled {tiled_ms:.2f} ms, "
        f"naive {naive_ms:.2f} ms."
    )


def summary():
    text("## Summary")
    text(
        "- Most operations are **memory-bound**: count bytes, compare with the roofline.\n"
        "- Measure with warm-up, synchronization and medians; profile to see where time goes.\n"
        "- **Fusion** removes round trips to HBM (RMSNorm: several operators -> one read, one write).\n"
        "- **Tiling** reuses each load many times (matmul).\n"
        "- **FlashAttention** = tiling + online softmax + recomputation: exact attention without "
        "ever storing the $N \\times N$ matrix."
    )


if __name__ == "__main__":
    main()
