"""Static export: index + one page per lecture, data as classic scripts, modules bundled."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from viewer.build import build_site, bundle_modules


def test_build_site_writes_a_self_contained_site(trace_dir: Path, tmp_path: Path) -> None:
    (trace_dir / "img").mkdir()
    (trace_dir / "img" / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "site"
    old_umask = os.umask(0o022)
    try:
        build_site(trace_dir, out)
    finally:
        os.umask(old_umask)
    # a web server running as another user must be able to read every page (not mkstemp's 0600)
    assert {p.stat().st_mode & 0o777 for p in out.rglob("*") if p.is_file()} == {0o644}
    index = (out / "index.html").read_text()
    assert 'href="lecture_00.html"' in index and "invalid trace" in index
    page = (out / "lecture_00.html").read_text()
    assert '<script src="data/lecture_00.js"></script>' in page and 'type="module"' not in page
    assert 'href="index.html"' in page
    assert "Content-Security-Policy" in page and "script-src 'self'" in page
    assert "Content-Security-Policy" in index
    data = (out / "data" / "lecture_00.js").read_text()
    assert data.startswith("window.EXECLECTURE_VIEW = {") and "<math" in data
    assert not (out / "broken.html").exists()
    assert (out / "files" / "img" / "fig.png").exists()
    for asset in ["style.css", "pygments.css", "theme.js", "bundle.js"]:
        assert (out / "static" / asset).stat().st_size > 0
    assert "http://" not in page and "https://" not in page  # no CDN


def test_bundle_is_one_classic_script() -> None:
    bundle = bundle_modules()
    assert not any(line.startswith(("import ", "export ")) for line in bundle.splitlines())
    assert "Object.assign(__modules, { upperBound, Model });" in bundle


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed (only a syntax check)")
def test_bundle_parses(tmp_path: Path) -> None:
    path = tmp_path / "bundle.js"
    path.write_text(bundle_modules())
    subprocess.run(["node", "--check", str(path)], check=True)


def test_build_rejects_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        build_site(tmp_path / "nope", tmp_path / "site")
