"""t-based comparisons of means: Welch's two-sample t and the one-sample (paired) t.

References: ``t.test(x, y, var.equal = FALSE)`` and ``t.test(after, before,
paired = TRUE)`` (equivalently ``t.test(after - before)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .common import Interval, NotEstimable, as_values, t_interval

__all__ = ["TTest", "welch", "one_sample"]


@dataclass(frozen=True)
class TTest:
    """Estimate (difference x - y, or mean), its SE, t, df, two-sided p and CI."""
    estimate: float
    se: float
    statistic: float
    df: float
    p_value: float
    ci: Interval


def _finish(estimate: float, se: float, df: float, level: float) -> TTest:
    if not se > 0:
        raise NotEstimable("the values do not vary: the t statistic is undefined")
    t = estimate / se
    p = float(2.0 * stats.t.sf(abs(t), df))
    return TTest(estimate, se, t, df, p, t_interval(estimate, se, df, level))


def _variance(x: np.ndarray) -> float:
    """The sample variance; exactly 0 when every value is the same (the two-pass
    formula leaves a rounding residue, e.g. 3e-18 for nineteen 0.1s, and with it a
    t of 1e16 where there is no variation at all)."""
    return 0.0 if np.ptp(x) == 0 else float(np.var(x, ddof=1))


def welch(x, y, level: float = 0.95) -> TTest:
    """Welch's t-test of mean(x) - mean(y) with Welch-Satterthwaite df."""
    x, y = as_values(x), as_values(y)
    if len(x) < 2 or len(y) < 2:
        raise NotEstimable("Welch's t-test needs at least 2 values in each arm")
    vx, vy = _variance(x) / len(x), _variance(y) / len(y)
    se = float(np.sqrt(vx + vy))
    df = float((vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))) \
        if se > 0 else float("nan")
    return _finish(float(np.mean(x) - np.mean(y)), se, df, level)


def one_sample(x, level: float = 0.95) -> TTest:
    """One-sample t-test of mean(x) against 0 (the paired t-test on changes)."""
    x = as_values(x)
    if len(x) < 2:
        raise NotEstimable("the paired t-test needs at least 2 changes")
    se = float(np.sqrt(_variance(x)) / np.sqrt(len(x)))
    return _finish(float(np.mean(x)), se, float(len(x) - 1), level)
