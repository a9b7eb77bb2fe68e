"""Pages: the lecture index and the lecture page (a static shell filled in by the ES modules)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from viewer.pages import error_page, index_page
from viewer.store import TraceInvalid, TraceNotFound, TraceStore

router = APIRouter()
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def _store(request: Request) -> TraceStore:
    store: TraceStore = request.app.state.store
    return store


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """All lectures: title, steps, when traced, whether the source changed since."""
    store = _store(request)
    summaries = [store.summary(name) for name in store.names()]
    return HTMLResponse(index_page(summaries, lambda name: f"lecture?trace={name}", prefix=""))


@router.get("/lecture", response_class=HTMLResponse)
def lecture(request: Request, trace: str = "") -> HTMLResponse:
    """The stepping page for one trace; 404/422 pages say what is wrong."""
    store = _store(request)
    try:
        store.trace(trace)
    except TraceNotFound as error:
        return HTMLResponse(error_page(404, "Trace not found", str(error)), status_code=404)
    except TraceInvalid as error:
        return HTMLResponse(error_page(422, "Invalid trace", str(error)), status_code=422)
    shell = (STATIC_DIR / "lecture.html").read_text(encoding="utf-8")
    return HTMLResponse(shell)
