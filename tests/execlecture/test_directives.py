"""Directive parsing: tokenize-based, all errors collected with file:line."""

from __future__ import annotations

from execlecture.directives import check_file, parse_directives


def test_inspect_clear_stepover_hide() -> None:
    source = (
        "x = f()  # @inspect x model.w\n"
        "del x  # @clear x\n"
        "g()  # @stepover\n"
        "secret = 1  # @hide\n"
        "y = g()  # @stepover @inspect y\n"
    )
    d = parse_directives(source, "lec.py")
    assert d.errors == []
    assert d.inspect == {1: ("x", "model.w"), 5: ("y",)}
    assert d.clear == {2: ("x",)}
    assert d.stepover == {3, 5}
    assert d.hidden_lines == {4}


def test_hash_inside_string_is_not_a_comment() -> None:
    d = parse_directives('s = "# @inspect s"\nt = "#"  # @inspect t\n', "lec.py")
    assert d.errors == []
    assert d.inspect == {2: ("t",)}


def test_unknown_directive_message_is_exact() -> None:
    d = parse_directives("x = 1\n" * 41 + "y = 2  # @inspct y\n", "lectures/x.py")
    assert d.errors == [
        "unknown directive '@inspct' at lectures/x.py:42 "
        "(expected one of @inspect, @clear, @stepover, @hide)"
    ]


def test_all_errors_are_collected() -> None:
    source = (
        "a = 1  # @inspect 1bad\nb = 2  # @inspect\nc = 3  # @stepover c\n# @hide\nd = 4  # @nope\n"
    )
    errors = parse_directives(source, "l.py").errors
    assert len(errors) == 5
    assert "malformed name '1bad'" in errors[0] and "l.py:1" in errors[0]
    assert "needs at least one name" in errors[1] and "l.py:2" in errors[1]
    assert "takes no names" in errors[2] and "l.py:3" in errors[2]
    assert "line without code" in errors[3] and "l.py:4" in errors[3]
    assert "unknown directive '@nope' at l.py:5" in errors[4]


def test_plain_comments_are_kept_for_the_outline() -> None:
    d = parse_directives("section()  # the first part\nz = 1  # email me@example.com\n")
    assert d.errors == []
    assert d.comments == {1: "the first part", 2: "email me@example.com"}


def test_multiline_statement_maps_to_its_first_line() -> None:
    source = "x = f(\n    1,\n    2,\n)  # @inspect x\ny = 1\n"
    d = parse_directives(source)
    assert d.inspect == {1: ("x",), 2: ("x",), 3: ("x",), 4: ("x",)}
    assert d.statement_start == {1: 1, 2: 1, 3: 1, 4: 1}


def test_hide_on_def_hides_the_body_and_decorators() -> None:
    source = "import functools\n@functools.cache\ndef f():  # @hide\n    return 1\n\nx = 2\n"
    d = parse_directives(source)
    assert d.hidden_ranges == [(2, 4)]
    assert d.hidden_lines == {2, 3, 4}
    assert d.is_hidden_code(2) and not d.is_hidden_code(6)


def test_check_file_reports_syntax_errors_with_location() -> None:
    assert check_file("bad.py", "def f(:\n    pass\n") == [
        "syntax error at bad.py:1: invalid syntax"
    ]
    assert check_file("ok.py", "x = 1  # @inspect x\n") == []
