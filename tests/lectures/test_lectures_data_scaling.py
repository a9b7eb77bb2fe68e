"""Lectures 08 (data) and 09 (scaling laws): smoke-traced at tiny size, committed traces current."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from execlecture.schema import load_trace

ROOT = Path(__file__).resolve().parents[2]
LECTURES = ["lecture_08", "lecture_09"]


@pytest.mark.parametrize("name", LECTURES)
def test_smoke_trace_is_valid(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.json"
    env = {**os.environ, "EXECLECTURE_SMOKE": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "execlecture", "run", f"lectures/{name}.py", "-o", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    trace = load_trace(json.loads(out.read_text(encoding="utf-8")))
    assert trace.status == "ok" and len(trace.steps) > 20 and len(trace.outline) >= 5
    assert any(r.kind == "markdown" for s in trace.steps for r in s.renderings)


@pytest.mark.parametrize("name", LECTURES)
def test_committed_trace_is_current(name: str) -> None:
    path = ROOT / "traces" / f"{name}.json"
    trace = load_trace(json.loads(path.read_text(encoding="utf-8")))
    for source in trace.files:
        current = (ROOT / source.path).read_bytes()
        digest = hashlib.sha256(current).hexdigest()
        assert digest == source.sha256, (
            f"{source.path} changed since {path.name} was traced: re-run it"
        )
