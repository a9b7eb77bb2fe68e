"""The execlecture CLI: run/check/validate/new and every bad-input case (exit 2, no files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from execlecture.cli import main
from execlecture.schema import load_trace

REPO = Path(__file__).resolve().parents[2]
GOOD = '"""Title line."""\n\ndef main():\n    x = 1  # @inspect x\n    print(x)\n'


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lectures").mkdir()
    return tmp_path


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_run_writes_a_valid_trace(workdir: Path) -> None:
    (workdir / "lectures" / "lec.py").write_text(GOOD)
    assert main(["run", "lectures/lec.py"]) == 0
    trace = load_trace(json.loads((workdir / "traces" / "lec.json").read_text()))
    assert trace.title == "Title line." and trace.lecture == "lectures/lec.py"
    assert trace.files[0].path == "lectures/lec.py"
    assert [s.line for s in trace.steps] == [4, 5] and trace.steps[1].stdout == "1\n"


def test_if_stale_skips_current_traces_only(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lecture = workdir / "lectures" / "lec.py"
    lecture.write_text(GOOD)
    assert main(["run", "lectures/lec.py", "-o", "t.json"]) == 0
    before = (workdir / "t.json").read_text()
    capsys.readouterr()
    assert main(["run", "lectures/lec.py", "-o", "t.json", "--if-stale"]) == 0
    assert "up to date" in capsys.readouterr().err
    lecture.write_text(GOOD.replace("x = 1", "x = 2"))
    assert main(["run", "lectures/lec.py", "-o", "t.json", "--if-stale"]) == 0
    assert (workdir / "t.json").read_text() != before


def test_lecture_that_raises_still_writes_a_trace(workdir: Path) -> None:
    (workdir / "lec.py").write_text("def main():\n    x = 1\n    raise RuntimeError('boom')\n")
    assert main(["run", "lec.py", "-o", "out.json"]) == 1
    trace = load_trace(json.loads((workdir / "out.json").read_text()))
    assert trace.status == "error" and trace.exception is not None
    assert trace.steps[-1].event == "exception" and trace.steps[-1].exception == trace.exception
    assert trace.exception.type == "RuntimeError" and "boom" in trace.exception.traceback


@pytest.mark.parametrize(
    ("source", "args", "message"),
    [
        (None, ["run", "missing.py"], "no lecture file"),
        ("def main(:\n", ["run", "lec.py"], "syntax error at lec.py:1"),
        ("x = 1\n", ["run", "lec.py"], "has no top-level main()"),
        (GOOD, ["run", "lec.py", "-o", "lec.py"], "is a source file"),
        (GOOD, ["run", "lec.py", "-o", "other.py"], "is a source file"),
        (GOOD, ["run", "lec.py", "-o", "notes.md"], "does not end in .json"),
        (GOOD, ["run", "lec.py", "-o", "locked/t.json"], "not writable"),
        (
            GOOD + "y = 2  # @inspct y\n",
            ["run", "lec.py"],
            "unknown directive '@inspct' at lec.py:6",
        ),
        (GOOD, ["run", "lec.py", "--include", "nothing/*.py"], "matches no .py file"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_files(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    source: str | None,
    args: list[str],
    message: str,
) -> None:
    if source is not None:
        (workdir / "lec.py").write_text(source)
    locked = workdir / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    before = _files(workdir)
    try:
        if os.geteuid() == 0 and "locked" in " ".join(args):
            pytest.skip("root can write anywhere: the unwritable-output case needs a normal user")
        assert main(args) == 2
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert _files(workdir) == before


def test_unwritable_output_under_a_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "lec.py").write_text(GOOD)
    (workdir / "afile").write_text("x")
    assert main(["run", "lec.py", "-o", "afile/t.json"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_check_reports_every_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "a.py").write_text("x = 1  # @inspct x\ny = 2  # @clear\n")
    (workdir / "b.py").write_text(GOOD)
    assert main(["check", "a.py", "b.py"]) == 1
    err = capsys.readouterr().err
    assert "a.py:1" in err and "a.py:2" in err and "b.py: ok" in err
    assert main(["check", "nope.py"]) == 2


def test_validate(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "lec.py").write_text(GOOD)
    main(["run", "lec.py", "-o", "t.json"])
    (workdir / "bad.json").write_text(json.dumps({"schema_version": 1, "lecture": "x"}))
    assert main(["validate", "t.json"]) == 0
    assert main(["validate", "t.json", "bad.json"]) == 1
    assert "bad.json: invalid: trace.title: missing required field" in capsys.readouterr().err


def test_new_scaffolds_a_lecture_that_traces(workdir: Path) -> None:
    assert main(["new", "my_topic"]) == 0
    path = workdir / "lectures" / "my_topic.py"
    assert main(["check", str(path)]) == 0
    assert main(["new", "my_topic"]) == 2  # refuses to overwrite
    assert main(["new", "Bad-Name"]) == 2
    assert main(["run", str(path), "-o", "t.json"]) == 0
    trace = load_trace(json.loads((workdir / "t.json").read_text()))
    kinds = {r.kind for s in trace.steps for r in s.renderings}
    assert {"markdown", "note", "link", "image", "plot"} <= kinds
    assert any(s.cleared for s in trace.steps) and trace.files[0].hidden_lines


def test_include_records_library_lines(workdir: Path) -> None:
    (workdir / "mylib").mkdir()
    (workdir / "mylib" / "ops.py").write_text(
        "def double(v):\n    r = 2 * v  # @inspect r\n    return r\n"
    )
    (workdir / "lec.py").write_text(
        "from mylib.ops import double\n\ndef main():\n    y = double(4)\n"
    )
    assert main(["run", "lec.py", "-o", "plain.json"]) == 0
    assert main(["run", "lec.py", "-o", "inc.json", "--include", "mylib/*.py"]) == 0
    plain = load_trace(json.loads((workdir / "plain.json").read_text()))
    included = load_trace(json.loads((workdir / "inc.json").read_text()))
    assert [f.path for f in plain.files] == ["lec.py"] and len(plain.steps) == 1
    assert [f.path for f in included.files] == ["lec.py", "mylib/ops.py"]
    assert [(s.file, s.line, s.event) for s in included.steps] == [
        (0, 4, "call"),
        (1, 2, "line"),
        (1, 3, "line"),
        (0, 4, "line"),
    ]
    assert included.steps[1].values["r"] == {"kind": "int", "value": 8}


@pytest.mark.parametrize(
    ("args", "module"), [(["serve"], "viewer.server"), (["build"], "viewer.build")]
)
def test_serve_and_build_without_the_viewer_fail_clearly(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    args: list[str], module: str,
) -> None:  # fmt: skip
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail, viewer merged or not
    assert main(args) == 2
    assert f"the viewer is not available ({module} failed to import" in capsys.readouterr().err


def test_python_dash_m_entry_point(workdir: Path) -> None:
    (workdir / "lec.py").write_text(GOOD)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "execlecture", "run", "lec.py", "-o", "t.json"],
        capture_output=True, text=True, env=env, cwd=workdir, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"  # lecture output passes through
    assert "wrote t.json" in done.stderr


def test_if_stale_retraces_when_the_trace_is_of_another_lecture(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The trace's own sources are unchanged, but it is not a trace of this lecture.
    (workdir / "a.py").write_text(GOOD)
    (workdir / "b.py").write_text(GOOD.replace("x = 1", "x = 3"))
    assert main(["run", "a.py", "-o", "t.json"]) == 0
    capsys.readouterr()
    assert main(["run", "b.py", "-o", "t.json", "--if-stale"]) == 0
    assert "up to date" not in capsys.readouterr().err
    assert load_trace(json.loads((workdir / "t.json").read_text())).lecture == "b.py"


def test_new_into_a_path_under_a_file_is_one_line_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "afile").write_text("x")
    assert main(["new", "lec", "--dir", "afile"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot write" in err and len(err.splitlines()) == 1, err


def test_if_stale_retraces_when_the_include_set_changed(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A trace records the included files it stepped in; asking for a different set is stale.
    (workdir / "mylib").mkdir()
    (workdir / "mylib" / "ops.py").write_text("def double(v):\n    return 2 * v\n")
    (workdir / "lec.py").write_text("from mylib.ops import double\n\ndef main():\n    double(4)\n")
    include = ["--include", "mylib/*.py"]

    def run(*extra: str) -> bool:
        """Run with --if-stale; True when it said up to date."""
        capsys.readouterr()
        assert main(["run", "lec.py", "-o", "t.json", "--if-stale", *extra]) == 0
        return "up to date" in capsys.readouterr().err

    assert not run(*include)
    assert run(*include)
    assert not run()  # the trace steps in mylib/ops.py, which is no longer included
    assert run()
    assert not run(*include)  # the plain trace never embedded mylib/ops.py


def test_json_nested_too_deeply_is_a_one_line_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # json.loads raises RecursionError (not a ValueError) here: it escaped as a traceback.
    deep = workdir / "deep.json"
    deep.write_text('{"steps": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main(["validate", "deep.json"]) == 1
    assert main(["import-trace", "deep.json", "-o", "new.json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "recursion" in err[0] and "recursion" in err[1], err
    assert not (workdir / "new.json").exists()


def test_if_stale_retraces_over_a_trace_nested_too_deeply(workdir: Path) -> None:
    (workdir / "lec.py").write_text(GOOD)
    (workdir / "t.json").write_text('{"steps": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main(["run", "lec.py", "-o", "t.json", "--if-stale"]) == 0
    assert load_trace(json.loads((workdir / "t.json").read_text())).lecture == "lec.py"
