"""Convert traces written by the older `execute.py` tracer into our format (schema.py).

The old format is one JSON object: `files` (path -> source), optional `hidden_line_numbers`
(path -> lines) and `steps`, each `{stack, env, renderings}` with the whole stack (outermost
first) and the whole environment at every step. We intern the stacks, turn the environment into
per-frame deltas, and map renderings and values to ours. Old traces may hold bare NaN/Infinity
tokens, which Python's json accepts. A leaf module (stdlib + schema) so the viewer can use it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

from execlecture.schema import (
    SCHEMA_VERSION,
    OutlineEntry,
    Rendering,
    SourceFile,
    StackNode,
    Step,
    Trace,
    dump_trace,
    load_trace,
)

OLD_RENDERING_TYPES = frozenset({"markdown", "image", "link"})
_PRIMITIVES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "NoneType": "none"}


def is_legacy_trace(data: Any) -> bool:
    """Whether parsed JSON looks like an old trace (steps with stack/env, no schema_version)."""
    return isinstance(data, dict) and "schema_version" not in data and "steps" in data


def _float_node(value: Any) -> dict[str, Any]:
    if isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return {"kind": "float", "type": "float", "value": text}
    return {"kind": "float", "type": "float", "value": value}


def _clean_numbers(value: Any) -> Any:
    """Nested lists with non-finite floats turned into strings (valid JSON)."""
    if isinstance(value, list):
        return [_clean_numbers(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return _float_node(value)["value"]
    return value


def _shape_of(contents: Any) -> list[int]:
    shape = []
    while isinstance(contents, list):
        shape.append(len(contents))
        contents = contents[0] if contents else None
    return shape


def convert_value(old: Any, where: str) -> dict[str, Any]:
    """One old `{type, contents, dtype, shape}` value -> our value node."""
    if not isinstance(old, dict) or "type" not in old:
        raise ValueError(f"{where}: expected a value {{type, contents, ...}}, got {old!r:.80}")
    type_name, contents = str(old["type"]), old.get("contents")
    if old.get("shape") is not None or old.get("dtype") is not None:
        shape = old.get("shape") or _shape_of(contents)
        library = "numpy" if "numpy" in type_name or "ndarray" in type_name else "torch"
        return {
            "kind": "tensor", "type": type_name, "library": library,
            "dtype": str(old.get("dtype")), "shape": list(shape), "device": "cpu",
            "data": _clean_numbers(contents),
        }  # fmt: skip
    if type_name == "float" or isinstance(contents, float):
        return _float_node(contents)
    if type_name in _PRIMITIVES:
        return {"kind": _PRIMITIVES[type_name], "type": type_name, "value": contents}
    if isinstance(contents, list):
        kind = type_name if type_name in ("list", "tuple", "set", "frozenset") else "list"
        items = [convert_value(v, f"{where}[{i}]") for i, v in enumerate(contents)]
        return {"kind": kind, "type": type_name, "items": items, "length": len(items)}
    if isinstance(contents, dict):
        pairs = [
            [{"kind": "str", "type": "str", "value": str(k)}, convert_value(v, f"{where}[{k!r}]")]
            for k, v in contents.items()
        ]
        return {"kind": "dict", "type": type_name, "items": pairs, "length": len(pairs)}
    return {"kind": "repr", "type": type_name, "repr": str(contents)}


def _int(value: Any, where: str) -> int:
    """A line number from an old trace: 7 or "7" -> 7; else a ValueError naming `where`."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected a line number, got {value!r:.80}") from None


def _frame(frame: Any, where: str) -> tuple[str, int, str]:
    """One old stack frame -> (path, line, function); ValueError naming `where` if malformed."""
    if not isinstance(frame, dict) or not isinstance(frame.get("path"), str):
        raise ValueError(
            f"{where}: expected a frame {{path, line_number, function_name}}, got {frame!r:.80}"
        )
    line = _int(frame.get("line_number"), f"{where}.line_number")
    return frame["path"], line, str(frame.get("function_name", "<module>"))


def _convert_rendering(old: Any, file_of: Callable[[str], int], where: str) -> Rendering:
    if not isinstance(old, dict) or old.get("type") not in OLD_RENDERING_TYPES:
        found = old.get("type") if isinstance(old, dict) else old
        raise ValueError(
            f"{where}: unknown rendering type {found!r} "
            f"(expected one of {sorted(OLD_RENDERING_TYPES)})"
        )
    style = {str(k): str(v) for k, v in (old.get("style") or {}).items()}
    data = old.get("data")
    if old["type"] == "markdown":
        return Rendering(kind="markdown", text=str(data or ""), style=style)
    if old["type"] == "image":
        return Rendering(kind="image", src=str(data or ""), style=style)
    external, internal = old.get("external_link"), old.get("internal_link")
    reference = {k: v for k, v in (external or {}).items() if v not in (None, "", [])}
    if external is not None and not isinstance(external, dict):
        raise ValueError(
            f"{where}.external_link: expected a reference object, got {external!r:.80}"
        )
    code: dict[str, Any] | None = None
    if internal:
        if not isinstance(internal, dict):
            raise ValueError(
                f"{where}.internal_link: expected {{path, line_number}}, got {internal!r:.80}"
            )
        path = str(internal.get("path"))
        line = _int(internal.get("line_number") or 1, f"{where}.internal_link.line_number")
        code = {"file": file_of(path), "line": line, "name": str(data or path)}
    url = reference.get("url")
    label = str(data or reference.get("title") or url or "")
    return Rendering(
        kind="link", text=label, url=url, code=code, reference=reference or None, style=style
    )


def _files(old: dict[str, Any]) -> tuple[list[SourceFile], dict[str, int]]:
    hidden = old.get("hidden_line_numbers") or {}
    old_files = old.get("files") or {}
    if not isinstance(old_files, dict) or not isinstance(hidden, dict):
        raise ValueError("old trace: 'files' and 'hidden_line_numbers' must map paths to values")
    files: list[SourceFile] = []
    index: dict[str, int] = {}
    for path, text in old_files.items():
        if not isinstance(text, str):
            raise ValueError(f"files[{path!r}]: expected source text, got {type(text).__name__}")
        index[path] = len(files)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        lines = sorted(
            _int(n, f"hidden_line_numbers[{path!r}][{i}]")
            for i, n in enumerate(hidden.get(path, []))
        )
        files.append(SourceFile(path=path, sha256=digest, text=text, hidden_lines=lines))
    return files, index


def _file_of(path: str, files: list[SourceFile], index: dict[str, int]) -> int:
    if path not in index:  # a frame in a file the old trace did not embed
        index[path] = len(files)
        files.append(SourceFile(path=path, sha256="", text=""))
    return index[path]


def convert_legacy_trace(old: Any, lecture: str = "lecture.py") -> Trace:
    """Old trace (parsed JSON) -> our Trace; ValueError names the step index of what is wrong."""
    if not isinstance(old, dict):
        raise ValueError(f"old trace: expected a JSON object, got {type(old).__name__}")
    if not isinstance(old.get("steps"), list):
        raise ValueError("old trace: missing 'steps' (expected a list of {stack, env, renderings})")
    files, index = _files(old)
    stacks: list[StackNode] = []
    interned: dict[tuple[Any, ...], int] = {}
    steps: list[Step] = []
    frames: dict[tuple[int, int, str], int] = {}  # (stack id, depth, function) -> frame id
    last_env: dict[int, dict[str, str]] = {}
    for i, old_step in enumerate(old["steps"]):
        where = f"steps[{i}]"
        stack = old_step.get("stack") if isinstance(old_step, dict) else None
        if not isinstance(stack, list) or not stack:
            raise ValueError(f"{where}: expected {{stack: [frames...], env, renderings}}")
        parent = -1
        for depth, frame in enumerate(stack[:-1]):
            key = (parent, *_frame(frame, f"{where}.stack[{depth}]"))
            if key not in interned:
                interned[key] = len(stacks)
                file = _file_of(key[1], files, index)
                stacks.append(StackNode(parent=parent, file=file, line=key[2], function=key[3]))
            parent = interned[key]
        top_path, top_line, function = _frame(stack[-1], f"{where}.stack[{len(stack) - 1}]")
        frame_key = (parent, len(stack), function)
        frame_id = frames.setdefault(frame_key, len(frames))
        env = old_step.get("env") or {}
        if not isinstance(env, dict):
            raise ValueError(f"{where}.env: expected a dict of name -> value, got {env!r:.80}")
        old_renderings = old_step.get("renderings") or []
        if not isinstance(old_renderings, list):
            raise ValueError(f"{where}.renderings: expected a list, got {old_renderings!r:.80}")
        previous = last_env.get(frame_id, {})
        encoded = {name: json.dumps(value, sort_keys=True) for name, value in env.items()}
        values = {
            name: convert_value(env[name], f"{where}.env[{name!r}]")
            for name in env
            if previous.get(name) != encoded[name]
        }
        cleared = sorted(set(previous) - set(env))
        last_env[frame_id] = encoded
        renderings = [
            _convert_rendering(r, lambda p: _file_of(p, files, index), f"{where}.renderings[{j}]")
            for j, r in enumerate(old_renderings)
        ]
        steps.append(Step(file=_file_of(top_path, files, index),
                          line=max(top_line, 1), function=function,
                          frame=frame_id, stack=parent, values=values, cleared=cleared,
                          renderings=renderings))  # fmt: skip
    if not files:
        raise ValueError("old trace: no 'files' and no stack frames to take them from")
    outline = _outline(steps, stacks)
    title = lecture.rsplit("/", 1)[-1].removesuffix(".py")
    return Trace(schema_version=SCHEMA_VERSION, lecture=files[0].path if files else lecture,
                 title=title, created="", python_version="", torch_version=None, status="ok",
                 files=files, steps=steps, stacks=stacks, outline=outline)  # fmt: skip


def _outline(steps: list[Step], stacks: list[StackNode]) -> list[OutlineEntry]:
    """Sections: the first step of each function called directly from main()."""
    outline: list[OutlineEntry] = []
    seen: set[int] = set()
    for i, step in enumerate(steps):
        if step.stack < 0 or step.frame in seen:
            continue
        caller = stacks[step.stack]
        if caller.function == "main":
            seen.add(step.frame)
            title = step.function.replace("_", " ").strip().capitalize()
            outline.append(
                OutlineEntry(title=title, function=step.function, step=i, line=caller.line)
            )
    return outline


def import_legacy_json(text: str, lecture: str = "lecture.py") -> dict[str, Any]:
    """Old trace JSON text -> our trace as a validated JSON-ready dict."""
    try:
        old = json.loads(text)  # accepts bare NaN / Infinity tokens
    except json.JSONDecodeError as exc:
        raise ValueError(f"old trace: not JSON ({exc})") from exc
    data = dump_trace(convert_legacy_trace(old, lecture))
    load_trace(data)  # our own output must validate
    return data
