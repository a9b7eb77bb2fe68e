"""CLI: `python -m lm.scaling sweep [--out FILE]` trains the grid (cached) and prints the fits."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "lectures" / "data" / "scaling_sweep.json"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    from rich.console import Console
    from rich.table import Table

    from lm.datafiles import data_path
    from lm.scaling.fit import fit_isoflops, fit_parametric
    from lm.scaling.sweep import default_grid, records_to_runs, run_sweep

    parser = argparse.ArgumentParser(prog="python -m lm.scaling")
    parser.add_argument("command", choices=["sweep"])
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE, help="cache/results JSON")
    args = parser.parse_args(argv)
    console = Console()

    def progress(point, record) -> None:
        console.print(
            f"{point.key}: N={record['num_params']:,} D={record['num_tokens']:,} "
            f"loss={record['loss']:.3f} ({record['seconds']:.1f} s)"
        )

    records = run_sweep(default_grid(), data_path("ts_2MiB.txt"), args.out, progress)
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
    runs = records_to_runs(records)
    iso = fit_isoflops(runs)
    console.print(
        f"IsoFLOP: N_opt ~ C^{iso.params_law.exponent:.3f} (95% CI "
        f"{iso.params_law.exponent_interval[0]:.3f}..{iso.params_law.exponent_interval[1]:.3f})"
    )
    par = fit_parametric(runs, num_bootstrap=20)
    console.print(
        f"Parametric: E={par.E:.3f} A={par.A:.3g} B={par.B:.3g} "
        f"alpha={par.alpha:.3f} beta={par.beta:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
