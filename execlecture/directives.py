"""Parse a lecture's directive comments (`# @inspect x`, `# @clear x`, `# @stepover`, `# @hide`).

Comments are found with the `tokenize` module, never by splitting on `#`, so a `#` inside a string
is not a comment. A directive applies to every physical line of the statement it ends (a logical
line), and `@hide` on a `def` (or `class`) line hides the whole body. Errors carry file:line and
are all collected, so `execlecture check` can report every one without running the lecture.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

DIRECTIVES = frozenset({"inspect", "clear", "stepover", "hide"})
"""The directive names; adding one bumps schema.SCHEMA_VERSION."""

_EXPECTED = "expected one of @inspect, @clear, @stepover, @hide"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_WORD_DIRECTIVE = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


class DirectiveError(ValueError):
    """One or more bad directives; `errors` lists every message (file:line each)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[0] if len(errors) == 1 else "\n".join(errors))
        self.errors = errors


@dataclass
class Directives:
    """The directives of one source file, keyed by 1-based line number."""

    inspect: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """line -> names (or dotted attribute paths) to show after that line ran."""
    clear: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """line -> names to stop showing after that line ran."""
    stepover: set[int] = field(default_factory=set)
    """Lines whose calls are not stepped into."""
    hidden_lines: set[int] = field(default_factory=set)
    """Lines hidden from the reader (including whole bodies of hidden defs)."""
    hidden_ranges: list[tuple[int, int]] = field(default_factory=list)
    """(first, last) line spans of hidden defs/classes; code objects starting inside are hidden."""
    statement_start: dict[int, int] = field(default_factory=dict)
    """Every line of a multi-line statement -> its first line (steps are shown there)."""
    comments: dict[int, str] = field(default_factory=dict)
    """line -> the trailing comment text without its directives (used for outline entries)."""
    errors: list[str] = field(default_factory=list)
    """Every problem found, each as 'message at path:line (...)'."""

    @property
    def special_lines(self) -> frozenset[int]:
        """Lines where the tracer must do more than record a plain step."""
        return frozenset(self.inspect) | frozenset(self.clear) | self.hidden_lines | self.stepover

    def is_hidden_code(self, first_line: int) -> bool:
        """Whether a code object starting at `first_line` lies inside a hidden def."""
        return any(lo <= first_line <= hi for lo, hi in self.hidden_ranges)


def _parse_comment(
    text: str, lines: range, where: str, out: Directives, is_code_line: bool
) -> None:
    """Parse one comment token's text into `out` (applies to all physical `lines`)."""
    body = text[1:].strip()
    if not body.startswith("@"):
        for line in lines:
            out.comments.setdefault(line, body)
        return
    if not is_code_line:
        out.errors.append(
            f"directive {body.split()[0]!r} at {where} is on a line without code "
            "(put it at the end of the line it applies to)"
        )
        return
    words = body.split()
    groups: list[tuple[str, list[str]]] = []
    for word in words:
        match = _WORD_DIRECTIVE.fullmatch(word)
        if match:
            groups.append((match.group(1), []))
        elif groups:
            groups[-1][1].append(word)
    for name, args in groups:
        _apply(name, args, lines, where, out)


def _apply(name: str, args: list[str], lines: range, where: str, out: Directives) -> None:
    """Record one directive with its arguments, or an error."""
    if name not in DIRECTIVES:
        out.errors.append(f"unknown directive '@{name}' at {where} ({_EXPECTED})")
        return
    if name in ("stepover", "hide"):
        if args:
            out.errors.append(f"'@{name}' at {where} takes no names, got {' '.join(args)!r}")
            return
        target = out.stepover if name == "stepover" else out.hidden_lines
        target.update(lines)
        return
    if not args:
        out.errors.append(f"'@{name}' at {where} needs at least one name, e.g. '# @{name} x'")
        return
    bad = [a for a in args if not _NAME.match(a)]
    if bad:
        out.errors.append(
            f"malformed name {bad[0]!r} for '@{name}' at {where} "
            "(expected a Python name or attribute path such as model.w)"
        )
        return
    target_map = out.inspect if name == "inspect" else out.clear
    for line in lines:
        target_map[line] = target_map.get(line, ()) + tuple(args)


def _hide_defs(source: str, out: Directives) -> None:
    """Expand `@hide` on a def/class line to its whole span (decorators included)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if node.lineno in out.hidden_lines and node.end_lineno is not None:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out.hidden_ranges.append((first, node.end_lineno))
            out.hidden_lines.update(range(first, node.end_lineno + 1))


def parse_directives(source: str, path: str = "<string>") -> Directives:
    """Find the directives in `source`; problems are collected in `.errors`, never raised.

    "x = f()  # @inspect x" -> Directives(inspect={1: ("x",)})
    """
    out = Directives()
    start_line = 1  # first physical line of the current logical line
    has_code = False
    pending: list[tokenize.TokenInfo] = []  # comments of the current logical line
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                if has_code:
                    pending.append(tok)
                else:
                    _parse_comment(tok.string, range(tok.start[0], tok.start[0] + 1),
                                   f"{path}:{tok.start[0]}", out, is_code_line=False)  # fmt: skip
            elif tok.type == tokenize.NEWLINE:
                lines = range(start_line, tok.end[0] + 1)
                if len(lines) > 1:
                    out.statement_start.update(dict.fromkeys(lines, start_line))
                for c in pending:
                    _parse_comment(c.string, lines, f"{path}:{c.start[0]}", out, is_code_line=True)
                pending, has_code = [], False
            elif tok.type in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
                continue
            elif tok.type != tokenize.ENDMARKER and not has_code:
                has_code, start_line = True, tok.start[0]
    except (tokenize.TokenError, SyntaxError) as exc:
        out.errors.append(f"cannot tokenize {path}: {exc}")
        return out
    _hide_defs(source, out)
    return out


def check_file(path: str, source: str) -> list[str]:
    """All directive and syntax errors of one file, as one-line messages."""
    errors: list[str] = []
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        errors.append(f"syntax error at {path}:{exc.lineno}: {exc.msg}")
        return errors
    errors.extend(parse_directives(source, path).errors)
    return errors
