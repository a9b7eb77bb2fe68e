"""The viewer opens traces of the older execute.py tracer directly (converted on load)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from execlecture.schema import load_trace
from tests.viewer.conftest import run_server
from viewer.app import create_app

OLD_TRACE = Path(__file__).resolve().parents[1] / "compat" / "samples" / "old_trace.json"


def test_old_trace_is_listed_served_converted_and_viewable(tmp_path: Path) -> None:
    shutil.copy(OLD_TRACE, tmp_path / "old_lecture.json")
    client = TestClient(create_app(tmp_path))
    listing = client.get("/api/traces").json()
    assert [t["name"] for t in listing] == ["old_lecture"]
    raw = client.get("/api/traces/old_lecture")
    assert raw.status_code == 200
    assert len(load_trace(raw.json()).steps) == 3
    assert client.get("/api/traces/old_lecture/view").status_code == 200
    assert client.get("/api/traces/old_lecture/renderings").status_code == 200


@pytest.mark.browser
def test_old_trace_opens_in_chromium(page: Page, tmp_path: Path) -> None:
    shutil.copy(OLD_TRACE, tmp_path / "old_lecture.json")
    for base in run_server(tmp_path):
        page.goto(f"{base}/lecture?trace=old_lecture")
        expect(page.locator("body")).to_have_class("lecture-page ready", timeout=10_000)
        expect(page.locator(".line.current")).to_have_attribute("data-line", "2")
        page.keyboard.press("ArrowRight")
        expect(page.locator(".line.current")).to_have_attribute("data-line", "7")
        expect(page.locator(".rendering math").first).to_be_visible()
        expect(page.locator("#env")).to_contain_text("NaN")
