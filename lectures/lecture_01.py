"""Lecture 01: Overview and Tokenization

Why build language models from scratch, what this course covers and why efficiency drives every
design decision; then tokenization, from characters and bytes to byte-pair encoding trained live.
Follows Stanford CS336 (spring 2025) lecture 1, retold; every number shown is computed when traced.
"""

import functools
import math
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from execlecture import link, note, plot, text  # noqa: E402
from lm.datafiles import data_path  # noqa: E402
from lm.tokenizer import (  # noqa: E402
    BPETokenizer,
    ByteTokenizer,
    CharacterTokenizer,
    Tokenizer,
    WordTokenizer,
    compression_ratio,
    count_pairs,
    merge_pair,
    pretokenize,
    train_bpe,
)

# Smoke mode (tests): tiny sizes so the whole lecture traces in seconds.
IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"
BPE_VOCAB_SIZE = 300 if IS_SMOKE else 1000  # the corpus.en tokenizer trained in this lecture
CORPUS_BYTES = 20_000 if IS_SMOKE else None  # None: the whole of corpus.en
END_OF_TEXT = "<|endoftext|>"
GPT2_PAPER = "https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf"
# NVIDIA H100 SXM spec sheet: dense bf16 peak and HBM3 bandwidth (vendor figures).
H100_FLOPS = 989e12
H100_BYTES_PER_S = 3.35e12
GREETING = "Hello, 🌍! 你好!"  # the running example for the simple tokenizers


def main():
    welcome()  # what this course is
    why_this_course_exists()  # researchers drifting away from the technology
    industrialization()  # frontier models: expensive and secret
    more_is_different()  # small models are not scaled-down large ones
    three_kinds_of_knowledge()  # mechanics, mindset, intuitions
    bitter_lesson()  # algorithms that scale; accuracy = efficiency x resources
    landscape()  # from n-grams to open-weight frontier models
    levels_of_openness()  # closed, open-weight, open-source
    what_is_this_program()  # an executable lecture
    it_is_all_about_efficiency()  # the question every unit answers
    unit_basics()  # tokenization, architecture, training
    unit_systems()  # kernels, parallelism, inference (prefill vs decode)
    unit_scaling_laws()  # predict large runs from small ones; D ~ 20 N
    unit_data()  # evaluation, curation, filtering, deduplication
    unit_alignment()  # SFT, then learning from feedback (PPO, DPO, GRPO)
    efficiency_drives_design()  # compute-bound today, data-bound tomorrow

    tokenization_intro()  # strings in, integers out
    tokenization_examples()  # what GPT-2's tokenizer does to real text
    character_tokenizer()  # one token per code point
    byte_tokenizer()  # one token per UTF-8 byte
    word_tokenizer()  # one token per word
    bpe_by_hand()  # byte-pair encoding on "the cat in the hat", merge by merge
    pretokenization()  # GPT-2 merges only inside words
    bpe_on_a_corpus()  # train_bpe on corpus.en, then encode and decode
    compression_vs_vocab_size()  # more merges, shorter sequences, diminishing returns
    tokenization_summary()  # what to remember


# ----------------------------------------------------------------------
# Part 1: overview
# ----------------------------------------------------------------------


def welcome():
    """Welcome"""
    text("# Language models from scratch")
    text(
        "This course builds a language model end to end: the tokenizer that turns text into "
        "integers, the Transformer that predicts the next integer, the kernels and parallelism that "
        "make training fast, the scaling laws that say how big to go, the data that decides what the "
        "model knows, and the alignment that makes it useful."
    )
    text(
        "It follows the structure of Stanford's CS336 (spring 2025), whose lectures are public. "
        "Everything you will see here is a program you can run, and it calls the project's own "
        "library (`lm/`), which you can read, test and benchmark."
    )
    link("https://stanford-cs336.github.io/spring2025/", title="Stanford CS336, spring 2025")


def why_this_course_exists():
    """Why this course exists"""
    text("## Why this course exists")
    text(
        "Researchers are drifting away from the technology they study. Roughly:\n\n"
        "- about eight years ago, you implemented and trained your own models;\n"
        "- about six years ago, you downloaded a model such as BERT and fine-tuned it;\n"
        "- today, many people only *prompt* a proprietary model (GPT-4, Claude, Gemini)."
    )
    link("https://arxiv.org/abs/1810.04805", title="Devlin+ 2018: BERT")
    text(
        "Moving up a layer of abstraction is not bad in itself: abstractions make us productive. But "
        "these abstractions are *leaky*. What a model can do depends on its tokenizer, its data, its "
        "training budget; you cannot reason about those from behind an API. Fundamental research "
        "needs the whole stack in your head, and the surest way to get it there is to build it."
    )
    text("**To understand it, build it.**")


def industrialization():
    """The industrialization of language models"""
    text("## The industrialization of language models")
    text(
        "The catch is that frontier models are built at industrial scale. Some reported figures "
        "(press reports and announcements, not verified numbers):"
    )
    gpt4_parameters = 1.8e12  # rumoured, never confirmed by OpenAI
    gpt4_cost_usd = 100e6  # reported training cost
    xai_gpus = 200_000  # H100s reported for xAI's cluster
    stargate_usd, stargate_years = 500e9, 4  # announced investment and horizon
    stargate_per_day = stargate_usd / (stargate_years * 365)  # @inspect stargate_per_day
    text(
        f"- GPT-4: rumoured to have {gpt4_parameters / 1e12:.1f}T parameters and to have cost "
        f"\\${gpt4_cost_usd / 1e6:.0f}M to train.\n"
        f"- xAI: a cluster of {xai_gpus:,} H100 GPUs to train Grok.\n"
        f"- Stargate (OpenAI, SoftBank, Oracle and others): \\${stargate_usd / 1e9:.0f}B announced over "
        f"{stargate_years} years, about \\${stargate_per_day / 1e6:.0f}M per day."
    )
    link(
        "https://www.semianalysis.com/p/gpt-4-architecture-infrastructure",
        title="SemiAnalysis 2023: GPT-4 rumours",
    )
    link("https://openai.com/index/announcing-the-stargate-project/", title="OpenAI 2025: Stargate")
    text(
        "And little of how they are built is public. The GPT-4 technical report says outright that, "
        "given the competitive landscape and safety implications, it contains no further details "
        "about architecture, model size, hardware, training compute, data or training method."
    )
    link("https://arxiv.org/abs/2303.08774", title="OpenAI 2023: GPT-4 Technical Report")


def more_is_different():
    """More is different"""
    text("## More is different")
    text(
        "We cannot train frontier models in a course. We will train models with well under a billion "
        "parameters, and a small model is not simply a large model scaled down. Two examples."
    )
    flops_shift_with_scale()  # example 1
    emergence()  # example 2
    text("Either way: what we see at small scale need not be what happens at large scale.")


def flops_shift_with_scale():
    """Example 1: attention's share of the FLOPs shrinks as models widen."""
    text("### Example 1: where the FLOPs go changes with scale")
    text(
        "Per token and per layer, a Transformer with model width $d$, context $T$ and MLP width $4d$ "
        "spends (counting a multiply-add as 2 FLOPs, forward pass only):\n\n"
        "- MLP: two $d \\times 4d$ matmuls, $16 d^2$;\n"
        "- attention projections ($Q, K, V$ and output): four $d \\times d$ matmuls, $8 d^2$;\n"
        "- attention itself (scores $QK^\\top$ and the weighted sum of $V$): $4 T d$.\n\n"
        "So the share of the quadratic-in-context part is $\\frac{4Td}{4Td + 24d^2} = \\frac{T}{T + 6d}$: "
        "it shrinks as the model widens."
    )
    link("https://arxiv.org/abs/1706.03762", title="Vaswani+ 2017: Attention Is All You Need")
    # The GPT-3 family (Brown+ 2020, table 2.1): name, layers, d_model; context 2048 for all.
    configs = [
        ("125M", 12, 768), ("350M", 24, 1024), ("760M", 24, 1536), ("1.3B", 24, 2048),
        ("2.7B", 32, 2560), ("6.7B", 32, 4096), ("13B", 40, 5140), ("175B", 96, 12288),
    ]  # fmt: skip
    seq_len = 2048
    shares = {}
    for name, num_layers, d_model in configs:
        flops = flops_per_token(d_model, num_layers, seq_len)  # @inspect flops
        shares[name] = {kind: value / sum(flops.values()) for kind, value in flops.items()}
    attention_small = shares["125M"]["attention"]  # @inspect attention_small
    attention_large = shares["175B"]["attention"]  # @inspect attention_large
    text(
        f"At {seq_len} tokens of context, attention proper is {attention_small:.0%} of the FLOPs of "
        f"the smallest GPT-3 model but only {attention_large:.1%} of the 175B model, where the MLP "
        f"takes {shares['175B']['mlp']:.0%}. Optimizing attention in a small model may be optimizing "
        "the wrong thing for a large one."
    )
    plot(flops_share_figure(shares), width=600)
    link("https://arxiv.org/abs/2005.14165", title="Brown+ 2020: GPT-3")


def emergence():
    """Example 2: abilities that appear suddenly with scale."""
    text("### Example 2: emergence")
    text(
        "On many tasks, accuracy stays near chance as training compute grows over orders of "
        "magnitude, then rises sharply past some scale. Conclusions drawn below that scale, say that "
        "a method does not help, may simply not hold above it."
    )
    link("https://arxiv.org/abs/2206.07682", title="Wei+ 2022: emergent abilities")
    text(
        "How sharp a jump looks also depends on the metric. A toy model: suppose per-token accuracy "
        "$p$ improves smoothly with log-compute, and a task counts as solved only if all $k$ answer "
        "tokens are right, with probability $p^k$."
    )
    log_compute = [18 + 0.25 * i for i in range(33)]  # log10 training FLOPs, 1e18 .. 1e26
    per_token = [1 / (1 + math.exp(-(c - 22))) for c in log_compute]  # smooth in log-compute
    answer_len = 10
    exact_match = [p**answer_len for p in per_token]
    at_1e22 = exact_match[log_compute.index(22.0)]  # @inspect at_1e22
    at_1e24 = exact_match[log_compute.index(24.0)]  # @inspect at_1e24
    text(
        f"With $k = {answer_len}$, exact match is {at_1e22:.3f} at $10^{{22}}$ FLOPs and "
        f"{at_1e24:.2f} at $10^{{24}}$, although per-token accuracy rose smoothly all along."
    )
    plot(emergence_figure(log_compute, per_token, exact_match, answer_len), width=500)
    link("https://arxiv.org/abs/2304.15004", title="Schaeffer+ 2023: emergence a mirage?")


def flops_per_token(d_model, num_layers, seq_len):
    """Forward FLOPs per token by kind: (768, 12, 2048) -> {"mlp": ..., "projections": ..., "attention": ...}."""
    return {
        "mlp": num_layers * 2 * (2 * d_model * 4 * d_model),  # up and down projection, d_ff = 4 d
        "projections": num_layers * 2 * (4 * d_model * d_model),  # W_q, W_k, W_v, W_o
        "attention": num_layers * 2 * (2 * seq_len * d_model),  # Q K^T, then weights times V
    }


def flops_share_figure(shares):  # @hide
    """Stacked bars: the share of each kind of FLOPs per GPT-3 model size."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = list(shares)
    bottom = [0.0] * len(names)
    for kind, color in [("mlp", "#4c72b0"), ("projections", "#55a868"), ("attention", "#c44e52")]:
        values = [shares[name][kind] for name in names]
        ax.bar(names, values, bottom=bottom, label=kind, color=color)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("share of forward FLOPs")
    ax.set_xlabel("GPT-3 model (context 2048)")
    ax.legend(loc="lower right")
    plt.close(fig)
    return fig


def emergence_figure(log_compute, per_token, exact_match, answer_len):  # @hide
    """Per-token accuracy vs exact match of a k-token answer, against log-compute."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(log_compute, per_token, label="per-token accuracy $p$")
    ax.plot(log_compute, exact_match, label=f"exact match $p^{{{answer_len}}}$")
    ax.set_xlabel("log10 training FLOPs (toy)")
    ax.set_ylabel("accuracy")
    ax.legend()
    plt.close(fig)
    return fig


def three_kinds_of_knowledge():
    """Three kinds of knowledge"""
    text("## What transfers to frontier models?")
    text(
        "Three kinds of knowledge:\n\n"
        "1. **Mechanics**: how things work. What a Transformer computes, how a kernel moves data, "
        "how model parallelism splits a model over GPUs. This can be taught.\n"
        "2. **Mindset**: squeezing the most out of the hardware and taking scaling seriously. This "
        "mindset, more than any single idea, produced today's models, and it can be taught.\n"
        "3. **Intuitions**: which data and modeling decisions give good accuracy. These can be "
        "taught only in part, because intuitions formed at small scale do not always transfer."
    )
    text(
        "Some decisions are not justified by any theory at all; they are found by experiment. The "
        "paper that introduced the SwiGLU activation, now in most large models, is candid about it: "
        '*"We offer no explanation as to why these architectures seem to work; we attribute their '
        'success, as all else, to divine benevolence."*'
    )
    link("https://arxiv.org/abs/2002.05202", title="Shazeer 2020: GLU Variants Improve Transformer")


def bitter_lesson():
    """The bitter lesson, read correctly"""
    text("## The bitter lesson, read correctly")
    link(
        "http://www.incompleteideas.net/IncIdeas/BitterLesson.html",
        title="Sutton 2019: The Bitter Lesson",
    )
    text(
        "- Wrong reading: scale is all that matters, algorithms do not.\n"
        "- Right reading: **algorithms that scale** are what matters.\n\n"
        "$$\\text{accuracy} = \\text{efficiency} \\times \\text{resources}$$\n\n"
        "At large scale efficiency matters *more*, not less: nobody can afford to waste half of a "
        "\\$100M training run."
    )
    text(
        "Algorithms have in fact improved quickly. Hernandez and Brown measured the training compute "
        "needed to reach AlexNet's ImageNet accuracy and found it fell 44x from 2012 to 2019."
    )
    link("https://arxiv.org/abs/2005.04305", title="Hernandez+ 2020: algorithmic efficiency")
    efficiency_gain, years = 44, 2019 - 2012  # the paper's measurement
    doubling_months = (
        12 * years * math.log(2) / math.log(efficiency_gain)
    )  # @inspect doubling_months
    moore_gain = 2 ** (years / 2)  # @inspect moore_gain
    text(
        f"That is a doubling of algorithmic efficiency every {doubling_months:.0f} months, against "
        f"{moore_gain:.0f}x from Moore's law over the same {years} years."
    )
    text(
        "So the question this course asks, at every scale, is: **what is the best model we can build "
        "with a given compute and data budget?** In other words: maximize efficiency."
    )


# Hand-formatted (fmt: off) so that each reference stays on one line.
# fmt: off
def landscape():
    """The landscape"""
    text("## The landscape")
    text("### Pre-neural language models (before the 2010s)")
    text(
        "Language models began as a way to measure the entropy of English. n-gram models were then "
        "the workhorse of machine translation and speech recognition; Google trained 5-gram models "
        "on 2 trillion tokens in 2007, a data scale modern LMs only recently reached."
    )
    link("https://www.princeton.edu/~wbialek/rome/refs/shannon_51.pdf", title="Shannon 1951: Prediction and Entropy of Printed English")
    link("https://aclanthology.org/D07-1090/", title="Brants+ 2007: Large Language Models in Machine Translation")

    text("### Neural ingredients (2000s-2010s)")
    link("https://www.jmlr.org/papers/volume3/bengio03a/bengio03a.pdf", title="Bengio+ 2003: A Neural Probabilistic Language Model")
    link("https://arxiv.org/abs/1409.3215", title="Sutskever+ 2014: Sequence to Sequence Learning")
    link("https://arxiv.org/abs/1412.6980", title="Kingma+ 2014: Adam")
    link("https://arxiv.org/abs/1409.0473", title="Bahdanau+ 2014: attention for translation")
    link("https://arxiv.org/abs/1706.03762", title="Vaswani+ 2017: the Transformer")
    link("https://arxiv.org/abs/1701.06538", title="Shazeer+ 2017: mixture of experts")
    link("https://arxiv.org/abs/1811.06965", title="Huang+ 2018: GPipe (pipeline parallelism)")
    link("https://arxiv.org/abs/1910.02054", title="Rajbhandari+ 2019: ZeRO (sharded optimizer state)")
    link("https://arxiv.org/abs/1909.08053", title="Shoeybi+ 2019: Megatron-LM (tensor parallelism)")
    text("By 2020 every ingredient of today's recipe was on the table.")

    text("### Early foundation models (late 2010s)")
    link("https://arxiv.org/abs/1802.05365", title="Peters+ 2018: ELMo (pretrain an LSTM, fine-tune)")
    link("https://arxiv.org/abs/1810.04805", title="Devlin+ 2018: BERT (pretrain a Transformer, fine-tune)")
    link("https://arxiv.org/abs/1910.10683", title="Raffel+ 2019: T5 (11B; every task as text-to-text)")

    text("### Embracing scale, and closing up")
    link(GPT2_PAPER, title="Radford+ 2019: GPT-2 (1.5B; fluent text, zero-shot, staged release)")
    link("https://arxiv.org/abs/2001.08361", title="Kaplan+ 2020: scaling laws")
    link("https://arxiv.org/abs/2005.14165", title="Brown+ 2020: GPT-3 (175B; in-context learning; closed)")
    link("https://arxiv.org/abs/2204.02311", title="Chowdhery+ 2022: PaLM (540B; undertrained)")
    link("https://arxiv.org/abs/2203.15556", title="Hoffmann+ 2022: Chinchilla (70B; compute-optimal scaling)")

    text("### Open models")
    link("https://arxiv.org/abs/2101.00027", title="Gao+ 2020: The Pile (EleutherAI)")
    link("https://github.com/kingoflolz/mesh-transformer-jax", title="Wang & Komatsuzaki 2021: GPT-J")
    link("https://arxiv.org/abs/2205.01068", title="Zhang+ 2022: OPT (175B GPT-3 replication; hardware woes)")
    link("https://arxiv.org/abs/2211.05100", title="BigScience 2022: BLOOM (careful data sourcing)")
    link("https://arxiv.org/abs/2302.13971", title="Touvron+ 2023: Llama")
    link("https://arxiv.org/abs/2412.15115", title="Qwen 2024: Qwen2.5")
    link("https://arxiv.org/abs/2412.19437", title="DeepSeek-AI 2024: DeepSeek-V3")
    link("https://arxiv.org/abs/2402.00838", title="Groeneveld+ 2024: OLMo")
# fmt: on


def levels_of_openness():
    """Levels of openness"""
    text("## Levels of openness")
    text(
        "- **Closed** (e.g. GPT-4o): API access only.\n"
        "- **Open-weight** (e.g. DeepSeek): weights, plus a paper with architecture and some training "
        "details, but nothing about the data.\n"
        "- **Open-source** (e.g. OLMo): weights *and* data, and a paper with most details (though "
        "rarely the rationale or the failed experiments)."
    )
    text(
        "Today's frontier includes OpenAI's GPT-4o, Anthropic's Claude, xAI's Grok, Google's Gemini, "
        "Meta's Llama, DeepSeek's R1, Alibaba's Qwen and Tencent's Hunyuan. In this course we start "
        "from the early ingredients, follow how each technique works, and move towards current "
        "practice using what the open community publishes and what the closed labs let slip."
    )


def what_is_this_program():
    """What is this program?"""
    text("## What is this program?")
    text(
        "This is an *executable lecture*: a program whose execution delivers the lecture. You can "
        "read and run the code (everything is code), step through it and inspect variables, see the "
        "lecture's structure in the outline, and jump to the definitions of the functions it calls."
    )
    total = 0  # @inspect total
    for x in [1, 2, 3]:  # @inspect x
        total += x  # @inspect total
    text(
        f"The loop above left `total = {total}`. Step through it: the inspect panel shows `x` and "
        "`total` after each line, because those lines carry an `# @inspect` comment."
    )
    text(
        "Jumping to definitions works for library code too; the tokenizer this lecture trains is "
        "the project's own:"
    )
    link(train_bpe)


def it_is_all_about_efficiency():
    """It is all about efficiency"""
    text("## It is all about efficiency")
    text(
        "Resources are data plus hardware (compute, memory, communication bandwidth). The question: "
        "**how do you train the best model given a fixed set of resources?** For example: given a "
        "Common Crawl dump and 32 H100s for 2 weeks, what should you do?"
    )
    text(
        "The course is organized as five units, each a set of design decisions:\n\n"
        "1. **Basics**: tokenization, architecture, loss function, optimizer, learning rate.\n"
        "2. **Systems**: kernels, parallelism, quantization, activation checkpointing, CPU "
        "offloading, inference.\n"
        "3. **Scaling laws**: the scaling sequence, model complexity, loss metric, parametric form.\n"
        "4. **Data**: evaluation, curation, transformation, filtering, deduplication, mixing.\n"
        "5. **Alignment**: supervised fine-tuning, reinforcement learning, preference data, "
        "verifiers, synthetic data."
    )


def unit_basics():
    """Unit 1: basics"""
    text("## Unit 1: basics")
    text("Goal: a basic version of the whole pipeline working: tokenizer, model, training loop.")
    text(
        "**Tokenization** converts between strings and sequences of integers. The intuition: break "
        "strings into popular segments. We use byte-pair encoding (BPE), the second half of this "
        "lecture. Tokenizer-free models that read raw bytes are promising but have not yet been "
        "scaled to the frontier."
    )
    link("https://arxiv.org/abs/1508.07909", title="Sennrich+ 2015: subword units (BPE)")
    link("https://arxiv.org/abs/2305.07185", title="Yu+ 2023: MegaByte (byte-level modeling)")
    link("https://arxiv.org/abs/2412.09871", title="Pagnoni+ 2024: Byte Latent Transformer")
    text(
        "**Architecture** starts from the original Transformer; the variants that matter are the "
        "activation (ReLU, SwiGLU), positions (sinusoidal, RoPE), normalization (LayerNorm, RMSNorm) "
        "and its placement (pre- vs post-norm), the MLP (dense vs mixture of experts), the attention "
        "(full, sliding window, linear; multi-head vs grouped-query vs multi-head latent) and "
        "attention-free state-space models."
    )
    link("https://arxiv.org/abs/2104.09864", title="Su+ 2021: RoPE")
    link("https://arxiv.org/abs/1910.07467", title="Zhang & Sennrich 2019: RMSNorm")
    link("https://arxiv.org/abs/2002.04745", title="Xiong+ 2020: pre-norm vs post-norm")
    link("https://arxiv.org/abs/2305.13245", title="Ainslie+ 2023: grouped-query attention")
    link("https://arxiv.org/abs/2302.10866", title="Poli+ 2023: Hyena")
    text(
        "**Training**: the optimizer (AdamW, Muon, SOAP), the learning-rate schedule (cosine, WSD), "
        "batch size (the critical batch size), regularization (dropout, weight decay) and "
        "hyperparameters. Details matter: a well-tuned run and a careless one can differ by far "
        "more than any architecture change."
    )
    link("https://arxiv.org/abs/1711.05101", title="Loshchilov & Hutter 2017: AdamW")
    link("https://arxiv.org/abs/1812.06162", title="McCandlish+ 2018: large-batch training")


def unit_systems():
    """Unit 2: systems"""
    text("## Unit 2: systems")
    text("Goal: squeeze the most out of the hardware.")
    text(
        "**Kernels.** A GPU is a large array of streaming multiprocessors doing floating-point math, "
        "next to off-chip memory (DRAM) that is slow to reach. Think of DRAM as a warehouse and the "
        "on-chip SRAM as the factory floor: the bottleneck is usually moving data, not computing on "
        "it. We organize computation to move less (fusion, tiling) and write kernels in Triton."
    )
    link("https://triton-lang.org/", title="Triton")
    link("https://arxiv.org/abs/2205.14135", title="Dao+ 2022: FlashAttention")
    text(
        "**Parallelism.** Between GPUs data moves even more slowly, so the same principle holds: "
        "use collective operations (all-reduce, all-gather, reduce-scatter), shard parameters, "
        "gradients, optimizer state and activations, and split the computation (data, tensor, "
        "pipeline parallelism)."
    )
    text(
        "**Inference** turns a prompt into tokens. Every use of a model costs inference, so "
        "globally it exceeds the one-off cost of training; it is also inside RL, test-time compute "
        "and evaluation. It has two phases:\n\n"
        "- **prefill**: the prompt's tokens are all known and processed at once (like training);\n"
        "- **decode**: new tokens come one at a time."
    )
    text(
        "Why the phases differ: a $d \\times d$ weight matrix applied to $B$ tokens costs $2Bd^2$ "
        "FLOPs and reads the $d^2$ weights (2 bytes each in bf16) plus $2Bd$ activation values, so "
        "its *arithmetic intensity* (FLOPs per byte moved) is $\\frac{Bd}{d + 2B}$, about $B$ when "
        "$B \\ll d$."
    )
    d_model = 4096
    prefill_intensity = arithmetic_intensity(2048, d_model)  # @inspect prefill_intensity
    decode_intensity = arithmetic_intensity(1, d_model)  # @inspect decode_intensity
    ridge = H100_FLOPS / H100_BYTES_PER_S  # @inspect ridge
    text(
        f"With $d = {d_model}$: prefilling 2048 tokens does {prefill_intensity:.0f} FLOPs per byte, "
        f"decoding one token {decode_intensity:.1f}. An H100 needs about {ridge:.0f} FLOPs per byte "
        "to keep its math units busy, so prefill is **compute-bound** and decode is "
        "**memory-bound**: during decode the GPU mostly waits for weights to arrive."
    )
    text(
        "Ways to speed up decoding: cheaper models (pruning, quantization, distillation); "
        "speculative decoding (a small draft model proposes several tokens, the big model checks "
        "them in one parallel pass, and the output distribution is exactly the big model's); and "
        "systems work such as KV caching and batching many requests together."
    )
    link("https://arxiv.org/abs/2211.17192", title="Leviathan+ 2023: speculative decoding")


def arithmetic_intensity(num_tokens, d_model, bytes_per_value=2):
    """FLOPs per byte of a [num_tokens, d] x [d, d] matmul: (1, 4096) -> ~1.0."""
    flops = 2 * num_tokens * d_model * d_model
    # Read the weights and the input activations, write the output activations.
    bytes_moved = bytes_per_value * (d_model * d_model + 2 * num_tokens * d_model)
    return flops / bytes_moved


def unit_scaling_laws():
    """Unit 3: scaling laws"""
    text("## Unit 3: scaling laws")
    text(
        "Goal: run experiments small, predict the hyperparameters and loss of a large run. The "
        "central question: with a FLOPs budget $C$, train a bigger model (more parameters $N$) or "
        "on more data (more tokens $D$)? Training costs about $C \\approx 6ND$ FLOPs."
    )
    link("https://arxiv.org/abs/2001.08361", title="Kaplan+ 2020: scaling laws")
    link("https://arxiv.org/abs/2203.15556", title="Hoffmann+ 2022: Chinchilla")
    text(
        "Compute-optimal scaling laws answer: grow both together. The Chinchilla rule of thumb is "
        "$D \\approx 20 N$:"
    )
    rows = []
    for num_params in [125e6, 1.4e9, 7e9, 70e9]:
        num_tokens = chinchilla_tokens(num_params)  # @inspect num_tokens
        rows.append(
            f"| {count(num_params)} | {count(num_tokens)} | ${sci(6 * num_params * num_tokens)}$ |"
        )
    text("| parameters $N$ | tokens $D = 20N$ | FLOPs $6ND$ |\n|---|---|---|\n" + "\n".join(rows))
    text(
        "Back to the question of 32 H100s for 2 weeks. At 40% of peak (a good model FLOPs "
        "utilization), the budget is:"
    )
    num_gpus, seconds, mfu = 32, 14 * 24 * 3600, 0.4
    budget = num_gpus * seconds * H100_FLOPS * mfu  # @inspect budget
    # C = 6 N D with D = 20 N gives C = 120 N^2.
    best_params = math.sqrt(budget / 120)  # @inspect best_params
    best_tokens = chinchilla_tokens(best_params)  # @inspect best_tokens
    text(
        f"$C \\approx {sci(budget)}$ FLOPs, and since $C = 6N \\cdot 20N = 120N^2$, the "
        f"compute-optimal model has $N \\approx$ {count(best_params)} parameters trained on "
        f"$D \\approx$ {count(best_tokens)} tokens."
    )
    llama3_params, llama3_tokens = 8e9, 15e12  # reported by Meta for Llama 3 8B
    llama3_ratio = llama3_tokens / llama3_params  # @inspect llama3_ratio
    text(
        "The rule ignores inference. A model that will serve billions of requests is worth "
        f"over-training: Llama 3 8B was reportedly trained on {llama3_tokens / 1e12:.0f}T tokens, "
        f"{llama3_ratio:,.0f} tokens per parameter, {llama3_ratio / 20:.0f}x the Chinchilla ratio."
    )
    link("https://arxiv.org/abs/2407.21783", title="Llama Team 2024: The Llama 3 Herd of Models")


def count(x):  # @hide
    """A large count in words: 1.4e9 -> "1.4B", 2.5e11 -> "250B"."""
    for scale, suffix in [(1e12, "T"), (1e9, "B"), (1e6, "M")]:
        if x >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:,.0f}"


def sci(x):  # @hide
    """A float as LaTeX scientific notation: 1.5e22 -> "1.5 \\times 10^{22}"."""
    exponent = math.floor(math.log10(x))
    return f"{x / 10**exponent:.1f} \\times 10^{{{exponent}}}"


def chinchilla_tokens(num_params):
    """Compute-optimal training tokens, D ~ 20 N: 1.4e9 -> 2.8e10."""
    return 20 * num_params


def unit_data():
    """Unit 4: data"""
    text("## Unit 4: data")
    text(
        "What a model can do is mostly decided by what it was trained on: multilingual data gives "
        "multilingual ability, code gives coding ability. Pretraining mixes are built from web "
        "crawls (Common Crawl), books, arXiv, GitHub, Wikipedia, StackExchange and more."
    )
    link("https://arxiv.org/abs/2101.00027", title="Gao+ 2020: The Pile")
    text(
        '**Evaluation** comes first, since it says what "better" means: perplexity; standardized '
        "tests (MMLU, HellaSwag, GSM8K); instruction following (AlpacaEval, IFEval, WildBench); "
        "test-time compute (chain of thought, ensembling); LM-as-a-judge; whole systems (RAG, agents)."
    )
    link("https://arxiv.org/abs/2009.03300", title="Hendrycks+ 2020: MMLU")
    text(
        "**Curation.** Data does not fall from the sky. It is crawled, bought (frontier labs license "
        "data), or argued over (training on copyrighted text relies on fair use). It arrives as "
        "HTML, PDFs and directories of files, not text; raw web pages are mostly boilerplate, spam "
        "and markup."
    )
    link("https://arxiv.org/abs/2303.15715", title="Henderson+ 2023: fair use")
    text(
        "**Processing**: *transformation* (HTML/PDF to text, keeping content and some structure), "
        "*filtering* (classifiers keep high-quality text and drop harmful text), and "
        "*deduplication* (saves compute and reduces memorization; Bloom filters, MinHash)."
    )
    link("https://arxiv.org/abs/2107.06499", title="Lee+ 2021: deduplication")
    text(
        "Even a small, curated corpus has duplicates. Exact line duplicates in `corpus.en`, the "
        "file we train a tokenizer on below:"
    )
    lines = data_path("corpus.en").read_text(encoding="utf-8").splitlines()
    counts = Counter(line for line in lines if line.strip())
    num_lines = sum(counts.values())  # @inspect num_lines
    num_duplicates = num_lines - len(counts)  # @inspect num_duplicates
    most_repeated, times = counts.most_common(1)[0]  # @inspect most_repeated times
    text(
        f"{num_duplicates:,} of its {num_lines:,} non-empty lines ({num_duplicates / num_lines:.1%}) "
        f"repeat an earlier line; the most repeated one appears {times} times: `{most_repeated[:80]}`"
    )


def unit_alignment():
    """Unit 5: alignment"""
    text("## Unit 5: alignment")
    text(
        "A base model is raw potential: excellent at continuing text, not at being useful. "
        "Alignment makes it follow instructions, tunes its style (format, length, tone) and adds "
        "safety (refusing harmful requests)."
    )
    text(
        "**Supervised fine-tuning (SFT)** trains on (prompt, response) pairs to maximize "
        "$\\log p_\\theta(\\text{response} \\mid \\text{prompt})$. The base model already has the "
        "skills; a small number of good examples is enough to surface them."
    )
    link("https://arxiv.org/abs/2305.11206", title="Zhou+ 2023: LIMA: Less Is More for Alignment")
    text(
        "**Learning from feedback** improves on SFT without writing more responses by hand. The "
        "signal comes from *preferences* (the model writes responses A and B, someone says which is "
        "better) or from *verifiers* (formal ones for math and code, learned ones such as an "
        "LM-as-a-judge). Algorithms:\n\n"
        "- **PPO**, from reinforcement learning, used for RLHF;\n"
        "- **DPO**, for preference data, optimizes the policy directly without a reward model or RL "
        "loop: $-\\log \\sigma\\big(\\beta \\log \\frac{\\pi(y_w|x)}{\\pi_\\text{ref}(y_w|x)} - "
        "\\beta \\log \\frac{\\pi(y_l|x)}{\\pi_\\text{ref}(y_l|x)}\\big)$;\n"
        "- **GRPO** drops PPO's learned value function: it samples a group of responses per prompt "
        "and uses each reward's standing within its group as the advantage."
    )
    link("https://arxiv.org/abs/1707.06347", title="Schulman+ 2017: Proximal Policy Optimization")
    link("https://arxiv.org/abs/2203.02155", title="Ouyang+ 2022: InstructGPT")
    link("https://arxiv.org/abs/2305.18290", title="Rafailov+ 2023: Direct Preference Optimization")
    link("https://arxiv.org/abs/2402.03300", title="Shao+ 2024: DeepSeekMath (GRPO)")
    # A verifier's verdicts (1 = correct) on 8 sampled responses to one prompt.
    rewards = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    mean = sum(rewards) / len(rewards)  # @inspect mean
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / len(rewards))  # @inspect std
    advantages = [(r - mean) / std for r in rewards]  # @inspect advantages
    text(
        f"For a group where {rewards.count(1.0)} of {len(rewards)} samples are correct, GRPO pushes "
        f"up each correct one with advantage {advantages[0]:.2f} and down each wrong one with "
        f"{advantages[1]:.2f}: rare successes count more."
    )


def efficiency_drives_design():
    """Efficiency drives design decisions"""
    text("## Efficiency drives design decisions")
    text(
        "Today we are **compute-constrained**, and it shows everywhere:\n\n"
        "- data processing: do not spend precious compute on bad or irrelevant data;\n"
        "- tokenization: raw bytes are elegant but make sequences too long for today's architectures;\n"
        "- architecture: many changes cut memory or FLOPs (shared KV caches, sliding-window attention);\n"
        "- training: a single epoch is enough;\n"
        "- scaling laws: tune hyperparameters on small models, spend the big budget once;\n"
        "- alignment: tuning for the use case lets a smaller base model do the job."
    )
    text(
        "Tomorrow, frontier labs are becoming **data-constrained**. Then the decisions shift: one "
        "epoch stops making sense when there is compute to spare, so we repeat data or find smarter "
        "ways to use it, and architectures chosen for compute efficiency (the Transformer among "
        "them) may give way to others. The decisions reflect the regime."
    )
    link("https://arxiv.org/abs/2305.16264", title="Muennighoff+ 2023: data-constrained")


# ----------------------------------------------------------------------
# Part 2: tokenization
# ----------------------------------------------------------------------


def tokenization_intro():
    """Tokenization: strings and indices"""
    text("# Tokenization")
    text("This part owes much to Andrej Karpathy's video on tokenization.")
    link("https://www.youtube.com/watch?v=zduSFxRajkE", title="Karpathy 2024: tokenizer video")
    text(
        "Raw text is a Unicode string. A language model places a probability distribution over "
        "sequences of *tokens*, integer indices. A **tokenizer** converts between the two:\n\n"
        "- `encode(string) -> list[int]`\n"
        "- `decode(list[int]) -> string`\n\n"
        "The **vocabulary size** is the number of possible tokens. Two quantities pull against each "
        "other: a bigger vocabulary gives shorter sequences (cheaper attention, more text per context "
        "window) but a bigger embedding table with rarer, less-trained rows. We measure the first by "
        "the **compression ratio**, UTF-8 bytes per token:"
    )
    link(compression_ratio)


def tokenization_examples():
    """Tokenization examples (GPT-2)"""
    text("## What a real tokenizer does")
    text(
        "GPT-2's tokenizer is a BPE tokenizer. Our own `Tokenizer` reads its published vocabulary "
        "and merges files; here it is on a few strings (an interactive playground for many "
        "tokenizers is linked below)."
    )
    link("https://tiktokenizer.vercel.app/", title="Tiktokenizer (interactive)")
    gpt2 = load_gpt2_tokenizer()  # @stepover
    vocab_size = len(gpt2.vocab)  # @inspect vocab_size
    num_merges = len(gpt2.merges)  # @inspect num_merges
    text(f"It has {vocab_size:,} tokens: 256 bytes, {num_merges:,} merges and `{END_OF_TEXT}`.")

    ids, pieces = tokenize("hello world", gpt2)  # @inspect ids pieces
    world_alone, _ = tokenize("world", gpt2)  # @inspect world_alone
    text(
        f"A word and the space before it are one token: `' world'` is {ids[-1]}, while `'world'` on "
        f"its own is {world_alone[0]}. The space is deliberately attached to the *following* word."
    )
    ids, pieces = tokenize("hello hello", gpt2)  # @inspect ids pieces
    text(
        f"So the same word gets different tokens at the start and in the middle of a sentence: "
        f"{ids[0]} and {ids[1]}. The model has to learn that they mean the same thing."
    )
    ids, pieces = tokenize("HELLO Hello hello", gpt2)  # @inspect ids pieces
    text(
        f"Case matters too: each spelling is a different token sequence, and the rarer `HELLO` "
        f"needs {len(gpt2.encode('HELLO'))} tokens."
    )
    ids, pieces = tokenize("In 2025, 12345678 + 987654321 = 999999999", gpt2)  # @inspect ids pieces
    text(
        "Numbers are cut into chunks of a few digits, wherever the merges happened to fall, not "
        "into place values: one reason arithmetic is awkward for language models."
    )
    ids, pieces = tokenize(GREETING, gpt2)  # @inspect ids pieces
    piece_bytes = [gpt2.vocab[i] for i in ids]  # @inspect piece_bytes
    partial = [b for b in piece_bytes if "\ufffd" in b.decode("utf-8", errors="replace")]
    text(
        f"`{GREETING}` takes {len(ids)} tokens. The emoji and the Chinese characters are split into "
        f"{len(partial)} byte pieces that are not valid UTF-8 on their own (decoded alone, they "
        "show as U+FFFD); only together do they make characters."
    )
    roundtrip = gpt2.decode(gpt2.encode(GREETING))  # @inspect roundtrip
    assert roundtrip == GREETING
    ratio = compression_ratio(GREETING, gpt2)  # @inspect ratio
    text(
        f"Decoding gives the string back exactly; the compression ratio here is {ratio:.2f} bytes per token."
    )
    link(GPT2_PAPER, title="Radford+ 2019: GPT-2")


@functools.cache
def load_gpt2_tokenizer():
    """Our Tokenizer over GPT-2's published vocabulary and merges files."""
    return Tokenizer.from_files(
        data_path("gpt2_vocab.json"), data_path("gpt2_merges.txt"), special_tokens=[END_OF_TEXT]
    )


def tokenize(string, tokenizer):
    """Token ids and each token decoded on its own: "hello world" -> ([31373, 995], ['hello', ' world'])."""
    ids = tokenizer.encode(string)
    return ids, [tokenizer.decode([i]) for i in ids]


def character_tokenizer():
    """Character tokenizer"""
    text("## Character tokenizer")
    text(
        "A Unicode string is a sequence of characters, and each character has an integer *code "
        "point*, `ord(c)`. Use that as the token id:"
    )
    a, earth = ord("a"), ord("🌍")  # @inspect a earth
    text(f"`ord('a')` is {a} and `ord('🌍')` is {earth:,}.")
    tokenizer = CharacterTokenizer()
    ids = tokenizer.encode(GREETING)  # @inspect ids
    assert tokenizer.decode(ids) == GREETING
    ratio = compression_ratio(GREETING, tokenizer)  # @inspect ratio
    text(f"On `{GREETING}`: {len(ids)} tokens, compression ratio {ratio:.2f}.")
    stories = read_tinystories()
    distinct = Counter(stories)
    num_distinct = len(distinct)  # @inspect num_distinct
    num_once = sum(1 for count in distinct.values() if count == 1)  # @inspect num_once
    story_ratio = compression_ratio(stories, tokenizer)  # @inspect story_ratio
    text(
        f"Two problems. **The vocabulary is huge**: {tokenizer.vocab_size:,} possible code points, "
        "each needing an embedding row. **Most of it is rare**: the "
        f"{len(stories):,}-character TinyStories sample uses only {num_distinct} of those ids, "
        f"{num_once} of them exactly once; a model sees too few examples of rare ids to learn them. "
        f"And on English the sequences are no shorter than bytes: ratio {story_ratio:.2f} on the sample."
    )
    link("https://arxiv.org/abs/2305.07759", title="Eldan & Li 2023: TinyStories")


def read_tinystories():
    """The TinyStories sample shipped with the course data, as one string."""
    return data_path("tinystories_sample.txt").read_text(encoding="utf-8")


def byte_tokenizer():
    """Byte tokenizer"""
    text("## Byte tokenizer")
    text(
        "A Unicode string can also be written as bytes, integers from 0 to 255, most commonly "
        "through UTF-8, where a character takes 1 to 4 bytes:"
    )
    a_bytes = b"a"  # @inspect a_bytes
    earth_bytes = "🌍".encode()  # @inspect earth_bytes
    text(
        f"`'a'` is the single byte {list(a_bytes)}, `'🌍'` the {len(earth_bytes)} bytes {list(earth_bytes)}."
    )
    tokenizer = ByteTokenizer()
    ids = tokenizer.encode(GREETING)  # @inspect ids
    assert tokenizer.decode(ids) == GREETING
    ratio = compression_ratio(GREETING, tokenizer)  # @inspect ratio
    story_ratio = compression_ratio(read_tinystories(), tokenizer)  # @inspect story_ratio
    text(
        f"The vocabulary is tiny (256) and nothing is ever unknown. But the compression ratio is "
        f"{ratio:.0f} by definition ({story_ratio:.0f} on TinyStories too): sequences are as long as "
        "they can be, and attention's cost grows with the square of the sequence length."
    )


def word_tokenizer():
    """Word tokenizer"""
    text("## Word tokenizer")
    text(
        "Closer to classical NLP: split the string into words with a regular expression and give "
        "each word seen in training an id. Words never seen map to a special unknown token."
    )
    stories = read_tinystories()
    tokenizer = WordTokenizer.train(stories)  # @stepover
    vocab_size = tokenizer.vocab_size  # @inspect vocab_size
    ratio = compression_ratio(stories, tokenizer)  # @inspect ratio
    ids = tokenizer.encode(GREETING)  # @inspect ids
    decoded = tokenizer.decode(ids)  # @inspect decoded
    text(
        f"Trained on the TinyStories sample, it has {vocab_size:,} words and a compression ratio of "
        f"{ratio:.2f} on that same text: far better than bytes. But `{GREETING}` comes back as "
        f"`{decoded}`."
    )
    words = pretokenize(data_path("corpus.en").read_text(encoding="utf-8"))
    growth = {}  # words read -> distinct words among them
    for fraction in [0.1, 0.25, 0.5, 1.0]:
        seen = Counter(words[: int(fraction * len(words))])
        growth[sum(seen.values())] = len(seen)  # @inspect growth
    singletons = sum(1 for c in seen.values() if c == 1) / len(seen)  # @inspect singletons
    text(
        "On `corpus.en`, the number of distinct words keeps growing with the text: "
        + ", ".join(f"{n:,} distinct among the first {w:,} words" for w, n in growth.items())
        + f". And {singletons:.0%} of the distinct words occur only once."
    )
    text(
        "The problems: the number of words is unbounded (every name, typo, number and language "
        "adds more), so there is no natural fixed vocabulary size; many words are rare, so the "
        "model learns little about them; and unseen words all become one unknown token, which "
        "loses information and makes perplexity comparisons meaningless."
    )


def bpe_by_hand():
    """Byte-pair encoding, by hand"""
    text("## Byte-pair encoding (BPE)")
    text(
        "BPE was invented by Philip Gage in 1994 for data compression, brought to NLP for "
        "neural machine translation by Sennrich+ 2015, and used by GPT-2. The idea: *train* the "
        "tokenizer on raw text so that common sequences of bytes become single tokens and rare "
        "sequences are spelled out with several."
    )
    link(title="Gage 1994: A New Algorithm for Data Compression (C Users Journal)")
    link("https://arxiv.org/abs/1508.07909", title="Sennrich+ 2015: BPE for NMT")
    text(
        "The training algorithm: start from the bytes; count every pair of adjacent tokens; merge "
        "the most frequent pair into a new token (ties: the pair whose byte strings compare "
        "greater); repeat."
    )
    string = "the cat in the hat"
    ids = list(string.encode("utf-8"))  # @inspect ids
    vocab = {i: bytes([i]) for i in range(256)}  # id -> the bytes it stands for
    merges = {}  # @inspect merges
    for new_id in range(256, 256 + 3):  # @inspect new_id
        counts = count_pairs(ids)  # @inspect counts
        pair = max(counts, key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]]))  # @inspect pair
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        new_token = vocab[new_id].decode("utf-8")  # @inspect new_token
        merges[pair] = new_id  # @inspect merges
        ids = merge_pair(ids, pair, new_id)  # @inspect ids
    text(
        f"Three merges turned {len(string.encode('utf-8'))} bytes into {len(ids)} tokens. The "
        f"last new token is `{new_token!r}`: nothing stops plain BPE from merging across a space."
    )
    link(count_pairs)
    link(merge_pair)
    text(  # @clear counts pair new_token new_id
        "**Encoding** a new string replays the merges in the order they were learned; **decoding** "
        "concatenates each token's bytes. `BPETokenizer` packages exactly this loop:"
    )
    link(BPETokenizer)
    tokenizer = BPETokenizer(merges)
    # The same loop, packaged as a training method, learns the same merges.
    assert BPETokenizer.train(string, num_merges=3).merges == merges  # @stepover
    encoded = tokenizer.encode("the hat")  # @inspect encoded
    decoded = tokenizer.decode(encoded)  # @inspect decoded
    text(f"`'the hat'` becomes {len(encoded)} tokens and decodes back to `{decoded!r}`.")


def pretokenization():
    """Pre-tokenization"""
    text("## Pre-tokenization")
    text(
        "GPT-2 first splits text into *pre-tokens* with a regular expression (roughly: words with "
        "their leading space, numbers, punctuation, whitespace) and merges only inside them. "
        "That is what `train_bpe` does. On the same sentence:"
    )
    string = "the cat in the hat"
    pretokens = pretokenize(string)  # @inspect pretokens
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cat.txt"
        path.write_text(string, encoding="utf-8")
        _, library_merges = train_bpe(path, vocab_size=256 + 3)  # @stepover
    library = readable(library_merges)  # @inspect library
    plain = BPETokenizer.train(string, num_merges=3)  # @stepover
    by_hand = readable(
        [(plain.vocab[a], plain.vocab[b]) for a, b in plain.merges]
    )  # @inspect by_hand
    num_agree = next(i for i, (x, y) in enumerate(zip(by_hand, library, strict=True)) if x != y)
    text(
        f"The first {num_agree} merges agree, then `train_bpe` picks `{library[num_agree]!r}` "
        f"where the plain loop picked `{by_hand[num_agree]!r}`: with {len(pretokens)} pre-tokens, "
        "merges stay inside words, so no token can swallow the space after a word."
    )


def bpe_on_a_corpus():
    """Training BPE on a corpus"""
    text("## Training BPE on a corpus")
    text(
        "Now the real thing: `train_bpe` on `corpus.en`, with `<|endoftext|>` as a special token "
        "that is never split. It keeps pair counts up to date incrementally instead of recounting "
        "everything after each merge, which is what makes it fast."
    )
    corpus_size = len(read_corpus().encode("utf-8"))  # @inspect corpus_size
    start = time.perf_counter()
    vocab, merges = train_corpus_tokenizer()  # @stepover
    seconds = time.perf_counter() - start  # @inspect seconds
    num_merges = len(merges)  # @inspect num_merges
    first_merges = readable(merges[:10])  # @inspect first_merges
    last_merges = readable(merges[-10:])  # @inspect last_merges
    text(
        f"Training on {corpus_size:,} bytes to {len(vocab)} tokens ({num_merges} merges) took "
        f"{seconds:.2f} s. The first merges, {format_merges(first_merges)}, join the most common "
        f"pairs of English; the last ones, {format_merges(last_merges)}, are rarer, and many of "
        "them complete whole words."
    )

    tokenizer = Tokenizer(vocab, merges, special_tokens=[END_OF_TEXT])
    sentence = f"the cat in the hat sat on the mat.{END_OF_TEXT}Another story."
    ids, pieces = tokenize(sentence, tokenizer)  # @inspect ids pieces
    decoded = tokenizer.decode(ids)  # @inspect decoded
    assert decoded == sentence
    text("The special token stays one token, and decoding returns the string exactly.")


def compression_vs_vocab_size():
    """Compression against vocabulary size"""
    text("## Compression against vocabulary size")
    vocab, merges = train_corpus_tokenizer()  # @stepover
    num_merges = len(merges)
    text(
        "How does compression grow with the vocabulary? BPE training is greedy, so the first $k$ "
        "merges of this run *are* the tokenizer one would get by training to $256 + 1 + k$ tokens. "
        "Compression on the (unseen) TinyStories sample:"
    )
    stories = read_tinystories()
    with tempfile.TemporaryDirectory() as tmp:  # check the claim once, at a quarter of the merges
        path = Path(tmp) / "corpus.en"
        path.write_text(read_corpus(), encoding="utf-8")
        _, smaller = train_bpe(
            path, vocab_size=257 + num_merges // 4, special_tokens=[END_OF_TEXT]
        )  # @stepover
    assert smaller == merges[: num_merges // 4]
    sizes = sorted({0, num_merges // 8, num_merges // 4, num_merges // 2, num_merges})
    ratios = {}
    for k in sizes:
        prefix_tokenizer = truncated_tokenizer(vocab, merges, k)
        ratios[257 + k] = compression_ratio(stories, prefix_tokenizer)  # @inspect ratios
    gpt2 = load_gpt2_tokenizer()  # @stepover
    gpt2_ratio = compression_ratio(stories, gpt2)  # @inspect gpt2_ratio
    heldout_ratio = ratios[257 + num_merges]  # @inspect heldout_ratio
    tokenizer = Tokenizer(vocab, merges, special_tokens=[END_OF_TEXT])
    in_domain_ratio = compression_ratio(read_corpus(), tokenizer)  # @inspect in_domain_ratio
    plot(compression_figure(ratios, gpt2_ratio, len(gpt2.vocab)), width=500)
    text(
        f"Our {len(vocab)}-token tokenizer compresses TinyStories {heldout_ratio:.2f}x "
        f"({in_domain_ratio:.2f}x on its own training text); GPT-2's {len(gpt2.vocab):,} tokens reach "
        f"{gpt2_ratio:.2f}x."
    )
    (k0, r0), (k1, r1), *_, (k2, r2), (k3, r3) = ratios.items()
    first_gain = (r1 - r0) / (k1 - k0)  # @inspect first_gain
    last_gain = (r3 - r2) / (k3 - k2)  # @inspect last_gain
    text(
        f"Returns diminish: each of the first {k1 - k0} merges adds {first_gain:.4f} bytes per "
        f"token, each of the last {k3 - k2} only {last_gain:.4f}, because each new merge covers a "
        "rarer pair than the one before."
    )


def truncated_tokenizer(vocab, merges, num_merges):
    """The tokenizer made by the first `num_merges` merges: the vocabulary keeps only their tokens."""
    kept = {bytes([b]) for b in range(256)} | {END_OF_TEXT.encode("utf-8")}
    kept |= {a + b for a, b in merges[:num_merges]}
    # subtle: the vocabulary must shrink too, since Tokenizer maps a pre-token that is already
    # a whole vocabulary entry straight to its id (as tiktoken does).
    kept_vocab = {i: token for i, token in vocab.items() if token in kept}
    return Tokenizer(kept_vocab, merges[:num_merges], special_tokens=[END_OF_TEXT])


def read_corpus():
    """The tokenizer's training text: corpus.en (a prefix of it in smoke mode)."""
    return data_path("corpus.en").read_text(encoding="utf-8")[:CORPUS_BYTES]


@functools.cache
def train_corpus_tokenizer():
    """train_bpe on read_corpus() to BPE_VOCAB_SIZE tokens, with <|endoftext|> special."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.en"
        path.write_text(read_corpus(), encoding="utf-8")
        return train_bpe(path, vocab_size=BPE_VOCAB_SIZE, special_tokens=[END_OF_TEXT])


def readable(merges):  # @hide
    """Merges as pairs of strings: [(b" ", b"t")] -> [(" ", "t")] (partial UTF-8 shows as U+FFFD)."""
    return [
        (a.decode("utf-8", errors="replace"), b.decode("utf-8", errors="replace"))
        for a, b in merges
    ]


def format_merges(merges):  # @hide
    """Readable merges as markdown: [(" ", "t")] -> "`' '+'t'`"."""
    return ", ".join(f"`{a!r}+{b!r}`" for a, b in merges)


def compression_figure(ratios, gpt2_ratio, gpt2_vocab_size):  # @hide
    """Compression ratio against vocabulary size, with GPT-2 as a reference line."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(list(ratios), list(ratios.values()), marker="o", label="BPE on corpus.en (prefixes)")
    ax.axhline(
        gpt2_ratio, color="gray", linestyle="--", label=f"GPT-2 ({gpt2_vocab_size:,} tokens)"
    )
    ax.set_xlabel("vocabulary size")
    ax.set_ylabel("bytes per token (TinyStories)")
    ax.legend()
    plt.close(fig)
    return fig


def tokenization_summary():
    """Summary"""
    text("## Summary")
    text(
        "- A tokenizer maps strings to sequences of integers and back.\n"
        "- Character, byte and word tokenizers are each badly suboptimal: huge and sparse "
        "vocabularies, overly long sequences, or unknown words.\n"
        "- BPE is an effective heuristic that lets corpus statistics decide the vocabulary; GPT-2 "
        "style pre-tokenization keeps merges within words.\n"
        "- Tokenization is a necessary evil for now; perhaps one day models will read bytes directly."
    )
    note("The library code behind this part, to read next:")
    link(Tokenizer)
    link(train_bpe)
    link(BPETokenizer)
    text("Next time: resource accounting, the arithmetic of PyTorch and FLOPs.")


if __name__ == "__main__":
    main()
