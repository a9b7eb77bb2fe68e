"""Which tokenizer engines the tests can run here."""

from __future__ import annotations

import shutil

import pytest

from lm.tokenizer import native


def require_native() -> None:
    """Skip where no C compiler exists; where one does, the engine must build (else fail)."""
    if not native.available():
        try:
            native.library()
        except native.NativeUnavailable as e:
            if shutil.which("cc") or shutil.which("gcc"):
                pytest.fail(f"a C compiler is installed but {e}")
            pytest.skip(str(e))
