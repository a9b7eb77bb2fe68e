"""Read a table of training runs (N params, D tokens, loss) from CSV, e.g. published numbers.

The header names the columns; common spellings are accepted (N / num_params / "Model Size",
D / num_tokens / "Training Tokens", loss), so tables copied from papers (or Besiroglu+ 2024's
Chinchilla replication data, arxiv.org/abs/2404.10102) load as they are.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from lm.scaling.fit import Run

COLUMN_NAMES = {
    "num_params": ("n", "num_params", "params", "parameters", "model size", "model_size"),
    "num_tokens": ("d", "num_tokens", "tokens", "training tokens", "training_tokens"),
    "loss": ("loss", "l", "final loss", "final_loss"),
}


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    """Field -> column: `["N", "D", "loss"] -> {"num_params": 0, "num_tokens": 1, "loss": 2}`."""
    names = [h.strip().lower() for h in header]
    found = {}
    for field, spellings in COLUMN_NAMES.items():
        matches = [i for i, name in enumerate(names) if name in spellings]
        if not matches:
            raise ValueError(
                f"{path}: no column for {field} in header {header!r} (expected one of {spellings})"
            )
        found[field] = matches[0]
    return found


def read_runs_csv(path: str | Path) -> list[Run]:
    """Runs from a CSV with a header: `"N,D,loss\\n1e6,2e7,3.1" -> [Run(1e6, 2e7, 3.1)]`."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path}: empty file (expected a header such as N,D,loss)")
    columns = _columns(path, rows[0])
    runs = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(rows[0]):
            raise ValueError(f"{path}: line {line}: expected {len(rows[0])} values, got {row!r}")
        values = {}
        for field, i in columns.items():
            try:
                values[field] = float(row[i])
            except ValueError:
                raise ValueError(
                    f"{path}: line {line}: {field} = {row[i]!r} (expected a number)"
                ) from None
            if not (math.isfinite(values[field]) and values[field] > 0):
                raise ValueError(
                    f"{path}: line {line}: {field} = {row[i]!r} (expected a positive number)"
                )
        runs.append(Run(**values))
    if not runs:
        raise ValueError(f"{path}: no data rows after the header")
    return runs
