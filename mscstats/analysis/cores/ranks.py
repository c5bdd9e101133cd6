"""Wilcoxon rank-sum and signed-rank tests with Hodges-Lehmann estimates.

Both follow R's ``wilcox.test(conf.int = TRUE)`` (R 4.2) step by step: exact
p-values and confidence limits when every sample has fewer than 50 values and
there are no ties (nor zeros, for the signed-rank test); otherwise the normal
approximation with continuity correction, whose confidence limits and estimate
R finds with ``uniroot(tol = 1e-4)`` -- so do we (mscstats.analysis.cores.uniroot).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy import stats

from .common import Interval, NotEstimable, as_values, two_sided_normal_p
from .uniroot import uniroot

__all__ = ["RankTest", "WinProbability", "rank_sum", "rank_sum_p", "win_probability",
           "signed_rank", "rank_sum_counts", "signed_rank_counts"]

EXACT_MAX_N = 50     # R: exact only when each sample has fewer values than this
ROOT_TOL = 1e-4      # R: wilcox.test(tol.root = 1e-4)
_FUZZ = 10 * np.finfo(float).eps   # R's qwilcox/qsignrank fuzz


@dataclass(frozen=True)
class RankTest:
    """A Wilcoxon test: statistic (W or V as R reports it), p, location estimate and CI.

    ``exact`` says which method gave the p-value; ``ci.level`` is the level
    achieved (R lowers it when the exact distribution cannot reach the request).
    """
    statistic: float
    p_value: float
    estimate: float
    ci: Interval
    exact: bool
    n: tuple[int, ...]
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------ distributions

@lru_cache(maxsize=64)
def rank_sum_counts(m: int, n: int) -> np.ndarray:
    """Number of arrangements giving each Mann-Whitney U = 0..m*n (R's cwilcox)."""
    k, total = min(m, n), m + n
    top = k * (2 * total - k + 1) // 2            # largest sum of k ranks
    ways = np.zeros((k + 1, top + 1))             # ways[j, s]: j ranks summing to s
    ways[0, 0] = 1.0
    for rank in range(1, total + 1):              # add rank `rank` to every subset
        ways[1:, rank:] = ways[1:, rank:] + ways[:-1, :-rank]
    low = k * (k + 1) // 2
    return ways[k, low:low + m * n + 1]


@lru_cache(maxsize=64)
def signed_rank_counts(n: int) -> np.ndarray:
    """Number of sign patterns giving each V = 0..n(n+1)/2 (R's csignrank)."""
    ways = np.zeros(n * (n + 1) // 2 + 1)
    ways[0] = 1.0
    for rank in range(1, n + 1):
        ways[rank:] = ways[rank:] + ways[:-rank]
    return ways


def _cdf(counts: np.ndarray, q: float) -> float:
    """P(statistic <= q) for the exact null distribution with these counts."""
    q = int(np.floor(q + 1e-7))
    if q < 0:
        return 0.0
    return float(counts[:q + 1].sum() / counts.sum())


def _upper(counts: np.ndarray, q: float) -> float:
    """P(statistic > q)."""
    q = int(np.floor(q + 1e-7))
    if q < 0:
        return 1.0
    return float(counts[q + 1:].sum() / counts.sum())


def _quantile(counts: np.ndarray, p: float) -> int:
    """R's qwilcox / qsignrank: the smallest q with P(statistic <= q) >= p."""
    probs = counts / counts.sum()
    top = len(counts) - 1
    if p <= 0.5:
        return int(np.argmax(np.cumsum(probs) >= p - _FUZZ))
    upper_sums = np.cumsum(probs)               # R sums from 0 and mirrors
    q = int(np.argmax(upper_sums > 1.0 - p + _FUZZ))
    return top - q


def _exact_p(counts: np.ndarray, statistic: float, centre: float) -> float:
    if statistic > centre:
        p = _upper(counts, statistic - 1)
    else:
        p = _cdf(counts, statistic)
    return min(2.0 * p, 1.0)


def _tie_term(ranks: np.ndarray) -> float:
    _, t = np.unique(ranks, return_counts=True)
    return float(np.sum(t.astype(float) ** 3 - t))


def _correction(z: float) -> float:
    return float(np.sign(z)) * 0.5


# ------------------------------------------------------------------ rank sum

def rank_sum(x, y, level: float = 0.95) -> RankTest:
    """Two-sample Wilcoxon test of x against y; estimate: Hodges-Lehmann shift of x - y.

    As ``wilcox.test(x, y, conf.int = TRUE, conf.level = level)``; W is the
    Mann-Whitney count of R (rank sum of x minus nx(nx+1)/2).
    """
    x, y = as_values(x), as_values(y)
    w, p, exact = rank_sum_p(x, y)
    if exact:
        return _rank_sum_exact(x, y, w, p, level)
    ties = len(np.unique(np.concatenate([x, y]))) != len(x) + len(y)
    return _rank_sum_normal(x, y, w, p, level, ties)


def rank_sum_p(x, y) -> tuple[float, float, bool]:
    """(W, two-sided p, exact?) of the Wilcoxon rank-sum test, as ``wilcox.test(x, y)``."""
    x, y = as_values(x), as_values(y)
    nx, ny = len(x), len(y)
    if nx < 1 or ny < 1:
        raise NotEstimable("the Wilcoxon test needs at least one value in each arm")
    ranks = stats.rankdata(np.concatenate([x, y]))
    w = float(ranks[:nx].sum() - nx * (nx + 1) / 2)
    ties = len(np.unique(ranks)) != len(ranks)
    if nx < EXACT_MAX_N and ny < EXACT_MAX_N and not ties:
        return w, _exact_p(rank_sum_counts(nx, ny), w, nx * ny / 2), True
    n = nx + ny
    sigma = np.sqrt((nx * ny / 12) * ((n + 1) - _tie_term(ranks) / (n * (n - 1))))
    if sigma == 0:
        raise NotEstimable("every value is the same in both arms: the Wilcoxon test is undefined")
    z = w - nx * ny / 2
    return w, two_sided_normal_p((z - _correction(z)) / sigma), False


def _rank_sum_exact(x, y, w, p, level):
    nx, ny = len(x), len(y)
    counts = rank_sum_counts(nx, ny)
    diffs = np.sort(np.subtract.outer(x, y).ravel())
    alpha = 1.0 - level
    qu = max(_quantile(counts, alpha / 2), 1)
    ql = nx * ny - qu
    achieved = 2.0 * _cdf(counts, qu - 1)
    notes = ()
    if achieved - alpha > alpha / 2:
        level = 1.0 - achieved
        notes = (f"the requested confidence level is not achievable with these arm sizes; "
                 f"the interval has level {level:.4g}",)
    ci = Interval(float(diffs[qu - 1]), float(diffs[ql]), level)
    return RankTest(w, p, float(np.median(diffs)), ci, True, (nx, ny), notes)


def _rank_sum_z(x, y, shift, corrected):
    """The standardized statistic of x - shift against y (R's W(d) inside wilcox.test)."""
    nx, ny = len(x), len(y)
    ranks = stats.rankdata(np.concatenate([x - shift, y]))
    dz = ranks[:nx].sum() - nx * (nx + 1) / 2 - nx * ny / 2
    n = nx + ny
    sigma = np.sqrt((nx * ny / 12) * ((n + 1) - _tie_term(ranks) / (n * (n - 1))))
    if sigma == 0:
        raise NotEstimable("all observations are tied: no confidence interval")
    return float((dz - (_correction(dz) if corrected else 0.0)) / sigma)


def _rank_sum_normal(x, y, w, p, level, ties):
    nx, ny = len(x), len(y)
    lo, hi = float(x.min() - y.max()), float(x.max() - y.min())
    ci = _normal_limits(lambda d: _rank_sum_z(x, y, d, True), lo, hi, level)
    estimate = uniroot(lambda d: _rank_sum_z(x, y, d, False), lo, hi, tol=ROOT_TOL)
    notes = ("ties: normal approximation with continuity correction",) if ties and \
        nx < EXACT_MAX_N and ny < EXACT_MAX_N else ()
    return RankTest(w, p, estimate, Interval(ci[0], ci[1], level), False, (nx, ny), notes)


def _normal_limits(zfun: Callable[[float], float], lo: float, hi: float, level: float):
    """Confidence limits: the shifts where the corrected statistic crosses -/+ z (R's root())."""
    alpha = 1.0 - level
    z_lo, z_hi = zfun(lo), zfun(hi)

    def root(zq):
        if z_lo - zq <= 0:
            return lo
        if z_hi - zq >= 0:
            return hi
        return uniroot(lambda d: zfun(d) - zq, lo, hi, tol=ROOT_TOL,
                       f_lower=z_lo - zq, f_upper=z_hi - zq)

    q = float(stats.norm.isf(alpha / 2))
    return root(q), root(-q)


# ------------------------------------------------------------------ win probability

@dataclass(frozen=True)
class WinProbability:
    """P(treated better) + P(tie) / 2 = U / (n1 n0), with the Wilcoxon test of the
    same scores and Newcombe's (2006) method 5 score interval."""
    estimate: float
    ci: Interval
    statistic: float           # W = U, the Mann-Whitney count of the treated arm
    p_value: float
    exact: bool
    n: tuple[int, int]


def win_probability(x, y, level: float = 0.95) -> WinProbability:
    """The win probability of x (treated) over y (reference); a higher score is better.

    Ties count half (U uses midranks). The p-value is ``wilcox.test(x, y)``'s.
    The CI is Newcombe's (2006, Stat Med 25:559) method 5: the theta solving
    (theta_hat - theta)^2 = z^2 V(theta), with the Hanley-McNeil (1982)
    variance V(theta) = theta (1 - theta) [1 + N* ((1 - theta) / (2 - theta) +
    theta / (1 + theta))] / (n1 n0), where N* = (n1 + n0) / 2 - 1 replaces both
    n1 - 1 and n0 - 1. It stays inside [0, 1], also when theta_hat is 0 or 1.
    """
    from scipy.optimize import brentq
    x, y = as_values(x), as_values(y)
    w, p, exact = rank_sum_p(x, y)
    m, n = len(x), len(y)
    theta = w / (m * n)
    z = float(stats.norm.isf((1.0 - level) / 2.0))
    n_star = (m + n) / 2.0 - 1.0

    def gap(t):
        variance = t * (1 - t) * (1 + n_star * ((1 - t) / (2 - t) + t / (1 + t))) / (m * n)
        return (theta - t) ** 2 - z * z * variance

    inside = theta if gap(theta) < 0 else min(max(theta, 1e-9), 1 - 1e-9)
    lower = 0.0 if theta == 0 else brentq(gap, 0.0, inside, xtol=1e-14, rtol=1e-14)
    upper = 1.0 if theta == 1 else brentq(gap, inside, 1.0, xtol=1e-14, rtol=1e-14)
    return WinProbability(theta, Interval(lower, upper, level), w, p, exact, (m, n))


# ------------------------------------------------------------------ signed rank

def signed_rank(x, level: float = 0.95) -> RankTest:
    """One-sample Wilcoxon signed-rank test of x (e.g. changes from baseline) against 0.

    As ``wilcox.test(x, conf.int = TRUE)`` (the same as ``wilcox.test(after,
    before, paired = TRUE)``); V is the sum of the ranks of the positive values,
    the estimate the (pseudo)median of the Walsh averages. Zeros are dropped, as R does.
    """
    x = as_values(x)
    nonzero = x[x != 0]
    zeros = len(nonzero) < len(x)
    n = len(nonzero)
    if n < 1:
        raise NotEstimable("every change is zero: the signed-rank test is undefined")
    ranks = stats.rankdata(np.abs(nonzero))
    v = float(ranks[nonzero > 0].sum())
    ties = len(np.unique(ranks)) != n
    if n < EXACT_MAX_N and not ties and not zeros:
        return _signed_rank_exact(nonzero, v, level)
    return _signed_rank_normal(nonzero, ranks, v, level, ties, zeros)


def _signed_rank_exact(x, v, level):
    n = len(x)
    counts = signed_rank_counts(n)
    p = _exact_p(counts, v, n * (n + 1) / 4)
    walsh = np.add.outer(x, x)[np.triu_indices(n)] / 2
    walsh = np.sort(walsh)
    alpha = 1.0 - level
    qu = max(_quantile(counts, alpha / 2), 1)
    ql = n * (n + 1) // 2 - qu
    achieved = 2.0 * _cdf(counts, qu - 1)
    notes = ()
    if achieved - alpha > alpha / 2:
        level = 1.0 - float(f"{achieved:.2g}")     # R: 1 - signif(achieved.alpha, 2)
        notes = (f"the requested confidence level is not achievable with n = {n}; "
                 f"the interval has level {level:.4g}",)
    ci = Interval(float(walsh[qu - 1]), float(walsh[ql]), level)
    return RankTest(v, p, float(np.median(walsh)), ci, True, (n,), notes)


def _signed_rank_z(x, shift, corrected):
    d = x - shift
    d = d[d != 0]
    n = len(d)
    ranks = stats.rankdata(np.abs(d))
    zd = ranks[d > 0].sum() - n * (n + 1) / 4
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - _tie_term(ranks) / 48)
    if sigma == 0:
        return float("nan")
    return float((zd - (_correction(zd) if corrected else 0.0)) / sigma)


def _signed_rank_normal(x, ranks, v, level, ties, zeros):
    n = len(x)
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - _tie_term(ranks) / 48)
    z = v - n * (n + 1) / 4
    p = two_sided_normal_p((z - _correction(z)) / sigma)
    notes = []
    if n < EXACT_MAX_N and (ties or zeros):
        notes.append("ties or zero changes: normal approximation with continuity correction "
                     "(zero changes are dropped, as in R)")
    estimate, ci = _signed_rank_location(x, level, notes)
    return RankTest(v, p, estimate, ci, False, (n,), tuple(notes))


def _signed_rank_location(x, level, notes):
    """Pseudo-median and CI by R's root finding (confidence level lowered if unreachable)."""
    lo, hi = float(x.min()), float(x.max())
    z_lo = _signed_rank_z(x, lo, True)
    z_hi = _signed_rank_z(x, hi, True) if np.isfinite(z_lo) else float("nan")
    if not np.isfinite(z_hi):
        raise NotEstimable("too few distinct changes for a signed-rank confidence interval")
    alpha = 1.0 - level
    while z_lo - stats.norm.isf(alpha / 2) < 0 or z_hi - stats.norm.ppf(alpha / 2) > 0:
        alpha *= 2                                # R widens until the limits are bracketed
    if alpha >= 1 or 1 - level < alpha * 0.75:
        level = 1.0 - min(1.0, alpha)
        notes.append(f"the requested confidence level is not achievable; the interval has "
                     f"level {level:.4g}")
    if alpha < 1:
        def root(zq):
            return uniroot(lambda d: _signed_rank_z(x, d, True) - zq, lo, hi, tol=ROOT_TOL,
                           f_lower=z_lo - zq, f_upper=z_hi - zq)
        ci = Interval(root(float(stats.norm.isf(alpha / 2))),
                      root(float(stats.norm.ppf(alpha / 2))), level)
    else:
        ci = Interval(float(np.median(x)), float(np.median(x)), level)
    estimate = uniroot(lambda d: _signed_rank_z(x, d, False), lo, hi, tol=ROOT_TOL)
    return estimate, ci
