"""lecture_07 (Alignment): smoke-traces and validates; the committed trace matches the sources;
the shipped demo results hold the before/after accuracies the lecture plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lectures.support import smoke_trace

REPO = Path(__file__).resolve().parents[2]
LECTURE = "lectures/lecture_07.py"
DATA = REPO / "lectures" / "data" / "alignment_demo.json"


@pytest.mark.timeout(300)
def test_smoke_trace_validates(tmp_path: Path) -> None:
    trace = smoke_trace("lectures/lecture_07.py", tmp_path)
    assert trace.status == "ok" and len(trace.outline) == 7
    shown = {name: v for s in trace.steps for name, v in s.values.items()}
    assert {"rewards", "advantages", "ratios", "mask", "summary", "base_metrics"} <= shown.keys()
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "plot", "link"} <= kinds


def test_shipped_results_have_every_stage() -> None:
    results = json.loads(DATA.read_text())
    assert set(results["stages"]) == {"sft", "dpo", "grpo"}
    for r in results["stages"].values():
        assert 0.0 <= r["before"]["accuracy"] <= 1.0 and 0.0 <= r["after"]["accuracy"] <= 1.0
    # every stage starts from the same base model
    assert results["stages"]["dpo"]["before"] == results["stages"]["sft"]["before"]
    assert results["stages"]["grpo"]["before"] == results["stages"]["sft"]["before"]
