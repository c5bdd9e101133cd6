"""Small pieces shared by the numerical cores of the comparison methods."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["NotEstimable", "Interval", "z_quantile", "t_interval", "two_sided_normal_p",
           "as_values", "exp_or_inf"]


class NotEstimable(ValueError):
    """The data cannot give this estimate (too few subjects, no variation...).

    Runners turn it into a comparison without numbers and a note saying why, so
    one degenerate comparison does not stop the rest of the analysis.
    """


@dataclass(frozen=True)
class Interval:
    """A confidence interval and the level it achieves."""
    lower: float
    upper: float
    level: float

    def astuple(self) -> tuple[float, float]:
        return (self.lower, self.upper)


def exp_or_inf(x: float) -> float:
    """exp(x), infinity where it exceeds the float range (math.exp raises there).

    A ratio estimate or limit that large is infinite for every purpose (e.g. a
    Wald limit of a coefficient coxph calls possibly infinite); results.json writes
    it as "Infinity" and the report as the infinity sign.
    """
    x = float(x)
    return math.inf if x > 709.78 else math.exp(x)


def z_quantile(level: float) -> float:
    """Two-sided normal quantile, qnorm(1 - (1 - level) / 2)."""
    return float(stats.norm.ppf(1.0 - (1.0 - level) / 2.0))


def t_interval(estimate: float, se: float, df: float, level: float) -> Interval:
    q = float(stats.t.ppf(1.0 - (1.0 - level) / 2.0, df))
    return Interval(estimate - q * se, estimate + q * se, level)


def two_sided_normal_p(z: float) -> float:
    return float(2.0 * stats.norm.sf(abs(z)))


def as_values(x) -> np.ndarray:
    """A 1-d float array without missing values (the numerical cores' input)."""
    a = np.asarray(x, dtype=float).ravel()
    return a[~np.isnan(a)]
