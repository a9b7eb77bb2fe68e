"""lecture_00_tour: smoke-traces and validates; the committed trace matches the current sources."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from execlecture.schema import load_trace

REPO = Path(__file__).resolve().parents[2]
LECTURE = "lectures/lecture_00_tour.py"
TRACE = REPO / "traces" / "lecture_00_tour.json"


def test_smoke_trace_validates_and_shows_every_feature(tmp_path: Path) -> None:
    out = tmp_path / "tour.json"
    env = {**os.environ, "EXECLECTURE_SMOKE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "execlecture", "run", LECTURE, "-o", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trace = load_trace(json.loads(out.read_text()))
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "note", "image", "plot", "link"} <= kinds
    assert any(s.stdout for s in trace.steps) and any(s.cleared for s in trace.steps)
    assert any(s.event == "exception" for s in trace.steps) and trace.status == "ok"
    assert trace.files[0].hidden_lines and len(trace.outline) == 5
    values = [v for s in trace.steps for v in s.values.values()]
    assert any(v["kind"] == "tensor" for v in values) and any(v["kind"] == "object" for v in values)


def test_committed_trace_is_current() -> None:
    trace = load_trace(json.loads(TRACE.read_text()))
    for f in trace.files:
        current = hashlib.sha256((REPO / f.path).read_text(encoding="utf-8").encode()).hexdigest()
        assert current == f.sha256, (
            f"{f.path} changed since {TRACE.name} was made: rerun `make traces`"
        )
