"""lm.scaling fits recover known laws from synthetic data; the sweep trains, caches and reuses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lm.scaling import Run, fit_isoflops, fit_parametric, fit_power_law, group_by_budget
from lm.scaling.sweep import SweepPoint, run_sweep

# Hoffmann+ 2022's approach-3 estimates, used as ground truth for synthetic runs.
TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def _synthetic_runs(noise: float = 0.002, seed: int = 0) -> list[Run]:
    rng = np.random.default_rng(seed)
    runs = []
    for compute in (1e18, 1e19, 1e20, 1e21):
        for n in np.logspace(np.log10(compute) / 2 - 2.5, np.log10(compute) / 2, 7):
            d = compute / (6 * n)
            loss = TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]
            runs.append(Run(float(n), float(d), float(loss * np.exp(rng.normal(0, noise)))))
    return runs


def test_fit_power_law_exact() -> None:
    law = fit_power_law(np.array([1.0, 10.0, 100.0]), np.array([2.0, 20.0, 200.0]))
    assert law.coefficient == pytest.approx(2.0) and law.exponent == pytest.approx(1.0)


def test_group_by_budget() -> None:
    runs = [Run(1e6, 1e8, 3.0), Run(2e6, 5e7, 2.9), Run(1e6, 1e9, 2.5)]
    groups = group_by_budget(runs)
    assert sorted(len(g) for g in groups.values()) == [1, 2]


def test_isoflops_recovers_compute_optimal_exponent() -> None:
    fit = fit_isoflops(_synthetic_runs(), num_bootstrap=100)
    expected = TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"])  # N_opt ~ C^(beta / (alpha + beta))
    assert fit.params_law.exponent == pytest.approx(expected, abs=0.02)
    assert fit.params_law.exponent + fit.tokens_law.exponent == pytest.approx(1.0)
    low, high = fit.params_law.exponent_interval
    assert low <= fit.params_law.exponent <= high


def test_isoflops_needs_two_budgets() -> None:
    with pytest.raises(ValueError, match="need >= 2 compute budgets"):
        fit_isoflops(_synthetic_runs()[:7])


def test_parametric_recovers_law_and_allocation() -> None:
    fit = fit_parametric(_synthetic_runs(), num_bootstrap=5)
    assert fit.alpha == pytest.approx(TRUE["alpha"], abs=0.03)
    assert fit.beta == pytest.approx(TRUE["beta"], abs=0.03)
    assert pytest.approx(TRUE["E"], rel=0.05) == fit.E
    n_opt, d_opt = fit.optimal_allocation(1e21)
    assert 6 * n_opt * d_opt == pytest.approx(1e21)
    # The minimiser is a minimum: nearby allocations on the same budget lose.
    for factor in (0.5, 2.0):
        assert fit.loss(n_opt, d_opt) < fit.loss(n_opt * factor, d_opt / factor)


def test_parametric_needs_five_runs() -> None:
    with pytest.raises(ValueError, match=">= 5 runs"):
        fit_parametric(_synthetic_runs()[:4])


def test_sweep_trains_caches_and_reuses(tmp_path) -> None:
    data = tmp_path / "text.txt"
    data.write_bytes(("once upon a time there was a cat. " * 400).encode())
    cache = tmp_path / "sweep.json"
    points = [
        SweepPoint(d_model=16, num_layers=1, compute=1e9),
        SweepPoint(d_model=24, num_layers=1, compute=1e9),
    ]
    records = run_sweep(points, data, cache)
    assert [r["d_model"] for r in records] == [16, 24]
    assert all(np.isfinite(r["loss"]) and r["loss"] < np.log(256) for r in records)
    stored = json.loads(cache.read_text())
    assert set(stored) == {p.key for p in points}
    data.unlink()  # a cached sweep must not need the data again
    assert run_sweep(points, data, cache) == records
