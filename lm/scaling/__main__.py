"""CLI: `python -m lm.scaling sweep [--out FILE]` trains the grid (cached) and prints the fits;
`python -m lm.scaling fit --table FILE.csv` fits a given (N, D, loss) table, e.g. published runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "lectures" / "data" / "scaling_sweep.json"


def _print_fits(runs: list, num_bootstrap: int) -> None:
    """IsoFLOP (approach 2) and parametric (approach 3) fits with bootstrap intervals."""
    from rich.console import Console

    from lm.scaling.fit import fit_isoflops, fit_parametric

    console = Console()
    try:
        iso = fit_isoflops(runs, num_bootstrap=num_bootstrap)
    except ValueError as exc:  # a table without IsoFLOP slices can still get approach 3
        console.print(f"IsoFLOP: skipped ({exc})")
    else:
        low, high = iso.params_law.exponent_interval
        console.print(
            f"IsoFLOP: N_opt ~ C^{iso.params_law.exponent:.3f} (95% CI {low:.3f}..{high:.3f}), "
            f"D_opt ~ C^{iso.tokens_law.exponent:.3f} over {len(iso.budgets)} budgets"
        )
    par = fit_parametric(runs, num_bootstrap=num_bootstrap)
    console.print(
        f"Parametric: E={par.E:.3f} A={par.A:.4g} B={par.B:.4g} "
        f"alpha={par.alpha:.2f} ({par.alpha_interval[0]:.3f}..{par.alpha_interval[1]:.3f}) "
        f"beta={par.beta:.2f} ({par.beta_interval[0]:.3f}..{par.beta_interval[1]:.3f})"
    )


def _sweep(out: Path, num_bootstrap: int) -> int:
    from rich.console import Console
    from rich.table import Table

    from lm.datafiles import data_path
    from lm.scaling.sweep import default_grid, records_to_runs, run_sweep

    console = Console()

    def progress(point, record) -> None:
        console.print(
            f"{point.key}: N={record['num_params']:,} D={record['num_tokens']:,} "
            f"loss={record['loss']:.3f} ({record['seconds']:.1f} s)"
        )

    records = run_sweep(default_grid(), data_path("ts_2MiB.txt"), out, progress)
    table = Table("d_model", "compute", "N", "D", "loss")
    for r in records:
        table.add_row(
            str(r["d_model"]),
            f"{r['compute']:.0e}",
            f"{r['num_params']:,}",
            f"{r['num_tokens']:,}",
            f"{r['loss']:.3f}",
        )
    console.print(table)
    _print_fits(records_to_runs(records), num_bootstrap)
    return 0


def _fit_table(table: Path, num_bootstrap: int) -> int:
    from rich.console import Console

    from lm.scaling.table import read_runs_csv

    runs = read_runs_csv(table)
    Console().print(f"{table}: {len(runs)} runs")
    _print_fits(runs, num_bootstrap)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with a one-line message for bad input)."""
    parser = argparse.ArgumentParser(prog="python -m lm.scaling")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sweep", help="train the default grid (cached) and fit it")
    s.add_argument("--out", type=Path, default=DEFAULT_CACHE, help="cache/results JSON")
    f = sub.add_parser("fit", help="fit a CSV table of runs (header: N,D,loss)")
    f.add_argument("--table", type=Path, required=True)
    for p in (s, f):
        p.add_argument("--bootstrap", type=int, default=20, help="bootstrap resamples")
    args = parser.parse_args(argv)
    try:
        if args.command == "sweep":
            return _sweep(args.out, args.bootstrap)
        return _fit_table(args.table, args.bootstrap)
    except (ValueError, OSError) as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"error: {message}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
