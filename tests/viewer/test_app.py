"""TestClient tests for every route: pages, trace JSON, view, renderings, files, health, events."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.viewer.tracebuilder import sample_trace, write_trace
from viewer.app import create_app


def test_index_lists_lectures_with_steps_time_and_source_status(
    client: TestClient, trace_dir: Path
) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "Lecture 00: a tour of the viewer" in r.text
    assert "14 steps" in r.text and "2026-11-24 12:00 UTC" in r.text
    assert 'class="badge current"' in r.text
    assert (
        "invalid trace" in r.text and "trace.steps[3].file" in r.text
    )  # broken is listed, with why
    (trace_dir.parent / "lectures" / "lecture_00.py").write_text("changed = 1\n", encoding="utf-8")
    assert 'class="badge changed"' in client.get("/").text
    (trace_dir.parent / "lectures" / "lecture_00.py").unlink()
    assert 'class="badge missing"' in client.get("/").text


def test_api_list(client: TestClient) -> None:
    items = {s["name"]: s for s in client.get("/api/traces").json()}
    assert set(items) == {"lecture_00", "broken", "notjson"}
    assert items["lecture_00"]["num_steps"] == 14 and items["lecture_00"]["source"] == "current"
    assert "trace.steps[3].file" in items["broken"]["error"]


def test_lecture_page(client: TestClient) -> None:
    r = client.get("/lecture", params={"trace": "lecture_00"})
    assert r.status_code == 200 and 'type="module" src="static/main.js"' in r.text
    missing = client.get("/lecture", params={"trace": "nope"})
    assert missing.status_code == 404 and "Trace not found" in missing.text
    invalid = client.get("/lecture", params={"trace": "broken"})
    assert invalid.status_code == 422
    assert (
        "trace.steps[3].file: 7 is not a file index" in invalid.text
    )  # the complaint, on the page
    assert client.get("/lecture", params={"trace": "notjson"}).status_code == 422
    assert client.get("/lecture").status_code == 404


def test_trace_json_view_and_renderings(client: TestClient) -> None:
    raw = client.get("/api/traces/lecture_00")
    assert raw.status_code == 200 and raw.json()["title"] == "Lecture 00: a tour of the viewer"
    view = client.get("/api/traces/lecture_00/view").json()
    assert view["steps"]["line"][:3] == [6, 11, 12] and view["steps"]["event"][0] == 1
    assert view["functions"][:2] == ["main", "intro"]
    assert len(view["files"][0]["lines"]) == 30 and view["files"][0]["hidden"] == [25]
    assert '<span class="k">def</span>' in view["files"][0]["lines"][4]
    assert [v[0] for v in view["values"]] == [2, 4, 5, 6, 10, 11]
    assert view["output"] == [[7, "y is 9\n", 0]]
    renderings = client.get("/api/traces/lecture_00/renderings").json()
    assert [(r["step"], r["kind"]) for r in renderings] == [
        (1, "markdown"),
        (12, "markdown"),
        (12, "plot"),
        (12, "image"),
        (12, "link"),
        (12, "link"),
    ]
    assert "<math" in renderings[0]["html"] and "<msub>" in renderings[0]["html"]
    assert renderings[2]["html"].count('src="data:image/svg+xml;base64,') == 1
    assert 'data-line="17"' in renderings[4]["html"]
    assert "Vaswani, Shazeer" in renderings[5]["html"]


@pytest.mark.parametrize(
    "route", ["/api/traces/{}", "/api/traces/{}/view", "/api/traces/{}/renderings"]
)
def test_unknown_is_404_invalid_is_422(client: TestClient, route: str) -> None:
    assert client.get(route.format("nope")).status_code == 404
    bad = client.get(route.format("broken"))
    assert bad.status_code == 422 and "trace.steps[3].file" in bad.json()["detail"]
    not_json = client.get(route.format("notjson"))
    assert not_json.status_code == 422 and "notjson.json" in not_json.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/traces/..%2Fsecret",
        "/api/traces/%2e%2e%2fsecret",
        "/api/traces/.hidden",
        "/api/traces/..",
        "/files/../secret.png",
        "/files/..%2Fsecret.png",
        "/files/%2e%2e/secret.png",
        "/files/%2e%2e%2fsecret.png",
        "/files//etc/passwd",
        "/files/%2Fetc%2Fpasswd",
        "/files/sub/..%2F..%2Fsecret.png",
        "/files/..\\secret.png",
        "/files/outside.png",
        "/files/lecture_00.json",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/lecture?trace=../secret",
        "/lecture?trace=%2Fetc%2Fpasswd",
    ],
)
def test_traversal_is_404(trace_dir: Path, path: str) -> None:
    (trace_dir.parent / "secret.png").write_bytes(b"\x89PNG TOPSECRET-BYTES")
    (trace_dir.parent / "secret.json").write_text(json.dumps(sample_trace()))
    (trace_dir / "outside.png").symlink_to(trace_dir.parent / "secret.png")
    client = TestClient(create_app(trace_dir))
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text[:200])
    assert b"TOPSECRET-BYTES" not in r.content and b"Lecture 00" not in r.content


def test_symlinked_trace_pointing_out_is_404(trace_dir: Path) -> None:
    outside = trace_dir.parent / "elsewhere.json"
    outside.write_text(json.dumps(sample_trace()))
    (trace_dir / "linked.json").symlink_to(outside)
    client = TestClient(create_app(trace_dir))
    assert client.get("/api/traces/linked").status_code == 404
    assert "linked" not in [s["name"] for s in client.get("/api/traces").json()]


def test_files_serves_images_under_the_trace_dir(trace_dir: Path) -> None:
    (trace_dir / "img").mkdir()
    (trace_dir / "img" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    client = TestClient(create_app(trace_dir))
    r = client.get("/files/img/a.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "traces": 3, "watch": False}


def test_security_headers_everywhere(client: TestClient) -> None:
    for path in [
        "/",
        "/lecture?trace=lecture_00",
        "/api/traces/lecture_00",
        "/static/main.js",
        "/nope",
    ]:
        csp = client.get(path).headers["content-security-policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert (
            "'self'" in script_src
            and "unsafe-inline" not in script_src
            and "unsafe-eval" not in script_src
        )
        assert "object-src 'none'" in csp


def test_etag_and_mtime_cache(client: TestClient, trace_dir: Path) -> None:
    first = client.get("/api/traces/lecture_00/view")
    etag = first.headers["etag"]
    assert (
        client.get("/api/traces/lecture_00/view", headers={"If-None-Match": etag}).status_code
        == 304
    )
    changed = sample_trace()
    changed["title"] = "Retitled"
    path = write_trace(trace_dir, "lecture_00", changed)
    later = time.time() + 5
    os.utime(path, (later, later))
    again = client.get("/api/traces/lecture_00/view", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.json()["title"] == "Retitled"


def test_unknown_page_is_404_html(client: TestClient) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


def test_events_stream_reports_a_changed_trace(trace_dir: Path) -> None:
    import threading

    app = create_app(trace_dir)
    client = TestClient(app)

    def touch() -> None:
        time.sleep(0.6)
        later = time.time() + 10
        os.utime(trace_dir / "lecture_00.json", (later, later))

    threading.Thread(target=touch, daemon=True).start()
    with client.stream("GET", "/api/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                assert event["kind"] == "updated" and event["trace"] == "lecture_00"
                break
        app.state.is_closing = True


def test_statement_ends_place_renderings_after_multiline_calls() -> None:
    from viewer.view import statement_ends

    source = 'text(\n    "a"\n)\nx = 1\nfor i in range(\n    3\n):\n    y = (\n        i)\n'
    assert statement_ends(source) == {"1": 3, "8": 9}
    assert statement_ends("def broken(:\n") == {}


def test_serve_rejects_a_missing_directory(tmp_path: Path) -> None:
    from viewer.server import serve

    with pytest.raises(ValueError, match="does not exist"):
        serve(tmp_path / "nope")


def test_watch_mode_is_reported_by_health(trace_dir: Path) -> None:
    assert TestClient(create_app(trace_dir, watch=True)).get("/health").json()["watch"] is True


@pytest.mark.parametrize(
    "route",
    ["/api/traces/{}", "/api/traces/{}/view", "/api/traces/{}/renderings", "/lecture?trace={}"],
)
def test_validator_crash_on_hostile_shape_is_422_not_500(trace_dir: Path, route: str) -> None:
    # An object where a value kind (a string) is expected makes the schema validator raise a
    # TypeError (unhashable dict); the viewer must still answer 422 with the complaint.
    hostile = sample_trace()
    step = next(s for s in hostile["steps"] if s.get("values"))
    first = next(iter(step["values"]))
    step["values"][first]["kind"] = {}
    write_trace(trace_dir, "hostile", hostile)
    client = TestClient(create_app(trace_dir), raise_server_exceptions=False)
    response = client.get(route.format("hostile"))
    assert response.status_code == 422
    assert "hostile.json" in response.text
    assert client.get("/").status_code == 200
