"""Shared fixtures: no trace hook may leak out of a test; real Chromium for browser tests."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading

import pytest

# The tokenizer's C engine is built into a directory of this session's own (hermetic: nothing
# is read from or left in ~/.cache); subprocesses inherit it.
if not os.environ.get("LM_NATIVE_CACHE"):
    os.environ["LM_NATIVE_CACHE"] = tempfile.mkdtemp(prefix="lm-native-")
    atexit.register(shutil.rmtree, os.environ["LM_NATIVE_CACHE"], ignore_errors=True)

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def _no_trace_hook_left():
    """Every test must leave no trace/profile hook installed (tracer hygiene)."""
    before = (sys.gettrace(), threading.gettrace() if hasattr(threading, "gettrace") else None)
    yield
    after = (sys.gettrace(), threading.gettrace() if hasattr(threading, "gettrace") else None)
    assert after == before, f"trace hook left installed: {after!r} (was {before!r})"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch the system Chromium (no Playwright browser download here)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM!r}: apt-get install chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--disable-gpu",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
        ],
    }
