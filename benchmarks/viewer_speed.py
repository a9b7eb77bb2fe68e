"""Viewer speed in real Chromium: time to first render and per-step redraw time.

Measures (1) time to first render (navigation start -> first step drawn, server cold and warm)
for the largest trace in traces/, a synthetic 20,000-step trace (~5 MB) and a ~50 MB trace, with
the longest main-thread stall seen while loading; (2) the median and p95 of one step's redraw
(JS handling of the key incl. forced layout) over 500 ArrowRight presses.
Targets (issue 4): first render <= 1 s for a 5 MB trace, redraw median <= 8 ms, p95 <= 16 ms.

    PYTHONPATH=. python benchmarks/viewer_speed.py [--presses 500]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.viewer.tracebuilder import FRAME_MONITOR, synthetic_trace  # noqa: E402
from viewer.app import create_app  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def _serve(trace_dir: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(trace_dir), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


def first_render(page: Page, base: str, name: str) -> dict[str, float]:
    """Navigation start -> first step drawn (ms), and the longest frame gap meanwhile."""
    page.goto(f"{base}/lecture?trace={name}", wait_until="commit")
    page.wait_for_selector("body.ready", timeout=120_000)
    return page.evaluate(
        "({render: performance.now(), sinceMain: window.viewer.firstRenderMs,"
        " maxGap: window.__maxFrameGap, steps: window.viewer.model.n})"
    )


def step_redraws(page: Page, presses: int) -> list[float]:
    page.keyboard.press("Home")
    page.evaluate("window.viewer.timings = []")
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    timings: list[float] = page.evaluate("window.viewer.timings")
    return timings


def jump_redraws(page: Page, jumps: int) -> list[float]:
    """Random far jumps (as `g`, outline clicks and the progress bar do), seeded."""
    timings: list[float] = page.evaluate(
        """(jumps) => {
          const v = window.viewer; let seed = 1; v.timings = [];
          const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
          for (let i = 0; i < jumps; i++) {
            v.go(Math.floor(next() * v.model.n), { replaceUrl: false });
          }
          return v.timings;
        }""",
        jumps,
    )
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=500)
    parser.add_argument("--skip-50mb", action="store_true", help="skip the ~50 MB trace")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="viewer_speed_"))
    trace_dir = work / "traces"
    trace_dir.mkdir()
    real = sorted((ROOT / "traces").glob("*.json"), key=lambda p: p.stat().st_size)
    cases = []
    if real:
        shutil.copy(real[-1], trace_dir / real[-1].name)
        cases.append(real[-1].stem)
    (trace_dir / "synthetic_20k.json").write_text(json.dumps(synthetic_trace(20_000, payload=12)))
    cases.append("synthetic_20k")
    if not args.skip_50mb:
        (trace_dir / "synthetic_50mb.json").write_text(
            json.dumps(synthetic_trace(40_000, payload=40))
        )
        cases.append("synthetic_50mb")
    base, server, thread = _serve(trace_dir)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.add_init_script(FRAME_MONITOR)
            for name in cases:
                size_mb = (trace_dir / f"{name}.json").stat().st_size / 1e6
                cold = first_render(page, base, name)
                warm = first_render(page, base, name)
                print(
                    f"first render  {name:<22} {size_mb:6.1f} MB {int(warm['steps']):>6} steps: "
                    f"cold {cold['render']:7.0f} ms, warm {warm['render']:6.0f} ms "
                    f"(load+draw after page start {warm['sinceMain']:5.0f} ms), "
                    f"longest frame gap while loading {warm['maxGap']:5.0f} ms"
                )
                if name != "synthetic_50mb":
                    timings = step_redraws(page, args.presses)
                    print(
                        f"step redraw   {name:<22} {len(timings)} presses: "
                        f"median {statistics.median(timings):.2f} ms, "
                        f"p95 {percentile(timings, 0.95):.2f} ms, max {max(timings):.2f} ms"
                    )
                    jumps = jump_redraws(page, 200)
                    print(
                        f"random jump   {name:<22} {len(jumps)} jumps:   "
                        f"median {statistics.median(jumps):.2f} ms, "
                        f"p95 {percentile(jumps, 0.95):.2f} ms, max {max(jumps):.2f} ms"
                    )
            browser.close()
    finally:
        server.should_exit = True
        thread.join(5)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
