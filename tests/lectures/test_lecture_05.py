"""Lecture 05 (GPUs, kernels and Triton): smoke trace validates; the committed trace is current."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from execlecture.schema import load_trace

ROOT = Path(__file__).resolve().parents[2]
LECTURE = ROOT / "lectures" / "lecture_05.py"
COMMITTED = ROOT / "traces" / "lecture_05.json"


def test_smoke_trace_is_valid(tmp_path):
    out = tmp_path / "lecture_05.json"
    env = {**os.environ, "EXECLECTURE_SMOKE": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "execlecture", "run", str(LECTURE), "-o", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    trace = load_trace(json.loads(out.read_text()))
    assert trace.status == "ok"
    assert trace.title.startswith("Lecture 05")
    rendered = json.dumps(json.loads(out.read_text()))
    assert "No GPU numbers have been recorded" in rendered or "Recorded by" in rendered


def test_committed_trace_is_current():
    trace = load_trace(json.loads(COMMITTED.read_text()))
    for source in trace.files:
        current = hashlib.sha256((ROOT / source.path).read_bytes()).hexdigest()
        assert current == source.sha256, f"{source.path} changed since the trace: re-run the tracer"
