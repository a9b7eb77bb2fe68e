"""lecture_00_tour: smoke-traces and validates; the committed trace matches the current sources."""

from __future__ import annotations

from pathlib import Path

from tests.lectures.support import smoke_trace

LECTURE = "lectures/lecture_00_tour.py"


def test_smoke_trace_validates_and_shows_every_feature(tmp_path: Path) -> None:
    trace = smoke_trace("lectures/lecture_00_tour.py", tmp_path)
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "note", "image", "plot", "link"} <= kinds
    assert any(s.stdout for s in trace.steps) and any(s.cleared for s in trace.steps)
    assert any(s.event == "exception" for s in trace.steps) and trace.status == "ok"
    assert trace.files[0].hidden_lines and len(trace.outline) == 5
    values = [v for s in trace.steps for v in s.values.values()]
    assert any(v["kind"] == "tensor" for v in values) and any(v["kind"] == "object" for v in values)
