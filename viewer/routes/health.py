"""Health check: the server is up and how many traces it sees."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    """{"status": "ok", "traces": N, "watch": bool}."""
    return {
        "status": "ok",
        "traces": len(request.app.state.store.names()),
        "watch": request.app.state.watcher is not None,
    }
