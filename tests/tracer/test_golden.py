"""Golden traces: each tests/tracer/samples/*.py traced and compared with golden/*.json.

Run with UPDATE_GOLDEN=1 to rewrite the goldens after an intended change (review the diff).
"""

from __future__ import annotations

import json
import os

import pytest

from execlecture.schema import load_trace
from tests.tracer.golden_support import GOLDEN, SAMPLES, normalise, trace_sample

SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.py"))


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_matches_golden(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    trace = trace_sample(name)
    load_trace(trace)
    got = normalise(trace)
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    assert golden.exists(), f"no golden {golden.name}: run with UPDATE_GOLDEN=1 and review it"
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert got == expected, (
        f"trace of {name}.py differs from {golden.name} (UPDATE_GOLDEN=1 rewrites)"
    )
