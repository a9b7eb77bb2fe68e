"""Server-Sent Events: tell open pages that a trace file changed (or that re-tracing failed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from viewer.store import TraceStore
from viewer.watch import Watcher

router = APIRouter()
POLL_S = 0.25
HEARTBEAT_S = 15.0


def _versions(store: TraceStore) -> dict[str, str]:
    out = {}
    for name in store.names():
        try:
            stat = store.path_for(name).stat()
        except (OSError, LookupError):
            continue
        out[name] = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
    return out


def _message(payload: dict[str, object]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


@router.get("/api/events")
async def events(request: Request) -> StreamingResponse:
    """`data: {"kind": "updated"|"tracing"|"traced"|"error", "trace": NAME, ...}` per change."""
    store: TraceStore = request.app.state.store
    watcher: Watcher | None = request.app.state.watcher

    async def stream() -> AsyncIterator[str]:
        versions = _versions(store)
        seq = watcher.last_seq() if watcher else 0
        idle = 0.0
        yield ": connected\n\n"
        while not await request.is_disconnected() and not request.app.state.is_closing:
            await asyncio.sleep(POLL_S)
            idle += POLL_S
            now = _versions(store)
            for name, version in now.items():
                if versions.get(name) not in (None, version):
                    idle = 0.0
                    yield _message({"kind": "updated", "trace": name, "version": version})
            versions = now
            for event in watcher.events_since(seq) if watcher else []:
                seq, idle = event["seq"], 0.0
                yield _message(event)
            if idle >= HEARTBEAT_S:
                idle = 0.0
                yield ": heartbeat\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
