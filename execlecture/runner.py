"""Run a lecture file for a TraceSession: compile and check it, set the process up, run it.

The tracer (execlecture/tracer.py) owns the hooks and the recorded steps; this module owns what
surrounds a run: the lecture's folder as cwd and on sys.path (plus the invocation folder, so
`import lm` works), its own module object, stdout/stderr tees, the render sink, and restoring all
of it afterwards. Exceptions are kept on the session, never raised, except KeyboardInterrupt.
"""

from __future__ import annotations

import ast
import io
import os
import sys
import time
import traceback
import types
from typing import TYPE_CHECKING, Any

from execlecture import api, execute_util
from execlecture.schema import ExceptionInfo

if TYPE_CHECKING:
    from execlecture.tracer import TraceSession

SHIM_MODULE_NAMES = ("execute_util", "edtrace")
"""Module names older lectures import their render verbs from (execlecture/execute_util.py)."""
# Frames of these files (the run and the hook) are cut from the tracebacks a reader sees.
_RUN_FILES = frozenset({__file__, os.path.join(os.path.dirname(__file__), "tracer.py")})


class _Sink:
    """The render sink given to execlecture.api: `emit` is a bound list.append (no Python frame)."""

    __slots__ = ("emit", "code_location")

    def __init__(self, session: TraceSession) -> None:
        self.emit = session.pending.append
        self.code_location = session.code_location


class _Tee(io.TextIOBase):
    """Passes writes through to a stream and also keeps them for the current step."""

    def __init__(self, target: Any, session: TraceSession, key: str) -> None:
        self.target = target
        self.session = session
        self.key = key

    def write(self, s: str) -> int:
        self.target.write(s)
        if s:
            self.session.pending.append((self.key, s))
        return len(s)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return bool(self.target.isatty())

    def __getattr__(self, name: str) -> Any:  # buffer, errors, ...: the real stream's
        return getattr(self.target, name)

    def fileno(self) -> int:
        return int(self.target.fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.target, "encoding", "utf-8"))


def lecture_frames(stack: list[traceback.FrameSummary]) -> list[traceback.FrameSummary]:
    """The frames from main() inwards: drop the runner (pytest, the CLI, this module) above it."""
    runner = [i for i, f in enumerate(stack) if f.filename in _RUN_FILES]
    return stack[runner[-1] + 1 :] if runner else stack


def exception_info(
    exc: BaseException, stack: list[traceback.FrameSummary] | None = None
) -> ExceptionInfo:
    """Type, message and a traceback without the tracer's own frames."""
    cls = type(exc)
    name = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    if stack is None:
        stack = list(traceback.extract_tb(exc.__traceback__))
    stack = lecture_frames(stack)
    text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(stack))
    text += "".join(traceback.format_exception_only(cls, exc))
    return ExceptionInfo(type=name, message=str(exc), traceback=text)


def prepare(session: TraceSession) -> tuple[types.CodeType, str]:
    """Read, compile and check the lecture; raises ValueError for bad input (nothing runs)."""
    path = session.lecture_path
    if not path.is_file():
        raise ValueError(f"no lecture file {str(path)!r} (expected a .py file)")
    text = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text, filename=str(path))
        code = compile(tree, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        rel = os.path.relpath(path, session.cwd)
        raise ValueError(f"syntax error at {rel}:{exc.lineno}: {exc.msg}") from None
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    if "main" not in functions:
        rel = os.path.relpath(path, session.cwd)
        raise ValueError(f"lecture {rel!r} has no top-level main() function (expected the outline)")
    for name, node in functions.items():
        doc = ast.get_docstring(node)
        if doc:
            session.section_titles[name] = doc.strip().splitlines()[0]
    doc = ast.get_docstring(tree)
    if doc:
        session.title = doc.strip().splitlines()[0]
    session.add_file(str(path))
    return code, text


def run_session(session: TraceSession) -> None:
    """Run the lecture with the process set up for it: cwd, sys.path, argv, streams, sink."""
    code, _ = prepare(session)
    saved_path, saved_cwd, saved_argv = list(sys.path), os.getcwd(), sys.argv
    name = session.lecture_path.stem
    if name in sys.modules:
        # subtle: a lecture named tokenize.py or profile.py must not replace the stdlib module
        # every `import tokenize` in the process sees while it runs; it gets a name of its own.
        name = f"{name}__lecture"
    saved_module = sys.modules.get(name)
    saved_shims = {shim: sys.modules.get(shim) for shim in SHIM_MODULE_NAMES}
    saved_names = set(sys.modules)
    module = types.ModuleType(name)
    module.__file__ = str(session.lecture_path)
    saved_streams = sys.stdout, sys.stderr
    token = api.set_sink(_Sink(session))
    start = time.perf_counter()
    try:
        os.chdir(session.lecture_path.parent)
        sys.path[:0] = [str(session.lecture_path.parent), str(session.cwd)]
        sys.argv = [str(session.lecture_path)]
        sys.modules[name] = module
        # Older lectures import execute_util: ours wins over a copy in the lecture folder.
        sys.modules.update(dict.fromkeys(SHIM_MODULE_NAMES, execute_util))
        sys.stdout = _Tee(saved_streams[0], session, "stdout")
        sys.stderr = _Tee(saved_streams[1], session, "stderr")
        _run_module(session, code, module)
    finally:
        session.duration_s = time.perf_counter() - start
        sys.stdout, sys.stderr = saved_streams
        api.reset_sink(token)
        sys.path[:] = saved_path
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        if saved_module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved_module
        _restore_modules(session, saved_shims, saved_names)


def _restore_modules(
    session: TraceSession, saved_shims: dict[str, Any], saved_names: set[str]
) -> None:
    """Undo the shims, and forget helper modules imported from the lecture's folder."""
    for shim, previous in saved_shims.items():
        if previous is None:
            sys.modules.pop(shim, None)
        else:
            sys.modules[shim] = previous
    folder = str(session.lecture_path.parent) + os.sep
    for added in set(sys.modules) - saved_names:
        path = getattr(sys.modules[added], "__file__", None) or ""
        if path.startswith(folder):
            del sys.modules[added]


def _run_module(session: TraceSession, code: types.CodeType, module: types.ModuleType) -> None:
    try:
        exec(code, module.__dict__)
        session.hook_main(module.__dict__["main"])
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        if exc.code not in (None, 0):
            session.exception = exc
    except Exception as exc:
        session.exception = exc
