"""Shared by the lecture tests: trace a lecture at smoke size into a temp dir and load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from execlecture.schema import Trace, load_trace

REPO = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_S = 300


def smoke_trace(lecture: str, tmp_path: Path) -> Trace:
    """`execlecture run LECTURE` with EXECLECTURE_SMOKE=1 into tmp_path; the validated trace."""
    out = tmp_path / (Path(lecture).stem + ".json")
    env = {**os.environ, "EXECLECTURE_SMOKE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "execlecture", "run", lecture, "-o", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return load_trace(json.loads(out.read_text(encoding="utf-8")))
