"""The page's view of a trace: columnar steps, highlighted source lines, renderings as safe HTML.

Differs from the trace JSON in shape only: steps become parallel arrays (cheap to scan in the
browser), functions are interned, sparse per-step payloads (values, renderings, output,
exceptions) are lists of [step, ...], and every rendering is already sanitized HTML.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from typing import Any

from execlecture.schema import Trace
from viewer.render import highlight_lines, render_rendering

EVENT_CODES = {"line": 0, "call": 1, "exception": 2}


def _exception(info: Any) -> dict[str, str] | None:
    return dataclasses.asdict(info) if info is not None else None


def statement_ends(source: str) -> dict[str, int]:
    """First line -> last line of each multi-line simple statement ('text(\n"a")' -> {"1": 2}).

    Renderings go after the whole statement that emitted them, not after its first line.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    ends = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or hasattr(node, "body"):
            continue
        if node.end_lineno is not None and node.end_lineno > node.lineno:
            ends[str(node.lineno)] = node.end_lineno
    return ends


def build_view(trace: Trace, name: str) -> dict[str, Any]:
    """Trace -> the JSON-ready dict the page loads from `/api/traces/NAME/view`."""
    functions: dict[str, int] = {}
    columns: dict[str, list[int]] = {
        k: [] for k in ("file", "line", "frame", "stack", "event", "fn")
    }
    values: list[list[Any]] = []
    renderings: list[list[Any]] = []
    output: list[list[Any]] = []
    exceptions: list[list[Any]] = []
    for i, step in enumerate(trace.steps):
        columns["file"].append(step.file)
        columns["line"].append(step.line)
        columns["frame"].append(step.frame)
        columns["stack"].append(step.stack)
        columns["event"].append(EVENT_CODES[step.event])
        columns["fn"].append(functions.setdefault(step.function, len(functions)))
        if step.values or step.cleared or step.returned is not None:
            values.append([i, step.values, step.cleared, step.returned])
        for r in step.renderings:
            renderings.append([i, r.kind, render_rendering(r)])
        if step.stdout:
            output.append([i, step.stdout, 0])
        if step.stderr:
            output.append([i, step.stderr, 1])
        if step.exception is not None:
            exceptions.append([i, _exception(step.exception)])
    return {
        "name": name,
        "title": trace.title,
        "lecture": trace.lecture,
        "created": trace.created,
        "status": trace.status,
        "python_version": trace.python_version,
        "torch_version": trace.torch_version,
        "duration_s": trace.duration_s,
        "exception": _exception(trace.exception),
        "files": [
            {
                "path": f.path,
                "lines": highlight_lines(f.text),
                "hidden": f.hidden_lines,
                "ends": statement_ends(f.text),
            }
            for f in trace.files
        ],
        "stacks": [[s.parent, s.file, s.line, s.function] for s in trace.stacks],
        "outline": [dataclasses.asdict(o) for o in trace.outline],
        "functions": list(functions),
        "steps": columns,
        "values": values,
        "renderings": renderings,
        "output": output,
        "exceptions": exceptions,
    }


def rendered_renderings(trace: Trace) -> list[dict[str, Any]]:
    """Every rendering as {step, index, kind, html}, in emission order."""
    out = []
    for i, step in enumerate(trace.steps):
        for j, r in enumerate(step.renderings):
            out.append({"step": i, "index": j, "kind": r.kind, "html": render_rendering(r)})
    return out


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def view_json(trace: Trace, name: str) -> bytes:
    """The page's view as JSON bytes (what the store caches per trace version)."""
    return json_bytes(build_view(trace, name))
