"""lecture_06 (Parallelism): smoke-traces with its 2 spawned ranks and validates; the committed
trace matches the current sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lectures.support import smoke_trace

LECTURE = "lectures/lecture_06.py"


@pytest.mark.multiproc
@pytest.mark.timeout(300)
def test_smoke_trace_validates(tmp_path: Path) -> None:
    trace = smoke_trace("lectures/lecture_06.py", tmp_path)
    assert trace.status == "ok" and len(trace.outline) == 7
    shown = {name: v for s in trace.steps for name, v in s.values.items()}
    # measured on the spawned ranks: the FSDP shard is half the rows of the embedding
    assert shown["emb_local"]["items"][0]["value"] * 2 == shown["emb_full"]["items"][0]["value"]
    assert {"step_ms", "measured_mb", "all_reduce", "bubble_4_stages", "plans"} <= shown.keys()
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "plot", "link"} <= kinds
