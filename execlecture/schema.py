"""The trace format: what `execlecture run` writes and the viewer reads (see docs/trace-format.md).

A leaf module (stdlib dataclasses only) so that the viewer can import it without the tracer.
`load_trace(dict)` validates untrusted JSON and raises `ValueError` naming the bad field's path.

Step semantics: a `line` step is recorded when a line has *finished* executing in its frame (so
inspected values are post-line and renderings emitted by that line attach to it); a `call` step is
recorded at the caller's line just before a traced callee starts; an `exception` step records an
exception raised at that line (the last step of an uncaught exception's trace).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
"""Bumped on any incompatible change, including a new directive."""

STEP_EVENTS = frozenset({"line", "call", "exception"})
RENDERING_KINDS = frozenset({"markdown", "verbatim", "image", "link", "plot", "note"})

# Value nodes (see values.py) are plain JSON objects with a "kind" field; these are the kinds.
VALUE_KINDS = frozenset(
    {
        "none", "bool", "int", "float", "complex", "str", "bytes", "list", "tuple", "set",
        "frozenset", "dict", "tensor", "object", "function", "module", "type", "ref", "repr",
    }
)  # fmt: skip


@dataclass
class SourceFile:
    """One traced source file, embedded so a trace is viewable without the repo."""

    path: str
    """Path as shown to the reader, relative to the directory the lecture was run from."""
    sha256: str
    """Hex sha256 of the UTF-8 source text, to tell whether the source changed since tracing."""
    text: str
    """The whole source text."""
    hidden_lines: list[int] = field(default_factory=list)
    """1-based line numbers hidden by `@hide` (a hidden `def` hides its whole body)."""


@dataclass
class StackNode:
    """One caller frame; a stack is a node id whose `parent` chain leads to the outermost frame."""

    parent: int
    """Id (index in `Trace.stacks`) of the next-outer caller, or -1 for the outermost."""
    file: int
    """Index into `Trace.files`."""
    line: int
    """Line in that frame where the call was made."""
    function: str
    """Function name of that frame (`<module>` for module level)."""


@dataclass
class ExceptionInfo:
    """An exception raised while tracing."""

    type: str
    """Qualified type name, e.g. `ValueError`."""
    message: str
    """`str(exc)`."""
    traceback: str
    """Formatted traceback text."""


@dataclass
class Rendering:
    """Something the lecture showed the reader (source form; the viewer makes safe HTML of it)."""

    kind: str
    """One of RENDERING_KINDS."""
    text: str | None = None
    """markdown / verbatim / note: the source text; link: the label."""
    src: str | None = None
    """image: a data URL or a path relative to the trace file's directory."""
    url: str | None = None
    """link: the target URL (http/https) when it points outside."""
    code: dict[str, Any] | None = None
    """link to code: {"file": index into Trace.files, "line": int, "name": str}."""
    reference: dict[str, Any] | None = None
    """link to a paper or page: {title, authors, organization, date, url, description, notes}."""
    svg: str | None = None
    """plot: SVG text made by matplotlib (or the viewer renders `spec`)."""
    spec: dict[str, Any] | None = None
    """plot: a Vega-Lite-like spec, when not given as a figure."""
    width: int | None = None
    """image/plot: display width in CSS pixels."""
    style: dict[str, str] = field(default_factory=dict)
    """A few CSS properties (the viewer keeps only an allow-list)."""


@dataclass
class Step:
    """One step a reader can stop at."""

    file: int
    """Index into `Trace.files`."""
    line: int
    """1-based line number."""
    function: str
    """Name of the function executing the line."""
    frame: int
    """Id of the frame activation (unique per call, also per generator resumption's generator)."""
    stack: int = -1
    """Id in `Trace.stacks` of the caller chain (-1: no traced caller)."""
    event: str = "line"
    """One of STEP_EVENTS."""
    values: dict[str, Any] = field(default_factory=dict)
    """Inspected values of this frame that changed at this step: name -> value node."""
    cleared: list[str] = field(default_factory=list)
    """Inspected names of this frame that stop being shown at this step."""
    renderings: list[Rendering] = field(default_factory=list)
    """Renderings emitted while this line ran."""
    stdout: str = ""
    """Text printed to stdout while this line ran (and not during a deeper step)."""
    stderr: str = ""
    """Text printed to stderr likewise."""
    returned: Any = None
    """When this line returned from a frame with inspected names: a value node of the result."""
    exception: ExceptionInfo | None = None
    """For `exception` steps: what was raised."""


@dataclass
class OutlineEntry:
    """A section of the lecture: a function called from `main()`."""

    title: str
    """The section's title (the function's docstring line, else its name humanised)."""
    function: str
    """The function name."""
    step: int
    """Index of the section's first step."""
    line: int
    """Line of the call in `main()`."""
    comment: str = ""
    """The trailing comment of the call line in main(), if any."""


@dataclass
class Trace:
    """A whole traced lecture."""

    schema_version: int
    """SCHEMA_VERSION of the writer."""
    lecture: str
    """Path of the lecture file as given (relative to the run directory)."""
    title: str
    """Title: the lecture module docstring's first line, else the file stem."""
    created: str
    """ISO 8601 UTC time the trace was written."""
    python_version: str
    """`platform.python_version()` of the tracer."""
    torch_version: str | None
    """`torch.__version__` when the lecture imported torch, else None."""
    status: str
    """"ok", or "error" when the lecture raised (`exception` is set; the last step holds it)."""
    files: list[SourceFile]
    """Traced source files; index 0 is the lecture."""
    steps: list[Step]
    """All steps in execution order."""
    stacks: list[StackNode] = field(default_factory=list)
    """Interned caller chains referenced by `Step.stack`."""
    outline: list[OutlineEntry] = field(default_factory=list)
    """Sections called from main(), for a table of contents."""
    exception: ExceptionInfo | None = None
    """The uncaught exception that ended the lecture, if any."""
    duration_s: float = 0.0
    """Wall time of the traced run."""


_NESTED = {
    "files": SourceFile,
    "steps": Step,
    "stacks": StackNode,
    "outline": OutlineEntry,
    "renderings": Rendering,
}
_OPTIONAL_OBJECT = {"exception": ExceptionInfo}


def _check_type(value: Any, annotation: str, where: str) -> None:
    """Check a JSON value against the (string) annotation of a dataclass field."""
    base = annotation.replace(" | None", "")
    if value is None:
        if "None" in annotation or base == "Any":
            return
        raise ValueError(f"{where}: expected {base}, got null")
    expected: tuple[type, ...] = {
        "int": (int,),
        "float": (int, float),
        "str": (str,),
        "Any": (object,),
    }.get(base, ())
    if base.startswith("list"):
        expected = (list,)
    elif base.startswith("dict"):
        expected = (dict,)
    is_bool_as_number = base != "Any" and isinstance(value, bool)
    if expected and (not isinstance(value, expected) or is_bool_as_number):
        raise ValueError(f"{where}: expected {base}, got {type(value).__name__} {value!r:.60}")


def _build(cls: type, data: Any, where: str) -> Any:
    """Build dataclass `cls` from JSON `data`, validating field presence and types."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(
            f"{where}: unknown field {unknown[0]!r} (expected one of {sorted(fields)})"
        )
    for name, f in fields.items():
        path = f"{where}.{name}"
        if name not in data:
            has_default = f.default is not dataclasses.MISSING
            if not has_default and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{path}: missing required field")
            continue
        value = data[name]
        if name in _NESTED and isinstance(value, list):
            kwargs[name] = [_build(_NESTED[name], v, f"{path}[{i}]") for i, v in enumerate(value)]
            continue
        if name in _OPTIONAL_OBJECT and value is not None:
            kwargs[name] = _build(_OPTIONAL_OBJECT[name], value, path)
            continue
        _check_type(value, str(f.type), path)
        kwargs[name] = value
    return cls(**kwargs)


def _check_refs(trace: Trace) -> None:
    """Check cross references: file/stack indices, events, kinds, increasing outline steps."""
    num_files, num_stacks, num_steps = len(trace.files), len(trace.stacks), len(trace.steps)
    if num_files == 0:
        raise ValueError("trace.files: expected at least one file (the lecture)")
    for i, node in enumerate(trace.stacks):
        if not (0 <= node.file < num_files):
            raise ValueError(f"trace.stacks[{i}].file: {node.file!r} is not a file index")
        if not (-1 <= node.parent < i):
            raise ValueError(f"trace.stacks[{i}].parent: {node.parent!r} must be -1 or < {i}")
    for i, step in enumerate(trace.steps):
        where = f"trace.steps[{i}]"
        if not (0 <= step.file < num_files):
            raise ValueError(
                f"{where}.file: {step.file!r} is not a file index (0..{num_files - 1})"
            )
        if not (-1 <= step.stack < num_stacks):
            raise ValueError(f"{where}.stack: {step.stack!r} is not a stack id")
        if step.event not in STEP_EVENTS:
            raise ValueError(
                f"{where}.event: {step.event!r} (expected one of {sorted(STEP_EVENTS)})"
            )
        for j, r in enumerate(step.renderings):
            if r.kind not in RENDERING_KINDS:
                raise ValueError(
                    f"{where}.renderings[{j}].kind: {r.kind!r} "
                    f"(expected one of {sorted(RENDERING_KINDS)})"
                )
        for name, node in step.values.items():
            _check_value(node, f"{where}.values[{name!r}]")
    for i, entry in enumerate(trace.outline):
        if not (0 <= entry.step < max(num_steps, 1)):
            raise ValueError(f"trace.outline[{i}].step: {entry.step!r} is not a step index")
    if trace.status not in ("ok", "error"):
        raise ValueError(f"trace.status: {trace.status!r} (expected 'ok' or 'error')")
    if trace.status == "error" and trace.exception is None:
        raise ValueError("trace.exception: missing for a trace with status 'error'")


def _check_value(node: Any, where: str, depth: int = 0) -> None:
    """Check a value node's kind (shallowly past a few levels; values are display-only)."""
    if (
        not isinstance(node, dict)
        or not isinstance(node.get("kind"), str)
        or node["kind"] not in VALUE_KINDS
    ):
        raise ValueError(f"{where}: expected a value node with a known 'kind', got {node!r:.80}")
    value = node.get("value")
    if node["kind"] == "float" and isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: non-finite float must be encoded as a string")
    if depth < 3:
        for i, item in enumerate(node.get("items", []) if node["kind"] != "dict" else []):
            _check_value(item, f"{where}.items[{i}]", depth + 1)


def load_trace(data: Any) -> Trace:
    """Validate parsed JSON and build a Trace; raises ValueError naming the offending path."""
    if not isinstance(data, dict):
        raise ValueError(f"trace: expected a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"trace.schema_version: {version!r} (expected {SCHEMA_VERSION})")
    trace: Trace = _build(Trace, data, "trace")
    _check_refs(trace)
    return trace


def _drop_defaults(obj: Any) -> Any:
    """Dataclass -> dict without fields equal to their defaults (keeps traces small)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            if f.default_factory is not dataclasses.MISSING and value == f.default_factory():
                continue
            out[f.name] = _drop_defaults(value)
        return out
    if isinstance(obj, list):
        return [_drop_defaults(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _drop_defaults(v) for k, v in obj.items()}
    return obj


def dump_trace(trace: Trace) -> dict[str, Any]:
    """Trace -> JSON-ready dict, omitting defaulted fields (inverse of load_trace)."""
    out: dict[str, Any] = _drop_defaults(trace)
    # Required-with-None fields must survive default-dropping for the validator.
    out.setdefault("torch_version", trace.torch_version)
    return out


def stack_frames(trace: Trace, stack_id: int) -> list[StackNode]:
    """The caller frames of a stack id, outermost first."""
    frames: list[StackNode] = []
    while stack_id >= 0:
        node = trace.stacks[stack_id]
        frames.append(node)
        stack_id = node.parent
    return frames[::-1]
