"""Trace lookup and the viewer's only state: a cache of loaded traces keyed by file mtime.

`TraceStore` maps a trace name (file stem) to `traces/NAME.json` without ever leaving the trace
directory (names are a strict pattern; resolved paths, symlinks included, must stay inside), loads
and validates it with `execlecture.schema.load_trace`, and keeps derived views until the file
changes.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from execlecture.legacy_trace import convert_legacy_trace, is_legacy_trace
from execlecture.schema import Trace, dump_trace, load_trace

TRACE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
IMAGE_SUFFIXES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".svg": "image/svg+xml", ".bmp": "image/bmp",
}  # fmt: skip


class TraceNotFound(LookupError):
    """No trace (or file) by that name inside the trace directory."""


class TraceInvalid(ValueError):
    """The trace file exists but is not valid JSON or fails schema validation."""


@dataclass
class Entry:
    """A loaded trace plus views derived from it (filled lazily, dropped when the file changes)."""

    name: str
    path: Path
    version: str
    """mtime_ns-size of the file: the cache key and the HTTP ETag."""
    trace: Trace | None = None
    error: str | None = None
    is_legacy: bool = False
    """Written by the older execute.py tracer and converted on load."""
    derived: dict[str, Any] = field(default_factory=dict)


class TraceStore:
    """Find, validate and cache traces of one directory (thread-safe)."""

    def __init__(self, trace_dir: Path) -> None:
        self.trace_dir = Path(trace_dir).resolve()
        self._cache: dict[str, Entry] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Names of the `*.json` traces directly in the trace directory, sorted."""
        if not self.trace_dir.is_dir():
            return []
        found = []
        for p in sorted(self.trace_dir.glob("*.json")):
            if TRACE_NAME.match(p.stem) and self._inside(p):
                found.append(p.stem)
        return found

    def _inside(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.trace_dir)
        except (ValueError, OSError):
            return False
        return True

    def path_for(self, name: str) -> Path:
        """The trace file for `name`, or TraceNotFound (bad names, traversal, symlinks out)."""
        if not TRACE_NAME.match(name):
            raise TraceNotFound(f"no trace {name!r} (expected a name like 'lecture_01')")
        path = self.trace_dir / f"{name}.json"
        if not path.is_file() or not self._inside(path):
            raise TraceNotFound(f"no trace {name!r} in {str(self.trace_dir)!r}")
        return path

    def file_path(self, relative: str) -> Path:
        """An image file under the trace directory, or TraceNotFound (never a path outside)."""
        parts = Path(relative).parts
        if not relative or Path(relative).is_absolute() or ".." in parts or "\\" in relative:
            raise TraceNotFound(f"no file {relative!r} under the trace directory")
        path = self.trace_dir / relative
        if not path.is_file() or not self._inside(path):
            raise TraceNotFound(f"no file {relative!r} under the trace directory")
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise TraceNotFound(f"file {relative!r} is not an image ({sorted(IMAGE_SUFFIXES)})")
        return path

    def entry(self, name: str) -> Entry:
        """The cached entry for `name`, reloaded when the file's mtime or size changed."""
        path = self.path_for(name)
        stat = path.stat()
        version = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached.version == version:
                return cached
        entry = Entry(name=name, path=path, version=version)
        try:
            data = json.loads(path.read_bytes())
            if is_legacy_trace(data):
                entry.is_legacy = True
                entry.trace = load_trace(dump_trace(convert_legacy_trace(data, path.stem + ".py")))
            else:
                entry.trace = load_trace(data)
        except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
            entry.error = f"{path.name}: {error}"
        except Exception as error:  # noqa: BLE001 - untrusted input must be a 422, never a 500
            # The validator itself can trip over hostile shapes (e.g. an unhashable value where
            # a string is expected raises TypeError); that is still an invalid trace.
            entry.error = f"{path.name}: invalid trace ({type(error).__name__}: {error})"
        with self._lock:
            self._cache[name] = entry
        return entry

    def trace(self, name: str) -> Entry:
        """Like `entry` but raises TraceInvalid for a trace that failed validation."""
        entry = self.entry(name)
        if entry.trace is None:
            raise TraceInvalid(entry.error or f"invalid trace {name!r}")
        return entry

    def derived(self, name: str, key: str, make: Callable[[Entry], Any]) -> tuple[Entry, Any]:
        """A view of a valid trace computed once per file version (e.g. the page's JSON)."""
        entry = self.trace(name)
        if key not in entry.derived:
            value = make(entry)
            with self._lock:
                entry.derived.setdefault(key, value)
        return entry, entry.derived[key]

    def source_status(self, trace: Trace) -> str:
        """'current', 'changed' or 'missing': traced files vs files relative to the dir's parent."""
        base = self.trace_dir.parent
        status = "current"
        for f in trace.files:
            path = base / f.path
            if not path.is_file():
                status = "missing" if status == "current" else status
                continue
            if hashlib.sha256(path.read_bytes()).hexdigest() != f.sha256:
                return "changed"
        return status

    def summary(self, name: str) -> dict[str, Any]:
        """What the index lists about one trace (valid or not)."""
        entry = self.entry(name)
        if entry.trace is None:
            return {"name": name, "error": entry.error}
        t = entry.trace
        return {
            "name": name,
            "title": t.title,
            "lecture": t.lecture,
            "num_steps": len(t.steps),
            "created": t.created,
            "status": t.status,
            "source": self.source_status(t),
        }
