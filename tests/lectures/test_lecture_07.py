"""lecture_07 (Alignment): smoke-traces and validates; the committed trace matches the sources;
the shipped demo results hold the chained before/after accuracies the lecture plots."""

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
    names = {
        "rewards",
        "advantages",
        "ratios",
        "mask",
        "summary",
        "base_metrics",
        "pair",
        "margins",
    }
    assert names <= shown.keys()
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "plot", "link"} <= kinds


def test_shipped_results_are_a_chain_that_raises_accuracy_at_every_stage() -> None:
    results = json.loads(DATA.read_text())
    stages = results["stages"]
    assert list(stages) == ["sft", "dpo", "grpo"]
    for r in stages.values():
        assert 0.0 <= r["before"]["accuracy"] < r["after"]["accuracy"] <= 1.0
    # each stage starts where the previous one stopped (greedy decoding: the same numbers)
    assert stages["dpo"]["before"]["accuracy"] == stages["sft"]["after"]["accuracy"]
    assert stages["grpo"]["before"]["accuracy"] == stages["dpo"]["after"]["accuracy"]
    assert stages["dpo"]["before"]["margin"] == 0.0 < stages["dpo"]["after"]["margin"]
    for stage in ("base", "sft"):
        assert (REPO / "lectures" / "data" / f"alignment_{stage}.pt").exists()
