"""`execlecture serve`: run the viewer with uvicorn on 127.0.0.1 (unless told otherwise)."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from viewer.app import create_app


def serve(trace_dir: Path, host: str = "127.0.0.1", port: int = 8000, watch: bool = False) -> None:
    """Serve `trace_dir` at http://HOST:PORT/ (prints the URL; blocks until interrupted)."""
    trace_dir = Path(trace_dir)
    if not trace_dir.is_dir():
        raise ValueError(f"serve: trace directory {str(trace_dir)!r} does not exist")
    app = create_app(trace_dir, watch=watch)
    shown = f"[{host}]" if ":" in host else host
    mode = " (watching lecture sources: saving one re-traces it)" if watch else ""
    sys.stdout.write(f"execlecture viewer: http://{shown}:{port}/{mode}\n")
    sys.stdout.flush()
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
