"""Render-verb misuse fails at the call (the trace ends with it), never as a broken trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execlecture import api, link, plot
from execlecture.schema import load_trace
from execlecture.tracefile import trace_to_dict
from execlecture.tracer import TraceSession


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: plot({"mark": "bar"}, width="wide"), ValueError, r"plot\(width=...\).*'wide'"),
        (lambda: plot({"y": float("nan")}), ValueError, r"plot\(spec\).*NaN"),
        (lambda: plot({"f": object()}), ValueError, r"plot\(spec\)"),
        (lambda: api.image([[0]], width=True), ValueError, r"image\(width=...\).*True"),
        (lambda: link("https://e.org", authors=[object()]), TypeError, r"link\(authors=...\)"),
        (lambda: link("https://e.org", date=2017), TypeError, r"link\(date=...\).*2017"),
    ],
)
def test_bad_render_arguments_raise_naming_the_value(call, error, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_a_bad_plot_in_a_lecture_ends_its_trace_instead_of_breaking_it(tmp_path: Path) -> None:
    # Before, plot(width="wide") was stored and gave a trace that failed validation, and a NaN in
    # a spec made the trace writer fail after the run: no trace at all.
    (tmp_path / "lec.py").write_text(
        "from execlecture import plot\n\ndef main():\n    plot({'y': float('nan')})\n"
    )
    session = TraceSession("lec.py", cwd=tmp_path)
    session.run()
    trace = load_trace(json.loads(json.dumps(trace_to_dict(session), allow_nan=False)))
    assert trace.status == "error" and trace.exception is not None
    assert trace.exception.type == "ValueError" and "plot(spec)" in trace.exception.message


def test_link_without_a_target_names_what_it_got() -> None:
    with pytest.raises(ValueError, match=r"link\(\).*got 123"):
        link(123)  # type: ignore[arg-type]
