"""`execlecture build`: a static site (index + one page per lecture) that works from file://.

Browsers refuse ES modules, workers and fetch() on file:// pages, so the export ships each trace's
view as a classic script (`data/NAME.js` sets `window.EXECLECTURE_VIEW`) and the page's modules as
one classic script (`static/bundle.js`, each module in its own function scope; no Node needed).
Renderings are pre-rendered exactly as the server renders them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from viewer.pages import index_page
from viewer.store import IMAGE_SUFFIXES, TraceStore
from viewer.view import build_view

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Dependency order: a module comes after everything it imports.
BUNDLE_MODULES = [
    "prepare.js",
    "model.js",
    "values.js",
    "source.js",
    "panes.js",
    "loader.js",
    "main.js",
]
ASSETS = ["style.css", "pygments.css", "theme.js", "index.js"]
_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"\./[\w.]+";\s*$', re.MULTILINE)
_EXPORT = re.compile(r"^export\s+(?:async\s+)?(function|class|const|let)\s+(\w+)", re.MULTILINE)


def bundle_modules(static_dir: Path = STATIC_DIR) -> str:
    """The page's ES modules as one classic script: each module scoped, exports shared by name."""
    parts = ['"use strict";', "(function () {", "const __modules = {};"]
    for name in BUNDLE_MODULES:
        source = (static_dir / name).read_text(encoding="utf-8")
        exported = [m.group(2) for m in _EXPORT.finditer(source)]
        body = _IMPORT.sub(lambda m: f"const {{{m.group(1)}}} = __modules;", source)
        body = re.sub(
            r"^export\s+(?=(async\s+)?(function|class|const|let)\s)", "", body, flags=re.MULTILINE
        )
        leftover = [ln for ln in body.splitlines() if ln.startswith(("import ", "export "))]
        if leftover:
            raise ValueError(f"bundle: {name}: unsupported module syntax {leftover[0]!r}")
        parts.append(
            f"// --- {name}\n(function () {{\n{body}\n"
            f"Object.assign(__modules, {{ {', '.join(exported)} }});\n}})();"
        )
    parts.append("})();")
    return "\n".join(parts) + "\n"


def _write(path: Path, text: str) -> None:
    """Write atomically (temp file + rename) so a half-written site is never served.

    The file is readable as `open(path, "w")` would make it (0666 less the umask): mkstemp's
    private 0600 would make a web server running as another user answer 403.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# Static hosts cannot send headers: the same policy as the server's, as a meta tag.
META_CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; '
    "script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'\">"
)


def _lecture_page(name: str) -> str:
    shell = (STATIC_DIR / "lecture.html").read_text(encoding="utf-8")
    shell = shell.replace('<meta charset="utf-8">', '<meta charset="utf-8">\n' + META_CSP, 1)
    shell = shell.replace('href="./"', 'href="index.html"')
    shell = shell.replace(
        '<body class="lecture-page">', f'<body class="lecture-page" data-trace="{name}">'
    )
    scripts = f'<script src="data/{name}.js"></script>\n<script src="static/bundle.js"></script>'
    return shell.replace('<script type="module" src="static/main.js"></script>', scripts)


def _copy_images(store: TraceStore, out_dir: Path) -> None:
    """Images under the trace dir that renderings may reference as files/<path>."""
    for path in sorted(store.trace_dir.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not path.is_symlink():
            relative = path.relative_to(store.trace_dir)
            target = out_dir / "files" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def build_site(trace_dir: Path, out_dir: Path) -> None:
    """Write index.html, NAME.html + data/NAME.js per valid trace, and static/ assets to out_dir."""
    store = TraceStore(Path(trace_dir))
    if not store.trace_dir.is_dir():
        raise ValueError(f"build: trace directory {str(trace_dir)!r} does not exist")
    out_dir = Path(out_dir)
    summaries = []
    for name in store.names():
        summary = store.summary(name)
        summaries.append(summary)
        entry = store.entry(name)
        if entry.trace is None:
            continue
        view = json.dumps(build_view(entry.trace, name), separators=(",", ":"))
        _write(out_dir / "data" / f"{name}.js", f"window.EXECLECTURE_VIEW = {view};\n")
        _write(out_dir / f"{name}.html", _lecture_page(name))
    index = index_page(summaries, lambda n: f"{n}.html", prefix="")
    _write(
        out_dir / "index.html",
        index.replace('<meta charset="utf-8">', '<meta charset="utf-8">' + META_CSP, 1),
    )
    for asset in ASSETS:
        _write(out_dir / "static" / asset, (STATIC_DIR / asset).read_text(encoding="utf-8"))
    _write(out_dir / "static" / "bundle.js", bundle_modules())
    _copy_images(store, out_dir)
