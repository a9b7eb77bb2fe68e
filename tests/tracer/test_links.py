"""link(function) embeds the function's file for display but never records its lines."""

from __future__ import annotations

import sys

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


def test_link_to_installed_code_inside_the_repo_is_a_label_not_an_embedded_file(
    tmp_path, monkeypatch
) -> None:
    # `make run` puts .venv inside the repo: link(torch.nn.Linear) embedded torch's source file
    # under a machine-specific .venv/... path, making the trace differ from machine to machine.
    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    (site / "fakepkg").mkdir(parents=True)
    (site / "fakepkg" / "__init__.py").write_text("def api():\n    return 1\n")
    monkeypatch.syspath_prepend(str(site))
    (tmp_path / "lec.py").write_text(
        "from execlecture import link\nfrom fakepkg import api\n\ndef main():\n    link(api)\n"
    )
    session = TraceSession("lec.py", [], cwd=tmp_path)
    try:
        session.run()
    finally:
        sys.modules.pop("fakepkg", None)
    trace = trace_to_dict(session)
    assert [f["path"] for f in trace["files"]] == ["lec.py"]
    link = next(r for s in trace["steps"] for r in s.get("renderings", []) if r["kind"] == "link")
    assert link["code"] == {"name": "api", "module": "fakepkg"}
