"""GPT-2's vocabulary and merges files: bytes written as printable characters.

GPT-2 (https://github.com/openai/gpt-2/blob/master/src/encoder.py) stores each token's bytes as a
string of printable code points (byte 32 " " -> "Ġ", printable ASCII maps to itself), so that
`vocab.json` is plain JSON and each `merges.txt` line is two space-separated tokens.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lm.atomic_file import write_text_atomic

MERGES_HEADER = "#version: 0.2"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table: 33 -> "!", 32 -> "Ġ", 0 -> "Ā"."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)  # unprintable bytes get the code points after 255
            extra += 1
    return table


_BYTE_TO_CHAR = bytes_to_unicode()
_CHAR_TO_BYTE = {c: b for b, c in _BYTE_TO_CHAR.items()}


def token_to_printable(token: bytes) -> str:
    """b" the" -> "Ġthe"."""
    return "".join(_BYTE_TO_CHAR[b] for b in token)


def printable_to_token(text: str, where: str) -> bytes:
    """ "Ġthe" -> b" the"; `where` names the file and line for the error message."""
    try:
        return bytes(_CHAR_TO_BYTE[c] for c in text)
    except KeyError as e:
        raise ValueError(
            f"{where}: token {text!r} has character {e.args[0]!r} outside GPT-2's byte mapping"
        ) from None


def read_vocab(path: str | os.PathLike[str]) -> dict[int, bytes]:
    """Read `{"Ġthe": 262, ...}` into {262: b" the", ...}."""
    path = Path(path)
    text = _read_text(path)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: vocab file is not valid JSON ({e.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError(
            f"{path}: vocab must be a JSON object token -> id, got {type(raw).__name__}"
        )
    vocab: dict[int, bytes] = {}
    for token, token_id in raw.items():
        if not isinstance(token_id, int) or isinstance(token_id, bool) or token_id < 0:
            raise ValueError(f"{path}: id {token_id!r} of token {token!r} is not an int >= 0")
        if token_id in vocab:
            raise ValueError(f"{path}: id {token_id!r} is used twice (token {token!r})")
        vocab[token_id] = printable_to_token(token, f"{path} (token for id {token_id})")
    return vocab


def read_merges(path: str | os.PathLike[str]) -> list[tuple[bytes, bytes]]:
    """Read lines "Ġ t" into [(b" ", b"t"), ...], skipping the "#version" header and blank lines."""
    path = Path(path)
    merges = []
    for lineno, line in enumerate(_read_text(path).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line or (lineno == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ValueError(
                f"{path}:{lineno}: merge line {line!r} is not two space-separated tokens"
            )
        where = f"{path}:{lineno}"
        merges.append((printable_to_token(parts[0], where), printable_to_token(parts[1], where)))
    return merges


def write_vocab(path: str | os.PathLike[str], vocab: dict[int, bytes]) -> None:
    """Write {id: bytes} as GPT-2's `vocab.json` (atomically)."""
    data = {token_to_printable(token): i for i, token in sorted(vocab.items())}
    write_text_atomic(Path(path), json.dumps(data, ensure_ascii=False))


def write_merges(path: str | os.PathLike[str], merges: list[tuple[bytes, bytes]]) -> None:
    """Write merges as GPT-2's `merges.txt` (atomically)."""
    lines = [MERGES_HEADER]
    lines += [f"{token_to_printable(a)} {token_to_printable(b)}" for a, b in merges]
    write_text_atomic(Path(path), "\n".join(lines) + "\n")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"file {str(path)!r} does not exist") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 at byte {e.start} ({e.reason})") from None
