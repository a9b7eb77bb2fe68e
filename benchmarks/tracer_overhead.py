"""Tracer overhead: three workloads run untraced and traced in the same process, ratios printed.

Workloads (written as lecture files into a temp folder): line-heavy (a BPE merge loop over ~20 KB
of TinyStories, about a million line events, all in the lecture file so every line is a step),
tensor-heavy (512x512 matmuls and layer ops, torch), narrative (mostly text() calls). Also prints
trace bytes, the traced lecture_00's peak RSS (a subprocess), and the size of a 1,000-step trace.
Targets (issue 3): <= 8x, <= 1.5x, <= 3x; RSS <= 150 MB; 1,000-step trace <= 400 KB.

Usage: PYTHONPATH=. python benchmarks/tracer_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

from execlecture.tracefile import encode_trace, write_atomic
from execlecture.tracer import TraceSession
from lm.datafiles import data_path

REPO = Path(__file__).resolve().parent.parent
TEXT_BYTES = 20_000

LINE_HEAVY = '''
"""Line-heavy: BPE merges over a text, every line recorded."""
from pathlib import Path

def get_counts(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts

def merge(ids, pair, new_id):
    out = []
    i = 0
    while i < len(ids):
        if i < len(ids) - 1 and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out

def main():
    ids = list(Path("corpus.txt").read_bytes())  # @inspect ids
    merges = {}
    for k in range(NUM_MERGES):
        counts = get_counts(ids)
        pair = max(counts, key=counts.get)  # @inspect pair
        ids = merge(ids, pair, 256 + k)
        merges[pair] = 256 + k
    num_tokens = len(ids)  # @inspect num_tokens
'''

TENSOR_HEAVY = '''
"""Tensor-heavy: 512x512 matmuls and layer ops."""
import torch
from execlecture import text

def block(x, w1, w2, norm):
    h = norm(x)
    h = torch.nn.functional.gelu(h @ w1)  # @inspect h
    return x + torch.softmax(h @ w2, dim=-1)

def main():
    torch.manual_seed(0)
    x = torch.randn(512, 512)  # @inspect x
    w1 = torch.randn(512, 512) / 512 ** 0.5
    w2 = torch.randn(512, 512) / 512 ** 0.5
    norm = torch.nn.LayerNorm(512)
    for step in range(NUM_LAYERS):
        x = block(x, w1, w2, norm)  # @inspect x
    text(f"final mean {x.mean().item():.3f}")
'''

NARRATIVE = '''
"""Narrative: mostly text() calls with small computations."""
from execlecture import link, note, text

def section(k):
    text(f"## Section {k}")
    for i in range(20):
        text(f"Paragraph {i} of section {k}: the square of {i} is {i * i}, and $x_{{{i}}}^2$ too.")
    total = sum(range(k * 10))  # @inspect total
    note(f"section {k} total {total}")
    link("https://arxiv.org/abs/1706.03762", title="Attention Is All You Need")

def main():
    for k in range(NUM_SECTIONS):
        section(k)
'''

THOUSAND_STEPS = '''
"""A 1,000-step lecture: a loop with inspected scalars, prose every few steps."""
from execlecture import text

def main():
    history = []
    for i in range(333):
        value = i * i % 97  # @inspect value
        history.append(value)  # @inspect i
        if i % 10 == 0: text(f"step {i}: value {value}")
    text(f"{len(history)} values")  # @inspect history
'''

# Worst case for size: a list that grows every iteration and is re-shown every time it changes.
THOUSAND_STEPS_GROWING = THOUSAND_STEPS.replace("# @inspect i", "# @inspect history")


def _load(path: Path) -> types.ModuleType:
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


def _untraced(path: Path) -> float:
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        module = _load(path)
        start = time.perf_counter()
        module.main()
        return time.perf_counter() - start
    finally:
        os.chdir(cwd)


def _traced(path: Path, out: Path) -> tuple[float, int, int]:
    """(seconds tracing main, trace bytes, steps)."""
    session = TraceSession(path, cwd=path.parent)
    session.run()
    assert session.exception is None, session.exception
    size = write_atomic(out, encode_trace(session))
    return session.main_duration_s, size, session.num_steps


def _compare(name: str, path: Path, repeats: int, target: float) -> None:
    untraced_times, runs = [], []
    for _ in range(repeats):  # interleaved, so load from other processes hits both alike
        untraced_times.append(_untraced(path))
        runs.append(_traced(path, path.with_suffix(".json")))
    untraced = min(untraced_times)
    traced = min(r[0] for r in runs)
    _, size, steps = runs[0]
    ratio = traced / untraced
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(
        f"{name:13s} untraced {untraced:8.3f} s  traced {traced:8.3f} s  ratio {ratio:6.2f}x "
        f"(target <= {target}x, {verdict})  steps {steps:,}  trace {size / 1e6:.2f} MB"
    )


def _lecture_00_rss(tmp: Path) -> float:
    """Peak RSS in MB of `execlecture run lectures/lecture_00_tour.py` (a fresh process)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = (
        "import resource, sys; from execlecture.cli import main; "
        f"rc = main(['run', 'lectures/lecture_00_tour.py', '-o', {str(tmp / 'tour.json')!r}]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--merges", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpus = data_path("ts_2MiB.txt").read_bytes()[:TEXT_BYTES]
        (tmp / "corpus.txt").write_bytes(corpus)
        files = {
            "line_heavy": LINE_HEAVY.replace("NUM_MERGES", str(args.merges)),
            "narrative": NARRATIVE.replace("NUM_SECTIONS", "200"),
            "thousand": THOUSAND_STEPS,
            "thousand_growing": THOUSAND_STEPS_GROWING,
            "tensor_heavy": TENSOR_HEAVY.replace("NUM_LAYERS", "20"),
        }
        for name, source in files.items():
            (tmp / f"{name}.py").write_text(source)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {args.repeats}")
        _compare("line-heavy", tmp / "line_heavy.py", args.repeats, 8.0)
        _compare("narrative", tmp / "narrative.py", args.repeats, 3.0)
        _, size, steps = _traced(tmp / "thousand.py", tmp / "thousand.json")
        print(f"1,000-step lecture: {steps:,} steps, trace {size / 1024:.1f} KB (target <= 400 KB)")
        _, size, steps = _traced(tmp / "thousand_growing.py", tmp / "thousand_growing.json")
        print(f"1,000-step lecture, growing list re-shown each step (worst case): {steps:,} steps, "
              f"trace {size / 1024:.1f} KB")  # fmt: skip
        print(f"lecture_00 traced: peak RSS {_lecture_00_rss(tmp):.1f} MB (target <= 150 MB)")
        import torch

        torch.set_num_threads(2)
        _compare("tensor-heavy", tmp / "tensor_heavy.py", args.repeats, 1.5)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"benchmark process peak RSS {rss:.1f} MB")


if __name__ == "__main__":
    main()
