"""Image files that renderings reference by a path relative to the trace directory."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from viewer.store import IMAGE_SUFFIXES, TraceNotFound, TraceStore

router = APIRouter()


@router.get("/files/{relative:path}")
def trace_file(request: Request, relative: str) -> Response:
    """An image under the trace directory; anything else (.., absolute, symlink out) is 404."""
    store: TraceStore = request.app.state.store
    try:
        path = store.file_path(relative)
    except TraceNotFound as error:
        return JSONResponse({"detail": str(error)}, status_code=404)
    return FileResponse(path, media_type=IMAGE_SUFFIXES[path.suffix.lower()])
