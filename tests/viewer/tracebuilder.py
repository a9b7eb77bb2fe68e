"""Hand-built traces for viewer tests and the benchmark (no tracer needed).

`sample_trace()` is a small lecture with nested calls, math, values of every common kind, output,
a plot, an image, links and a hidden line; `synthetic_trace(n)` is a long loop for speed tests.
Both follow execlecture/schema.py and pass `load_trace`. `FRAME_MONITOR` is the page script that
the browser test and the benchmark use to find the longest gap between animation frames.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

# Records the longest gap between animation frames from the first byte of the page on
# (add it with page.add_init_script; read window.__maxFrameGap).
FRAME_MONITOR = """
window.__maxFrameGap = 0;
(function tick(last) {
  requestAnimationFrame((now) => {
    if (last !== null) window.__maxFrameGap = Math.max(window.__maxFrameGap, now - last);
    tick(now);
  });
})(null);
"""

SAMPLE_SOURCE = '''"""Lecture 00: a tour of the viewer"""
from execlecture import text, plot


def main():
    intro()  # What this is
    tensors()  # Tensors and heatmaps


def intro():
    text("# Welcome\\nThe loss is $\\\\sum_i x_i^2$.")
    x = 3  # @inspect x
    y = square(x)  # @inspect y
    print("y is", y)


def square(v):  # @inspect v
    w = v * v  # @inspect w
    return w


def tensors():
    m = torch.arange(12.0).reshape(3, 4)  # @inspect m
    xs = list(range(100))  # @inspect xs
    secret = 1  # @hide
    text("Done: see the plot")


if __name__ == "__main__":
    main()
'''
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" viewBox="0 0 120 60">'
    '<rect width="120" height="60" fill="#eef"/><path d="M 0 60 L 60 10 L 120 40" '
    'stroke="#c00" fill="none" stroke-width="2"/></svg>'
)
PNG_1X1 = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def node(value: Any) -> dict[str, Any]:
    """A Python value -> a value node like the tracer's (small subset)."""
    if value is None:
        return {"kind": "none"}
    if isinstance(value, bool):
        return {"kind": "bool", "value": value}
    if isinstance(value, int):
        return {"kind": "int", "value": value}
    if isinstance(value, float):
        return {"kind": "float", "value": value if math.isfinite(value) else str(value)}
    if isinstance(value, str):
        return {"kind": "str", "value": value}
    if isinstance(value, list):
        return {"kind": "list", "length": len(value), "items": [node(v) for v in value[:20]]}
    if isinstance(value, dict):
        return {
            "kind": "dict",
            "length": len(value),
            "items": [[node(k), node(v)] for k, v in value.items()],
        }
    raise TypeError(f"node(): unsupported {type(value).__name__}")


def tensor(rows: list[list[float]]) -> dict[str, Any]:
    flat = [v for r in rows for v in r]
    mean = sum(flat) / len(flat)
    std = (sum((v - mean) ** 2 for v in flat) / len(flat)) ** 0.5
    return {
        "kind": "tensor", "library": "torch", "dtype": "float32",
        "shape": [len(rows), len(rows[0])], "device": "cpu",
        "stats": {"min": min(flat), "max": max(flat), "mean": mean, "std": std}, "data": rows,
    }  # fmt: skip


def _step(
    file: int, line: int, function: str, frame: int, stack: int, **extra: Any
) -> dict[str, Any]:
    return {
        "file": file,
        "line": line,
        "function": function,
        "frame": frame,
        "stack": stack,
        **extra,
    }


def sample_trace(
    source: str = SAMPLE_SOURCE, lecture: str = "lectures/lecture_00.py"
) -> dict[str, Any]:
    """The tour lecture above, traced by hand (14 steps, 2 sections)."""
    md = {"kind": "markdown", "text": "# Welcome\nThe loss is $\\sum_i x_i^2$."}
    grid = tensor([[float(4 * r + c) for c in range(4)] for r in range(3)])
    steps = [
        _step(0, 6, "main", 1, -1, event="call"),
        _step(0, 11, "intro", 2, 0, renderings=[md]),
        _step(0, 12, "intro", 2, 0, values={"x": node(3)}),
        _step(0, 13, "intro", 2, 0, event="call"),
        _step(0, 18, "square", 3, 1, values={"v": node(3), "w": node(9)}),
        _step(0, 19, "square", 3, 1, returned=node(9)),
        _step(0, 13, "intro", 2, 0, values={"y": node(9)}),
        _step(0, 14, "intro", 2, 0, stdout="y is 9\n"),
        _step(0, 6, "main", 1, -1),
        _step(0, 7, "main", 1, -1, event="call"),
        _step(0, 23, "tensors", 4, 2, values={"m": grid}),
        _step(0, 24, "tensors", 4, 2, values={"xs": node(list(range(100)))}),
        _step(
            0,
            26,
            "tensors",
            4,
            2,
            renderings=[
                {"kind": "markdown", "text": "Done: see the plot"},
                {"kind": "plot", "svg": SVG, "width": 240},
                {"kind": "image", "src": PNG_1X1, "width": 8},
                {
                    "kind": "link",
                    "text": "the squaring helper",
                    "code": {"file": 0, "line": 17, "name": "square"},
                },
                {
                    "kind": "link",
                    "text": "Attention Is All You Need",
                    "url": "https://arxiv.org/abs/1706.03762",
                    "reference": {
                        "title": "Attention Is All You Need",
                        "authors": ["Vaswani", "Shazeer"],
                        "date": "2017",
                        "url": "https://arxiv.org/abs/1706.03762",
                    },
                },
            ],
        ),  # fmt: skip
        _step(0, 7, "main", 1, -1),
    ]
    return {
        "schema_version": 1,
        "lecture": lecture,
        "title": "Lecture 00: a tour of the viewer",
        "created": "2026-11-24T12:00:00Z",
        "python_version": "3.11.7",
        "torch_version": None,
        "status": "ok",
        "files": [
            {
                "path": lecture,
                "sha256": hashlib.sha256(source.encode()).hexdigest(),
                "text": source,
                "hidden_lines": [25],
            }
        ],  # fmt: skip
        "steps": steps,
        "stacks": [
            {"parent": -1, "file": 0, "line": 6, "function": "main"},
            {"parent": 0, "file": 0, "line": 13, "function": "intro"},
            {"parent": -1, "file": 0, "line": 7, "function": "main"},
        ],
        "outline": [
            {"title": "What this is", "function": "intro", "step": 0, "line": 6},
            {"title": "Tensors and heatmaps", "function": "tensors", "step": 9, "line": 7},
        ],
    }


def synthetic_trace(num_steps: int, payload: int = 0) -> dict[str, Any]:
    """A loop of `num_steps` steps in two frames; `payload` adds an NxN tensor every 10 steps."""
    source = "def main():\n" + "".join(
        f"    x{i} = step({i})  # @inspect x{i}\n" for i in range(40)
    )
    source += "\n\ndef step(i):  # @inspect i\n    return i\n"
    sections = 8
    steps, outline = [], []
    for i in range(num_steps):
        line = 2 + (i % 40)
        if i % (num_steps // sections or 1) == 0 and len(outline) < sections:
            outline.append(
                {
                    "title": f"Section {len(outline) + 1}",
                    "function": "main",
                    "step": i,
                    "line": line,
                }
            )
        values: dict[str, Any] = {f"x{i % 40}": node(i), "total": node(i * (i + 1) // 2)}
        if payload and i % 10 == 0:
            values["w"] = tensor(
                [
                    [float((r * payload + c + i) % 97) for c in range(payload)]
                    for r in range(payload)
                ]
            )
        extra: dict[str, Any] = {"values": values}
        if i % 50 == 0:
            extra["renderings"] = [{"kind": "markdown", "text": f"Step **{i}**: $x_{{{i}}} = {i}$"}]
        if i % 7 == 0:
            extra["stdout"] = f"step {i}\n"
        steps.append(_step(0, line, "main", 1, -1, **extra))
    return {
        "schema_version": 1, "lecture": "lectures/synthetic.py",
        "title": f"Synthetic ({num_steps} steps)",
        "created": "2026-11-24T12:00:00Z", "python_version": "3.11.7", "torch_version": None,
        "status": "ok", "steps": steps, "outline": outline,
        "files": [{"path": "lectures/synthetic.py",
                   "sha256": hashlib.sha256(source.encode()).hexdigest(),
                   "text": source}],
    }  # fmt: skip


def write_trace(trace_dir: Path, name: str, trace: dict[str, Any]) -> Path:
    trace_dir.mkdir(parents=True, exist_ok=True)
    path = trace_dir / f"{name}.json"
    path.write_text(json.dumps(trace), encoding="utf-8")
    return path
