"""Captured output: nothing printed is lost, even when it arrives while a step takes its output."""

from __future__ import annotations

import sys
from pathlib import Path

from execlecture.tracefile import trace_to_dict
from execlecture.tracer import TraceSession

LECTURE = """
def main():
    print("one")
    print("two")
    x = 3
"""


class _RacyPending(list):  # type: ignore[type-arg]
    """A pending list where 'another thread' prints right after each copy is taken."""

    num_printed = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        out = super().__getitem__(index)
        if isinstance(index, slice):
            self.append(("stdout", "from a thread\n"))
            self.num_printed += 1
        return out


def test_output_arriving_while_a_step_takes_its_output_is_kept(tmp_path: Path) -> None:
    # The step copied the pending output and then clear()ed it, dropping anything appended in
    # between (a thread printing); only the copied items are removed now.
    (tmp_path / "lec.py").write_text(LECTURE)
    session = TraceSession("lec.py", cwd=tmp_path)
    racy = _RacyPending()
    session.pending = racy
    session.run()
    assert sys.gettrace() is None
    stdout = "".join(s.get("stdout", "") for s in trace_to_dict(session)["steps"])
    stdout += "".join(text for _, text in racy)  # what is still pending after the last step
    assert stdout.count("one\n") == 1 and stdout.count("two\n") == 1
    assert racy.num_printed >= 1
    assert stdout.count("from a thread\n") == racy.num_printed


HIDDEN_LAST = """
from execlecture import text

def main():
    x = 1
    print("shown")  # @hide
    text("rendered")  # @hide
"""


def test_output_of_hidden_last_lines_reaches_the_last_step(tmp_path: Path) -> None:
    # Hidden lines hand their output to the next step; after the last line there is none, so
    # the print and the text() were silently dropped from the trace.
    (tmp_path / "lec.py").write_text(HIDDEN_LAST)
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    assert sys.gettrace() is None
    (step,) = trace_to_dict(session)["steps"]
    assert step["line"] == 5 and step["stdout"] == "shown\n"
    assert [r["text"] for r in step["renderings"]] == ["rendered"]
