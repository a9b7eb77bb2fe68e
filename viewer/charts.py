"""Plot specs -> SVG on the server: the small Vega-Lite subset `plot(dict)` lectures use.

Supports `{"data": {"values": [...]}, "mark": "line"|"bar"|"point", "encoding": {"x": {"field"},
"y": {"field"}, "color": {"field"}}, "title": ...}` (https://vega.github.io/vega-lite/). Anything
else is shown as its data table by render.py. Output goes through the SVG sanitizer like any plot.
"""

from __future__ import annotations

import html
import math
from typing import Any

WIDTH, HEIGHT = 480, 270
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 30, 40
PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2"]


def _field(encoding: dict[str, Any], channel: str) -> str | None:
    spec = encoding.get(channel)
    return (
        spec.get("field") if isinstance(spec, dict) and isinstance(spec.get("field"), str) else None
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / count))
    for factor in (1, 2, 5, 10):
        if (hi - lo) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _label(value: float) -> str:
    return f"{value:.4g}"


def spec_to_svg(spec: dict[str, Any]) -> str | None:
    """A line/bar/point spec -> SVG text, or None when the spec is outside the subset."""
    mark = spec.get("mark")
    mark = mark.get("type") if isinstance(mark, dict) else mark
    encoding: dict[str, Any] = spec["encoding"] if isinstance(spec.get("encoding"), dict) else {}
    values = spec.get("data", {}).get("values") if isinstance(spec.get("data"), dict) else None
    x_field, y_field = _field(encoding, "x"), _field(encoding, "y")
    if (
        mark not in ("line", "bar", "point")
        or not isinstance(values, list)
        or not x_field
        or not y_field
    ):
        return None
    color_field = _field(encoding, "color")
    rows = [v for v in values if isinstance(v, dict)]
    categories = [r.get(x_field) for r in rows]
    is_numeric_x = all(_number(c) is not None for c in categories) and mark != "bar"
    xs = [_number(c) if is_numeric_x else float(i) for i, c in enumerate(categories)]
    ys = [_number(r.get(y_field)) for r in rows]
    points = [
        (x, y, r) for x, y, r in zip(xs, ys, rows, strict=True) if x is not None and y is not None
    ]
    if not points:
        return None
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_lo = min(0.0, min(p[1] for p in points)) if mark == "bar" else min(p[1] for p in points)
    y_hi = max(p[1] for p in points)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    if y_hi == y_lo:
        y_hi = y_lo + 1
    pad = 0.5 if mark == "bar" else 0.0

    def sx(x: float) -> float:
        return LEFT + (x - x_lo + pad) / (x_hi - x_lo + 2 * pad) * (WIDTH - LEFT - RIGHT)

    def sy(y: float) -> float:
        return HEIGHT - BOTTOM - (y - y_lo) / (y_hi - y_lo) * (HEIGHT - TOP - BOTTOM)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for t in _ticks(y_lo, y_hi):
        y = sy(t)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{_label(t)}</text>'
        )
    every = max(1, len(points) // 10)
    x_ticks = _ticks(x_lo, x_hi) if is_numeric_x else [p[0] for p in points][::every]
    for t in x_ticks:
        text = _label(t) if is_numeric_x else str(categories[int(t)])[:12]
        parts.append(f'<text x="{sx(t):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                     f'fill="#555">{html.escape(text)}</text>')  # fmt: skip
    groups: dict[str, list[tuple[float, float]]] = {}
    for x, y, row in points:
        groups.setdefault(str(row.get(color_field, "")) if color_field else "", []).append((x, y))
    bar_width = (WIDTH - LEFT - RIGHT) / max(len(points), 1) * 0.8
    for k, (name, group) in enumerate(groups.items()):
        color = PALETTE[k % len(PALETTE)]
        if mark == "line":
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(group))
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
        elif mark == "point":
            parts.extend(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>'
                for x, y in group
            )
        else:
            base = sy(max(y_lo, 0.0))
            for x, y in group:
                top = min(sy(y), base)
                left = sx(x) - bar_width / 2
                parts.append(f'<rect x="{left:.1f}" y="{top:.1f}" width="{bar_width:.1f}" '
                             f'height="{abs(base - sy(y)):.1f}" fill="{color}"/>')  # fmt: skip
        if color_field:
            parts.append(f'<text x="{WIDTH - RIGHT}" y="{TOP + 14 * k}" text-anchor="end" '
                         f'fill="{color}">{html.escape(name[:30])}</text>')  # fmt: skip
    axis_y = HEIGHT - BOTTOM
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{axis_y}" y2="{axis_y}" stroke="#888"/>'
    )
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" text-anchor="middle" '
                 f'fill="#333">{html.escape(x_field)}</text>')  # fmt: skip
    parts.append(f'<text x="14" y="{TOP - 10}" fill="#333">{html.escape(y_field)}</text>')
    if isinstance(spec.get("title"), str):
        parts.append(f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13" '
                     f'font-weight="bold">{html.escape(spec["title"])}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)
