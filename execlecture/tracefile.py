"""Write a traced session as a trace JSON file (atomically) and tell whether a trace is stale.

The JSON is produced piece by piece from the session's step columns, so a long trace never exists
as a list of per-step dicts in memory. The shape is exactly what `schema.dump_trace` would give.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from execlecture.schema import SCHEMA_VERSION, Rendering, load_trace
from execlecture.tracer import LINE_BITS, LINE_MASK, PENDING, TraceSession, rendering_json


def sha256_text(text: str) -> str:
    """Hex sha256 of a source text as UTF-8: "" -> "e3b0c442..."."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _header(session: TraceSession) -> dict[str, Any]:
    torch = sys.modules.get("torch")
    exc = session.exception
    files = []
    for f in session.files:
        entry: dict[str, Any] = {"path": f.rel_path, "sha256": sha256_text(f.text), "text": f.text}
        if f.directives.hidden_lines:
            entry["hidden_lines"] = sorted(f.directives.hidden_lines)
        files.append(entry)
    header: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "lecture": files[0]["path"],
        "title": session.title,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "python_version": platform.python_version(),
        "torch_version": str(torch.__version__) if torch is not None else None,
        "status": "error" if exc is not None else "ok",
        "files": files,
        "stacks": [
            {"parent": p, "file": f, "line": ln, "function": fn} for p, f, ln, fn in session.stacks
        ],
        "outline": [{k: v for k, v in e.items() if v != ""} for e in session.outline],
        "duration_s": round(session.duration_s, 3),
    }
    if exc is not None:
        header["exception"] = session.extras[session.num_steps - 1]["exception"]
    return header


def expand_pending(extra: dict[str, Any]) -> dict[str, Any]:
    """Split a step's raw pending items into "renderings", "stdout" and "stderr"."""
    out = {k: v for k, v in extra.items() if k != PENDING}
    renderings: list[dict[str, Any]] = []
    streams: dict[str, list[str]] = {}
    for item in extra[PENDING]:
        if isinstance(item, Rendering):
            renderings.append(rendering_json(item))
        else:
            streams.setdefault(item[0], []).append(item[1])
    if renderings:
        out["renderings"] = renderings
    for key, chunks in streams.items():
        out[key] = "".join(chunks)
    return out


def encode_trace(session: TraceSession) -> Iterator[str]:
    """The trace JSON text, in pieces."""
    header = _dumps(_header(session))
    yield header[:-1] + ',"steps":['
    prefixes = []
    for file, function, frame_id, stack in session.ctxs:
        stack_part = f',"stack":{stack}' if stack != -1 else ""
        prefixes.append(
            f'{{"file":{file},"function":{_dumps(function)},"frame":{frame_id}{stack_part},"line":'
        )
    extras = session.extras
    chunk: list[str] = []
    for index, packed in enumerate(session.steps):
        extra = extras.get(index)
        if extra is not None and PENDING in extra:
            extra = expand_pending(extra)
        tail = "}" if extra is None else "," + _dumps(extra)[1:]
        line = packed & LINE_MASK
        chunk.append(("," if index else "") + prefixes[packed >> LINE_BITS] + str(line) + tail)
        if len(chunk) >= 4096:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk) + "]}"


def write_atomic(path: Path, pieces: Iterator[str] | str) -> int:
    """Write text to `path` through a temp file + rename; returns bytes written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    size = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for piece in [pieces] if isinstance(pieces, str) else pieces:
                size += out.write(piece)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; traces are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size


def trace_to_dict(session: TraceSession) -> dict[str, Any]:
    """The whole trace as parsed JSON (for tests and small traces)."""
    result: dict[str, Any] = json.loads("".join(encode_trace(session)))
    return result


def is_current(
    trace_path: Path, cwd: Path, lecture: str | None = None, included: set[str] | None = None
) -> bool:
    """Whether a trace exists, validates, ran without error, and its files are unchanged.

    `lecture`: the lecture's path relative to `cwd` (posix); when given, the trace must be a
    trace of that lecture (an unchanged trace of another lecture at the same path is stale).
    `included`: the --include'd files (relative posix paths); when given, the trace must have
    been recorded with the same ones: every one of them embedded, and no other file stepped in.
    """
    try:
        data = json.loads(trace_path.read_text(encoding="utf-8"))
        trace = load_trace(data)
    except (OSError, ValueError, RecursionError):  # unreadable, not JSON, nested too deeply
        return False
    if trace.status != "ok" or (lecture is not None and trace.lecture != lecture):
        return False
    if included is not None:
        stepped = {trace.files[step.file].path for step in trace.steps} - {trace.lecture}
        # subtle: an included file the lecture never runs is not embedded: retrace (stay correct).
        if not stepped <= included or not included <= {f.path for f in trace.files}:
            return False
    for f in trace.files:
        source = cwd / f.path
        try:
            text = source.read_text(encoding="utf-8")
        except OSError:
            return False
        if sha256_text(text) != f.sha256:
            return False
    return True
