"""Run a lecture under a `sys.settrace` hook and record its steps (format: execlecture/schema.py).

Only code objects from the lecture file or an `--include`d file are recorded: the global hook
decides once per code object (cached) and returns None for every other frame, so library code gets
no line events. Recorded frames get a `_Frame` whose bound `trace` method is the local hook; a
plain line costs one array append of (context id << LINE_BITS | line); the rest of a step sits in
a sparse `extras` dict, turned into JSON only when the trace is written (execlecture/tracefile.py).
Setting the process up for a run (cwd, sys.path, streams, sink) lives in execlecture/runner.py.

Comprehensions, generator expressions and lambdas (separate frames on 3.11) are transparent: their
work belongs to the line that runs them. Python 3.12's sys.monitoring is not used yet (TODO: the
project targets 3.11; a monitoring backend would let skipped frames run without the per-instruction
tracing check that settrace implies).
"""

from __future__ import annotations

import builtins
import dataclasses
import glob
import inspect
import json
import os
import sys
import traceback
import types
from array import array
from pathlib import Path
from typing import Any

from execlecture import runner
from execlecture.directives import DirectiveError, Directives, parse_directives
from execlecture.schema import Rendering
from execlecture.values import to_value

_INSTALLED_DIRS = frozenset({"site-packages", "dist-packages"})
_TRANSPARENT = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>", "<lambda>"})
_IMMUTABLE = (int, float, str, bool, bytes, type(None))
_NO_RETURN = object()
# Raised and caught by the interpreter itself when generators/coroutines finish or close.
_CONTROL_FLOW = frozenset({StopIteration, StopAsyncIteration, GeneratorExit})
_SUSPENDABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
LINE_BITS = 20
"""A step is stored as context id << LINE_BITS | line (lines below 2**20)."""
LINE_MASK = (1 << LINE_BITS) - 1
PENDING = "pending"
"""Key in a step's extras for the raw renderings and (stream, text) output of that step;
tracefile.expand_pending turns it into the schema's renderings/stdout/stderr."""


@dataclasses.dataclass
class _File:
    """A recorded source file."""

    index: int
    abs_path: str
    rel_path: str
    text: str
    directives: Directives


class _Code:
    """What the hook needs about one recorded code object."""

    __slots__ = ("file", "function", "directives", "special", "muting", "starts", "is_suspendable")

    def __init__(self, file: _File, function: str) -> None:
        self.file = file.index
        self.function = function
        self.directives = file.directives
        self.special = file.directives.special_lines
        # Calls made from these lines are not stepped into.
        self.muting = frozenset(file.directives.stepover | file.directives.hidden_lines)
        self.starts = file.directives.statement_start
        # Generators and coroutines: a 'return' event may be a suspension (yield/await).
        self.is_suspendable = False


class _Frame:
    """One recorded frame activation; `trace` is its local hook."""

    __slots__ = (
        "session", "code", "frame_id", "ctx", "line", "shown", "last", "tracer",
        "starts", "special", "step_append", "pending", "exc_id",
    )  # fmt: skip

    def __init__(self, session: TraceSession, code: _Code, frame_id: int) -> None:
        self.session = session
        self.code = code
        self.frame_id = frame_id
        self.ctx = -1
        self.line: int | None = None  # the line now running in this frame
        self.shown: dict[str, str] = {}  # inspected name -> JSON of the value last recorded
        self.last: dict[str, Any] = {}  # inspected name -> last immutable object (fast no-change)
        self.tracer = self.trace
        # Cached here so the per-line path does no chained attribute lookups.
        self.starts = code.starts
        self.special = code.special
        self.step_append = session.steps.append
        self.pending = session.pending
        self.exc_id = 0  # id() of the exception last recorded in this frame

    def trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        # subtle: this runs on every line of recorded code; keep the plain-line path minimal.
        if event == "line":
            new = frame.f_lineno
            if new in self.starts:  # a multi-line statement is one step, shown at its first line
                new = self.starts[new]
                if new == self.line:
                    return self.tracer
            line = self.line
            self.line = new
            if line is not None:
                if line in self.special:
                    self.session.record(self, frame, line, "line")
                elif self.pending:  # output or renderings only: keep them raw until writing
                    taken = self.pending[:]
                    # subtle: not clear(): another thread may print between the copy and here.
                    del self.pending[: len(taken)]
                    self.session.extras[len(self.session.steps)] = {PENDING: taken}
                    self.step_append(self.ctx | line)
                else:
                    self.step_append(self.ctx | line)
        elif event == "return":
            line, self.line = self.line, None
            if line is not None:
                self.session.record(self, frame, line, "line", arg, self.code.is_suspendable)
        elif event == "exception":
            if arg[0] is GeneratorExit:  # close(): the suspended line never finishes
                self.line = None
            elif arg[0] not in _CONTROL_FLOW:
                self.session.record_exception(self, frame, arg)
                self.line = None
        return self.tracer


def rendering_json(rendering: Rendering) -> dict[str, Any]:
    """A Rendering as a JSON dict without defaulted fields."""
    # subtle: no dataclasses.fields() loop: this runs for every text() call.
    out = {k: v for k, v in vars(rendering).items() if v is not None}
    if not rendering.style:
        del out["style"]
    return out


class TraceSession:
    """Traces one lecture run; also the render sink the api verbs write to."""

    def __init__(self, lecture: str | Path, includes: list[str] | tuple[str, ...] = (),
                 cwd: str | Path | None = None) -> None:  # fmt: skip
        self.cwd = Path(cwd or os.getcwd()).resolve()
        self.lecture_path = (self.cwd / lecture).resolve()
        self.files: list[_File] = []
        self.file_of: dict[str, _File | None] = {}  # co_filename -> recorded file or None
        # Files embedded only because link() points into them: shown, never recorded.
        self.linked_files: dict[str, _File] = {}
        self.codes: dict[types.CodeType, _Code | None] = {}
        self.hidden_codes: set[types.CodeType] = set()
        self.included = self._expand_includes(includes)
        self.ctxs: list[tuple[int, str, int, int]] = []  # (file, function, frame id, stack id)
        # One int per step: context id << LINE_BITS | line (one append on the hot path).
        self.steps = array("q")
        self.extras: dict[int, dict[str, Any]] = {}
        self.stacks: list[tuple[int, int, int, str]] = []  # (parent, file, line, function)
        self.stack_ids: dict[tuple[int, int, int, str], int] = {}
        self.outline: list[dict[str, Any]] = []
        # Renderings and (stream, text) pairs emitted since the last step; one list so that the
        # per-line path checks a single truthiness. Never rebound: _Frame and _Sink cache it.
        self.pending: list[Rendering | tuple[str, str]] = []
        # id() only: holding the exception would keep its traceback's frames (and locals) alive.
        self.last_exc_id = 0
        self.last_exc_step = -1
        self.next_frame = 0
        self.main_code: types.CodeType | None = None
        self.section_titles: dict[str, str] = {}
        self.warnings: list[str] = []
        self.exception: BaseException | None = None
        self.title = self.lecture_path.stem
        self.duration_s = 0.0

    @property
    def num_steps(self) -> int:
        return len(self.steps)

    # ---- files and code objects ---------------------------------------------------------------

    def _expand_includes(self, patterns: list[str] | tuple[str, ...]) -> set[str]:
        found: set[str] = set()
        for pattern in patterns:
            matches = glob.glob(pattern, root_dir=self.cwd, recursive=True)
            matches = [m for m in matches if m.endswith(".py")]
            if not matches:
                raise ValueError(
                    f"--include {pattern!r} matches no .py file (relative to {self.cwd})"
                )
            found.update(str((self.cwd / m).resolve()) for m in matches)
        errors = []
        for path in sorted(found):
            text = Path(path).read_text(encoding="utf-8")
            errors += parse_directives(
                text, Path(os.path.relpath(path, self.cwd)).as_posix()
            ).errors
        if errors:
            raise DirectiveError(errors)
        return found

    def add_file(self, abs_path: str, is_strict: bool = True, is_recorded: bool = True) -> _File:
        text = Path(abs_path).read_text(encoding="utf-8")
        rel = os.path.relpath(abs_path, self.cwd)
        if text.count("\n") >= LINE_MASK:
            raise ValueError(f"{rel!r} has more than {LINE_MASK} lines (the most a trace can step)")
        directives = parse_directives(text, Path(rel).as_posix())
        if directives.errors and is_strict:
            raise DirectiveError(directives.errors)
        entry = _File(len(self.files), abs_path, Path(rel).as_posix(), text, directives)
        self.files.append(entry)
        if is_recorded:
            self.file_of[abs_path] = entry
        else:
            self.linked_files[abs_path] = entry
        return entry

    def _file_for(self, filename: str) -> _File | None:
        if filename in self.file_of:
            return self.file_of[filename]
        abs_path = os.path.abspath(filename)
        entry = self.file_of.get(abs_path)
        if entry is None and abs_path in self.included:
            entry = self.add_file(abs_path)
        self.file_of[filename] = entry
        return entry

    def _classify(self, code: types.CodeType) -> _Code | None:
        """Decide once per code object whether its frames are recorded."""
        info: _Code | None = None
        file = self._file_for(code.co_filename)
        if file is not None and code.co_name not in _TRANSPARENT:
            if file.directives.is_hidden_code(code.co_firstlineno):
                self.hidden_codes.add(code)
            else:
                info = _Code(file, code.co_qualname)
                info.is_suspendable = bool(code.co_flags & _SUSPENDABLE)
        self.codes[code] = info
        return info

    def code_location(self, obj: Any) -> dict[str, Any] | None:
        """Where a function/class is defined, for link(): {"file", "line", "name"} or None."""
        import inspect

        try:
            target = inspect.unwrap(obj)
            path = inspect.getsourcefile(target)
            line = inspect.getsourcelines(target)[1]
        except (TypeError, OSError):
            return None
        if path is None:
            return None
        abs_path = os.path.abspath(path)
        if not abs_path.startswith(str(self.cwd) + os.sep):
            return None
        if _INSTALLED_DIRS & set(Path(abs_path).parts):  # a .venv inside the repo (make run)
            return None  # installed code: machine-specific, so a label only, never embedded
        entry = self.file_of.get(abs_path) or self.linked_files.get(abs_path)
        if entry is None and abs_path in self.included:
            entry = self._file_for(abs_path)
        if entry is None:  # shown as a link only: not recorded, and its directives do not matter
            entry = self.add_file(abs_path, is_strict=False, is_recorded=False)
            entry.directives = Directives()
        name = getattr(target, "__qualname__", getattr(target, "__name__", repr(target)))
        return {"file": entry.index, "line": line, "name": name}

    # ---- the hooks ------------------------------------------------------------------------------

    def _make_global_hook(self) -> Any:
        codes_get = self.codes.get
        classify = self._classify
        enter = self._enter

        def global_hook(frame: types.FrameType, event: str, arg: Any) -> Any:
            code = frame.f_code
            info = codes_get(code, False)
            if info is False:
                info = classify(code)
            assert info is not True
            if info is None:
                frame.f_trace_lines = False
                return None
            return enter(frame, info)

        return global_hook

    def _recorded_parent(self, frame: types.FrameType) -> tuple[_Frame | None, bool]:
        """(nearest recorded caller frame, whether the call must be skipped)."""
        f = frame.f_back
        while f is not None:
            hook = f.f_trace
            if type(hook) is types.MethodType and type(hook.__self__) is _Frame:
                parent: _Frame = hook.__self__
                if parent.session is self:
                    return parent, parent.line in parent.code.muting
            if f.f_code in self.hidden_codes:
                return None, True
            f = f.f_back
        return None, False

    def _enter(self, frame: types.FrameType, code: _Code) -> Any:
        parent, is_skipped = self._recorded_parent(frame)
        if is_skipped:
            frame.f_trace_lines = False
            return None
        hook = frame.f_trace
        resumed = hook.__self__ if type(hook) is types.MethodType else None
        is_resumed = type(resumed) is _Frame and resumed.session is self
        if isinstance(resumed, _Frame) and is_resumed:  # a generator resuming: same frame id
            state = resumed
            # subtle: a resume from a @stepover/@hide line turned line events off for this frame
            # (returning None from the global hook keeps the old f_trace): turn them back on.
            frame.f_trace_lines = True
        else:
            state = _Frame(self, code, self.next_frame)
            self.next_frame += 1
        stack = -1
        if parent is not None:
            pc = parent.code
            key = (self.ctxs[parent.ctx >> LINE_BITS][3], pc.file, parent.line or 0, pc.function)
            stack = self.stack_ids.get(key, -1)
            if stack == -1:
                stack = self.stack_ids[key] = len(self.stacks)
                self.stacks.append(key)
        state.ctx = len(self.ctxs) << LINE_BITS
        self.ctxs.append((code.file, code.function, state.frame_id, stack))
        if is_resumed:
            # The yield/await line was recorded when it suspended; it is recorded again when it
            # finishes (e.g. `x = yield` or `y = await f()` only assign after resuming).
            line = frame.f_lineno
            state.line = code.starts.get(line, line)
        elif parent is not None and parent.line is not None:
            self.record(parent, None, parent.line, "call")
            if frame.f_back is not None and frame.f_back.f_code is self.main_code:
                self._add_section(code, parent.line)
        return state.tracer

    def _add_section(self, code: _Code, line: int) -> None:
        comment = self.files[0].directives.comments.get(line, "")
        name = code.function.rsplit(".", 1)[-1]
        title = self.section_titles.get(name) or name.replace("_", " ").strip().capitalize()
        self.outline.append({"title": title, "function": name, "step": self.num_steps - 1,
                             "line": line, "comment": comment})  # fmt: skip

    def record(self, state: _Frame, frame: Any, line: int, event: str,
               returned: Any = _NO_RETURN, is_quiet: bool = False) -> None:  # fmt: skip
        """Record a step that needs more than (context, line): directives, output, events."""
        directives = state.code.directives
        if line in directives.hidden_lines:
            return
        index = len(self.steps)
        self.steps.append(state.ctx | line)
        extra: dict[str, Any] = {}
        if event != "line":
            extra["event"] = event
        if self.pending:
            taken = extra[PENDING] = self.pending[:]
            del self.pending[: len(taken)]  # not clear(): keeps what a thread printed meanwhile
        if event == "line":
            names = directives.inspect.get(line)
            if names:
                self._inspect(state, frame, names, line, extra, is_quiet)
            cleared = directives.clear.get(line)
            if cleared:
                extra["cleared"] = list(cleared)
                for name in cleared:
                    state.shown.pop(name, None)
                    state.last.pop(name, None)
            if returned is not _NO_RETURN and returned is not None and state.shown:
                extra["returned"] = to_value(returned)
        if extra:
            self.extras[index] = extra

    def _inspect(self, state: _Frame, frame: types.FrameType, names: tuple[str, ...], line: int,
                 extra: dict[str, Any], is_quiet: bool = False) -> None:  # fmt: skip
        """Serialize the inspected names whose value changed since this frame last showed them.

        `is_quiet`: a suspension (yield/await) where names assigned by that line are not set yet.
        """
        local_vars, global_vars = frame.f_locals, frame.f_globals
        for name in names:
            head, *attrs = name.split(".")
            try:
                if head in local_vars:
                    obj = local_vars[head]
                elif head in global_vars:
                    obj = global_vars[head]
                else:
                    obj = getattr(builtins, head)
                for attr in attrs:
                    obj = getattr(obj, attr)
            except Exception:  # AttributeError, or a property that raises
                if not is_quiet:
                    where = f"{self.files[state.code.file].rel_path}:{line}"
                    message = f"'@inspect {name}' at {where}: {name!r} is not defined there"
                    if message not in self.warnings:  # once, not once per loop iteration
                        self.warnings.append(message)
                continue
            if type(obj) in _IMMUTABLE and state.last.get(name, _NO_RETURN) is obj:
                continue
            node = to_value(obj)
            encoded = json.dumps(node, sort_keys=True)
            if state.shown.get(name) == encoded:
                continue
            state.shown[name] = encoded
            if type(obj) in _IMMUTABLE:
                state.last[name] = obj
            extra.setdefault("values", {})[name] = node

    def record_exception(self, state: _Frame, frame: types.FrameType, arg: Any) -> None:
        """An exception step where an exception is raised or first reaches recorded code."""
        exc, tb = arg[1], arg[2]
        if tb is not None and self._is_recorded_deeper(id(exc), tb.tb_next, frame):
            return  # already recorded deeper; it is propagating
        if state.line is None or state.line in state.code.directives.hidden_lines:
            return
        self.last_exc_id = state.exc_id = id(exc)
        stack = runner.lecture_frames(traceback.extract_stack(frame))
        self.record(state, frame, state.line, "exception")
        index = len(self.steps) - 1
        self.extras.setdefault(index, {"event": "exception"})["exception"] = dataclasses.asdict(
            runner.exception_info(exc, stack)
        )
        self.last_exc_step = index

    def _is_recorded_deeper(
        self, exc_id: int, tb: types.TracebackType | None, frame: types.FrameType
    ) -> bool:
        """Whether a frame deeper in this traceback already recorded the exception `exc_id`.

        Entries of `frame` itself are older raises of the same object (`raise err` again): a new
        raise, recorded again.

        subtle: not "id(exc) equals the last recorded id": a caught exception is freed and the
        next one (say, raised again by the same library call in a loop) often gets its address.
        The frames in a live traceback are alive, so their recorded ids cannot be stale that way.
        """
        while tb is not None:
            if tb.tb_frame is frame:
                tb = tb.tb_next
                continue
            hook = tb.tb_frame.f_trace
            if type(hook) is types.MethodType and type(hook.__self__) is _Frame:
                state: _Frame = hook.__self__
                if state.session is self and state.exc_id == exc_id:
                    return True
            tb = tb.tb_next
        return False

    # ---- running (process set-up lives in execlecture/runner.py) -------------------------------

    def prepare(self) -> tuple[types.CodeType, str]:
        """Read, compile and check the lecture; raises ValueError for bad input (nothing runs)."""
        return runner.prepare(self)

    def run(self) -> None:
        """Run the lecture's module body, then main() under the hook; exceptions are recorded."""
        runner.run_session(self)
        self._flush_pending()
        self._finish_exception()

    def _flush_pending(self) -> None:
        """Attach output and renderings emitted after the last step (e.g. on hidden last lines)."""
        if not self.pending or not self.num_steps:
            return
        extra = self.extras.setdefault(self.num_steps - 1, {})
        extra.setdefault(PENDING, []).extend(self.pending)
        self.pending.clear()

    def hook_main(self, main: Any) -> None:
        """Call the lecture's main() with the hook installed; the previous hook is restored."""
        self.main_code = main.__code__
        previous = sys.gettrace()
        hook = self._make_global_hook()
        sys.settrace(hook)
        try:
            main()
        finally:
            is_dropped = sys.gettrace() is not hook
            sys.settrace(previous)
            if is_dropped:
                self._warn_hook_dropped()

    def _warn_hook_dropped(self) -> None:
        """Say that steps are missing: CPython removes a trace hook that raises.

        subtle: near the recursion limit the call into the hook itself raises RecursionError, so
        a RecursionError in traced code (or a lecture calling sys.settrace) ends the recording.
        TODO: sys.monitoring (3.12+) would let the tracer survive; settrace on 3.11 cannot.
        """
        lecture = self.files[0].rel_path if self.files else str(self.lecture_path)
        self.warnings.append(
            f"tracing of {lecture} stopped after step {self.num_steps - 1}: the trace hook was "
            "removed (a RecursionError in traced code, or the lecture called sys.settrace); "
            "later steps are missing"
        )

    def _finish_exception(self) -> None:
        """Make sure an uncaught exception is the last step, with its full traceback."""
        exc = self.exception
        if exc is None:
            return
        info = dataclasses.asdict(runner.exception_info(exc))
        last = self.num_steps - 1
        if id(exc) == self.last_exc_id and self.last_exc_step == last >= 0:
            self.extras[last]["exception"] = info
            return
        ctx = self.steps[last] >> LINE_BITS if last >= 0 else -1
        file, function = (self.ctxs[ctx][0], self.ctxs[ctx][1]) if ctx >= 0 else (0, "<module>")
        wanted = self.files[file].abs_path
        line = 0
        tb = exc.__traceback__
        while tb is not None:  # the outermost traceback entry of the last step's function
            code = tb.tb_frame.f_code
            if os.path.abspath(code.co_filename) == wanted and (
                code.co_qualname == function or (function == "<module>" and not line)
            ):
                line = tb.tb_lineno
                if function != "<module>":
                    break
            tb = tb.tb_next
        line = line or (self.steps[last] & LINE_MASK) if last >= 0 else line or 1
        if ctx < 0:
            ctx = len(self.ctxs)
            self.ctxs.append((0, "<module>", self.next_frame, -1))
            self.next_frame += 1
        self.steps.append(ctx << LINE_BITS | line)
        self.extras[self.num_steps - 1] = {"event": "exception", "exception": info}
        self.last_exc_step = self.num_steps - 1
