"""Trace resources: the list, the validated trace JSON, the page's view, rendered renderings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from execlecture.schema import dump_trace
from viewer.store import Entry, TraceInvalid, TraceNotFound, TraceStore
from viewer.view import json_bytes, rendered_renderings, view_json

router = APIRouter(prefix="/api/traces")


def _store(request: Request) -> TraceStore:
    store: TraceStore = request.app.state.store
    return store


def _cached(request: Request, name: str, key: str, make: Callable[[Entry], bytes]) -> Response:
    """Serve a per-version cached body with an ETag; 404 unknown, 422 invalid (never 500)."""
    try:
        entry, body = _store(request).derived(name, key, make)
    except TraceNotFound as error:
        return JSONResponse({"detail": str(error)}, status_code=404)
    except TraceInvalid as error:
        return JSONResponse({"detail": str(error)}, status_code=422)
    etag = f'"{entry.version}-{key}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _raw_bytes(entry: Entry) -> bytes:
    if entry.is_legacy and entry.trace is not None:
        return json_bytes(dump_trace(entry.trace))
    return entry.path.read_bytes()


@router.get("")
def list_traces(request: Request) -> list[dict[str, Any]]:
    """Summaries of every trace (invalid ones carry their schema complaint)."""
    store = _store(request)
    return [store.summary(name) for name in store.names()]


@router.get("/{name}")
def trace_json(request: Request, name: str) -> Response:
    """The trace file itself, after validation (an old-format trace as converted)."""
    return _cached(request, name, "raw", _raw_bytes)


@router.get("/{name}/view")
def trace_view(request: Request, name: str) -> Response:
    """What the page loads: columnar steps, highlighted sources, renderings as safe HTML."""
    return _cached(request, name, "view", lambda e: view_json(e.trace, e.name))  # type: ignore[arg-type]


@router.get("/{name}/renderings")
def trace_renderings(request: Request, name: str) -> Response:
    """Every rendering as sanitized HTML, with the step that emitted it."""
    return _cached(request, name, "renderings", lambda e: json_bytes(rendered_renderings(e.trace)))  # type: ignore[arg-type]
