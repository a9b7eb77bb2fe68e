"""The FastAPI app: routers per resource, a CSP on every response, static page assets.

`create_app(trace_dir, watch)` is the one entry point (used by `serve`, tests and benchmarks).
The app keeps no state beyond the store's mtime-keyed cache (and, with `watch`, the watcher).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from viewer.pages import error_page
from viewer.routes import events, files, health, pages, traces
from viewer.store import TraceStore
from viewer.view import view_json
from viewer.watch import Watcher

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # style attributes only; scripts never inline
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _warm_cache(store: TraceStore) -> None:
    """Build every trace's view once at startup so the first page load does not wait for it."""
    for name in store.names():
        with contextlib.suppress(LookupError, ValueError):
            store.derived(name, "view", lambda e: view_json(e.trace, e.name))  # type: ignore[arg-type]


def create_app(trace_dir: Path, watch: bool = False) -> FastAPI:
    """The viewer app serving the traces in `trace_dir` (re-tracing edited lectures if `watch`)."""
    store = TraceStore(Path(trace_dir))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=_warm_cache, args=(store,), daemon=True).start()
        if app.state.watcher is not None:
            app.state.watcher.start()
        yield
        app.state.is_closing = True
        if app.state.watcher is not None:
            app.state.watcher.stop()

    app = FastAPI(title="execlecture viewer", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # fmt: skip
    app.state.store = store
    app.state.watcher = Watcher(store) if watch else None
    app.state.is_closing = False
    for module in (pages, traces, files, health, events):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/files/", "/static/")):
            return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code)
        page = error_page(exc.status_code, "Not found", f"no page at {request.url.path!r}")
        return Response(page, status_code=exc.status_code, media_type="text/html")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"detail": str(exc.errors())[:500]}, status_code=422)

    return app
