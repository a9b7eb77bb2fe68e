"""lm.scaling: a CPU scaling sweep and the Chinchilla fits (IsoFLOP, parametric Huber)."""

from lm.scaling.fit import (
    IsoFlopFit,
    ParametricFit,
    PowerLaw,
    Run,
    fit_isoflops,
    fit_parametric,
    fit_power_law,
    group_by_budget,
)
from lm.scaling.table import read_runs_csv

__all__ = [
    "IsoFlopFit",
    "ParametricFit",
    "PowerLaw",
    "Run",
    "fit_isoflops",
    "fit_parametric",
    "fit_power_law",
    "group_by_budget",
    "read_runs_csv",
]
