"""Tracer hygiene: hooks and process state restored, tracing twice works, traces always valid."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execlecture import api
from execlecture.schema import load_trace
from execlecture.tracefile import encode_trace, trace_to_dict
from execlecture.tracer import TraceSession

LECTURE = """
def helper(v):
    return v * 2  # @inspect v

def main():
    a = helper(3)  # @inspect a
    print("a is", a)
"""


def _trace(path: Path, cwd: Path) -> dict[str, Any]:
    session = TraceSession(path.name, cwd=cwd)
    session.run()
    return trace_to_dict(session)


def test_previous_hook_and_process_state_are_restored(tmp_path: Path) -> None:
    (tmp_path / "lec.py").write_text(LECTURE)
    calls: list[str] = []

    def previous_hook(frame: Any, event: str, arg: Any) -> None:
        calls.append(event)

    state = (
        list(sys.path),
        os.getcwd(),
        sys.stdout,
        sys.stderr,
        dict(sys.modules).keys() - {"lec"},
    )
    sys.settrace(previous_hook)
    try:
        trace = _trace(tmp_path / "lec.py", tmp_path)
        assert sys.gettrace() is previous_hook
    finally:
        sys.settrace(None)
    assert (list(sys.path), os.getcwd(), sys.stdout, sys.stderr) == state[:4]
    assert "lec" not in sys.modules
    assert api._SINK.get() is None
    assert [(s["function"], s["line"]) for s in trace["steps"]] == [
        ("main", 6),
        ("helper", 3),
        ("main", 6),
        ("main", 7),
    ]


def test_tracing_twice_gives_the_same_steps(tmp_path: Path) -> None:
    (tmp_path / "lec.py").write_text(LECTURE)
    first = _trace(tmp_path / "lec.py", tmp_path)
    second = _trace(tmp_path / "lec.py", tmp_path)
    assert first["steps"] == second["steps"] and first["stacks"] == second["stacks"]


def test_module_level_error_gives_an_exception_step(tmp_path: Path) -> None:
    (tmp_path / "lec.py").write_text("import json\nx = 1 / 0\n\ndef main():\n    pass\n")
    trace = load_trace(_trace(tmp_path / "lec.py", tmp_path))
    assert trace.status == "error" and len(trace.steps) == 1
    assert trace.steps[0].event == "exception" and trace.steps[0].line == 2


def test_lecture_sees_its_folder_as_cwd_and_on_sys_path(tmp_path: Path) -> None:
    sub = tmp_path / "lectures"
    sub.mkdir()
    (sub / "sibling.py").write_text("VALUE = 7\n")
    (sub / "lec.py").write_text(
        "import os\nfrom pathlib import Path\nimport sibling\n\n"
        "def main():\n    here = Path(os.getcwd()).name  # @inspect here\n"
        "    value = sibling.VALUE  # @inspect value\n"
    )
    session = TraceSession("lectures/lec.py", cwd=tmp_path)
    session.run()
    trace = trace_to_dict(session)
    values = {k: v["value"] for s in trace["steps"] for k, v in s.get("values", {}).items()}
    assert values == {"here": "lectures", "value": 7}


def test_inspecting_an_undefined_name_warns_with_location(tmp_path: Path) -> None:
    (tmp_path / "lec.py").write_text("def main():\n    x = 1  # @inspect x typo\n")
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    assert session.warnings == ["'@inspect typo' at lec.py:2: 'typo' is not defined there"]
    assert list(trace_to_dict(session)["steps"][0]["values"]) == ["x"]


def test_a_1000_step_lecture_stays_small(tmp_path: Path) -> None:
    """Stacks interned, only changed values stored: ~1,000 steps fit well under 400 KB."""
    (tmp_path / "lec.py").write_text(
        "from execlecture import text\n\n"
        "def square(v):\n    return v * v\n\n"
        "def main():\n"
        "    for i in range(250):\n"
        "        value = square(i) % 97  # @inspect value\n"
        "        if i % 25 == 0:\n"
        "            text(f'step {i}: value {value}')\n"
    )
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    size = len("".join(encode_trace(session)).encode())
    assert session.num_steps >= 1000 and size <= 400_000, (session.num_steps, size)


def test_unchanged_values_are_not_repeated(tmp_path: Path) -> None:
    body = "".join(f"    x = {i // 10}  # @inspect x\n" for i in range(50))
    (tmp_path / "lec.py").write_text("def main():\n" + body)
    trace = _trace(tmp_path / "lec.py", tmp_path)
    assert sum("values" in s for s in trace["steps"]) == 5


_STATEMENTS = [
    "x = {v!r}  # @inspect x",
    "y = [x, {v!r}, x]  # @inspect y",
    "z = {{'k': {v!r}}}  # @inspect z",
    "print({v!r})",
    "text(str({v!r}))",
    "w = helper({v!r})  # @inspect w",
    "del_me = 1  # @clear x y",
    "h = 2  # @hide",
    "s = helper({v!r})  # @stepover @inspect s",
    "g = [q for q in gen()]  # @inspect g",
    "try:\n        raise ValueError({v!r})\n"
    "    except ValueError as e:\n        m = str(e)  # @inspect m",
]


class _Literal:
    """Formats a value as Python source, spelling non-finite floats as float('nan')."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        v = self.value
        if isinstance(v, float):
            return f"float('{v!r}')"
        if isinstance(v, list):
            return "[" + ", ".join(repr(_Literal(i)) for i in v) + "]"
        return repr(v)


_VALUES = st.one_of(
    st.integers(), st.floats(), st.text(max_size=20), st.none(), st.booleans(),
    st.lists(st.floats(), max_size=4), st.binary(max_size=4),
)  # fmt: skip


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.sampled_from(_STATEMENTS), _VALUES), min_size=1, max_size=8),
    st.booleans(),
)
def test_any_lecture_gives_valid_json_that_validates(
    tmp_path: Path, statements: list[tuple[str, Any]], is_raising: bool
) -> None:
    body = "\n".join("    " + t.format(v=_Literal(v)) for t, v in statements)
    source = (
        "from execlecture import text\n\n"
        "def helper(v):\n    r = [v]  # @inspect r\n    return r\n\n"
        "def gen():\n    yield 1\n    yield 2\n\n"
        f"def main():\n    x = y = 0\n{body}\n" + ("    1 / 0\n" if is_raising else "")
    )
    path = tmp_path / "lec.py"
    path.write_text(source)
    trace = _trace(path, tmp_path)
    text = json.dumps(trace, allow_nan=False)
    loaded = load_trace(json.loads(text))
    assert loaded.status == ("error" if is_raising else "ok")
    if is_raising:
        assert loaded.steps[-1].event == "exception"


def test_a_lecture_named_like_a_loaded_module_does_not_shadow_it(tmp_path: Path) -> None:
    # The lecture's module was registered as sys.modules[stem]: a lecture called json.py made
    # every `import json` during the run (its own, and any library's) return the lecture.
    (tmp_path / "json.py").write_text(
        "def main():\n    import json as lib\n    text = lib.dumps([1])  # @inspect text\n"
    )
    real_json = sys.modules["json"]
    trace = _trace(tmp_path / "json.py", tmp_path)
    assert sys.modules["json"] is real_json
    assert trace["status"] == "ok", trace.get("exception")
    values = [s["values"]["text"]["value"] for s in trace["steps"] if "values" in s]
    assert values == ["[1]"]


def test_an_undefined_inspect_name_in_a_loop_warns_once(tmp_path: Path) -> None:
    # One warning per execution of the line: a typo in a hot loop printed thousands of lines.
    (tmp_path / "lec.py").write_text(
        "def main():\n    for i in range(50):\n        x = i  # @inspect typo\n"
    )
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    assert session.warnings == ["'@inspect typo' at lec.py:3: 'typo' is not defined there"]
