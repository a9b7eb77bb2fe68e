"""CLI: `python -m lm.data pipeline --config FILE`, `python -m lm.data train-quality --out F`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _pipeline(config: str) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from lm.data.pipeline import load_config, run_pipeline

    cfg = load_config(config)
    if not Path(cfg.input).is_file():  # before the progress bar draws anything
        raise ValueError(f"{config}: input {cfg.input!r} is not a file")
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("documents", total=None)
        reports = run_pipeline(cfg, progress=lambda n: bar.advance(task, n))
    table = Table(title=f"{cfg.input} -> {cfg.output}")
    for col in ("stage", "in", "out", "removed", "details"):
        table.add_column(col)
    for r in reports:
        details = ", ".join(f"{k}={v}" for k, v in sorted(r.counts.items()))
        table.add_row(r.name, str(r.docs_in), str(r.docs_out), str(r.docs_in - r.docs_out), details)
    Console().print(table)
    return 0


def _train_quality(out: str, max_docs: int) -> int:
    from rich.console import Console

    from lm.data.quality_data import train_default_classifier

    clf, accuracy = train_default_classifier(max_docs=max_docs)
    clf.save(out)
    Console().print(f"wrote {out} (held-out accuracy {accuracy:.3f})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lm.data")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pipeline", help="run a YAML-configured pipeline")
    p.add_argument("--config", required=True)
    q = sub.add_parser("train-quality", help="train the quality classifier on the shipped corpora")
    q.add_argument("--out", required=True)
    q.add_argument("--max-docs", type=int, default=2000)
    args = parser.parse_args(argv)
    try:
        if args.command == "pipeline":
            return _pipeline(args.config)
        return _train_quality(args.out, args.max_docs)
    except (ValueError, OSError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the exception carried
        sys.stderr.write(f"error: {message}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
