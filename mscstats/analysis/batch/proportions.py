"""2 x 2 tables over replicates, as cores/proportions.py computes them one at a time.

A batch of tables is four (B,) integer arrays: events and size of the treated
arm (x1, n1) and of the reference arm (x2, n2). The closed forms (Newcombe's
risk difference, the Katz risk ratio, Pearson's chi-square) are array formulas;
Fisher's exact p and the conditional odds ratio come from the core, once per
distinct table (simulated trials repeat their tables often).

``*_ok`` arrays are False where the core raises NotEstimable (the runner then
reports the comparison without numbers and says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..cores import proportions as core

__all__ = ["Tables", "tables_of", "RiskDifference", "newcombe_batch", "RiskRatio",
           "katz_batch", "ChiSquareBatch", "chi_square_batch", "fisher_p_batch",
           "fisher_batch"]


@dataclass(frozen=True)
class Tables:
    x1: np.ndarray
    n1: np.ndarray
    x2: np.ndarray
    n2: np.ndarray

    def rows(self) -> np.ndarray:
        return np.stack([self.x1, self.n1, self.x2, self.n2], axis=1).astype(np.int64)


def tables_of(event, treated, used) -> Tables:
    """The treated-vs-reference table of each replicate from (B, n) 0/1 outcomes."""
    used = np.asarray(used, dtype=bool)
    event = np.where(used, np.asarray(event, dtype=np.float64), 0.0) == 1
    treated = np.asarray(treated, dtype=bool)
    def count(m):
        return m.sum(axis=-1).astype(np.int64)
    return Tables(count(event & treated), count(used & treated),
                  count(event & ~treated), count(used & ~treated))


def _z(level: float) -> float:
    from scipy.special import ndtri               # core.z_quantile: norm.ppf(1 - a / 2)
    return float(ndtri(1.0 - (1.0 - level) / 2.0))


def _wilson(x, n, z):
    """core.wilson of every (x, n), n >= 1: (lower, upper)."""
    p = x / n
    z22n = z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z22n / (2 * n))
    upper = np.where(p >= 1, 1.0, (p + z22n + half) / (1 + 2 * z22n))
    lower = np.where(p <= 0, 0.0, (p + z22n - half) / (1 + 2 * z22n))
    return lower, upper


@dataclass(frozen=True)
class RiskDifference:
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ok: np.ndarray


def newcombe_batch(t: Tables, level: float = 0.95) -> RiskDifference:
    """core.newcombe_difference: p1 - p2 with the hybrid score interval (method 10)."""
    ok = (t.n1 >= 1) & (t.n2 >= 1)
    n1, n2 = np.where(ok, t.n1, 1).astype(float), np.where(ok, t.n2, 1).astype(float)
    x1, x2 = np.where(ok, t.x1, 0).astype(float), np.where(ok, t.x2, 0).astype(float)
    z = _z(level)
    (l1, u1), (l2, u2) = _wilson(x1, n1, z), _wilson(x2, n2, z)
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    lower = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return RiskDifference(*(np.where(ok, a, np.nan) for a in (d, lower, upper)), ok)


@dataclass(frozen=True)
class RiskRatio:
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    corrected: np.ndarray      # Haldane-Anscombe: 0.5 added (an arm without events)
    ok: np.ndarray


def katz_batch(t: Tables, level: float = 0.95) -> RiskRatio:
    """core.katz_risk_ratio: p1 / p2 with the log-scale interval."""
    ok = (t.n1 >= 1) & (t.n2 >= 1) & ~((t.x1 == 0) & (t.x2 == 0)) \
        & ~((t.x1 == t.n1) & (t.x2 == t.n2))
    corrected = ok & ((t.x1 == 0) | (t.x2 == 0))
    add = np.where(corrected, 0.5, 0.0)
    e1, e2 = t.x1 + add, t.x2 + add
    m1, m2 = t.n1 + 2 * add, t.n2 + 2 * add
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = (e1 / m1) / (e2 / m2)
        se = np.sqrt(1 / e1 - 1 / m1 + 1 / e2 - 1 / m2)
        z = _z(level)
        lower, upper = rr * np.exp(-z * se), rr * np.exp(z * se)
    return RiskRatio(*(np.where(ok, a, np.nan) for a in (rr, lower, upper)), corrected, ok)


@dataclass(frozen=True)
class ChiSquareBatch:
    statistic: np.ndarray
    p: np.ndarray
    ok: np.ndarray


def chi_square_batch(t: Tables) -> ChiSquareBatch:
    """core.chi_square: Pearson's chi-square without continuity correction, 1 df."""
    from scipy.special import chdtrc               # stats.chi2.sf
    observed = np.stack([t.x1, t.n1 - t.x1, t.x2, t.n2 - t.x2], axis=1).astype(float)
    rows = np.stack([t.n1, t.n1, t.n2, t.n2], axis=1).astype(float)
    events = (t.x1 + t.x2).astype(float)
    cols = np.stack([events, t.n1 + t.n2 - events] * 2, axis=1)
    total = (t.n1 + t.n2).astype(float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = rows * cols / total
        cells = (observed - expected) ** 2 / expected
    ok = (t.n1 >= 1) & (t.n2 >= 1) & (expected > 0).all(axis=1)
    statistic = np.zeros(len(total))
    for k in range(4):                             # np.sum's order over four cells
        statistic = statistic + cells[:, k]
    statistic = np.where(ok, statistic, np.nan)
    return ChiSquareBatch(statistic, np.where(ok, chdtrc(1, statistic), np.nan), ok)


def _once(t: Tables, fn) -> list:
    """fn(x1, n1, x2, n2) of each distinct table, spread back to every replicate."""
    rows = t.rows()
    if not len(rows):
        return []
    distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
    answers = [fn(*map(int, r)) for r in distinct]
    return [answers[i] for i in inverse.ravel()]


@lru_cache(maxsize=1 << 16)
def _fisher_p(x1: int, n1: int, x2: int, n2: int) -> float:
    # a simulation meets the same tables in chunk after chunk
    return core.fisher_exact_p(x1, n1, x2, n2)


def fisher_p_batch(t: Tables) -> np.ndarray:
    """Fisher's exact two-sided p of each table (arms of size >= 1), NaN otherwise."""
    ok = (t.n1 >= 1) & (t.n2 >= 1)
    safe = Tables(t.x1, np.maximum(t.n1, 1), t.x2, np.maximum(t.n2, 1))
    p = np.array(_once(safe, _fisher_p), dtype=float)
    return np.where(ok, p, np.nan)


def fisher_batch(t: Tables, level: float = 0.95) -> list:
    """core.fisher_exact (p, conditional MLE odds ratio, exact CI) of each table, None
    where an arm is empty."""
    ok = (t.n1 >= 1) & (t.n2 >= 1)
    safe = Tables(t.x1, np.maximum(t.n1, 1), t.x2, np.maximum(t.n2, 1))
    fits = _once(safe, lambda *table: core.fisher_exact(*table, level))
    return [f if k else None for f, k in zip(fits, ok)]
