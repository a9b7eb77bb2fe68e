"""Lectures 08 (data) and 09 (scaling laws): smoke-traced at tiny size, committed traces current."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lectures.support import smoke_trace

LECTURES = ["lecture_08", "lecture_09"]


@pytest.mark.parametrize("name", LECTURES)
def test_smoke_trace_is_valid(name: str, tmp_path: Path) -> None:
    trace = smoke_trace(f"lectures/{name}.py", tmp_path)
    assert trace.status == "ok" and len(trace.steps) > 20 and len(trace.outline) >= 5
    assert any(r.kind == "markdown" for s in trace.steps for r in s.renderings)
