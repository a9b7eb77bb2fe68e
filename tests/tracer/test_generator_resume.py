"""A generator resumed once from a @stepover line is still stepped into when resumed normally."""

from __future__ import annotations

import sys
from pathlib import Path

from execlecture.tracefile import trace_to_dict
from execlecture.tracer import TraceSession

LECTURE = """
def gen():
    for i in range(3):
        y = i * 2
        yield y

def main():
    g = gen()
    a = next(g)
    b = next(g)  # @stepover
    c = next(g)
    d = 1
"""


def test_generator_lines_are_recorded_after_a_stepped_over_resume(tmp_path: Path) -> None:
    # The skipped resume turned the frame's line events off for good, so the third next(g)
    # showed only the yield line, never the loop body it ran.
    (tmp_path / "lec.py").write_text(LECTURE)
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    assert sys.gettrace() is None
    steps = [(s["function"], s["line"]) for s in trace_to_dict(session)["steps"]]
    after = steps[steps.index(("main", 10)) + 1 :]
    assert after == [("gen", 5), ("gen", 3), ("gen", 4), ("gen", 5), ("main", 11), ("main", 12)]
