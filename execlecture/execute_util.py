"""The `execute_util` surface of older executable lectures (CS336 spring 2025), on our render API.

While `execlecture run` traces a lecture this module is registered as `execute_util` (and as
`edtrace`), ahead of any copy in the lecture's folder, so `from execute_util import text, image,
link` lectures run unchanged and their renderings reach our trace. Without a trace the verbs do
nothing, like ours.
"""

from __future__ import annotations

import contextvars
import inspect
import subprocess
from typing import Any

from execlecture import api
from execlecture.schema import Rendering

REFERENCE_FIELDS = ("title", "authors", "organization", "date", "url", "description", "notes")
SYSTEM_TEXT_TIMEOUT_S = 60

_POPPED: contextvars.ContextVar[list[Rendering] | None] = contextvars.ContextVar(
    "execute_util_pending", default=None
)


def _remember(rendering: Rendering) -> None:
    """Keep a rendering for pop_renderings()."""
    pending = _POPPED.get()
    if pending is None:
        pending = []
        _POPPED.set(pending)
    pending.append(rendering)


def _emit(rendering: Rendering) -> None:
    _remember(rendering)
    api._emit(rendering)


def _style(style: Any, verb: str) -> dict[str, str]:
    return api._check_style(style, verb)


def text(message: str, style: dict[str, Any] | None = None, verbatim: bool = False) -> None:
    """Markdown (or preformatted text when `verbatim`): `text("$x^2$")`."""
    if not isinstance(message, str):
        raise TypeError(f"text(): expected a str message, got {type(message).__name__}")
    kind = "verbatim" if verbatim else "markdown"
    _emit(Rendering(kind=kind, text=message, style=_style(style, "text")))


def image(url: str, style: dict[str, Any] | None = None, width: int | float | None = None) -> None:
    """An image from a path relative to the lecture folder, or an http(s) URL."""
    if width is not None and (isinstance(width, bool) or not isinstance(width, int | float)):
        raise TypeError(f"image(width=...): expected a number of pixels, got {width!r}")
    size = None if width is None else int(width)
    api.image(url, width=size, style=_style(style, "image"))  # embeds local files as data URLs
    _remember(Rendering(kind="image", src=str(url), width=size))


def _reference(arg: Any) -> dict[str, Any]:
    """The reference fields an object carries (a paper or web page description)."""
    out: dict[str, Any] = {}
    for name in REFERENCE_FIELDS:
        value = getattr(arg, name, None)
        if value is None:
            continue
        out[name] = list(value) if isinstance(value, list | tuple) else str(value)
    return out


def _label(title: str | None, url: str | None) -> str:
    """The label lectures splice into text: a markdown link when there is a URL."""
    shown = title or url or ""
    return f"[{shown}]({url})" if url else shown


def link(arg: Any = None, style: dict[str, Any] | None = None, **kwargs: Any) -> str:
    """Link to a function/class's source, a reference object, or a title/url; returns a label."""
    styles = _style(style, "link")
    if inspect.isfunction(arg) or inspect.isclass(arg) or inspect.ismethod(arg):
        rendering = api.code_link(arg, kwargs.get("title"), styles)
        _emit(rendering)  # remembered for pop_renderings() too, with its style
        return rendering.text or ""
    if arg is not None and not isinstance(arg, str) and hasattr(arg, "title"):
        reference = _reference(arg)
        title, url = reference.get("title"), reference.get("url")
        if url is not None and not str(url).startswith(api.ALLOWED_LINK_SCHEMES):
            raise ValueError(f"link(): reference URL {url!r} must be http(s)")
        _emit(Rendering(kind="link", text=title or url, url=url, reference=reference, style=styles))
        return _label(title, url)
    title = arg if isinstance(arg, str) else kwargs.get("title")
    url = kwargs.get("url")
    if url is None and isinstance(arg, str) and arg.startswith(("http://", "https://")):
        title, url = kwargs.get("title"), arg  # link("https://...") links to that URL
    if title is None and url is None:
        raise ValueError(
            f"link(): expected a function, a reference object, a title, or url=, got {arg!r:.80}"
        )
    if url is not None and not str(url).startswith(api.ALLOWED_LINK_SCHEMES):
        raise ValueError(f"link(): URL {url!r} must start with one of {api.ALLOWED_LINK_SCHEMES}")
    _emit(Rendering(kind="link", text=title or url, url=url, style=styles))
    return _label(title, url)


def system_text(command: list[str] | str) -> str:
    """Run a command (a list of arguments) and show its output as preformatted text."""
    if isinstance(command, str):
        command = command.split()
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        raise TypeError(f"system_text(): expected a list of str arguments, got {command!r}")
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=SYSTEM_TEXT_TIMEOUT_S, check=False
    )
    output = result.stdout + result.stderr
    _emit(Rendering(kind="verbatim", text=output))
    return output


def pop_renderings() -> list[Rendering]:
    """The renderings emitted since the last call (and forget them)."""
    pending = _POPPED.get() or []
    _POPPED.set([])
    return list(pending)


def note(message: str) -> None:
    """A side note (edtrace's name)."""
    _emit(Rendering(kind="note", text=message))
