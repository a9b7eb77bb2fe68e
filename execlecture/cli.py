"""The `execlecture` command: run, check, validate, new, serve, build.

Bad input (missing lecture, syntax error, no main(), unwritable or source-file output) is a
one-line error and exit code 2, with no partial files. A lecture that raises still gets its trace
written, and the command exits 1. `serve` and `build` import the viewer lazily (the only edge
into viewer/).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from execlecture.directives import check_file
from execlecture.schema import load_trace
from execlecture.tracefile import encode_trace, is_current, write_atomic
from execlecture.tracer import TraceSession

EXIT_BAD_INPUT = 2
EXIT_LECTURE_RAISED = 1
_LECTURE_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


class UsageError(ValueError):
    """Bad command-line input (exit code 2)."""


def _console() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def _check_output(out: Path, lecture: Path, included: set[str]) -> None:
    """Refuse outputs that would clobber a source file or cannot be written."""
    resolved = out.resolve()
    if resolved == lecture.resolve() or out.suffix == ".py" or str(resolved) in included:
        raise UsageError(f"output {str(out)!r} is a source file (expected a .json trace path)")
    if resolved.is_dir():
        raise UsageError(f"output {str(out)!r} is a directory (expected a .json trace path)")
    if out.suffix != ".json":  # e.g. -o README.md would replace it with trace JSON
        raise UsageError(f"output {str(out)!r} does not end in .json (expected a trace path)")
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(
            f"output {str(out)!r} is not writable (no write access to {str(parent)!r})"
        )


def _run_with_progress(session: TraceSession, console: Console) -> None:
    """Run the session, showing a live step count on a terminal."""
    if not console.is_terminal:
        session.run()
        return
    done = threading.Event()
    label = session.lecture_path.name

    def show() -> None:
        while not done.wait(0.25):
            console.print(f"[dim]tracing {label}: {session.num_steps:,} steps[/]", end="\r")

    thread = threading.Thread(target=show, daemon=True)
    thread.start()
    try:
        session.run()
    finally:
        done.set()
        thread.join()
        console.print(" " * 60, end="\r")  # clear the progress line


def cmd_run(args: argparse.Namespace) -> int:
    console = _console()
    lecture = Path(args.lecture)
    out = Path(args.output) if args.output else Path("traces") / f"{lecture.stem}.json"
    session = TraceSession(lecture, args.include)
    if args.if_stale and out.exists():
        cwd = session.cwd

        def rel(path: str | Path) -> str:
            return Path(os.path.relpath(path, cwd)).as_posix()

        included = {rel(path) for path in session.included}
        if is_current(out, cwd, rel(session.lecture_path), included):
            console.print(f"{out} is up to date")
            return 0
    _check_output(out, session.lecture_path, session.included)
    _run_with_progress(session, console)
    try:
        size = write_atomic(out, encode_trace(session))
    except OSError as error:
        raise UsageError(f"cannot write trace {str(out)!r}: {error.strerror or error}") from None
    for warning in session.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    summary = f"{session.num_steps:,} steps, {size / 1024:,.0f} KiB, {session.duration_s:.1f} s"
    if session.exception is not None:
        raised = session.exception
        console.print(
            f"[red]lecture raised[/] {escape(f'{type(raised).__name__}: {raised}')} "
            f"(trace written: {out}, {summary})"
        )
        return EXIT_LECTURE_RAISED
    console.print(f"wrote {out} ({summary})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    console = _console()
    num_errors = 0
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"no such file {name!r} (expected a Python source file)")
        errors = check_file(name, path.read_text(encoding="utf-8"))
        for error in errors:
            console.print(error, markup=False)
        num_errors += len(errors)
        if not errors:
            console.print(f"{name}: ok")
    return 1 if num_errors else 0


def cmd_validate(args: argparse.Namespace) -> int:
    console = _console()
    is_ok = True
    for name in args.traces:
        try:
            data = json.loads(Path(name).read_text(encoding="utf-8"))
            trace = load_trace(data)
        except OSError as exc:
            raise UsageError(f"cannot read trace {name!r}: {exc.strerror}") from None
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError too
            console.print(f"{name}: invalid: {exc}", markup=False)
            is_ok = False
            continue
        console.print(f"{name}: ok ({len(trace.steps)} steps, {len(trace.files)} files)")
    return 0 if is_ok else 1


def cmd_new(args: argparse.Namespace) -> int:
    if not _LECTURE_NAME.match(args.name):
        raise UsageError(f"lecture name {args.name!r} (expected lowercase letters, digits, _)")
    path = Path(args.dir) / f"{args.name}.py"
    if path.exists():
        raise UsageError(f"{str(path)!r} already exists (refusing to overwrite)")
    template = (
        resources.files("execlecture").joinpath("templates/lecture.py.tmpl").read_text("utf-8")
    )
    try:
        write_atomic(path, template.replace("{title}", args.name.replace("_", " ").capitalize()))
    except OSError as error:
        raise UsageError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
    _console().print(f"wrote {path}: trace it with `execlecture run {path}`")
    return 0


def cmd_import_trace(args: argparse.Namespace) -> int:
    from execlecture.legacy_trace import import_legacy_json

    source = Path(args.old)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read old trace {args.old!r}: {exc.strerror}") from None
    try:
        data = import_legacy_json(text, lecture=source.stem + ".py")
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deeply
        raise UsageError(f"{args.old}: {exc}") from None
    out = Path(args.output) if args.output else Path("traces") / f"{source.stem}.json"
    if out.resolve() == source.resolve():
        raise UsageError(f"output {str(out)!r} would overwrite the old trace (pass -o NEW.json)")
    _check_output(out, source, set())
    try:
        write_atomic(out, json.dumps(data, ensure_ascii=False, allow_nan=False))
    except OSError as error:
        raise UsageError(f"cannot write trace {str(out)!r}: {error.strerror or error}") from None
    _console().print(f"wrote {out} ({len(data['steps'])} steps) from {source}")
    return 0


def _viewer(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            f"the viewer is not available ({module} failed to import: {exc})"
        ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    server = _viewer("viewer.server")
    server.serve(Path(args.trace_dir), args.host, args.port, args.watch)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    build = _viewer("viewer.build")
    build.build_site(Path(args.trace_dir), Path(args.output))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="execlecture", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="trace a lecture into a JSON trace")
    run.add_argument("lecture", help="the lecture .py file")
    run.add_argument("-o", "--output", help="trace path (default traces/<stem>.json)")
    run.add_argument("--include", action="append", default=[], metavar="GLOB",
                     help="also record lines of files matching this glob (repeatable)")  # fmt: skip
    run.add_argument(
        "--if-stale",
        action="store_true",
        help="skip when the trace is of this lecture, recorded with the same --include files, "
        "ran without error, and its sources are unchanged",
    )
    run.set_defaults(func=cmd_run)
    check = sub.add_parser("check", help="report directive and syntax errors without running")
    check.add_argument("files", nargs="+")
    check.set_defaults(func=cmd_check)
    validate = sub.add_parser("validate", help="check traces against the schema")
    validate.add_argument("traces", nargs="+")
    validate.set_defaults(func=cmd_validate)
    new = sub.add_parser("new", help="scaffold lectures/NAME.py from a template")
    new.add_argument("name")
    new.add_argument("--dir", default="lectures", help="folder for the new lecture")
    new.set_defaults(func=cmd_new)
    serve = sub.add_parser("serve", help="serve the viewer over a trace folder")
    serve.add_argument("trace_dir", nargs="?", default="traces")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--watch", action="store_true", help="reload when traces change")
    serve.set_defaults(func=cmd_serve)
    build = sub.add_parser("build", help="write a static site for a trace folder")
    build.add_argument("trace_dir", nargs="?", default="traces")
    build.add_argument("-o", "--output", default="site")
    build.set_defaults(func=cmd_build)
    old = sub.add_parser("import-trace", help="convert a trace of the older execute.py tracer")
    old.add_argument("old", help="the old trace JSON")
    old.add_argument("-o", "--output", help="new trace path (default traces/<stem>.json)")
    old.set_defaults(func=cmd_import_trace)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `execlecture` console script."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ValueError as exc:  # UsageError, DirectiveError, bad lecture
        _console().print(f"[red]error:[/] {escape(str(exc))}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _console().print("interrupted (no trace written)")
        return 130
    return code
