"""Scaling-law fits: IsoFLOP parabolas -> N_opt(C), D_opt(C) power laws (Hoffmann+ 2022 approach 2)
and the parametric L(N, D) = E + A / N^alpha + B / D^beta fitted with a Huber loss (approach 3).

Paper: https://arxiv.org/abs/2203.15556. Uncertainty comes from bootstrap resampling of the points.
Input is any table of runs (N params, D tokens, loss), ours from `sweep.py` or published numbers.
Training compute is C = 6 N D FLOPs throughout.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

HUBER_DELTA = 1e-3  # as in Hoffmann+ 2022, on log-loss residuals
FLOPS_PER_PARAM_TOKEN = 6.0
MIN_BOOTSTRAP_SHARE = 0.5  # fewer successful resamples than this and the interval is noise


@dataclass
class Run:
    """One training run: parameters, tokens, final loss (compute = 6 N D)."""

    num_params: float
    num_tokens: float
    loss: float

    @property
    def compute(self) -> float:
        return FLOPS_PER_PARAM_TOKEN * self.num_params * self.num_tokens


@dataclass
class PowerLaw:
    """y = coefficient * x^exponent, with bootstrap (low, high) intervals of the exponent."""

    coefficient: float
    exponent: float
    exponent_interval: tuple[float, float] = (float("nan"), float("nan"))

    def __call__(self, x: float | np.ndarray) -> float | np.ndarray:
        return self.coefficient * np.asarray(x, dtype=float) ** self.exponent


@dataclass
class IsoFlopFit:
    """Per-budget parabola minima and the power laws through them."""

    budgets: list[float]
    optimal_params: list[float]
    optimal_tokens: list[float]
    parabolas: list[tuple[float, float, float]]
    """(a, b, c) of loss = a x^2 + b x + c with x = log10 N, one per budget."""
    params_law: PowerLaw
    tokens_law: PowerLaw


def group_by_budget(runs: list[Run], rel_tol: float = 0.05) -> dict[float, list[Run]]:
    """Group runs whose compute agrees within `rel_tol` (IsoFLOP slices)."""
    groups: dict[float, list[Run]] = {}
    for run in sorted(runs, key=lambda r: r.compute):
        for budget in groups:
            if abs(run.compute - budget) <= rel_tol * budget:
                groups[budget].append(run)
                break
        else:
            groups[run.compute] = [run]
    return groups


def check_runs(runs: list[Run], where: str) -> None:
    """Every run has positive, finite N, D and loss (logs are taken of all three)."""
    for i, run in enumerate(runs):
        for name in ("num_params", "num_tokens", "loss"):
            value = getattr(run, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(
                    f"{where}: runs[{i}].{name} = {value!r} (expected a positive number)"
                )


def fit_power_law(x: np.ndarray, y: np.ndarray) -> PowerLaw:
    """Least squares in log-log space: `x=[1, 10], y=[2, 20] -> PowerLaw(2.0, 1.0)`."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"fit_power_law: x and y must be 1-D of the same length, got {x.shape} and {y.shape}"
        )
    if len(x) < 2:
        raise ValueError(f"fit_power_law: need at least 2 points, got {len(x)}")
    for name, values in (("x", x), ("y", y)):
        bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
        if len(bad):
            raise ValueError(
                f"fit_power_law: {name}[{bad[0]}] = {float(values[bad[0]])!r} "
                "(expected positive, finite)"
            )
    if len(np.unique(x)) < 2:
        raise ValueError(f"fit_power_law: need 2 distinct x values, got {np.unique(x).tolist()}")
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return PowerLaw(coefficient=float(np.exp(intercept)), exponent=float(slope))


def _isoflop_minima(
    runs: list[Run], is_warning: bool = False
) -> tuple[list[float], list[float], list[tuple[float, float, float]]]:
    """Per-budget parabola vertices; slices that do not bracket a minimum are skipped."""
    budgets, optima, parabolas = [], [], []
    for budget, group in group_by_budget(runs).items():
        if len({r.num_params for r in group}) < 3:
            continue  # a parabola needs three distinct model sizes
        x = np.log10([r.num_params for r in group])
        a, b, c = np.polyfit(x, [r.loss for r in group], 2)
        # Subtle: a slice whose loss still falls at its largest size gives a tiny a > 0 and a
        # vertex far outside the sampled sizes: an extrapolated, not a measured, optimum.
        if a <= 0 or not x.min() <= -b / (2 * a) <= x.max():
            if is_warning:
                warnings.warn(
                    f"fit_isoflops: the slice at C={budget:.3g} does not bracket its minimum "
                    f"(sizes {10 ** x.min():.3g}..{10 ** x.max():.3g}); skipped",
                    stacklevel=3,
                )
            continue
        budgets.append(budget)
        optima.append(float(10 ** (-b / (2 * a))))
        parabolas.append((float(a), float(b), float(c)))
    return budgets, optima, parabolas


def fit_isoflops(runs: list[Run], num_bootstrap: int = 200, seed: int = 0) -> IsoFlopFit:
    """Approach 2: parabola per IsoFLOP slice, then N_opt ~ C^a and D_opt ~ C^b."""
    check_runs(runs, "fit_isoflops")
    budgets, optima, parabolas = _isoflop_minima(runs, is_warning=True)
    if len(budgets) < 2:
        raise ValueError(
            "fit_isoflops: need >= 2 compute budgets with >= 3 runs bracketing a minimum, "
            f"got {len(budgets)}"
        )
    tokens = [c / (FLOPS_PER_PARAM_TOKEN * n) for c, n in zip(budgets, optima, strict=True)]
    params_law = fit_power_law(np.array(budgets), np.array(optima))
    tokens_law = fit_power_law(np.array(budgets), np.array(tokens))
    rng = np.random.default_rng(seed)
    groups = list(group_by_budget(runs).values())
    exponents = []
    for _ in range(num_bootstrap):
        sample = [g[i] for g in groups for i in rng.integers(0, len(g), len(g))]
        b, n, _ = _isoflop_minima(sample)
        if len(b) >= 2:
            exponents.append(fit_power_law(np.array(b), np.array(n)).exponent)
    if num_bootstrap and len(exponents) < MIN_BOOTSTRAP_SHARE * num_bootstrap:
        # Typical with 3 sizes per slice: a resample repeats a size and cannot fit a parabola.
        warnings.warn(
            f"fit_isoflops: only {len(exponents)} of {num_bootstrap} bootstrap resamples could be "
            "fitted; the exponent interval is unreliable (sample more sizes per budget)",
            stacklevel=2,
        )
    if exponents:
        low, high = np.percentile(exponents, [2.5, 97.5])
        params_law.exponent_interval = (float(low), float(high))
        tokens_law.exponent_interval = (float(1 - high), float(1 - low))  # D = C / 6N
    return IsoFlopFit(budgets, optima, tokens, parabolas, params_law, tokens_law)


@dataclass
class ParametricFit:
    """L(N, D) = E + A / N^alpha + B / D^beta, with bootstrap intervals for alpha and beta."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    alpha_interval: tuple[float, float] = (float("nan"), float("nan"))
    beta_interval: tuple[float, float] = (float("nan"), float("nan"))

    def loss(self, num_params: float | np.ndarray, num_tokens: float | np.ndarray) -> np.ndarray:
        n, d = np.asarray(num_params, dtype=float), np.asarray(num_tokens, dtype=float)
        return self.E + self.A / n**self.alpha + self.B / d**self.beta

    def optimal_allocation(self, compute: float) -> tuple[float, float]:
        """Minimise L given 6ND = C: N_opt = G (C/6)^(beta/(alpha+beta)), D_opt = C / (6 N_opt)."""
        a, b = self.alpha, self.beta
        g = (a * self.A / (b * self.B)) ** (1 / (a + b))
        n_opt = g * (compute / FLOPS_PER_PARAM_TOKEN) ** (b / (a + b))
        return n_opt, compute / (FLOPS_PER_PARAM_TOKEN * n_opt)


# Hoffmann+ 2022's grid of initialisations (a, b, e, alpha, beta).
START_GRID = list(
    itertools.product(
        [0.0, 5.0, 10.0, 15.0, 20.0, 25.0], [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
        [-1.0, -0.5, 0.0, 0.5, 1.0], [0.0, 0.5, 1.0, 1.5, 2.0], [0.0, 0.5, 1.0, 1.5, 2.0],
    )
)  # fmt: skip
NUM_REFINED = 4


def _fit_parametric_once(
    n: np.ndarray, d: np.ndarray, loss: np.ndarray, starts: list[tuple[float, ...]]
) -> tuple[ParametricFit, tuple[float, ...]]:
    """Huber loss on log L vs LSE(a - alpha log N, b - beta log D, e), L-BFGS from the best starts.

    All starts are scored at once; L-BFGS then runs only from the NUM_REFINED most promising ones.
    """
    log_n = torch.tensor(np.log(n), dtype=torch.float64)
    log_d = torch.tensor(np.log(d), dtype=torch.float64)
    log_l = torch.tensor(np.log(loss), dtype=torch.float64)
    huber = torch.nn.HuberLoss(delta=HUBER_DELTA, reduction="none")

    def objective(theta: torch.Tensor) -> torch.Tensor:  # theta [S, 5] -> [S]
        a, b, e, alpha, beta = (theta[:, i : i + 1] for i in range(5))  # each [S, 1]
        terms = torch.stack([a - alpha * log_n, b - beta * log_d, e.expand(-1, len(log_n))])
        pred = torch.logsumexp(terms, dim=0)  # [S, R]
        return huber(pred, log_l.expand_as(pred)).sum(dim=1)

    grid = torch.tensor(starts, dtype=torch.float64)  # [S, 5]
    order = torch.argsort(objective(grid))[:NUM_REFINED]
    best: tuple[float, list[float]] = (float("inf"), [])
    for start in grid[order]:
        theta = start.clone().unsqueeze(0).requires_grad_(True)  # [1, 5]
        opt = torch.optim.LBFGS(
            [theta], lr=1.0, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
            line_search_fn="strong_wolfe",
        )  # fmt: skip

        def closure(theta: torch.Tensor = theta, opt: torch.optim.LBFGS = opt) -> torch.Tensor:
            opt.zero_grad()
            value = objective(theta).sum()
            value.backward()
            return value

        value = float(opt.step(closure).detach())
        if np.isfinite(value) and value < best[0]:
            best = (value, theta.detach()[0].tolist())
    if not best[1]:
        raise ValueError("fit_parametric: no starting point converged")
    a, b, e, alpha, beta = best[1]
    fit = ParametricFit(E=math.exp(e), A=math.exp(a), B=math.exp(b), alpha=alpha, beta=beta)
    return fit, tuple(best[1])


def fit_parametric(runs: list[Run], num_bootstrap: int = 50, seed: int = 0) -> ParametricFit:
    """Approach 3 with bootstrap intervals of alpha and beta (resampling runs with replacement)."""
    if len(runs) < 5:
        raise ValueError(f"fit_parametric: need >= 5 runs for 5 parameters, got {len(runs)}")
    check_runs(runs, "fit_parametric")
    for name in ("num_params", "num_tokens"):
        if len({getattr(r, name) for r in runs}) < 2:
            raise ValueError(
                f"fit_parametric: need >= 2 distinct {name} values to fit its exponent, got "
                f"{sorted({getattr(r, name) for r in runs})}"
            )
    n = np.array([r.num_params for r in runs])
    d = np.array([r.num_tokens for r in runs])
    loss = np.array([r.loss for r in runs])
    fit, theta = _fit_parametric_once(n, d, loss, START_GRID)
    rng = np.random.default_rng(seed)
    alphas, betas = [], []
    for _ in range(num_bootstrap):
        idx = rng.integers(0, len(runs), len(runs))
        boot, _ = _fit_parametric_once(n[idx], d[idx], loss[idx], [theta])  # warm start
        alphas.append(boot.alpha)
        betas.append(boot.beta)
    if alphas:
        fit.alpha_interval = tuple(float(v) for v in np.percentile(alphas, [2.5, 97.5]))  # type: ignore[assignment]
        fit.beta_interval = tuple(float(v) for v in np.percentile(betas, [2.5, 97.5]))  # type: ignore[assignment]
    return fit
