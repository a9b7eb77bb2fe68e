"""lecture_03: smoke-traces and validates; the committed trace matches the current sources."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from execlecture.schema import load_trace

REPO = Path(__file__).resolve().parents[2]
LECTURE = "lectures/lecture_03.py"
TRACE = REPO / "traces" / "lecture_03.json"


@pytest.mark.slow
def test_smoke_trace_validates(tmp_path: Path) -> None:
    out = tmp_path / "lecture_03.json"
    env = {**os.environ, "EXECLECTURE_SMOKE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "execlecture", "run", LECTURE, "-o", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trace = load_trace(json.loads(out.read_text()))
    assert trace.status == "ok"
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "plot", "link"} <= kinds
    assert len(trace.outline) >= 4


def test_committed_trace_is_current() -> None:
    trace = load_trace(json.loads(TRACE.read_text()))
    assert trace.status == "ok"
    for f in trace.files:
        current = hashlib.sha256((REPO / f.path).read_text(encoding="utf-8").encode()).hexdigest()
        assert current == f.sha256, (
            f"{f.path} changed since {TRACE.name} was made: rerun make traces"
        )
