"""Renderings are untrusted: hostile markdown, MathML, SVG, images and styles must render inert."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from execlecture.schema import Rendering
from tests.viewer.tracebuilder import sample_trace, write_trace
from viewer.app import create_app
from viewer.render import (
    highlight_lines,
    render_markdown,
    render_rendering,
    sanitize_svg,
    style_attribute,
)

BAD_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "foreignobject",
    "style",
    "maction",
    "link",
    "meta",
    "base",
}


class _Dangers(HTMLParser):
    """Collects executable things: bad tags, on* handlers, javascript:/data:text URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() in BAD_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            url = (value or "").strip().lower().replace("\x00", "")
            if name.lower().startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name.lower() in ("href", "src", "xlink:href", "action", "formaction") and (
                url.startswith(("javascript:", "vbscript:")) or url.startswith("data:text")
            ):
                self.found.append(f"{tag} {name}={value}")


class _Danger:
    @staticmethod
    def search(html: str) -> list[str]:
        parser = _Dangers()
        parser.feed(html)
        return parser.found


DANGER = _Danger()

HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    "$\\text{<img src=x onerror=alert(1)>}$",
    "$$\\text{<script>alert(1)</script>}$$",
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">'
    "<mi>x</mi></maction></math>",
    '<math><mi href="javascript:alert(1)">x</mi></math>',
    "<math><mtext><style>body{display:none}</style></mtext></math>",
    "<svg><script>alert(1)</script></svg>",
    '<div onclick="alert(1)" style="position:fixed">x</div>',
    '<object data="evil.swf"></object>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<img src="data:text/html;base64,PHNjcmlwdD4=">',
]


@pytest.mark.parametrize("text", HOSTILE_MARKDOWN)
def test_hostile_markdown_is_inert(text: str) -> None:
    html = render_markdown(text)
    assert not DANGER.search(html), html
    assert "data:text/html" not in html


def test_math_becomes_mathml_and_dollar_amounts_stay_text() -> None:
    html = render_markdown("Cost $5 and $10; loss $\\frac{a}{b}$\n\n$$\\sum_{i=1}^n x_i$$\n")
    assert "$5 and $10" in html
    assert "<mfrac>" in html and 'display="block"' in html and "<munderover>" in html


def test_malformed_tex_is_shown_not_raised() -> None:
    assert 'class="math-error"' in render_markdown("$x^$")


def test_code_blocks_are_highlighted() -> None:
    html = render_markdown("```python\nx = 1  # one\n```")
    assert '<pre class="hl">' in html and '<span class="c1"># one</span>' in html


def test_highlight_lines_keeps_spans_per_line() -> None:
    lines = highlight_lines('s = """a\nb"""\nx = 1 < 2\n')
    assert len(lines) == 3
    for line in lines:
        assert line.count("<span") == line.count("</span>")
    assert "&lt;" in lines[2]


def test_svg_is_allow_listed() -> None:
    hostile = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        ' onload="alert(1)">'
        "<script>alert(1)</script>"
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
        '<g onclick="alert(1)"><rect width="5" height="5" fill="red"/></g>'
        '<rect style="fill:url(https://evil.example/x)" width="1"/>'
        '<use xlink:href="https://evil.example/a.svg#x"/><use xlink:href="#ok"/>'
        '<a href="javascript:alert(1)"><text>t</text></a>'
        "</svg>"
    )
    clean = sanitize_svg(hostile)
    assert not DANGER.search(clean) and "evil" not in clean and "foreignObject" not in clean
    assert 'fill="red"' in clean and 'href="#ok"' in clean


@pytest.mark.parametrize(
    "svg",
    [
        '<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
        "<svg",
        "<html/>",
    ],
)
def test_bad_svg_is_not_shown(svg: str) -> None:
    html = render_rendering(Rendering(kind="plot", svg=svg))
    assert "render-error" in html and "<svg" not in html


def test_plot_is_an_inert_image() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><circle r="3"/></svg>'
    html = render_rendering(Rendering(kind="plot", svg=svg, width=300))
    data = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert data and 'width="300"' in html
    decoded = base64.b64decode(data.group(1)).decode()
    assert "<circle" in decoded and "script" not in decoded


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("data:image/png;base64,iVBORw0KGgo=", 'src="data:image/png;base64,iVBORw0KGgo="'),
        ("img/fig.png", 'src="files/img/fig.png"'),
        ("https://example.com/a.png", "external image"),
        ("../secret.png", "not shown"),
        ("/etc/passwd", "not shown"),
        ("data:text/html;base64,PHNjcmlwdD4=", "not shown"),
        ("javascript:alert(1)", "not shown"),
    ],
)
def test_image_sources(src: str, expected: str) -> None:
    html = render_rendering(Rendering(kind="image", src=src))
    assert expected in html
    assert "javascript:" not in html and "data:text" not in html


def test_links_only_http_https_mailto() -> None:
    bad = render_rendering(Rendering(kind="link", text="x", url="javascript:alert(1)"))
    assert "href" not in bad
    good = render_rendering(Rendering(kind="link", text="paper", url="https://arxiv.org/abs/1"))
    assert 'href="https://arxiv.org/abs/1"' in good and 'rel="noopener noreferrer"' in good
    code = render_rendering(
        Rendering(kind="link", text="f", code={"file": 0, "line": 3, "name": "f"})
    )
    assert 'data-file="0"' in code and 'data-line="3"' in code


def test_reference_notes_are_sanitized() -> None:
    html = render_rendering(
        Rendering(
            kind="link",
            text="t",
            url="https://a.b",
            reference={"title": "<b>t</b>", "notes": "<script>x</script>"},
        )
    )
    assert not DANGER.search(html)


def test_style_allow_list() -> None:
    assert style_attribute({"color": "red", "position": "fixed"}) == ' style="color: red"'
    assert style_attribute({"background-color": "url(https://evil)"}) == ""
    assert style_attribute({"color": "red; position: fixed"}) == ""


def test_xss_trace_served_inert(tmp_path) -> None:  # type: ignore[no-untyped-def]
    trace = sample_trace()
    trace["steps"][1]["renderings"] = [
        {"kind": "markdown", "text": text} for text in HOSTILE_MARKDOWN
    ] + [
        {"kind": "note", "text": "<img src=x onerror=alert(1)>"},
        {"kind": "verbatim", "text": "<script>x</script>"},
    ]
    trace["title"] = "<script>alert('title')</script>"
    write_trace(tmp_path / "traces", "evil", trace)
    client = TestClient(create_app(tmp_path / "traces"))
    for route in ["/api/traces/evil/view", "/api/traces/evil/renderings"]:
        body = client.get(route).json()
        htmls = (
            [r[2] for r in body["renderings"]]
            if isinstance(body, dict)
            else [r["html"] for r in body]
        )
        for html in htmls:
            assert not DANGER.search(html), html
    index = client.get("/").text
    assert "<script>alert" not in index and "&lt;script&gt;alert" in index


@pytest.mark.parametrize("mark", ["line", "bar", "point"])
def test_spec_plots_are_drawn_as_svg(mark: str) -> None:
    spec = {
        "title": "loss <b>",
        "mark": mark,
        "data": {
            "values": [{"step": i, "loss": 3.0 / (i + 1), "run": f"r{i % 2}"} for i in range(8)]
        },
        "encoding": {"x": {"field": "step"}, "y": {"field": "loss"}, "color": {"field": "run"}},
    }
    html = render_rendering(Rendering(kind="plot", spec=spec))
    data = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert data, html
    svg = base64.b64decode(data.group(1)).decode()
    shape = {"line": "<polyline", "bar": "<rect", "point": "<circle"}[mark]
    assert svg.count(shape) >= 2 and "loss &lt;b&gt;" in svg


def test_unsupported_spec_shows_its_data() -> None:
    spec = {"mark": "arc", "data": {"values": [{"a": 1, "b": "<script>"}]}}
    html = render_rendering(Rendering(kind="plot", spec=spec))
    assert "<table>" in html and "&lt;script&gt;" in html
