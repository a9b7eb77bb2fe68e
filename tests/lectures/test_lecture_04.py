"""lecture_04: smoke-traces and validates; the committed trace matches the current sources."""

from __future__ import annotations

from pathlib import Path

from tests.lectures.support import smoke_trace

LECTURE = "lectures/lecture_04.py"


def test_smoke_trace_validates(tmp_path: Path) -> None:
    trace = smoke_trace("lectures/lecture_04.py", tmp_path)
    assert trace.status == "ok"
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "plot", "link"} <= kinds
    assert len(trace.outline) >= 4
