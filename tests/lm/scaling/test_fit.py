"""lm.scaling.fit on degenerate inputs, and fitting a published (N, D, loss) table from CSV."""

from __future__ import annotations

import numpy as np
import pytest

from lm.scaling import Run, fit_isoflops, fit_parametric, fit_power_law
from lm.scaling.table import read_runs_csv

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def _loss(n: float, d: float) -> float:
    return TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]


def _slice(compute: float, sizes: np.ndarray) -> list[Run]:
    return [Run(float(n), compute / (6 * n), _loss(n, compute / (6 * n))) for n in sizes]


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([1.0], [2.0], "at least 2 points"),
        ([1.0, 1.0, 1.0], [2.0, 3.0, 4.0], "2 distinct x"),
        ([1.0, 0.0], [2.0, 3.0], r"x\[1\] = 0.0"),
        ([1.0, 2.0], [2.0, float("nan")], r"y\[1\] = nan"),
        ([1.0, 2.0, 3.0], [2.0, 3.0], "same length"),
    ],
)
def test_fit_power_law_rejects_degenerate_inputs(x, y, message) -> None:
    with pytest.raises(ValueError, match=message):
        fit_power_law(np.array(x), np.array(y))


def test_isoflops_drops_slices_that_do_not_bracket_their_minimum() -> None:
    runs = []
    for compute in (1e18, 1e19, 1e20):
        centre = np.log10(compute) / 2 - 1.25
        runs += _slice(compute, np.logspace(centre - 1.25, centre + 1.25, 7))
    # All sizes far below the optimum: loss still falls at the largest size; a parabola through
    # them has its vertex outside the sampled range, an extrapolated "optimum".
    runs += _slice(1e21, np.logspace(3, 5, 7))
    with pytest.warns(UserWarning, match="does not bracket"):
        fit = fit_isoflops(runs, num_bootstrap=10)
    assert len(fit.budgets) == 3 and max(fit.budgets) < 1e21
    for budget, n_opt in zip(fit.budgets, fit.optimal_params, strict=True):
        sizes = [r.num_params for r in runs if abs(r.compute - budget) < 0.05 * budget]
        assert min(sizes) <= n_opt <= max(sizes)


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (Run(0.0, 1e9, 3.0), "num_params = 0.0"),
        (Run(1e6, -1.0, 3.0), "num_tokens = -1.0"),
        (Run(1e6, 1e9, float("nan")), "loss = nan"),
    ],
)
def test_fits_reject_invalid_runs(run: Run, message: str) -> None:
    runs = [run] + _slice(1e18, np.logspace(6, 8, 6))
    with pytest.raises(ValueError, match=rf"runs\[0\]\.{message}"):
        fit_parametric(runs, num_bootstrap=0)
    with pytest.raises(ValueError, match=rf"runs\[0\]\.{message}"):
        fit_isoflops(runs, num_bootstrap=0)


def test_parametric_needs_distinct_sizes_and_token_counts() -> None:
    runs = [Run(1e6, d, _loss(1e6, d)) for d in np.logspace(8, 10, 6)]
    with pytest.raises(ValueError, match="distinct num_params"):
        fit_parametric(runs, num_bootstrap=0)


def test_read_runs_csv_accepts_published_column_names(tmp_path) -> None:
    path = tmp_path / "table.csv"
    path.write_text(
        "Model Size,Training Tokens,loss\n4.0e8,8.0e9,3.1\n1e9,2e10,2.9\n", encoding="utf-8"
    )
    assert read_runs_csv(path) == [Run(4e8, 8e9, 3.1), Run(1e9, 2e10, 2.9)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("N,loss\n1,2\n", "no column for num_tokens"),
        ("N,D,loss\n1e6,1e9,abc\n", r"line 2: loss = 'abc'"),
        ("N,D,loss\n1e6,1e9\n", "line 2: expected 3 values"),
        ("N,D,loss\n", "no data rows"),
    ],
)
def test_read_runs_csv_errors_name_file_and_line(tmp_path, body: str, message: str) -> None:
    path = tmp_path / "table.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        read_runs_csv(path)
    assert str(path) in str(info.value)


def test_cli_fit_table(tmp_path, capsys) -> None:
    from lm.scaling.__main__ import main

    runs = []
    for compute in (1e18, 1e19, 1e20, 1e21):
        runs += _slice(compute, np.logspace(np.log10(compute) / 2 - 2.5, np.log10(compute) / 2, 6))
    rows = "".join(f"{r.num_params},{r.num_tokens},{r.loss}\n" for r in runs)
    (tmp_path / "t.csv").write_text("N,D,loss\n" + rows, encoding="utf-8")
    assert main(["fit", "--table", str(tmp_path / "t.csv"), "--bootstrap", "4"]) == 0
    out = capsys.readouterr().out
    assert "IsoFLOP" in out and "alpha=0.34" in out and "beta=0.28" in out


@pytest.mark.parametrize("body", [None, "N,D,loss\n1,2,3\n"])
def test_cli_fit_bad_table_exits_2_with_one_line(tmp_path, capsys, body) -> None:
    from lm.scaling.__main__ import main

    if body is not None:
        (tmp_path / "t.csv").write_text(body, encoding="utf-8")
    assert main(["fit", "--table", str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_isoflops_warns_when_few_bootstrap_resamples_fit() -> None:
    runs = []
    for compute in (1e18, 1e19, 1e20):
        centre = np.log10(compute) / 2 - 1.25
        runs += _slice(compute, np.logspace(centre - 1, centre + 1, 3))  # 3 sizes: fragile
    with pytest.warns(UserWarning, match="bootstrap resamples could be fitted"):
        fit = fit_isoflops(runs, num_bootstrap=40)
    assert len(fit.budgets) == 3
