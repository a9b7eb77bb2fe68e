"""lecture_01: smoke-traces and validates; the committed trace matches the current sources."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from execlecture.schema import load_trace

REPO = Path(__file__).resolve().parents[2]
LECTURE = "lectures/lecture_01.py"
TRACE = REPO / "traces" / "lecture_01.json"
NUM_SECTIONS = 26


def test_smoke_trace_validates_and_shows_the_bpe_loop(tmp_path: Path) -> None:
    out = tmp_path / "lecture_01.json"
    env = {**os.environ, "EXECLECTURE_SMOKE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "execlecture", "run", LECTURE, "-o", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trace = load_trace(json.loads(out.read_text()))
    assert trace.status == "ok" and len(trace.outline) == NUM_SECTIONS
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "link", "plot", "note"} <= kinds
    shown = {name for s in trace.steps for name in s.values}
    # The hand-run BPE loop shows its pair counts, chosen pair, merges and shrinking sequence.
    assert {"counts", "pair", "merges", "ids", "library", "by_hand"} <= shown
    merges_steps = [s.values["merges"] for s in trace.steps if "merges" in s.values]
    assert merges_steps[-1]["length"] == 3


def test_committed_trace_is_current() -> None:
    trace = load_trace(json.loads(TRACE.read_text()))
    assert trace.status == "ok"
    for f in trace.files:
        current = hashlib.sha256((REPO / f.path).read_text(encoding="utf-8").encode()).hexdigest()
        assert current == f.sha256, (
            f"{f.path} changed since {TRACE.name} was made: rerun `make traces`"
        )
