"""Live reload: saving a lecture re-traces it in a subprocess (`--watch`), and the page follows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from viewer.store import TraceStore
from viewer.watch import Watcher

ROOT = Path(__file__).resolve().parents[2]
LECTURE = '''"""Live lecture"""
from execlecture import text


def main():
    intro()  # Intro


def intro():
    text("{message}")
    x = {value}  # @inspect x
    y = x + 1  # @inspect y
    {extra}


if __name__ == "__main__":
    main()
'''


def write_lecture(root: Path, message: str, value: int, extra: str = "pass") -> None:
    path = root / "lectures" / "live.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LECTURE.format(message=message, value=value, extra=extra), encoding="utf-8")
    later = time.time() + 2  # a distinct mtime even on coarse file systems
    os.utime(path, (later, later))


def trace_lecture(root: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "execlecture",
        "run",
        "lectures/live.py",
        "-o",
        "traces/live.json",
    ]
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)


def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_watcher_retraces_on_save_and_reports_failures(tmp_path: Path) -> None:
    write_lecture(tmp_path, "Version one", 1)
    trace_lecture(tmp_path)
    watcher = Watcher(TraceStore(tmp_path / "traces"))
    watcher.start()
    try:
        write_lecture(tmp_path, "Version two", 2)
        wait_for(lambda: any(e["kind"] == "traced" for e in watcher.events_since(0)))
        data = json.loads((tmp_path / "traces" / "live.json").read_text())
        texts = [r["text"] for s in data["steps"] for r in s.get("renderings", [])]
        assert texts == ["Version two"]
        seq = watcher.last_seq()
        (tmp_path / "lectures" / "live.py").write_text("def main(:\n", encoding="utf-8")
        os.utime(tmp_path / "lectures" / "live.py", (time.time() + 4, time.time() + 4))
        wait_for(lambda: any(e["kind"] == "error" for e in watcher.events_since(seq)))
        error = next(e for e in watcher.events_since(seq) if e["kind"] == "error")
        assert error["trace"] == "live" and error["message"]
    finally:
        watcher.stop()


@pytest.mark.browser
@pytest.mark.usefixtures("shot_on_failure")
def test_live_reload_in_the_page(page: Page, tmp_path: Path) -> None:
    from tests.viewer.conftest import run_server

    write_lecture(tmp_path, "Version one", 1)
    trace_lecture(tmp_path)
    server = run_server(tmp_path / "traces", watch=True)
    base = next(server)
    try:
        page.goto(f"{base}/lecture?trace=live&step=4")
        expect(page.locator("body")).to_have_class("lecture-page ready")
        expect(page.locator(".line.current")).to_have_attribute("data-line", "12")
        expect(page.locator(".rendering")).to_have_text("Version one")
        write_lecture(tmp_path, "Version two", 5)
        expect(page.locator(".rendering")).to_have_text("Version two", timeout=20_000)
        expect(page.locator(".line.current")).to_have_attribute("data-line", "12")  # same line
        expect(page.locator("#env .var[data-name=y]")).to_contain_text("6")
        page.locator('.line[data-line="11"]').click()  # clicks still work after a reload
        expect(page.locator(".line.current")).to_have_attribute("data-line", "11")
        write_lecture(tmp_path, "Version three", 5, extra='raise ValueError("boom")')
        expect(page.locator("#banner")).to_contain_text("ValueError", timeout=20_000)
        expect(page.locator(".rendering")).to_have_text("Version three")  # the page is still there
    finally:
        next(server, None)


@pytest.mark.browser
@pytest.mark.usefixtures("shot_on_failure")
def test_every_tracer_sample_steps_without_page_errors(page: Page, tmp_path: Path) -> None:
    """Real traces of every tracer sample (exceptions, generators, recursion...) step cleanly."""
    from tests.viewer.conftest import run_server

    samples = sorted((ROOT / "tests" / "tracer" / "samples").glob("*.py"))
    assert samples, "no tracer samples found"
    (tmp_path / "traces").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for sample in samples:
        command = [sys.executable, "-m", "execlecture", "run", str(sample), "-o",
                   str(tmp_path / "traces" / f"{sample.stem}.json")]  # fmt: skip
        subprocess.run(command, cwd=sample.parent, env=env, capture_output=True, check=False)
    traced = sorted(p.stem for p in (tmp_path / "traces").glob("*.json"))
    assert len(traced) == len(samples), traced
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    server = run_server(tmp_path / "traces")
    base = next(server)
    try:
        for name in traced:
            page.goto(f"{base}/lecture?trace={name}")
            expect(page.locator("body")).to_have_class("lecture-page ready")
            total = int(page.locator("#step-total").inner_text())
            for _ in range(min(total, 25)):
                page.keyboard.press("ArrowRight")
            page.keyboard.press("End")
            page.keyboard.press("u")
            page.keyboard.press("k")
            page.keyboard.press("Home")
            expect(page.locator("#step-num")).to_have_text("1")
            assert page.locator(".line.current").count() == 1, name
        assert not errors, errors
    finally:
        next(server, None)
