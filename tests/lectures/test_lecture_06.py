"""lecture_06 (Parallelism): smoke-traces with its 2 spawned ranks and validates; the committed
trace matches the current sources."""

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
LECTURE = "lectures/lecture_06.py"
TRACE = REPO / "traces" / "lecture_06.json"


@pytest.mark.multiproc
@pytest.mark.timeout(300)
def test_smoke_trace_validates(tmp_path: Path) -> None:
    out = tmp_path / "lecture_06.json"
    env = {**os.environ, "EXECLECTURE_SMOKE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "execlecture", "run", LECTURE, "-o", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    trace = load_trace(json.loads(out.read_text()))
    assert trace.status == "ok" and len(trace.outline) == 7
    shown = {name: v for s in trace.steps for name, v in s.values.items()}
    # measured on the spawned ranks: the FSDP shard is half the rows of the embedding
    assert shown["emb_local"]["items"][0]["value"] * 2 == shown["emb_full"]["items"][0]["value"]
    assert {"step_ms", "measured_mb", "all_reduce", "bubble_4_stages", "plans"} <= shown.keys()
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "plot", "link"} <= kinds


def test_committed_trace_is_current() -> None:
    trace = load_trace(json.loads(TRACE.read_text()))
    for f in trace.files:
        current = hashlib.sha256((REPO / f.path).read_text(encoding="utf-8").encode()).hexdigest()
        assert current == f.sha256, (
            f"{f.path} changed since {TRACE.name} was made: rerun `make traces`"
        )
