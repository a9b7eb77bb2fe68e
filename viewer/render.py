"""Renderings -> safe HTML: markdown + dollar math (MathML), Pygments code, sanitized SVG, images.

Everything here treats the trace as untrusted. Markdown is rendered with markdown-it-py, `$..$` math
is converted with latex2mathml, and the whole HTML is sanitized with nh3 AFTER math conversion
(latex2mathml does not escape `\\text{<img onerror=..>}`). Plots' SVG is parsed, allow-listed and
shown through `<img src="data:image/svg+xml...">`, where no script can ever run.
Recipes: ../shared/BROWSER.md.
"""

from __future__ import annotations

import base64
import functools
import html
import re
import xml.etree.ElementTree as ET
from typing import Any

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight, lex
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer, get_lexer_by_name
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound

from viewer.charts import spec_to_svg

MATHML_TAGS = frozenset(
    {
        "math", "mi", "mn", "mo", "ms", "mtext", "mrow", "msup", "msub", "msubsup", "mfrac",
        "msqrt", "mroot", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mspace",
        "mstyle", "mpadded", "mphantom", "menclose", "semantics", "annotation", "merror",
        "mmultiscripts", "mprescripts", "none",
    }
)  # fmt: skip
MATHML_ATTRIBUTES = frozenset(
    {
        "display", "xmlns", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
        "accent", "accentunder", "columnalign", "rowalign", "columnspacing", "rowspacing",
        "width", "height", "depth", "linethickness", "scriptlevel", "displaystyle", "minsize",
        "maxsize", "movablelimits", "notation", "symmetric", "largeop", "form", "columnlines",
        "rowlines", "frame", "framespacing", "encoding",
    }
)  # fmt: skip
PYGMENTS_CLASSES = frozenset(c for c in STANDARD_TYPES.values() if c)
ALLOWED_STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font-weight", "font-style", "font-size", "text-align",
        "text-decoration", "margin-left", "margin-right", "margin-top", "margin-bottom",
        "padding", "border", "border-radius", "width", "max-width", "display",
    }
)  # fmt: skip
IMAGE_DATA_URL = re.compile(
    r"^data:image/(png|jpeg|gif|webp|svg\+xml|bmp);base64,[A-Za-z0-9+/=\s]*$"
)
SAFE_RELATIVE_PATH = re.compile(r"^(?![/\\])(?!.*(^|[/\\])\.\.([/\\]|$))[\w./ -]+$")
MAX_SVG_CHARS = 20_000_000

_TAGS = set(nh3.ALLOWED_TAGS) | set(MATHML_TAGS) | {"figure", "figcaption", "input"}
_ATTRIBUTES: dict[str, set[str]] = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in MATHML_TAGS:
    _ATTRIBUTES[_tag] = set(MATHML_ATTRIBUTES)
_ATTRIBUTES.setdefault("img", set()).update({"src", "alt", "width", "height", "title"})
_ATTRIBUTES.setdefault("a", set()).update({"href", "title"})
_ATTRIBUTES.setdefault("input", set()).update({"type", "checked", "disabled"})
_ALLOWED_CLASSES = {
    "span": set(PYGMENTS_CLASSES),
    "code": {"math-error"},
    "pre": {"hl"},
}


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """Keep image sources only when they are image data URLs or plain relative paths."""
    if tag == "img" and attr == "src":
        if IMAGE_DATA_URL.match(value):
            return value
        if SAFE_RELATIVE_PATH.match(value) and ":" not in value:
            return "files/" + value.lstrip("./")
        return None
    if attr in ("href", "cite") and value.strip().lower().startswith("data:"):
        return None  # data: is for images only
    if tag == "input" and attr == "type":
        return value if value == "checkbox" else None
    return value


def sanitize_html(fragment: str) -> str:
    """Untrusted HTML (incl. MathML) -> inert HTML: '<b onclick=x>a</b>' -> '<b>a</b>'."""
    return nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        allowed_classes=_ALLOWED_CLASSES,
        url_schemes={"http", "https", "mailto", "data"},
        attribute_filter=_attribute_filter,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def _highlight_block(code: str, lang: str, _attrs: Any) -> str:
    """Pygments for fenced code blocks in markdown (default: Python)."""
    try:
        lexer = get_lexer_by_name(lang or "python")
    except ClassNotFound:
        return ""  # markdown-it escapes the code itself
    return str(highlight(code, lexer, HtmlFormatter(nowrap=True)))


def _math_renderer(display: str) -> Any:
    def render(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tex = tokens[idx].content
        try:
            return str(latex_to_mathml(tex, display=display))
        except Exception:  # latex2mathml raises many private error types on malformed TeX
            return f'<code class="math-error">{html.escape(tex)}</code>'

    return render


def _make_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"highlight": _highlight_block, "html": True})
    md.enable("table").enable("strikethrough")
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False)
    md.add_render_rule("math_inline", _math_renderer("inline"))
    md.add_render_rule("math_block", _math_renderer("block"))
    md.add_render_rule("math_block_label", _math_renderer("block"))
    return md


_MARKDOWN = _make_markdown()


@functools.lru_cache(maxsize=4096)  # lectures repeat the same prose in loops
def render_markdown(text: str) -> str:
    """Markdown with $math$ -> sanitized HTML: 'a $x^2$' -> '<p>a <math>..</math></p>'."""
    # Code blocks highlighted by Pygments keep their classes (<div class="hl"> wraps each).
    rendered = _MARKDOWN.render(text).replace("<pre><code", '<pre class="hl"><code')
    return sanitize_html(rendered)


def highlight_lines(source: str, language: str = "python") -> list[str]:
    """Source -> one HTML string per line, every span closed on its own line."""
    lexer = PythonLexer() if language == "python" else get_lexer_by_name(language)
    lines: list[list[str]] = [[]]
    for ttype, value in lex(source, lexer):
        css = _token_class(ttype)
        for i, piece in enumerate(value.split("\n")):
            if i:
                lines.append([])
            if piece:
                escaped = html.escape(piece, quote=False)
                lines[-1].append(f'<span class="{css}">{escaped}</span>' if css else escaped)
    num_lines = source.count("\n") + (0 if source.endswith("\n") else 1)
    return ["".join(parts) for parts in lines[:num_lines]] or [""]


def _token_class(ttype: _TokenType) -> str:
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return str(STANDARD_TYPES[ttype])


SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
SVG_TAGS = frozenset(
    {
        "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text",
        "tspan", "defs", "clipPath", "use", "title", "desc", "linearGradient", "radialGradient",
        "stop", "pattern", "mask", "symbol", "metadata", "marker", "image",
    }
)  # fmt: skip
SVG_ATTRIBUTES = frozenset(
    {
        "id", "class", "d", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "rx", "ry",
        "width", "height", "viewBox", "version", "transform", "points", "fill", "fill-opacity",
        "fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
        "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "stroke-miterlimit",
        "opacity", "clip-path", "clip-rule", "clipPathUnits", "font-family", "font-size",
        "font-weight", "font-style", "text-anchor", "dominant-baseline", "style", "offset",
        "stop-color", "stop-opacity", "gradientUnits", "gradientTransform", "patternUnits",
        "preserveAspectRatio", "dx", "dy", "mask", "marker-start", "marker-mid", "marker-end",
        "markerWidth", "markerHeight", "refX", "refY", "orient", "xml:space",
    }
)  # fmt: skip
_LOCAL_REF = re.compile(r"^#[\w.:-]+$")
_CSS_URL = re.compile(r"url\(\s*['\"]?(?!#)", re.IGNORECASE)


def sanitize_svg(svg: str) -> str:
    """Untrusted SVG -> allow-listed SVG (no scripts, handlers, foreignObject, outside refs)."""
    if len(svg) > MAX_SVG_CHARS or "<!ENTITY" in svg:
        raise ValueError(f"SVG rejected: {len(svg)} chars or entity declarations")
    root = ET.fromstring(svg)
    if _local(root.tag) != "svg":
        raise ValueError(f"SVG rejected: root element is {root.tag!r} (expected svg)")
    _clean_svg_element(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="unicode")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _clean_svg_element(element: ET.Element) -> None:
    for child in list(element):
        is_svg = isinstance(child.tag, str) and child.tag.startswith("{" + SVG_NS + "}")
        if not is_svg or _local(child.tag) not in SVG_TAGS:
            element.remove(child)
            continue
        _clean_svg_element(child)
    for name in list(element.attrib):
        value = element.attrib[name]
        local = _local(name)
        if name in (f"{{{XLINK_NS}}}href", "href"):
            if not (_LOCAL_REF.match(value) or IMAGE_DATA_URL.match(value)):
                del element.attrib[name]
        elif (
            (name.startswith("{") and not name.startswith("{http://www.w3.org/XML/"))
            or (
                local not in SVG_ATTRIBUTES
                and name != "{http://www.w3.org/XML/1998/namespace}space"
            )
            or _CSS_URL.search(value)
            or "javascript:" in value.lower()
        ):
            del element.attrib[name]


def svg_img(svg: str, width: int | None) -> str:
    """Sanitized SVG as an inert <img> (a data URL cannot run scripts or fetch anything)."""
    try:
        clean = sanitize_svg(svg)
    except (ValueError, ET.ParseError) as error:
        return f'<p class="render-error">plot not shown: {html.escape(str(error)[:200])}</p>'
    data = base64.b64encode(clean.encode("utf-8")).decode("ascii")
    size = f' width="{int(width)}"' if width else ""
    return f'<img class="plot" alt="plot" src="data:image/svg+xml;base64,{data}"{size}>'


_BAD_CSS_VALUE = re.compile(r"url\(|expression|[;{}<>\\]|javascript:", re.IGNORECASE)


def style_attribute(style: dict[str, str]) -> str:
    """A rendering's style dict -> a safe style attribute (allow-listed properties only)."""
    kept = [
        f"{name}: {value}"
        for name, value in style.items()
        if name in ALLOWED_STYLE_PROPERTIES and not _BAD_CSS_VALUE.search(str(value))
    ]
    return f' style="{html.escape("; ".join(kept))}"' if kept else ""


def _image_html(src: str | None, width: int | None) -> str:
    size = f' width="{int(width)}"' if width else ""
    if src and IMAGE_DATA_URL.match(src):
        return f'<img alt="image" src="{html.escape(src)}"{size}>'
    if src and SAFE_RELATIVE_PATH.match(src) and ":" not in src:
        return f'<img alt="{html.escape(src)}" src="files/{html.escape(src.lstrip("./"))}"{size}>'
    if src and src.startswith(("http://", "https://")):
        # External images are not fetched (offline viewer, CSP img-src 'self' data:).
        href = html.escape(src)
        return f'<a href="{href}" rel="noopener noreferrer">external image: {href}</a>'
    return (
        '<p class="render-error">image not shown: unsupported source '
        "(expected an image data URL or a path under the trace directory)</p>"
    )


def _safe_href(url: str | None) -> str | None:
    if url and url.startswith(("http://", "https://", "mailto:")) and '"' not in url:
        return url
    return None


def _link_html(text: str | None, url: str | None, code: dict[str, Any] | None,
               reference: dict[str, Any] | None) -> str:  # fmt: skip
    label = html.escape(text or url or "link")
    if code is not None:
        name = html.escape(str(code.get("name", text or "code")))
        if text and text != code.get("name"):
            name = f"{html.escape(text)} <code>{name}</code>"
        else:
            name = f"<code>{name}</code>"
        if isinstance(code.get("file"), int) and isinstance(code.get("line"), int):
            return (f'<a class="code-link" href="#" data-file="{code["file"]}" '
                    f'data-line="{code["line"]}">{name}</a>')  # fmt: skip
        where = html.escape(f"{code.get('path', '')}:{code.get('line', '')}".strip(":"))
        return f'<span class="code-link">{name} <small>{where}</small></span>'
    href = _safe_href(url)
    if href:
        link = (
            f'<a href="{html.escape(href)}" rel="noopener noreferrer" target="_blank">{label}</a>'
        )
    else:
        link = f"<span>{label}</span>"
    if not reference:
        return f'<p class="link">{link}</p>'
    parts = [f'<div class="reference"><div class="ref-title">{link}</div>']
    meta = [reference.get(k) for k in ("organization", "date")]
    authors = reference.get("authors")
    if isinstance(authors, list):
        meta.insert(
            0, ", ".join(str(a) for a in authors[:8]) + (" et al." if len(authors) > 8 else "")
        )
    shown = " · ".join(html.escape(str(m)) for m in meta if m)
    if shown:
        parts.append(f'<div class="ref-meta">{shown}</div>')
    for key in ("description", "notes"):
        if reference.get(key):
            parts.append(f'<div class="ref-{key}">{render_markdown(str(reference[key]))}</div>')
    return "".join(parts) + "</div>"


def _spec_html(spec: dict[str, Any] | None) -> str:
    """Vega-Lite-like specs are shown as their data table (no charting library offline)."""
    values = (spec or {}).get("data", {}).get("values") if isinstance(spec, dict) else None
    if isinstance(values, list) and values and all(isinstance(v, dict) for v in values[:200]):
        keys = list(values[0])[:12]
        head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
        rows = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(str(v.get(k, '')))[:80]}</td>" for k in keys)
            + "</tr>"
            for v in values[:200]
        )
        title = html.escape(str(spec.get("title", "plot data"))) if spec else "plot data"
        table = f"<table><tr>{head}</tr>{rows}</table>"
        return f'<figure class="spec"><figcaption>{title}</figcaption>{table}</figure>'
    return '<p class="render-error">plot spec without data values</p>'


def _spec_body(spec: dict[str, Any] | None, width: int | None) -> str:
    """A Vega-Lite-like spec: drawn as SVG when in the supported subset, else its data table."""
    svg = spec_to_svg(spec) if isinstance(spec, dict) else None
    return svg_img(svg, width) if svg is not None else _spec_html(spec)


def render_rendering(r: Any) -> str:
    """A schema.Rendering -> safe HTML: kind "markdown" -> '<div class="r r-markdown">..'."""
    if r.kind == "markdown" or r.kind == "note":
        body = render_markdown(r.text or "")
    elif r.kind == "verbatim":
        body = f"<pre>{html.escape(r.text or '')}</pre>"
    elif r.kind == "image":
        body = _image_html(r.src, r.width)
    elif r.kind == "link":
        body = _link_html(r.text, r.url, r.code, r.reference)
    elif r.kind == "plot":
        body = svg_img(r.svg, r.width) if r.svg is not None else _spec_body(r.spec, r.width)
    else:
        raise ValueError(f"rendering kind {r.kind!r} is not handled by the viewer")
    return f'<div class="r r-{r.kind}"{style_attribute(r.style or {})}>{body}</div>'
