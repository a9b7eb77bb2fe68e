"""HTML -> plain text with Resiliparse (a well-kept, fast C++ extractor, main-content aware).

Why a library: boilerplate removal and encoding detection are decades of edge cases we would not
write better. Resiliparse installs from PyPI as a wheel here; it is imported lazily.
"""

from __future__ import annotations


def _decode(html: bytes | str) -> str:
    """Bytes -> str using the detected encoding (UTF-8 first), never failing."""
    if isinstance(html, str):
        return html
    try:
        return html.decode("utf-8")  # most of the web; detection misjudges short UTF-8 pages
    except UnicodeDecodeError:
        from resiliparse.parse.encoding import bytes_to_str, detect_encoding

        return str(bytes_to_str(html, detect_encoding(html)))


def html_to_text(html: bytes | str, *, main_content: bool = False) -> str:
    """Extract readable text from an HTML page: `"<p>Hi <b>you</b></p>" -> "Hi you"`.

    Args:
        html: the page as bytes (encoding detected) or str.
        main_content: drop navigation, footers and other boilerplate (default False).
    """
    if not isinstance(html, bytes | str):
        raise TypeError(f"html_to_text(): expected bytes or str, got {type(html).__name__}")
    try:
        from resiliparse.extract.html2text import extract_plain_text
    except ImportError as exc:  # pragma: no cover - resiliparse is a declared dependency
        raise ImportError("html_to_text needs resiliparse: pip install resiliparse") from exc
    return str(extract_plain_text(_decode(html), main_content=main_content))
