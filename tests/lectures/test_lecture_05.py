"""Lecture 05 (GPUs, kernels, Triton): the smoke trace validates and is honest about GPU numbers."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from tests.lectures.support import smoke_trace


def test_smoke_trace_is_valid(tmp_path: Path) -> None:
    trace = smoke_trace("lectures/lecture_05.py", tmp_path)
    assert trace.status == "ok"
    assert trace.title.startswith("Lecture 05")
    rendered = json.dumps([asdict(r) for s in trace.steps for r in s.renderings])
    assert "No GPU numbers have been recorded" in rendered or "Recorded by" in rendered
