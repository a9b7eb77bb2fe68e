"""Lecture 06: Parallelism

Training a language model on many devices: why the bytes that move between devices set the pace,
the collective operations that move them (measured here on 2 processes), data parallelism (naive,
then bucketed and overlapped), ZeRO and FSDP sharding, tensor and pipeline parallelism, and how to
choose a layout for a cluster. The code is lm/parallel; every number below is computed when traced.
"""

import math
import os
import statistics
import time

import matplotlib

matplotlib.use("Agg")  # plots are stored as SVG, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from execlecture import link, note, plot, text  # noqa: E402
from lm.model import TransformerLM  # noqa: E402
from lm.parallel.collectives import (  # noqa: E402
    all_reduce_via_reduce_scatter,
    bytes_on_wire,
    demo_collectives,
    measure_collectives,
)
from lm.parallel.ddp import DDP, NaiveDDP  # noqa: E402
from lm.parallel.fsdp import FSDP  # noqa: E402
from lm.parallel.launch import call_each, run_ranks  # noqa: E402
from lm.parallel.measurements import (  # noqa: E402
    fsdp_shards,
    measure_strategies,
    predicted_bytes,
)
from lm.parallel.memory import zero_bytes  # noqa: E402
from lm.parallel.pipeline import bubble_fraction, gpipe_step  # noqa: E402
from lm.parallel.sharded_optimizer import ShardedOptimizer  # noqa: E402
from lm.parallel.tensor_parallel import ColumnParallelLinear, RowParallelLinear  # noqa: E402

IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"
WORLD_SIZE = 2
GB = 1e9

# Spec-sheet numbers for one NVIDIA H100 SXM (inputs, not results): dense bf16 FLOP/s, HBM bytes/s,
# NVLink bytes/s per direction inside a node, InfiniBand NDR bytes/s per GPU between nodes.
H100_FLOPS = 989e12
H100_HBM = 3.35e12
NVLINK = 450e9
INFINIBAND = 50e9
H100_MEMORY = 80e9

# The small TransformerLM measured on 2 CPU processes (smoke mode shrinks it).
MODEL_CFG = {
    "vocab_size": 128 if IS_SMOKE else 2048,
    "seq": 16 if IS_SMOKE else 64,
    "d_model": 32 if IS_SMOKE else 256,
    "num_layers": 1 if IS_SMOKE else 2,
    "num_heads": 2 if IS_SMOKE else 4,
    "d_ff": 64 if IS_SMOKE else 688,
    "batch": 2 if IS_SMOKE else 4,
    "bucket_mb": 25.0,
    "rounds": 1 if IS_SMOKE else 7,
    "steps_per_round": 1 if IS_SMOKE else 2,
}
COLLECTIVE_SIZES = [2**8, 2**12] if IS_SMOKE else [2**10, 2**13, 2**16, 2**19, 2**21]


def main():
    why_data_movement()  # compute outgrew bandwidth: count bytes, not FLOPs
    runs = spawn_two_processes()  # start 2 processes once; they run every measurement below
    collectives(runs)  # the four collectives, their cost on the wire, measured on 2 processes
    data_parallelism(runs)  # naive per-parameter all-reduce, then buckets overlapped
    zero_and_fsdp(runs)  # shard optimizer state, gradients, parameters: memory arithmetic
    tensor_and_pipeline()  # split every matmul, or split the layers and pay the bubble
    choosing_a_layout()  # a calculator: which layout fits a model on a cluster


def why_data_movement():
    """Why data movement dominates"""
    text("# Parallelism")
    text(
        "One accelerator is not enough to train a large language model: its memory cannot hold "
        "the weights, gradients and optimizer state, and its FLOP/s would take years. So we split "
        "the work over many devices, and the question becomes *what must move between them*."
    )
    text("## Compute is cheap, bytes are expensive")
    text("The arithmetic a device can do per byte it can *move*, for one H100:")
    flops_per_hbm_byte = H100_FLOPS / H100_HBM  # @inspect flops_per_hbm_byte
    flops_per_nvlink_byte = H100_FLOPS / NVLINK  # @inspect flops_per_nvlink_byte
    flops_per_ib_byte = H100_FLOPS / INFINIBAND  # @inspect flops_per_ib_byte
    text(
        f"A byte from its own memory must feed ~{flops_per_hbm_byte:.0f} FLOPs to keep the "
        f"tensor cores busy; a byte over NVLink ~{flops_per_nvlink_byte:.0f}, a byte from another "
        f"node ~{flops_per_ib_byte:.0f}. Every parallel layout is a plan for moving fewer bytes, "
        "over the fastest links, while computing."
    )
    text("The same ratio on the CPU tracing this lecture (matmul FLOP/s over copy bytes/s):")
    n = 256 if IS_SMOKE else 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    start = time.perf_counter()
    a @ b
    cpu_flops = 2 * n**3 / (time.perf_counter() - start)  # @inspect cpu_flops
    big = torch.randn(n * n * 4)
    start = time.perf_counter()
    big.clone()
    cpu_copy_bytes = 2 * big.numel() * 4 / (time.perf_counter() - start)  # read + write
    cpu_flops_per_byte = cpu_flops / cpu_copy_bytes  # @inspect cpu_flops_per_byte
    text("## What a data-parallel step must move")
    text(
        "Data parallelism averages the gradients of all weights every step. For a 7B-parameter "
        "model in bf16 on 64 GPUs (8 nodes of 8), with a batch of 4M tokens:"
    )
    num_params, num_gpus, tokens = 7e9, 64, 4 * 2**20
    grad_bytes = 2 * num_params  # @inspect grad_bytes
    wire_bytes = bytes_on_wire("all_reduce", grad_bytes, num_gpus)  # @inspect wire_bytes
    allreduce_s = wire_bytes / INFINIBAND  # @inspect allreduce_s
    compute_s = 6 * num_params * tokens / num_gpus / (0.4 * H100_FLOPS)  # @inspect compute_s
    text(
        f"The gradient all-reduce takes {allreduce_s:.2f} s over InfiniBand against "
        f"{compute_s:.2f} s of compute at 40% of peak (6 FLOPs per parameter per token). "
        "Unless communication hides behind compute, it is a large part of every step."
    )


def spawn_two_processes():
    """Two processes"""
    text("## Two processes on this machine")
    text(
        "To measure rather than guess, this lecture starts 2 processes (ranks 0 and 1) that join a "
        "process group over TCP with the gloo backend, the CPU counterpart of NCCL. Starting them "
        "is slow (each imports torch), so they run all of the measurements of the next sections "
        "in one go; a dead or stuck rank raises an error here instead of hanging."
    )
    calls = {
        "demo": (demo_collectives, ()),
        "collectives": (measure_collectives, (COLLECTIVE_SIZES,)),
        "strategies": (measure_strategies, (MODEL_CFG,)),
        "shards": (fsdp_shards, (MODEL_CFG,)),
    }
    jobs = list(calls.values())
    per_rank = run_ranks(call_each, jobs, world_size=WORLD_SIZE, timeout_s=600)  # @stepover
    runs = {name: [ranks[i] for ranks in per_rank] for i, name in enumerate(calls)}
    return runs


def collectives(runs):
    """Collective operations and their costs"""
    text("## Collectives")
    text(
        "A *collective* is one call made by every rank (process) at once. The four that "
        "parallel training is built from, on $p$ ranks each holding a tensor $x_r$:\n\n"
        "- **broadcast**: every rank gets rank 0's tensor.\n"
        "- **all-reduce**: every rank gets $\\sum_r x_r$.\n"
        "- **reduce-scatter**: rank $r$ gets chunk $r$ of $\\sum_r x_r$ (a $1/p$ share).\n"
        "- **all-gather**: every rank gets the concatenation of all ranks' chunks."
    )
    text(
        "Here are all four, as run by our 2 processes. Rank $r$ starts from `[10r+1, 10r+2, 10r+3, 10r+4]`:"
    )
    demo = runs["demo"]  # one entry per rank
    all_reduce = [d["all_reduce"] for d in demo]  # @inspect all_reduce
    reduce_scatter = [d["reduce_scatter"] for d in demo]  # @inspect reduce_scatter
    all_gather = [d["all_gather"] for d in demo]  # @inspect all_gather
    broadcast = [d["broadcast"] for d in demo]  # @inspect broadcast
    text(
        "All-reduce **is** reduce-scatter followed by all-gather: each rank first owns the sum of "
        "its chunk, then everyone collects every chunk. NCCL's ring all-reduce does exactly this."
    )
    link(all_reduce_via_reduce_scatter)
    text("## Bytes on the wire")
    text(
        "In a ring, each rank sends a $(p-1)/p$ share of the data in a reduce-scatter and again in "
        "an all-gather, so an all-reduce of $n$ bytes sends $2n(p-1)/p$ per rank: almost "
        "independent of $p$. Per rank, for 1 GB:"
    )
    wire = {p: bytes_on_wire("all_reduce", GB, p) / GB for p in (2, 8, 64, 1024)}  # @inspect wire
    link(
        url="https://doi.org/10.1016/j.jpdc.2008.09.002",
        title="Bandwidth optimal all-reduce algorithms for clusters of workstations",
        authors=["Pitch Patarasuk", "Xin Yuan"],
        date="2009",
    )
    text("Measured on the 2 processes (median time, slowest rank):")
    rows = runs["collectives"][0]  # times already agreed between ranks (the slowest)
    largest = [r for r in rows if r["num_bytes"] == 4 * COLLECTIVE_SIZES[-1]]  # @inspect largest
    fig, ax = plt.subplots(figsize=(5, 3))
    for op in ("all_reduce", "reduce_scatter", "all_gather", "broadcast"):
        mine = [r for r in rows if r["op"] == op]
        ax.plot([r["num_bytes"] for r in mine], [r["bus_gb_s"] for r in mine], marker="o", label=op)
    ax.set_xscale("log")
    ax.set_xlabel("tensor bytes")
    ax.set_ylabel("bus bandwidth (GB/s)")
    ax.set_title("gloo on 2 local processes")
    ax.legend(fontsize=7)
    plot(fig)
    text(
        "Small messages are latency-bound (the bandwidth collapses): that is why we should send "
        "few large messages rather than many small ones."
    )


def data_parallelism(runs):
    """Data parallelism: naive, then bucketed and overlapped"""
    text("## Data parallelism")
    text(
        "Every rank holds the whole model and processes its own slice of the batch. After "
        "backward, each rank's gradient is the gradient of *its* slice; averaging over ranks gives "
        "the gradient of the whole batch, so every rank takes the same optimizer step and the "
        "replicas stay identical. Start from rank 0's weights (a broadcast) and they never drift."
    )
    text(
        "**Naive**: after backward, one blocking all-reduce per parameter tensor. Two problems: "
        "many small messages (latency), and the network idles during backward while the "
        "compute idles during communication."
    )
    link(NaiveDDP)
    text(
        "**Bucketed and overlapped**: a hook on each parameter fires as soon as backward has "
        "produced its gradient. Gradients are packed into ~25 MB buckets in reverse layer order "
        "(the order backward produces them), and each full bucket's all-reduce is launched "
        "asynchronously while backward continues with earlier layers."
    )
    link(DDP)
    link(
        url="https://arxiv.org/abs/2006.15704",
        title="PyTorch Distributed: Experiences on Accelerating Data Parallel Training",
        authors=["Shen Li", "et al."],
        date="2020",
    )
    model = TransformerLM(
        MODEL_CFG["vocab_size"],
        MODEL_CFG["seq"],
        MODEL_CFG["d_model"],
        MODEL_CFG["num_layers"],
        MODEL_CFG["num_heads"],
        MODEL_CFG["d_ff"],
    )
    num_params = sum(p.numel() for p in model.parameters())  # @inspect num_params
    results = runs["strategies"][0]  # times are already the slowest rank's
    num_tensors = results["num_grad_tensors"]  # @inspect num_tensors
    num_buckets = results["num_buckets"]  # @inspect num_buckets
    text(
        f"Our test model has {num_tensors} parameter tensors: the naive version sends "
        f"{num_tensors} messages per step, the bucketed one {num_buckets} (a small first bucket "
        "starts the network early, then 25 MB ones). Step times (forward, backward, gradient "
        "sync, AdamW) on 2 processes, also against PyTorch's own DistributedDataParallel:"
    )
    step_ms = {v: round(1e3 * t, 2) for v, t in results["times"].items()}  # @inspect step_ms
    text(
        "Other programs share this machine, so we time the variants in rotating order, round "
        "after round, and compare them by the median of their per-round ratios:"
    )
    rounds = results["round_times"]
    naive_over_ours = paired_ratio(rounds["naive"], rounds["ddp"])  # @inspect naive_over_ours
    ours_over_torch = paired_ratio(rounds["ddp"], rounds["torch_ddp"])  # @inspect ours_over_torch
    note(
        "On 2 CPU processes sharing a small machine the differences are modest and noisy; on GPUs "
        "with NCCL the overlap matters more, since compute is faster and the network idles longer."
    )


def paired_ratio(times_a, times_b):
    """Median over rounds of time_a / time_b: robust to load that drifts between rounds."""
    return statistics.median(a / b for a, b in zip(times_a, times_b, strict=True))


def zero_and_fsdp(runs):
    """ZeRO and FSDP: sharding the training state"""
    text("## Where the memory goes")
    text(
        "Mixed-precision Adam keeps, per parameter: a float32 master weight (4 bytes), a float32 "
        "gradient (4) and two float32 moments (8): 16 bytes. Data parallelism replicates all 16 "
        "on every rank. ZeRO removes the redundancy in stages: stage 1 shards the optimizer "
        "moments, stage 2 also the gradients, stage 3 (FSDP) also the weights."
    )
    link(
        url="https://arxiv.org/abs/1910.02054",
        title="ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
        authors=["Samyam Rajbhandari", "Jeff Rasley", "Olatunji Ruwase", "Yuxiong He"],
        date="2019",
    )
    num_params, num_gpus = 7e9, 8
    gb_per_gpu = {f"stage {s}": zero_bytes(s, num_params, num_gpus) / GB for s in range(4)}
    gb_per_gpu = {k: round(v, 1) for k, v in gb_per_gpu.items()}  # @inspect gb_per_gpu
    text(
        f"A 7B model on {num_gpus} GPUs: plain data parallelism needs "
        f"{gb_per_gpu['stage 0']:.0f} GB per GPU (more than an 80 GB H100 has), FSDP "
        f"{gb_per_gpu['stage 3']:.0f} GB."
    )
    text("## ZeRO-1: a sharded optimizer")
    text(
        "Each parameter gets an owner rank; each rank keeps Adam state only for what it owns, "
        "steps only those parameters, then every owner broadcasts its updated parameters."
    )
    link(ShardedOptimizer)
    text("## FSDP: shard everything, gather just in time")
    text(
        "Each rank stores rows $[rk, (r+1)k)$ of every Linear and Embedding weight. Just before a "
        "layer runs, an all-gather rebuilds its weight; right after, it is dropped. Backward "
        "all-gathers it again, and the weight gradient is reduce-scattered so each rank only ever "
        "stores its own gradient shard. The shards of our test model on rank 0:"
    )
    link(FSDP)
    shards = runs["shards"][0]  # rank 0's view
    emb_full, emb_local = shards["token_embeddings.weight"]  # @inspect emb_full emb_local
    q_full, q_shard = shards["layers.0.attn.q_proj.weight"]  # @inspect q_full q_shard
    norm_full, norm_kept = shards["layers.0.ln1.weight"]  # @inspect norm_full norm_kept
    text(
        "Norm gains are tiny, so FSDP replicates them and averages their gradients like DDP. The "
        "price of sharding: per layer an all-gather forward, another backward, and a "
        "reduce-scatter, so 1.5x the bytes of DDP's all-reduce; the prize is memory. "
        "Measured bytes per rank (params + grads + Adam state, walked tensor by tensor after a "
        "step) against the arithmetic:"
    )
    predicted = predicted_bytes(MODEL_CFG, WORLD_SIZE)
    memory = runs["strategies"][0]["memory"]
    strategies = ("ddp", "zero1", "fsdp")
    measured_mb = {
        v: round(memory[v]["total"] / 2**20, 3) for v in strategies
    }  # @inspect measured_mb
    predicted_mb = {v: round(predicted[v] / 2**20, 3) for v in strategies}  # @inspect predicted_mb
    ratio = {
        v: round(memory[v]["total"] / memory["ddp"]["total"], 3) for v in strategies
    }  # @inspect ratio
    text(
        "FSDP's peak adds one gathered weight and its full gradient at a time; wrapping several "
        "layers as one unit trades that peak for fewer, larger messages."
    )


def tensor_and_pipeline():
    """Tensor and pipeline parallelism"""
    text("## Tensor parallelism")
    text(
        "Split every matrix instead of the batch. A **column-parallel** Linear gives rank $r$ rows "
        "$r$ of $W$ (its output features); a **row-parallel** Linear gives it columns $r$ (its "
        "input features) and all-reduces the partial sums. Column then row needs no communication "
        "in between: attention splits its heads, the MLP its hidden units."
    )
    link(ColumnParallelLinear)
    link(RowParallelLinear)
    link(
        url="https://arxiv.org/abs/1909.08053",
        title="Megatron-LM: Training Multi-Billion Parameter Language Models Using Model Parallelism",
        authors=["Mohammad Shoeybi", "et al."],
        date="2019",
    )
    d_model, d_ff, tp = 4096, 11008, 8
    q_local = (d_model // tp, d_model)  # @inspect q_local
    w1_local = (d_ff // tp, d_model)  # @inspect w1_local
    w2_local = (d_model, d_ff // tp)  # @inspect w2_local
    batch_tokens = 8 * 4096
    activation_bytes = 2 * batch_tokens * d_model  # bf16 [tokens, d_model]
    bytes_per_layer = 4 * bytes_on_wire(
        "all_reduce", activation_bytes, tp
    )  # @inspect bytes_per_layer
    text(
        f"Each block all-reduces its [tokens, d_model] activations twice forward and twice "
        f"backward: {bytes_per_layer / GB:.1f} GB per layer per step for {batch_tokens} tokens "
        "in bf16. That only pays on NVLink, so tensor parallelism stays inside a node."
    )
    text("## Pipeline parallelism")
    text(
        "Split the layers into stages, one per device; activations flow forward through the "
        "stages and gradients flow back. Only the activations at the cuts move, point to point. "
        "GPipe cuts the batch into $m$ micro-batches so stages work at the same time; still, "
        "each stage idles at the start and end of every step (the *bubble*):"
    )
    link(gpipe_step)
    link(
        url="https://arxiv.org/abs/1811.06965",
        title="GPipe: Efficient Training of Giant Neural Networks using Pipeline Parallelism",
        authors=["Yanping Huang", "et al."],
        date="2018",
    )
    text("$$\\text{bubble} = \\frac{p - 1}{m + p - 1}$$")
    bubble_4_stages = {m: bubble_fraction(4, m) for m in (1, 4, 16, 64)}  # @inspect bubble_4_stages
    fig, ax = plt.subplots(figsize=(5, 3))
    micro = list(range(1, 65))
    for stages in (2, 4, 8):
        ax.plot(micro, [bubble_fraction(stages, m) for m in micro], label=f"{stages} stages")
    ax.set_xscale("log")
    ax.set_xlabel("micro-batches m")
    ax.set_ylabel("idle fraction")
    ax.legend()
    plot(fig)
    text(
        "More micro-batches shrink the bubble but keep more activations alive (GPipe stores all "
        "of them until backward); 1F1B schedules interleave forward and backward to bound that."
    )


def plan_layout(num_params, num_gpus, gpu_memory=H100_MEMORY):
    """The least sharding whose training state fits in 80% of each GPU (activations need the rest)."""
    budget = 0.8 * gpu_memory
    for name, stage in (("DDP", 0), ("ZeRO-1", 1), ("FSDP", 3)):
        per_gpu = zero_bytes(stage, num_params, num_gpus)
        if per_gpu <= budget:
            return {"layout": name, "gb_per_gpu": round(per_gpu / GB, 1)}
    min_gpus = math.ceil(zero_bytes(0, num_params, 1) / budget)
    return {"layout": f"does not fit: needs >= {min_gpus} GPUs", "gb_per_gpu": None}


def choosing_a_layout():
    """How to choose for a cluster"""
    text("## Choosing a layout")
    text(
        "Rules of thumb, in order: use data parallelism while the training state fits; shard it "
        "(ZeRO/FSDP) when it does not; add tensor parallelism inside a node (NVLink) when one "
        "layer's working set is too big or the global batch too large; add pipeline stages "
        "across nodes last. Checking where the training state of a few models fits on H100s:"
    )
    scenarios = [(1e9, 64), (7e9, 64), (70e9, 64), (405e9, 64), (405e9, 1024)]
    plans = {f"{n / 1e9:.0f}B on {g}": plan_layout(n, g) for n, g in scenarios}  # @inspect plans
    text(
        "Memory is only the first filter. FSDP over a whole cluster all-gathers every layer over "
        "the slow inter-node network, so at scale the layouts are combined: tensor parallelism "
        "over the 8 GPUs of a node, pipeline stages across nodes, and FSDP over the remaining "
        "data-parallel ranks. Llama 3 405B, for example, trained with TP 8 x PP 16 x FSDP 128 on "
        "16K H100s. Real plans also weigh activation memory (sequence length x batch) and the "
        "global batch size the optimizer tolerates."
    )
    link(
        url="https://arxiv.org/abs/2407.21783",
        title="The Llama 3 Herd of Models",
        authors=["Llama Team, AI @ Meta"],
        date="2024",
    )
    link(
        url="https://github.com/pytorch/torchtitan",
        title="torchtitan: parallelism applied from outside an unmodified model",
    )


if __name__ == "__main__":
    main()
