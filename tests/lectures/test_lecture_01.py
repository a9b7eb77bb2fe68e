"""lecture_01: smoke-traces and validates; the committed trace matches the current sources."""

from __future__ import annotations

from pathlib import Path

from tests.lectures.support import smoke_trace

LECTURE = "lectures/lecture_01.py"
NUM_SECTIONS = 26


def test_smoke_trace_validates_and_shows_the_bpe_loop(tmp_path: Path) -> None:
    trace = smoke_trace("lectures/lecture_01.py", tmp_path)
    assert trace.status == "ok" and len(trace.outline) == NUM_SECTIONS
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "link", "plot", "note"} <= kinds
    shown = {name for s in trace.steps for name in s.values}
    # The hand-run BPE loop shows its pair counts, chosen pair, merges and shrinking sequence.
    assert {"counts", "pair", "merges", "ids", "library", "by_hand"} <= shown
    merges_steps = [s.values["merges"] for s in trace.steps if "merges" in s.values]
    assert merges_steps[-1]["length"] == 3
