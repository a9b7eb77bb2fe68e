"""Exception steps: each raise that reaches recorded code is one step, however often it repeats."""

from __future__ import annotations

import sys
from pathlib import Path

from execlecture.tracefile import trace_to_dict
from execlecture.tracer import TraceSession

HELPER = """
def boom(i):
    raise ValueError(i)
"""

LECTURE = """
from helper import boom

def main():
    for i in range(4):
        try:
            boom(i)
        except ValueError:
            pass
"""


def test_every_repeated_exception_from_library_code_is_recorded(tmp_path: Path) -> None:
    # Each caught ValueError is freed before the next is raised, so the next one usually reuses
    # its id(): an id-only "already recorded" check silently dropped all but the first.
    (tmp_path / "helper.py").write_text(HELPER)
    (tmp_path / "lec.py").write_text(LECTURE)
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    assert sys.gettrace() is None
    steps = trace_to_dict(session)["steps"]
    messages = [s["exception"]["message"] for s in steps if s.get("event") == "exception"]
    assert messages == ["0", "1", "2", "3"]


NESTED = """
def inner():
    raise KeyError("k")

def outer():
    inner()

def main():
    try:
        outer()
    except KeyError:
        pass
"""


def test_a_propagating_exception_is_recorded_once_where_raised(tmp_path: Path) -> None:
    (tmp_path / "lec.py").write_text(NESTED)
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    assert sys.gettrace() is None
    steps = trace_to_dict(session)["steps"]
    raised = [(s["function"], s["line"]) for s in steps if s.get("event") == "exception"]
    assert raised == [("inner", 3)]


RECURSION = """
def rec(n):
    return rec(n + 1)

def main():
    try:
        rec(0)
    except RecursionError:
        pass
    x = 1  # @inspect x
"""


def test_a_recursion_error_that_kills_the_hook_is_reported(tmp_path: Path) -> None:
    # CPython drops a settrace hook that raises, and near the recursion limit the call into the
    # hook raises RecursionError: the steps after it are lost. That used to happen silently.
    (tmp_path / "lec.py").write_text(RECURSION)
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    assert sys.gettrace() is None
    assert len(session.warnings) == 1, session.warnings
    assert "stopped after step" in session.warnings[0] and "lec.py" in session.warnings[0]


RERAISE = """
def main():
    try:
        raise ValueError("a")
    except ValueError as e:
        err = e
    try:
        raise err
    except ValueError:
        pass
"""


def test_raising_a_caught_exception_object_again_is_a_new_step(tmp_path: Path) -> None:
    (tmp_path / "lec.py").write_text(RERAISE)
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    assert sys.gettrace() is None
    steps = trace_to_dict(session)["steps"]
    assert [s["line"] for s in steps if s.get("event") == "exception"] == [4, 8]
