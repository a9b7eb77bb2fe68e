"""The render verbs lectures call: `text image link plot note`.

Each verb builds a `schema.Rendering` and hands it to the active session (a contextvar set by the
tracer). With no session the verbs do nothing, or print plain text when echo is on, so
`python lectures/x.py` runs as an ordinary program.
"""

from __future__ import annotations

import base64
import contextvars
import io
import json
import mimetypes
import os
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from execlecture.schema import Rendering

ALLOWED_LINK_SCHEMES = ("http://", "https://", "mailto:")
MAX_IMAGE_BYTES = 8 * 1024 * 1024


class RenderSink(Protocol):
    """Receives renderings (implemented by the tracer's session)."""

    def emit(self, rendering: Rendering) -> None: ...

    def code_location(self, obj: Any) -> dict[str, Any] | None: ...


_SINK: contextvars.ContextVar[RenderSink | None] = contextvars.ContextVar(
    "execlecture_sink", default=None
)
_ECHO: contextvars.ContextVar[bool] = contextvars.ContextVar("execlecture_echo", default=False)


def set_sink(sink: RenderSink | None) -> contextvars.Token[RenderSink | None]:
    """Install the active sink (tracer use); returns a token for `reset_sink`."""
    return _SINK.set(sink)


def reset_sink(token: contextvars.Token[RenderSink | None]) -> None:
    """Restore the sink that was active before `set_sink`."""
    _SINK.reset(token)


def set_echo(is_echo: bool) -> None:
    """With no active trace, print renderings as plain text (`--echo`) instead of dropping them."""
    _ECHO.set(is_echo)


_IS_ECHO_ENV = os.environ.get("EXECLECTURE_ECHO") == "1"
"""EXECLECTURE_ECHO=1 in the environment (read once, at import) turns echo on for plain runs."""


# The fields of a default Rendering: text() fills a bare instance from this instead of calling the
# dataclass __init__, which would be one more Python frame through the tracer's hook per call.
_RENDERING_DEFAULTS = {k: v for k, v in vars(Rendering(kind="markdown")).items() if k != "style"}
_RENDERING_NEW = object.__new__


def _is_echo() -> bool:
    """Echo is on through `set_echo(True)` or the environment variable EXECLECTURE_ECHO=1."""
    return _ECHO.get() or _IS_ECHO_ENV


def _emit(rendering: Rendering) -> None:
    sink = _SINK.get()
    if sink is not None:
        sink.emit(rendering)
    elif _is_echo():
        shown = rendering.text or rendering.url or rendering.src or f"[{rendering.kind}]"
        sys.stdout.write(f"{shown}\n")


def _check_width(width: Any, verb: str) -> None:
    """Raise unless `width` is None or a positive int of CSS pixels (bool is not a width)."""
    if width is not None and (type(width) is not int or width <= 0):
        raise ValueError(f"{verb}(width=...): expected a positive int of pixels, got {width!r}")


def _check_json(value: Any, what: str) -> None:
    """Raise if `value` cannot be written into a trace (JSON, no NaN/Infinity)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what}: expected JSON data (no NaN/Infinity), got {value!r:.80} ({exc})"
        ) from None


def _check_style(style: dict[str, str] | None, verb: str) -> dict[str, str]:
    if style is None:
        return {}
    if not isinstance(style, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in style.items()
    ):
        raise TypeError(
            f"{verb}(style=...): expected a dict of CSS property -> value, got {style!r}"
        )
    return {k: str(v) for k, v in style.items()}


def text(markdown: str, *, style: dict[str, str] | None = None, verbatim: bool = False) -> None:
    """Show prose: markdown with $math$ and code (or preformatted text when `verbatim`).

    Args:
        markdown: the text; `$...$` inline and `$$...$$` display math are rendered by the viewer.
        style: a few CSS properties, e.g. {"color": "gray"} (default None).
        verbatim: show as preformatted text instead of markdown (default False).
    """
    if not isinstance(markdown, str):
        raise TypeError(
            f"text(): expected a str of markdown, got {type(markdown).__name__} {markdown!r:.60}"
        )
    kind = "verbatim" if verbatim else "markdown"
    checked_style = _check_style(style, "text") if style is not None else {}
    # subtle: the sink is called directly (not via _emit): text() is the hottest verb, and each
    # Python frame costs a trip through the tracer's global hook.
    rendering = _RENDERING_NEW(Rendering)
    rendering.__dict__.update(_RENDERING_DEFAULTS, kind=kind, text=markdown, style=checked_style)
    sink = _SINK.get()
    if sink is not None:
        sink.emit(rendering)
    else:
        _emit(rendering)


def note(markdown: str) -> None:
    """Show a side note (speaker note / aside), rendered as markdown in a muted box.

    Args:
        markdown: the note's text.
    """
    if not isinstance(markdown, str):
        raise TypeError(f"note(): expected a str of markdown, got {type(markdown).__name__}")
    _emit(Rendering(kind="note", text=markdown))


def _png_from_array(array: Any) -> bytes:
    """Encode a uint8/float array of shape [H, W], [H, W, 3] or [H, W, 4] as PNG (stdlib zlib)."""
    import numpy as np

    a = np.asarray(array)
    if a.dtype.kind == "f":
        a = np.clip(a * 255.0 if a.max(initial=0.0) <= 1.0 else a, 0, 255)
    a = a.astype(np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"image(): array shape {tuple(np.shape(array))!r} "
            "(expected [H, W], [H, W, 3] or [H, W, 4])"
        )
    height, width, channels = a.shape
    color_type = {1: 0, 3: 2, 4: 6}[channels]
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image(
    path_or_array: str | Path | Any,
    width: int | None = None,
    *,
    style: dict[str, str] | None = None,
) -> None:
    """Show an image from a file path, an http(s) URL, or an array (embedded as a data URL).

    Args:
        path_or_array: a path to a PNG/JPEG/GIF/SVG/WebP file, an http(s) URL, or an array
            of shape [H, W], [H, W, 3] or [H, W, 4].
        width: display width in CSS pixels (default None: natural size).
        style: a few CSS properties (default None).
    """
    _check_width(width, "image")
    if isinstance(path_or_array, str) and path_or_array.startswith(("http://", "https://")):
        src = path_or_array
    elif isinstance(path_or_array, str | Path):
        path = Path(path_or_array)
        if not path.is_file():
            raise ValueError(f"image(): no such file {str(path)!r} (relative to {Path.cwd()})")
        data = path.read_bytes()
        if len(data) > MAX_IMAGE_BYTES:
            raise ValueError(
                f"image(): {str(path)!r} is {len(data)} bytes (limit {MAX_IMAGE_BYTES})"
            )
        mime = mimetypes.guess_type(path.name)[0] or ""
        if not mime.startswith("image/"):
            raise ValueError(
                f"image(): {str(path)!r} is not an image file (type {mime or 'unknown'!r})"
            )
        src = _data_url(data, mime)
    elif hasattr(path_or_array, "shape"):
        src = _data_url(_png_from_array(path_or_array), "image/png")
    else:
        raise TypeError(
            f"image(): expected a path, URL or array, got {type(path_or_array).__name__}"
        )
    _emit(Rendering(kind="image", src=src, width=width, style=_check_style(style, "image")))


def link(
    target: str | Callable[..., Any] | type | None = None,
    title: str | None = None,
    *,
    url: str | None = None,
    authors: list[str] | None = None,
    organization: str | None = None,
    date: str | None = None,
    description: str | None = None,
    notes: str | None = None,
) -> str:
    """Link to a URL (papers, pages) or to a function/class's source; returns the label shown.

    Args:
        target: an http(s) URL, or a function/class (a link to its source), or None with `url=`.
        title: the label (default: the URL or the function's qualified name).
        url, authors, organization, date, description, notes: reference details for papers.
    """
    if callable(target):
        rendering = code_link(target, title)
        _emit(rendering)
        return rendering.text or ""
    href = target if isinstance(target, str) else url
    if href is None and title is None:
        raise ValueError(
            f"link(): expected a URL, a function or class, or title=/url=, got {target!r:.80}"
        )
    if href is not None and not href.startswith(ALLOWED_LINK_SCHEMES):
        raise ValueError(f"link(): URL {href!r} must start with one of {ALLOWED_LINK_SCHEMES}")
    label = title or href or ""
    details = {
        "title": title, "authors": authors, "organization": organization, "date": date,
        "url": href, "description": description, "notes": notes,
    }  # fmt: skip
    reference = {k: v for k, v in details.items() if v is not None}
    for key, value in reference.items():
        is_ok = isinstance(value, str) or (
            key == "authors" and isinstance(value, list) and all(isinstance(a, str) for a in value)
        )
        if not is_ok:
            expected = "a list of str" if key == "authors" else "a str"
            raise TypeError(f"link({key}=...): expected {expected}, got {value!r:.80}")
    is_reference = any(
        k in reference for k in ("authors", "organization", "date", "description", "notes")
    )
    _emit(
        Rendering(kind="link", text=label, url=href, reference=reference if is_reference else None)
    )
    return label


def code_link(
    target: Callable[..., Any] | type, title: str | None = None, style: dict[str, str] | None = None
) -> Rendering:
    """The link rendering for a function/class: its source location when inside the traced tree."""
    name = getattr(target, "__qualname__", getattr(target, "__name__", repr(target)))
    sink = _SINK.get()
    code = sink.code_location(target) if sink is not None else None
    if code is None:  # outside the traced tree (e.g. numpy): a label with its module only
        code = {"name": name, "module": getattr(target, "__module__", None) or ""}
    return Rendering(kind="link", text=title or name, code=code, style=style or {})


def plot(figure_or_spec: Any, width: int | None = None) -> None:
    """Show a plot: a matplotlib Figure (stored as SVG) or a Vega-Lite-like spec dict.

    Args:
        figure_or_spec: a matplotlib Figure, or a dict spec.
        width: display width in CSS pixels (default None).
    """
    _check_width(width, "plot")
    if isinstance(figure_or_spec, dict):
        _check_json(figure_or_spec, "plot(spec)")
        _emit(Rendering(kind="plot", spec=figure_or_spec, width=width))
        return
    if not hasattr(figure_or_spec, "savefig"):
        raise TypeError(
            "plot(): expected a matplotlib Figure or a dict spec, "
            f"got {type(figure_or_spec).__name__}"
        )
    if _SINK.get() is None and not _is_echo():
        return
    buffer = io.StringIO()
    figure_or_spec.savefig(buffer, format="svg", bbox_inches="tight")
    _emit(Rendering(kind="plot", svg=buffer.getvalue(), width=width))
