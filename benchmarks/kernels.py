"""Benchmark lm.kernels against PyTorch eager, torch.compile and flash SDPA; prints ratios.

On a GPU: bf16 FlashAttention forward and forward+backward for seq 512..16384, head dim 64 and
128, causal and not, plus fused RMSNorm vs eager/compile as a fraction of the HBM roofline.
On CPU there is no Triton to time (the interpreter is not a benchmark): it times the PyTorch
paths only (tiled FlashAttention vs naive attention vs SDPA, eager RMSNorm) and says so.

    PYTHONPATH=. python benchmarks/kernels.py [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
from collections.abc import Callable

import torch
import torch.nn.functional as F

from lm.kernels import FlashAttentionPytorch, attention_reference, flash_attention, rmsnorm
from lm.kernels.fused_rmsnorm import rmsnorm_reference
from lm.kernels.timing import time_fn

# Dense bf16 tensor-core TFLOP/s and HBM TB/s from vendor spec sheets, by device-name substring.
PEAKS = {
    "H200": (989.0, 4.8),
    "H100 PCIe": (756.0, 2.0),
    "H100": (989.0, 3.35),
    "A100": (312.0, 2.0),
}
GPU_SEQS = [512, 1024, 2048, 4096, 8192, 16384]
GPU_TOKENS = 16384  # batch * seq held fixed so every row does the same work
GPU_HEADS = 16
MAX_EAGER_SEQ = 8192  # eager / compiled attention materialize (B, H, N, N): skip beyond this
CPU_SEQS = [256, 512]
CPU_HEAD_DIMS = [64]


def device_peaks(name: str) -> tuple[float, float] | None:
    """(TFLOP/s, TB/s) for a known GPU name, else None."""
    return next((v for k, v in PEAKS.items() if k in name), None)


def attention_flops(batch: int, heads: int, seq: int, head_dim: int, is_causal: bool) -> float:
    """Forward FLOPs of QK^T and PV (2 matmuls, 2 FLOPs per MAC), halved when causal."""
    return 4.0 * batch * heads * seq * seq * head_dim / (2 if is_causal else 1)


def sdpa_flash(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, is_causal: bool) -> torch.Tensor:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)


def _call(fn: Callable, *args: object) -> Callable[[], object]:
    return lambda: fn(*args)


def _fwd_bwd(fn: Callable, q, k, v, is_causal: bool, grad) -> Callable[[], None]:
    def run():
        out = fn(q, k, v, is_causal)
        out.backward(grad)

    return run


def bench_attention(device: str, dtype: torch.dtype, seqs, head_dims, candidates) -> list[dict]:
    """Time every candidate on forward and forward+backward; one row per configuration."""
    rows = []
    for head_dim in head_dims:
        for is_causal in (False, True):
            for seq in seqs:
                batch = max(1, GPU_TOKENS // seq) if device == "cuda" else 1
                heads = GPU_HEADS if device == "cuda" else 4
                shape = (batch, heads, seq, head_dim)
                q, k, v = (
                    torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
                    for _ in range(3)
                )
                grad = torch.randn(shape, device=device, dtype=dtype)
                flops = attention_flops(batch, heads, seq, head_dim, is_causal)
                row = {
                    "head_dim": head_dim,
                    "causal": is_causal,
                    "seq": seq,
                    "batch": batch,
                    "heads": heads,
                    "fwd_ms": {},
                    "fwd_bwd_ms": {},
                }
                for name, fn in candidates.items():
                    if name in ("eager", "compile") and seq > MAX_EAGER_SEQ:
                        continue
                    try:
                        with torch.no_grad():
                            fwd = time_fn(_call(fn, q, k, v, is_causal), device)
                        both = time_fn(_fwd_bwd(fn, q, k, v, is_causal, grad), device, reps=5)
                    except torch.OutOfMemoryError:  # eager N x N at long seq: skip, say so
                        print(f"  {name} out of memory at seq={seq}, D={head_dim}: skipped")
                        q.grad = k.grad = v.grad = None
                        torch.cuda.empty_cache()
                        continue
                    row["fwd_ms"][name], row["fwd_bwd_ms"][name] = fwd * 1e3, both * 1e3
                row["fwd_tflops"] = {n: flops / (t * 1e-3) / 1e12 for n, t in row["fwd_ms"].items()}
                row["fwd_bwd_tflops"] = {
                    n: 3.5 * flops / (t * 1e-3) / 1e12 for n, t in row["fwd_bwd_ms"].items()
                }  # backward is ~2.5x the forward FLOPs (5 matmuls vs 2)
                rows.append(row)
                print(_attention_line(row), flush=True)
    return rows


def _rate(tflops: float) -> str:
    """TFLOP/s, or GFLOP/s when below one TFLOP/s (CPUs)."""
    return f"{tflops:.1f} TFLOP/s" if tflops >= 1 else f"{tflops * 1e3:.1f} GFLOP/s"


def _attention_line(row: dict) -> str:
    head = f"D={row['head_dim']:<3} causal={row['causal']!s:<5} seq={row['seq']:<5} "
    parts = []
    for key in ("fwd", "fwd_bwd"):
        ms, tf = row[f"{key}_ms"], row[f"{key}_tflops"]
        parts.append(key + ": " + ", ".join(f"{n} {ms[n]:.2f} ms {_rate(tf[n])}" for n in ms))
    return head + " | ".join(parts)


def bench_rmsnorm(device: str, dtype: torch.dtype, shapes, candidates) -> list[dict]:
    """Forward RMSNorm time and achieved bandwidth (read x + write y, weight negligible)."""
    rows = []
    for n_rows, d in shapes:
        x = torch.randn(n_rows, d, device=device, dtype=dtype)
        w = torch.randn(d, device=device, dtype=dtype)
        bytes_moved = 2 * x.numel() * x.element_size() + w.numel() * w.element_size()
        row = {"rows": n_rows, "d": d, "bytes": bytes_moved, "ms": {}, "gbps": {}}
        for name, fn in candidates.items():
            t = time_fn(_call(fn, x, w), device, reps=20)
            row["ms"][name], row["gbps"][name] = t * 1e3, bytes_moved / t / 1e9
        rows.append(row)
        stats = [f"{n} {row['ms'][n]:.3f} ms {row['gbps'][n]:.1f} GB/s" for n in row["ms"]]
        print(f"rmsnorm {n_rows}x{d}: " + ", ".join(stats), flush=True)
    return rows


def _ratio(values: dict, numerator: str, denominator: str) -> float:
    """values[numerator] / values[denominator], NaN when either was not measured (OOM, skipped)."""
    if numerator not in values or denominator not in values:
        return float("nan")
    return values[numerator] / values[denominator]


def summarize_gpu(att: list[dict], rms: list[dict], peaks) -> None:
    """Print the issue's target ratios next to device peaks."""
    peak_tf, peak_tb = peaks if peaks else (float("nan"), float("nan"))
    print(f"\ndevice peak (spec sheet): {peak_tf:.0f} bf16 TFLOP/s, {peak_tb * 1e3:.0f} GB/s HBM")
    for row in att:
        if row["seq"] == 4096:
            f, b = row["fwd_ms"], row["fwd_bwd_ms"]
            print(
                f"seq 4096 D={row['head_dim']} causal={row['causal']}: "
                f"fwd vs flash SDPA {_ratio(f, 'sdpa_flash', 'triton'):.2f}x (target 0.8), "
                f"fwd+bwd {_ratio(b, 'sdpa_flash', 'triton'):.2f}x (target 0.6), "
                f"triton fwd {row['fwd_tflops']['triton']:.0f} TF/s = "
                f"{row['fwd_tflops']['triton'] / peak_tf:.0%} of peak"
            )
    for row in rms:
        g = row["gbps"]
        print(
            f"rmsnorm {row['rows']}x{row['d']}: triton {g['triton']:.0f} GB/s = "
            f"{g['triton'] / (peak_tb * 1e3):.0%} of HBM roofline (target 85%), "
            f"{_ratio(g, 'triton', 'eager'):.2f}x eager (target 2x), "
            f"{_ratio(g, 'triton', 'compile'):.2f}x torch.compile"
        )


def run_gpu() -> dict:
    name = torch.cuda.get_device_name()
    print(f"GPU benchmark on {name}, bf16, torch {torch.__version__}")
    eager = attention_reference
    candidates = {
        "triton": flash_attention,
        "sdpa_flash": sdpa_flash,
        "eager": eager,
        "compile": torch.compile(eager),
    }
    att = bench_attention("cuda", torch.bfloat16, GPU_SEQS, [64, 128], candidates)
    rms_candidates = {
        "triton": rmsnorm,
        "eager": rmsnorm_reference,
        "compile": torch.compile(rmsnorm_reference),
    }
    rms = bench_rmsnorm("cuda", torch.bfloat16, [(16384, 4096), (65536, 1024)], rms_candidates)
    summarize_gpu(att, rms, device_peaks(name))
    return {"device": name, "attention": att, "rmsnorm": rms, "peaks": device_peaks(name)}


def run_cpu() -> dict:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    name = platform.processor() or platform.machine()
    print(
        f"No CUDA device: timing the PyTorch paths only on CPU ({name}, fp32, "
        f"{torch.get_num_threads()} threads). Triton kernels and torch.compile are not timed; "
        "these are not GPU numbers. "
        f"Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: busier means noisier."
    )
    candidates = {
        "tiled_pytorch": FlashAttentionPytorch.apply,
        "eager": attention_reference,
        "sdpa": lambda q, k, v, c: F.scaled_dot_product_attention(q, k, v, is_causal=c),
    }
    att = bench_attention("cpu", torch.float32, CPU_SEQS, CPU_HEAD_DIMS, candidates)
    for row in att:
        f = row["fwd_ms"]
        print(
            f"seq {row['seq']} causal={row['causal']}: tiled PyTorch fwd is "
            f"{f['tiled_pytorch'] / f['eager']:.2f}x the time of eager attention "
            "(Python loops over tiles; it never holds the N x N matrix)"
        )
    rms = bench_rmsnorm("cpu", torch.float32, [(4096, 1024)], {"eager": rmsnorm_reference})
    return {"device": f"cpu {name}", "attention": att, "rmsnorm": rms, "peaks": None}


def _write_json(path: str, result: dict) -> None:
    """Write atomically: temp file in the same directory, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as f:
        json.dump(result, f, indent=1)
    os.replace(f.name, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    torch.manual_seed(0)
    result = run_gpu() if torch.cuda.is_available() else run_cpu()
    result["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    result["torch"] = torch.__version__
    if args.json:
        _write_json(args.json, result)


if __name__ == "__main__":
    main()
