"""CLI: train a byte-level BPE tokenizer on a file, or encode a file into a .npy of token ids.

python -m lm.tokenizer train --input FILE --vocab-size N [--special-token T]... --out DIR
python -m lm.tokenizer encode --tokenizer DIR --input FILE --out FILE.npy
python -m lm.tokenizer native   # build the C encoder now; say where it is or why it cannot be
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lm.tokenizer", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="learn BPE merges from a UTF-8 text file")
    train.add_argument("--input", required=True, help="UTF-8 text file")
    train.add_argument("--vocab-size", required=True, type=int, help="256 + specials + merges")
    train.add_argument(
        "--special-token", action="append", default=[], help="e.g. '<|endoftext|>' (repeatable)"
    )
    train.add_argument("--out", required=True, help="directory for vocab.json and merges.txt")
    train.add_argument("--workers", type=int, default=2, help="pre-tokenization processes")
    encode = commands.add_parser("encode", help="encode a text file into a .npy of ids")
    encode.add_argument("--tokenizer", required=True, help="directory written by `train`")
    encode.add_argument("--input", required=True, help="UTF-8 text file")
    encode.add_argument("--out", required=True, help="output .npy (uint16 when the ids fit)")
    encode.add_argument("--workers", type=int, default=2, help="encoding workers")
    commands.add_parser("native", help="build the native encoding engine and report where it is")
    return parser


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:>14}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
    )


def _train(args: argparse.Namespace, console: Console) -> None:
    from lm.tokenizer import Tokenizer, train_bpe

    start = time.perf_counter()
    with _progress(console) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        vocab, merges = train_bpe(
            args.input,
            args.vocab_size,
            args.special_token,
            num_workers=args.workers,
            progress=report,
        )
    Tokenizer(vocab, merges, args.special_token).save(args.out)
    console.print(
        f"trained {len(vocab):,} tokens ({len(merges):,} merges) in "
        f"{time.perf_counter() - start:.2f} s -> {args.out}",
        soft_wrap=True,
    )


def _encode(args: argparse.Namespace, console: Console) -> None:
    from lm.tokenizer.bpe import Tokenizer
    from lm.tokenizer.parallel_encode import encode_file

    start = time.perf_counter()
    tokenizer = Tokenizer.load(args.tokenizer)
    if not Path(args.input).is_file():
        raise ValueError(f"encode: input file {args.input!r} does not exist")
    with _progress(console) as bar:
        task = bar.add_task("encode (bytes)", total=Path(args.input).stat().st_size)
        num_ids = encode_file(
            tokenizer,
            args.input,
            args.out,
            num_workers=args.workers,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"wrote {num_ids:,} ids in {time.perf_counter() - start:.2f} s -> {args.out}",
        soft_wrap=True,
    )


def _native(args: argparse.Namespace, console: Console) -> None:
    from lm.tokenizer import native

    path = native.library_path()
    existed = path.exists()
    native.library()  # builds it if needed; raises NativeUnavailable with the reason
    state = "already built" if existed else "built"
    console.print(f"native tokenizer engine {state}: {path}", soft_wrap=True, highlight=False)


_COMMANDS = {"train": _train, "encode": _encode, "native": _native}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input is reported on stderr with exit status 2, no native engine with 3."""
    from lm.tokenizer.native import NativeUnavailable

    args = _parser().parse_args(argv)
    console = Console(stderr=True)
    try:
        _COMMANDS[args.command](args, console)
    except (ValueError, NativeUnavailable) as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True, highlight=False)
        return 3 if isinstance(e, NativeUnavailable) else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
