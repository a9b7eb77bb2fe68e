"""A loss-curve SVG written by hand: lm/ may not import matplotlib (tests/test_architecture.py).

Train loss as a line, validation loss as dots, baselines as dashed horizontal lines.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

from lm.atomic_file import write_text_atomic

WIDTH, HEIGHT, MARGIN = 640, 400, 56
COLORS = {"train": "#1f77b4", "val": "#d62728", "baseline": "#7f7f7f"}


def write_loss_svg(
    path: Path,
    train: list[tuple[int, float]],
    val: list[tuple[int, float]],
    baselines: dict[str, float],
    title: str,
    *,
    y_label: str = "loss",
    legend: tuple[str, str] = ("train", "val"),
) -> None:
    """Write an SVG of (step, value) points to `path` atomically: a line, dots and baselines.

    `y_label` names the y axis and `legend` the line and the dots (other curves than a loss,
    e.g. the alignment demo's accuracy and reward, set both).
    """
    points = train + val
    if not points:
        raise ValueError(f"write_loss_svg: no losses to plot for {str(path)!r}")
    finite = [v for _, v in points if math.isfinite(v)] + list(baselines.values())
    max_step = max(s for s, _ in points) or 1
    lo, hi = min(finite), max(finite)
    hi = hi if hi > lo else lo + 1.0

    def xy(step: float, loss: float) -> tuple[float, float]:
        x = MARGIN + step / max_step * (WIDTH - 2 * MARGIN)
        y = HEIGHT - MARGIN - (loss - lo) / (hi - lo) * (HEIGHT - 2 * MARGIN)
        return round(x, 1), round(y, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle">{escape(title)}</text>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 12}" text-anchor="middle">step</text>',
        f'<text x="8" y="{MARGIN - 8}">{escape(y_label)} {hi:.2f}</text>',
        f'<text x="8" y="{HEIGHT - MARGIN + 14}">{escape(y_label)} {lo:.2f}</text>',
    ]
    for i, (name, value) in enumerate(sorted(baselines.items())):
        (x0, y), (x1, _) = xy(0, value), xy(max_step, value)
        dashed = f'stroke="{COLORS["baseline"]}" stroke-dasharray="6 4"'
        parts.append(f'<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" {dashed}/>')
        label = f"{escape(name)} {value:.3f}"
        parts.append(f'<text x="{x1 - 4}" y="{y - 4 - 12 * i}" text-anchor="end">{label}</text>')
    if train:
        line = " ".join(f"{x},{y}" for x, y in (xy(s, v) for s, v in train if math.isfinite(v)))
        parts.append(f'<polyline points="{line}" fill="none" stroke="{COLORS["train"]}"/>')
    for s, v in val:
        x, y = xy(s, v)
        parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{COLORS["val"]}"/>')
    line_name, dots_name = (escape(name) for name in legend)
    dots_x = MARGIN + 50 + 7 * max(len(legend[0]) - 5, 0)  # about 7 px per character
    parts.append(f'<text x="{MARGIN}" y="{MARGIN - 8}" fill="{COLORS["train"]}">{line_name}</text>')
    parts.append(f'<text x="{dots_x}" y="{MARGIN - 8}" fill="{COLORS["val"]}">{dots_name}</text>')
    parts.append("</svg>\n")
    write_text_atomic(path, "\n".join(parts))
