"""Every lecture has a committed trace that is valid, ran cleanly and matches its sources."""

from __future__ import annotations

import hashlib
import json

import pytest

from execlecture.schema import load_trace
from tests.lectures.support import REPO

LECTURES = sorted(p.stem for p in (REPO / "lectures").glob("lecture_*.py"))


@pytest.mark.parametrize("name", LECTURES)
def test_committed_trace_is_current(name: str) -> None:
    path = REPO / "traces" / f"{name}.json"
    assert path.exists(), f"no trace for lectures/{name}.py: run `make traces`"
    trace = load_trace(json.loads(path.read_text(encoding="utf-8")))
    assert trace.status == "ok", f"{path.name} ends in {trace.exception}"
    for source in trace.files:
        text = (REPO / source.path).read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert digest == source.sha256, (
            f"{source.path} changed since {path.name}: run `make traces`"
        )
