"""Server-made HTML pages: the lecture index and error pages (shared by the app and the export).

The lecture page itself is a static shell (static/lecture.html) that the ES modules fill in.
"""

from __future__ import annotations

import html
from typing import Any

SOURCE_LABELS = {
    "current": ("up to date", "source unchanged since traced"),
    "changed": ("source changed", "source changed since traced: re-run `execlecture run`"),
    "missing": ("source not found", "source file not found next to the traces"),
}


def _head(title: str, prefix: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{html.escape(title)}</title>"
        f'<link rel="stylesheet" href="{prefix}static/style.css">'
        f'<script src="{prefix}static/theme.js"></script></head>'
    )


def index_page(summaries: list[dict[str, Any]], link_for: Any, prefix: str = "") -> str:
    """The list of lectures: title, steps, traced when, source status (or the schema complaint)."""
    rows = []
    for s in sorted(summaries, key=lambda s: (bool(s.get("error")), s["name"])):
        name = html.escape(s["name"])
        if s.get("error"):
            rows.append(
                f'<li class="lecture invalid"><span class="name">{name}</span>'
                f'<span class="badge bad">invalid trace</span>'
                f'<pre class="complaint">{html.escape(s["error"])}</pre></li>'
            )
            continue
        text, tip = SOURCE_LABELS.get(s["source"], (s["source"], ""))
        status = '<span class="badge bad">raised</span>' if s["status"] == "error" else ""
        rows.append(
            f'<li class="lecture"><a href="{html.escape(link_for(s["name"]))}">'
            f'<span class="title">{html.escape(s["title"])}</span></a>'
            f'<span class="meta"><span class="name">{name}</span> · '
            f'<span class="steps">{s["num_steps"]:,} steps</span> · '
            f'traced <time datetime="{html.escape(s["created"])}">'
            f"{html.escape(s['created'][:16].replace('T', ' '))} UTC</time></span> "
            f'<span class="badge {s["source"]}" title="{html.escape(tip)}">{text}</span>'
            f"{status}</li>"
        )
    body = (
        "".join(rows) or '<li class="empty">No traces yet: run <code>execlecture run</code>.</li>'
    )
    return (
        _head("execlecture: lectures", prefix) + '<body class="index-page"><main class="index">'
        '<header><h1>Lectures</h1><button id="theme-toggle" class="icon" '
        'title="Toggle theme (t)">◐</button></header>'
        f'<ul class="lectures">{body}</ul></main>'
        f'<script src="{prefix}static/index.js"></script></body></html>'
    )


def error_page(status: int, heading: str, detail: str, prefix: str = "/") -> str:
    """A full page for 404/422 so a reader never sees a blank page or a stack trace."""
    return (
        _head(f"{status} {heading}", prefix) + '<body class="index-page"><main class="index">'
        f'<h1>{html.escape(heading)}</h1><pre class="complaint">{html.escape(detail)}</pre>'
        f'<p><a href="{prefix}">All lectures</a></p></main></body></html>'
    )
