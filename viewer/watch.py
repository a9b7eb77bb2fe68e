"""Live reload for authors: re-trace a lecture in a subprocess when one of its sources is saved.

A daemon thread polls the mtimes of the files each trace recorded (paths relative to the trace
directory's parent, the directory lectures are run from) and runs
`python -m execlecture run LECTURE -o TRACE` there. The page learns about new trace files through
the events route; failures to re-trace are kept here as events so the page can show them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import execlecture.schema
from viewer.store import TraceStore

POLL_S = 0.3
RETRACE_TIMEOUT_S = 300
MAX_EVENTS = 100


class Watcher:
    """Polls traced sources and re-traces on change; `events_since(seq)` reports what happened."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store
        self.root = store.trace_dir.parent
        self._events: list[dict[str, Any]] = []
        self._seq = 0
        self._lock = threading.Lock()
        self._seen: dict[Path, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="execlecture-watch", daemon=True)

    def start(self) -> None:
        self._scan(initial=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def events_since(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if e["seq"] > seq]

    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def _publish(self, **event: Any) -> None:
        with self._lock:
            self._seq += 1
            self._events.append({"seq": self._seq, **event})
            del self._events[:-MAX_EVENTS]

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            self._scan(initial=False)

    def _sources(self) -> dict[str, tuple[Path, list[Path]]]:
        """trace name -> (lecture path, every traced file's path) for the valid traces."""
        out = {}
        for name in self.store.names():
            entry = self.store.entry(name)
            if entry.trace is not None:
                paths = [self.root / f.path for f in entry.trace.files]
                out[name] = (self.root / entry.trace.lecture, paths)
        return out

    def _scan(self, initial: bool) -> None:
        for name, (lecture, paths) in self._sources().items():
            changed = False
            for path in paths:
                try:
                    mtime = path.stat().st_mtime_ns
                except OSError:
                    continue
                if self._seen.get(path) not in (None, mtime):
                    changed = True
                self._seen[path] = mtime
            if changed and not initial:
                self._retrace(name, lecture)

    def _retrace(self, name: str, lecture: Path) -> None:
        """Run the tracer in a subprocess; a lecture that raises still writes its trace."""
        trace_path = self.store.path_for(name)
        self._publish(kind="tracing", trace=name)
        # The tracer must import the same execlecture as this viewer, installed or not.
        package_root = Path(execlecture.schema.__file__).resolve().parent.parent
        paths = [str(self.root), str(package_root), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        command = [sys.executable, "-m", "execlecture", "run", str(lecture), "-o", str(trace_path)]
        started = time.monotonic()
        try:
            done = subprocess.run(command, cwd=self.root, env=env, capture_output=True, text=True,
                                  timeout=RETRACE_TIMEOUT_S, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            self._publish(
                kind="error", trace=name, message=f"re-trace timed out after {RETRACE_TIMEOUT_S} s"
            )
            return
        seconds = round(time.monotonic() - started, 2)
        if done.returncode != 0:
            message = (done.stderr or done.stdout)[-4000:]
            self._publish(kind="error", trace=name, message=message, seconds=seconds)
        else:
            self._publish(kind="traced", trace=name, seconds=seconds)
