"""Trace a sample and normalise it for golden comparison (paths, times, versions removed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from execlecture.tracefile import trace_to_dict
from execlecture.tracer import TraceSession

SAMPLES = Path(__file__).resolve().parent / "samples"
GOLDEN = Path(__file__).resolve().parent / "golden"
INCLUDES = {"include": ["samplelib/helpers.py"]}
VOLATILE = ("created", "python_version", "torch_version", "duration_s")


def trace_sample(name: str) -> dict[str, Any]:
    """Trace samples/<name>.py (run from the samples folder) and return the raw trace dict."""
    session = TraceSession(f"{name}.py", INCLUDES.get(name, []), cwd=SAMPLES)
    session.run()
    return trace_to_dict(session)


def normalise(trace: dict[str, Any]) -> dict[str, Any]:
    """Drop volatile fields and embedded sources; make paths in tracebacks relative."""
    out = json.loads(json.dumps(trace).replace(str(SAMPLES), "<samples>"))
    for key in VOLATILE:
        out.pop(key, None)
    out["files"] = [
        {"path": f["path"], "hidden_lines": f.get("hidden_lines", [])} for f in out["files"]
    ]
    return out
