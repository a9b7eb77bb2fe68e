"""Older lectures (execute_util style) trace unchanged; older traces convert to ours."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from execlecture import execute_util
from execlecture.api import _png_from_array
from execlecture.legacy_trace import convert_legacy_trace, import_legacy_json, is_legacy_trace
from execlecture.schema import dump_trace, load_trace

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).parent / "samples"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "execlecture", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


@pytest.fixture
def old_style_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "course"
    shutil.copytree(SAMPLES / "cs336_style", folder)
    (folder / "images").mkdir()
    (folder / "images" / "dot.png").write_bytes(_png_from_array(np.full((4, 4), 255, np.uint8)))
    return folder


def test_old_style_lecture_traces_unchanged(old_style_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    result = _run(
        "run", str(old_style_folder / "lecture_old_style.py"), "-o", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    trace = load_trace(json.loads(out.read_text(encoding="utf-8")))
    renderings = [r for step in trace.steps for r in step.renderings]
    kinds = [r.kind for r in renderings]
    assert kinds.count("markdown") == 3 and "verbatim" in kinds and "image" in kinds
    gray = next(r for r in renderings if r.text == "This line is gray.")
    assert gray.style == {"color": "gray"}
    paper = next(r for r in renderings if r.reference)
    assert paper.reference["authors"][0] == "Vaswani"
    assert paper.url == "https://arxiv.org/abs/1706.03762"
    spliced = next(r for r in renderings if r.text and r.text.startswith("As "))
    assert "[Attention is all you need](https://arxiv.org/abs/1706.03762)" in spliced.text
    code_link = next(r for r in renderings if r.code)
    assert code_link.text == "double"
    image = next(r for r in renderings if r.kind == "image")
    assert image.src.startswith("data:image/png;base64,") and image.width == 40
    assert any(
        r.kind == "verbatim" and "hello from system_text" in (r.text or "") for r in renderings
    )
    values = {name: v for step in trace.steps for name, v in step.values.items()}
    assert values["x"]["value"] == 42


def test_missing_helper_module_ends_with_import_error(
    old_style_folder: Path, tmp_path: Path
) -> None:
    (old_style_folder / "helpers.py").unlink()
    out = tmp_path / "trace.json"
    result = _run(
        "run", str(old_style_folder / "lecture_old_style.py"), "-o", str(out), cwd=tmp_path
    )
    assert result.returncode != 0
    trace = load_trace(json.loads(out.read_text(encoding="utf-8")))
    assert trace.status == "error" and trace.exception is not None
    assert trace.exception.type in ("ModuleNotFoundError", "ImportError")
    assert "helpers" in trace.exception.message


def test_shim_is_inert_without_a_trace() -> None:
    execute_util.pop_renderings()
    execute_util.text("nothing happens")
    assert execute_util.link(title="t", url="https://e.org") == "[t](https://e.org)"
    assert [r.kind for r in execute_util.pop_renderings()] == ["markdown", "link"]
    assert execute_util.pop_renderings() == []
    with pytest.raises(ValueError, match="javascript"):
        execute_util.link(title="x", url="javascript:alert(1)")
    with pytest.raises(TypeError, match="style"):
        execute_util.text("x", style="color: red")


def test_old_trace_converts_and_validates() -> None:
    old = json.loads((SAMPLES / "old_trace.json").read_text(encoding="utf-8"))
    assert is_legacy_trace(old)
    trace = convert_legacy_trace(old, "lecture_old.py")
    load_trace(dump_trace(trace))  # valid against our schema
    assert [s.line for s in trace.steps] == [2, 7, 8]
    assert trace.files[0].hidden_lines == [5]
    assert trace.steps[0].values["x"] == {"kind": "int", "type": "int", "value": 1}
    second = trace.steps[1]
    assert second.stack >= 0 and trace.stacks[second.stack].function == "main"
    assert second.values["y"]["value"] == "NaN"
    tensor = second.values["w"]
    assert (
        tensor["kind"] == "tensor"
        and tensor["shape"] == [2, 2]
        and tensor["data"][0][1] == "Infinity"
    )
    assert second.values["d"]["items"][0][1]["items"][0]["value"] == 1
    kinds = [r.kind for r in second.renderings]
    assert kinds == ["markdown", "link", "link", "image"]
    assert second.renderings[0].style == {"color": "gray"}
    assert second.renderings[1].reference["title"] == "Attention is all you need"
    assert second.renderings[2].code == {"file": 0, "line": 6, "name": "intro"}
    third = trace.steps[2]
    assert third.values == {} and third.cleared == ["d", "w"]  # y unchanged, w and d gone
    assert [o.function for o in trace.outline] == ["intro"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.pop("steps"), "missing 'steps'"),
        (
            lambda t: t["steps"][1]["renderings"].append({"type": "video", "data": "x"}),
            r"steps\[1\]\.renderings\[4\]: unknown rendering type 'video'",
        ),
        (lambda t: t["steps"][2].update(stack=[]), r"steps\[2\]"),
        (lambda t: t["steps"][0]["env"].update(z=5), r"steps\[0\]\.env\['z'\]"),
    ],
)
def test_bad_old_traces_name_the_step(mutate, message: str) -> None:
    old = json.loads((SAMPLES / "old_trace.json").read_text(encoding="utf-8"))
    mutate(old)
    with pytest.raises(ValueError, match=message):
        import_legacy_json(json.dumps(old))


def test_import_trace_cli(tmp_path: Path) -> None:
    out = tmp_path / "new.json"
    result = _run("import-trace", str(SAMPLES / "old_trace.json"), "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert load_trace(json.loads(out.read_text(encoding="utf-8"))).steps[1].line == 7
    bad = tmp_path / "bad.json"
    bad.write_text('{"files": {}}', encoding="utf-8")
    result = _run("import-trace", str(bad), "-o", str(tmp_path / "x.json"), cwd=tmp_path)
    assert result.returncode == 2 and "missing 'steps'" in result.stdout + result.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t["steps"][1]["stack"].__setitem__(0, "main"), r"steps\[1\]\.stack\[0\]"),
        (
            lambda t: t["steps"][1]["stack"][1].update(line_number="seven"),
            r"steps\[1\]\.stack\[1\]\.line_number: expected a line number, got 'seven'",
        ),
        (lambda t: t["steps"][0].update(env=[1, 2]), r"steps\[0\]\.env: expected a dict"),
        (lambda t: t["steps"][0].update(renderings="x"), r"steps\[0\]\.renderings: expected"),
        (
            lambda t: t["steps"][1]["renderings"][2].update(internal_link="intro"),
            r"steps\[1\]\.renderings\[2\]\.internal_link",
        ),
        (
            lambda t: t.update(hidden_line_numbers={"lecture_old.py": ["five"]}),
            r"hidden_line_numbers\['lecture_old.py'\]\[0\]",
        ),
    ],
)
def test_malformed_old_frames_are_value_errors_naming_where(mutate, message: str) -> None:
    # These used to escape as AttributeError/bare int() errors: a traceback from the CLI
    # instead of the one-line "where and what" error every other bad input gets.
    old = json.loads((SAMPLES / "old_trace.json").read_text(encoding="utf-8"))
    mutate(old)
    with pytest.raises(ValueError, match=message):
        import_legacy_json(json.dumps(old))


@pytest.mark.parametrize("output", ["lecture.py", "afile/new.json", "adir"])
def test_import_trace_refuses_bad_outputs_without_touching_them(
    tmp_path: Path, output: str
) -> None:
    # -o lecture.py used to replace the Python source with trace JSON; a path under a file
    # escaped as a traceback. Each is now the one-line exit-2 error, nothing written.
    (tmp_path / "lecture.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    old = str(SAMPLES / "old_trace.json")
    result = _run("import-trace", old, "-o", output, cwd=tmp_path)
    err = result.stderr.strip()
    assert result.returncode == 2 and len(err.splitlines()) == 1, err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_shim_function_links_keep_style_and_are_popped() -> None:
    # link(fn, style=...) used to drop the style and be missing from pop_renderings().
    execute_util.pop_renderings()
    label = execute_util.link(execute_util.text, style={"color": "gray"})
    assert label == "text"
    (rendering,) = execute_util.pop_renderings()
    assert rendering.kind == "link" and rendering.style == {"color": "gray"}
    assert rendering.code is not None and rendering.code["name"] == "text"


def test_shim_link_to_a_bare_url_is_clickable() -> None:
    execute_util.pop_renderings()
    url = "https://arxiv.org/abs/1706.03762"
    assert execute_util.link(url) == f"[{url}]({url})"
    assert execute_util.link(url, title="Attention") == f"[Attention]({url})"
    assert [r.url for r in execute_util.pop_renderings()] == [url, url]
    assert execute_util.link("just a title") == "just a title"


def test_shim_bad_arguments_name_the_value() -> None:
    with pytest.raises(TypeError, match=r"image\(width=...\).*'50%'"):
        execute_util.image("https://e.org/x.png", width="50%")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"link\(\).*got 7"):
        execute_util.link(7)


def test_internal_link_to_a_file_the_old_trace_did_not_embed_points_at_that_file() -> None:
    # It used to point at file 0 (the lecture) at the other file's line number.
    old = json.loads((SAMPLES / "old_trace.json").read_text(encoding="utf-8"))
    old["steps"][1]["renderings"][2]["internal_link"] = {"path": "lib/ops.py", "line_number": 3}
    trace = convert_legacy_trace(old, "lecture_old.py")
    code = trace.steps[1].renderings[2].code
    assert code is not None and trace.files[code["file"]].path == "lib/ops.py"
    load_trace(dump_trace(trace))
