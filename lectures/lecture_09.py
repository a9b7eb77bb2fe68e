"""Lecture 09: Scaling laws

Why we extrapolate from small runs, power laws, Kaplan vs Chinchilla, and a real sweep of small
Transformers on CPU with IsoFLOP and parametric fits (lm.scaling) and their uncertainty.
"""

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from execlecture import link, plot, text
from lm.datafiles import data_path
from lm.scaling import Run, fit_isoflops, fit_parametric, fit_power_law, group_by_budget
from lm.scaling.fit import ParametricFit
from lm.scaling.sweep import DEFAULT_GRID, default_grid, records_to_runs, run_sweep

IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"
# The full sweep's results are committed; smoke runs train a tiny grid into a temporary cache.
COMMITTED_CACHE = Path(__file__).parent / "data" / "scaling_sweep.json"
SWEEP_CACHE = Path(tempfile.mkdtemp()) / "smoke_sweep.json" if IS_SMOKE else COMMITTED_CACHE
SWEEP_GRID = {1e9: (8, 12, 16), 2e9: (8, 12, 16)} if IS_SMOKE else DEFAULT_GRID
NUM_BOOTSTRAP = 10 if IS_SMOKE else 100
# Hoffmann+ 2022, approach 3 (Table A3 / eq. 10): the published fitted constants.
CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
CHINCHILLA_COMPUTE = 5.76e23  # FLOPs used for Chinchilla (70B params, 1.4T tokens)


def main():
    why_scaling_laws()  # decide big runs with small ones
    power_laws()  # straight lines on log-log plots
    kaplan_vs_chinchilla()  # two answers to "how big a model for my compute?"
    our_sweep()  # small Transformers on CPU, IsoFLOP curves
    fits_and_uncertainty()  # exponents with bootstrap intervals, D ~ 20 N
    limits()  # inference cost, data constraints
    summary()


def why_scaling_laws():
    text("# Scaling laws")
    text(
        "A frontier training run costs months and millions: you get **one** shot. Scaling laws "
        "let us make the decisions (model size, data size, even architecture) on small runs and "
        "**extrapolate**. They turned LM building from alchemy into engineering."
    )
    link(
        url="https://arxiv.org/abs/2001.08361",
        title="Scaling laws for neural LMs",
        authors=["Kaplan+"],
        date="2020",
    )
    link(
        url="https://arxiv.org/abs/2203.15556",
        title="Training compute-optimal LLMs (Chinchilla)",
        authors=["Hoffmann+"],
        date="2022",
    )
    text(
        "The question this lecture answers: with a compute budget of $C$ FLOPs, how many "
        "parameters $N$ and how many tokens $D$? Training costs $C \\approx 6ND$ "
        "(2 FLOPs per parameter per token forward, 4 backward)."
    )


def power_laws():
    text("## Power laws")
    text(
        "Loss falls as a **power law** in data, parameters and compute: $L(x) = (x_0 / x)^a$, "
        "a straight line on log-log axes with slope $-a$. Fitting one is linear regression on logs."
    )
    x = np.array([1e6, 1e7, 1e8, 1e9])
    y = 2.0 * x**-0.076
    law = fit_power_law(x, y)  # @inspect law
    text(
        f"Fitting $y = 2 x^{{-0.076}}$ sampled at four points gives coefficient "
        f"{law.coefficient:.3f} and exponent {law.exponent:.4f}: exact, as it should be."
    )
    text(
        "Real curves bend: at small $x$ (not yet in the power-law regime) and near an "
        "**irreducible loss** $E$, the entropy of the text itself. Hence the form "
        "$L(N, D) = E + A / N^\\alpha + B / D^\\beta$."
    )


def kaplan_vs_chinchilla():
    text("## Kaplan vs Chinchilla")
    text(
        "Kaplan+ 2020 concluded $N_{opt} \\propto C^{0.73}$: spend compute mostly on parameters "
        "(GPT-3: 175B parameters, 300B tokens). Hoffmann+ 2022 found $N_{opt} \\propto C^{0.5}$: "
        "grow parameters and tokens equally, about **20 tokens per parameter** (Chinchilla: 70B "
        "parameters, 1.4T tokens, beating the 280B Gopher on the same compute)."
    )
    text(
        "Why they disagreed: Kaplan used one learning-rate schedule length for all runs, so "
        "shorter runs were stopped mid-schedule and looked worse than they were; they also "
        "counted non-embedding parameters at small scales (Pearce & Song 2024 reconcile the two)."
    )
    link(
        url="https://arxiv.org/abs/2406.12907",
        title="Reconciling Kaplan and Chinchilla",
        authors=["Pearce & Song"],
        date="2024",
    )
    law = ParametricFit(**CHINCHILLA)
    n_opt, d_opt = law.optimal_allocation(CHINCHILLA_COMPUTE)  # @inspect n_opt d_opt
    tokens_per_param = d_opt / n_opt  # @inspect tokens_per_param
    exponent = law.beta / (law.alpha + law.beta)  # @inspect exponent
    text(
        f"From the published constants ($\\alpha$={law.alpha}, $\\beta$={law.beta}): at "
        f"Chinchilla's {CHINCHILLA_COMPUTE:.2e} FLOPs the optimum is {n_opt / 1e9:.0f}B "
        f"parameters and {d_opt / 1e12:.2f}T tokens, {tokens_per_param:.0f} tokens per "
        f"parameter, and $N_{{opt}} \\propto C^{{{exponent:.2f}}}$."
    )
    runs = _published_law_runs(law)
    refit = fit_parametric(runs, num_bootstrap=0)  # @inspect refit
    text(
        "Our fitting code, given points generated from that law (a table, as a lecture would use "
        f"published numbers), recovers $\\alpha$={refit.alpha:.3f} and $\\beta$={refit.beta:.3f}."
    )


def our_sweep():
    text("## Our sweep")
    grid = default_grid(SWEEP_GRID)
    text(
        f"We trained {len(grid)} byte-level Transformers (2 layers, widths "
        f"{sorted({p.d_model for p in grid})}) on TinyStories at {len(SWEEP_GRID)} compute "
        "budgets, each for $D = C / 6N$ tokens with warmup and cosine decay. "
        "The results are cached beside this lecture (`python -m lm.scaling sweep` re-creates them)."
    )
    records = run_sweep(grid, data_path("ts_2MiB.txt"), SWEEP_CACHE)  # @stepover
    table = [
        (r["d_model"], f"{r['compute']:.0e}", r["num_params"], r["num_tokens"], round(r["loss"], 3))
        for r in records
    ]  # @inspect table
    runs = records_to_runs(records)
    plot(_isoflop_figure(runs))
    best = {
        f"{b:.0e}": min(g, key=lambda r: r.loss).num_params
        for b, g in group_by_budget(runs).items()
    }  # @inspect best
    text(
        "Each curve is one compute budget. Too small a model cannot use the data; too large a "
        "model sees too few tokens. The best size grows with the budget."
    )


def fits_and_uncertainty():
    text("## Fits and their uncertainty")
    runs = records_to_runs(
        # The fits always use the committed sweep: the smoke grid's tiny budgets do not bracket
        # their optima, and reading the cache costs no training.
        run_sweep(default_grid(DEFAULT_GRID), data_path("ts_2MiB.txt"), COMMITTED_CACHE)
    )  # @stepover
    try:
        iso = fit_isoflops(runs, num_bootstrap=NUM_BOOTSTRAP)
    except ValueError as error:
        text(f"The IsoFLOP fit failed on this sweep: `{error}`.")
        return
    exponent = iso.params_law.exponent  # @inspect exponent
    interval = iso.params_law.exponent_interval  # @inspect interval
    text(
        "**Approach 2 (IsoFLOP)**: fit a parabola in $\\log N$ to each curve, take its minimum, "
        f"then fit $N_{{opt}} = k C^a$: $a$ = {exponent:.2f} with 95% bootstrap interval "
        f"[{interval[0]:.2f}, {interval[1]:.2f}] (Chinchilla: 0.49)."
    )
    parametric = fit_parametric(runs, num_bootstrap=NUM_BOOTSTRAP // 4)  # @inspect parametric
    plot(_fits_figure(runs, iso, parametric))
    text(
        "Left: the parabolas and their minima. Right: the minima against compute with the "
        "fitted power law (its exponent varied over the bootstrap interval, shaded) and the "
        "optimum the parametric fit predicts; both extended 10x past our largest budget."
    )
    ratio = {
        f"{c:.0e}": round(d / n, 1)
        for c, n, d in zip(iso.budgets, iso.optimal_params, iso.optimal_tokens, strict=True)
    }  # @inspect ratio
    text(
        f"**Approach 3 (parametric)**: $\\alpha$ = {parametric.alpha:.2f} "
        f"[{parametric.alpha_interval[0]:.2f}, {parametric.alpha_interval[1]:.2f}], "
        f"$\\beta$ = {parametric.beta:.2f} "
        f"[{parametric.beta_interval[0]:.2f}, {parametric.beta_interval[1]:.2f}]. "
        f"Tokens per parameter at our optima: {ratio}."
    )
    text(
        "Compare with $D \\approx 20N$: tiny byte-level models on CPU are far from the regime "
        f"Chinchilla measured (and the intervals are wide with {len(runs)} runs), so read our "
        "numbers as a "
        "demonstration of the method, not a new law. The wide intervals are the lesson: "
        "report uncertainty before extrapolating three orders of magnitude."
    )


def limits():
    text("## Limits")
    text(
        "- **Inference cost**: compute-optimal is optimal for *training*. A model served to "
        "millions is cheaper when smaller and trained longer (Llama 3 8B was trained on 15T "
        "tokens).\n"
        "- **Data constraints**: at 20 tokens per parameter a 1T model wants 20T unique tokens; "
        "repeating data up to ~4 epochs is nearly free, then returns fall (Muennighoff+ 2023).\n"
        "- **Downstream tasks** do not always follow loss smoothly (emergence), and the "
        "exponents depend on data, tokenizer and architecture: re-fit for your setting."
    )
    link(
        url="https://arxiv.org/abs/2305.16264",
        title="Scaling data-constrained LMs",
        authors=["Muennighoff+"],
        date="2023",
    )
    law = ParametricFit(**CHINCHILLA)
    n_small, d_small = 8e9, 15e12
    tokens_per_param = d_small / n_small  # @inspect tokens_per_param
    loss_small = float(law.loss(n_small, d_small))  # @inspect loss_small
    n_opt, d_opt = law.optimal_allocation(6 * n_small * d_small)
    loss_opt = float(law.loss(n_opt, d_opt))  # @inspect loss_opt
    text(
        f"Under the Chinchilla law, an 8B model on 15T tokens ({tokens_per_param:.0f} tokens per "
        f"parameter) reaches loss {loss_small:.3f}; the "
        f"compute-optimal {n_opt / 1e9:.0f}B model on the same compute reaches {loss_opt:.3f}: "
        f"a small loss gap for a model {n_opt / n_small:.0f}x more expensive to serve."
    )


def summary():
    text("## Summary")
    text(
        "- Decide big runs with small ones: fit, then extrapolate, with error bars.\n"
        "- $C \\approx 6ND$; compute-optimal $N$ and $D$ grow about equally (D ~ 20 N).\n"
        "- Methodology matters (learning-rate schedules, parameter counting): Kaplan vs Chinchilla.\n"
        "- Training-optimal is not deployment-optimal."
    )


def _isoflop_figure(runs):  # @hide
    """Loss vs parameters, one curve per compute budget."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for budget, group in sorted(group_by_budget(runs).items()):
        group = sorted(group, key=lambda r: r.num_params)
        ax.plot(
            [r.num_params for r in group], [r.loss for r in group], "o-", label=f"C = {budget:.0e}"
        )
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("validation loss (nats/byte)")
    ax.set_title("IsoFLOP curves")
    ax.legend()
    plt.close(fig)
    return fig


def _fits_figure(runs, iso, parametric):  # @hide
    """IsoFLOP parabolas with their minima; N_opt(C) with the power law and parametric optimum."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    groups = group_by_budget(runs)
    for budget, (a, b, c), n_opt in zip(
        iso.budgets, iso.parabolas, iso.optimal_params, strict=True
    ):
        group = groups[budget]
        x = np.log10([r.num_params for r in group])
        xs = np.linspace(x.min(), x.max(), 50)
        (line,) = left.plot(10**xs, a * xs**2 + b * xs + c, "-", label=f"C = {budget:.0e}")
        left.plot(10**x, [r.loss for r in group], "o", color=line.get_color())
        left.plot([n_opt], [a * np.log10(n_opt) ** 2 + b * np.log10(n_opt) + c], "k*", ms=10)
    left.set_xscale("log")
    left.set_xlabel("non-embedding parameters N")
    left.set_ylabel("validation loss (nats/byte)")
    left.set_title("IsoFLOP parabolas and minima")
    left.legend()
    budgets = np.array(iso.budgets)
    cs = np.logspace(np.log10(budgets.min()), np.log10(budgets.max()) + 1, 50)
    law = iso.params_law
    pivot = np.exp(np.mean(np.log(budgets)))  # vary the exponent around the data's centre
    low, high = (law(pivot) * (cs / pivot) ** e for e in law.exponent_interval)
    right.fill_between(cs, np.minimum(low, high), np.maximum(low, high), alpha=0.2)
    right.plot(cs, law(cs), "-", label=f"IsoFLOP: N ~ C^{law.exponent:.2f}")
    right.plot(cs, [parametric.optimal_allocation(c)[0] for c in cs], "--", label="parametric")
    right.plot(budgets, iso.optimal_params, "k*", ms=10, label="parabola minima")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("compute C (FLOPs)")
    right.set_ylabel("compute-optimal N")
    right.set_title("Compute-optimal model size")
    right.legend()
    fig.tight_layout()
    plt.close(fig)
    return fig


def _published_law_runs(law):  # @hide
    """Points on the published law: 6 model sizes at each of 4 budgets."""
    runs = []
    for compute in (1e18, 1e19, 1e20, 1e21):
        for n in np.logspace(np.log10(compute) / 2 - 2.5, np.log10(compute) / 2, 6):
            d = compute / (6 * n)
            runs.append(Run(float(n), float(d), float(law.loss(n, d))))
    return runs


if __name__ == "__main__":
    main()
