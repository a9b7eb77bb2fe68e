"""Fixtures for viewer tests: a trace dir of hand-built traces, a TestClient, a live server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.viewer.tracebuilder import SAMPLE_SOURCE, sample_trace, write_trace
from viewer.app import create_app

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def make_trace_dir(root: Path) -> Path:
    """root/lectures/lecture_00.py + root/traces/{lecture_00, broken, notjson}.json."""
    (root / "lectures").mkdir(parents=True, exist_ok=True)
    (root / "lectures" / "lecture_00.py").write_text(SAMPLE_SOURCE, encoding="utf-8")
    trace_dir = root / "traces"
    write_trace(trace_dir, "lecture_00", sample_trace())
    broken = sample_trace()
    broken["steps"][3]["file"] = 7
    write_trace(trace_dir, "broken", broken)
    (trace_dir / "notjson.json").write_text("{not json", encoding="utf-8")
    return trace_dir


@pytest.fixture
def trace_dir(tmp_path: Path) -> Path:
    return make_trace_dir(tmp_path)


@pytest.fixture
def client(trace_dir: Path) -> TestClient:
    return TestClient(create_app(trace_dir))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_server(trace_dir: Path, watch: bool = False) -> Iterator[str]:
    """Serve `trace_dir` with uvicorn on a free port in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(create_app(trace_dir, watch=watch), host="127.0.0.1", port=port,
                            log_level="warning", timeout_graceful_shutdown=1)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started:
        assert thread.is_alive() and time.monotonic() - started < 10, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from run_server(make_trace_dir(tmp_path_factory.mktemp("live")))


@pytest.fixture
def shot_on_failure(request: pytest.FixtureRequest, page) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Save a screenshot under tests/artifacts/ when the test fails."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
