"""link(function) embeds the function's file for display but never records its lines."""

from __future__ import annotations

from execlecture.tracefile import trace_to_dict
from execlecture.tracer import TraceSession
from tests.tracer.golden_support import SAMPLES

LECTURE = """from execlecture import link
from samplelib.helpers import mean


def main():
    link(mean)
    y = mean([1, 2])  # @inspect y
    z = mean([4, 6])  # @inspect z
"""


def test_linked_file_is_shown_not_recorded(tmp_path) -> None:
    lecture = tmp_path / "linking.py"
    lecture.write_text(LECTURE, encoding="utf-8")
    (tmp_path / "samplelib").symlink_to(SAMPLES / "samplelib")
    session = TraceSession("linking.py", [], cwd=tmp_path)
    session.run()
    trace = trace_to_dict(session)
    paths = [f["path"] for f in trace["files"]]
    assert paths == ["linking.py", "samplelib/helpers.py"]
    assert {step["file"] for step in trace["steps"]} == {0}, "lines of a linked file were recorded"
    link = next(r for s in trace["steps"] for r in s.get("renderings", []) if r["kind"] == "link")
    assert link["code"]["file"] == 1 and link["code"]["name"] == "mean"
    values = {k: v["value"] for s in trace["steps"] for k, v in s.get("values", {}).items()}
    assert values == {"y": 1.5, "z": 5.0}
