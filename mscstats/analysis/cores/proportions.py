"""Binary endpoints: proportions, 2 x 2 tables and their confidence intervals.

References (R 4.2): ``binom.test`` (Clopper-Pearson), ``prop.test(correct =
FALSE)`` (Wilson score), Newcombe (1998) method 10 for the risk difference,
``fisher.test`` (exact p, conditional maximum-likelihood odds ratio and its
exact CI) and ``chisq.test(correct = FALSE)``. The risk ratio has the Katz log
interval; with a zero cell in one arm 0.5 is added to every cell
(Haldane-Anscombe) and the result says so.

A 2 x 2 table here is (events, n) of the treated arm and (events, n) of the
reference arm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .common import Interval, NotEstimable, z_quantile
from .uniroot import uniroot

__all__ = ["clopper_pearson", "wilson", "newcombe_difference", "katz_risk_ratio",
           "FisherResult", "fisher_exact", "ChiSquare", "chi_square", "Estimate"]

_FISHER_REL_ERR = 1 + 1e-7        # fisher.test: probabilities within this factor count as equal
_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Estimate:
    estimate: float
    ci: Interval
    notes: tuple[str, ...] = ()


def _check(events: int, n: int) -> None:
    if n < 1:
        raise NotEstimable("an arm has no subjects")
    if not 0 <= events <= n:
        raise ValueError(f"events ({events}) must lie between 0 and n ({n})")


def clopper_pearson(events: int, n: int, level: float = 0.95) -> Estimate:
    """Proportion with the exact Clopper-Pearson interval (``binom.test``)."""
    _check(events, n)
    a = (1.0 - level) / 2.0
    lower = 0.0 if events == 0 else float(stats.beta.ppf(a, events, n - events + 1))
    upper = 1.0 if events == n else float(stats.beta.ppf(1.0 - a, events + 1, n - events))
    return Estimate(events / n, Interval(lower, upper, level))


def wilson(events: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval (``prop.test(x, n, correct = FALSE)$conf.int``)."""
    _check(events, n)
    z = z_quantile(level)
    p = events / n
    z22n = z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z22n / (2 * n))
    upper = 1.0 if p >= 1 else (p + z22n + half) / (1 + 2 * z22n)
    lower = 0.0 if p <= 0 else (p + z22n - half) / (1 + 2 * z22n)
    return Interval(lower, upper, level)


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, level: float = 0.95) -> Estimate:
    """Risk difference p1 - p2 with Newcombe's hybrid score interval (method 10)."""
    w1, w2 = wilson(x1, n1, level), wilson(x2, n2, level)
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    lower = d - math.sqrt((p1 - w1.lower) ** 2 + (w2.upper - p2) ** 2)
    upper = d + math.sqrt((w1.upper - p1) ** 2 + (p2 - w2.lower) ** 2)
    return Estimate(d, Interval(lower, upper, level))


def katz_risk_ratio(x1: int, n1: int, x2: int, n2: int, level: float = 0.95) -> Estimate:
    """Risk ratio p1 / p2 with the Katz interval on the log scale."""
    _check(x1, n1)
    _check(x2, n2)
    if x1 == 0 and x2 == 0:
        raise NotEstimable("no subject had the event in either arm: the risk ratio is undefined")
    if x1 == n1 and x2 == n2:
        raise NotEstimable("every subject had the event in both arms: the risk ratio is 1 "
                           "with no variability, so no interval")
    notes = ()
    e1, m1, e2, m2 = float(x1), float(n1), float(x2), float(n2)
    if x1 == 0 or x2 == 0:
        e1, m1, e2, m2 = e1 + 0.5, m1 + 1, e2 + 0.5, m2 + 1
        notes = ("risk ratio: an arm without events; 0.5 added to every cell "
                 "(Haldane-Anscombe correction)",)
    rr = (e1 / m1) / (e2 / m2)
    se = math.sqrt(1 / e1 - 1 / m1 + 1 / e2 - 1 / m2)
    z = z_quantile(level)
    return Estimate(rr, Interval(rr * math.exp(-z * se), rr * math.exp(z * se), level), notes)


# ------------------------------------------------------------------ Fisher's exact test

@dataclass(frozen=True)
class FisherResult:
    """``fisher.test`` on a 2 x 2 table: p and the conditional MLE odds ratio with exact CI."""
    p_value: float
    odds_ratio: float
    ci: Interval


class _Hypergeometric:
    """The conditional distribution of the treated arm's events given the margins
    (R's dnhyper/mnhyper/pnhyper inside fisher.test)."""

    def __init__(self, x1, n1, x2, n2):
        events, non_events = x1 + x2, (n1 - x1) + (n2 - x2)
        self.x = x1
        self.lo, self.hi = max(0, n1 - non_events), min(n1, events)
        self.support = np.arange(self.lo, self.hi + 1)
        self.log_density = stats.hypergeom.logpmf(self.support, events + non_events, events, n1)
        self._params = (events + non_events, events, n1)

    def density(self, ncp: float) -> np.ndarray:
        d = self.log_density + math.log(ncp) * self.support
        d = np.exp(d - d.max())
        return d / d.sum()

    def mean(self, ncp: float) -> float:
        if ncp == 0:
            return float(self.lo)
        if ncp == math.inf:
            return float(self.hi)
        return float(np.sum(self.support * self.density(ncp)))

    def tail(self, ncp: float, upper: bool) -> float:
        """P(X <= x) (or P(X >= x) when upper) under odds ratio ncp."""
        if ncp == 1:
            m, k, nn = self._params
            return float(stats.hypergeom.sf(self.x - 1, m, k, nn) if upper
                         else stats.hypergeom.cdf(self.x, m, k, nn))
        if ncp == 0:
            return float(self.x <= self.lo if upper else self.x >= self.lo)
        if ncp == math.inf:
            return float(self.x <= self.hi if upper else self.x >= self.hi)
        keep = self.support >= self.x if upper else self.support <= self.x
        return float(np.sum(self.density(ncp)[keep]))


def _solve_odds(f, target: float, below: bool) -> float:
    """fisher.test's search: the root on (0, 1) if it lies below 1, else 1 / root of f(1/t)."""
    if below:
        return uniroot(lambda t: f(t) - target, 0.0, 1.0)
    return 1.0 / uniroot(lambda t: f(1.0 / t) - target, _EPS, 1.0)


def fisher_exact(x1: int, n1: int, x2: int, n2: int, level: float = 0.95) -> FisherResult:
    """Fisher's exact test, two-sided, as ``fisher.test(matrix(c(x1, n1-x1, x2, n2-x2), 2, byrow=TRUE))``.

    The p-value sums the tables no more probable than the observed one (with
    R's relative tolerance 1e-7). The odds ratio is the conditional MLE; it is
    0 or Inf with a zero cell, and R reports 0 with CI (0, Inf) when the
    margins allow one table only (no events, or only events).
    """
    h = _Hypergeometric(x1, n1, x2, n2)
    return FisherResult(fisher_exact_p(x1, n1, x2, n2, h), _conditional_mle(h),
                        _exact_odds_interval(h, level))


def fisher_exact_p(x1: int, n1: int, x2: int, n2: int, h: _Hypergeometric | None = None) -> float:
    """The two-sided p-value of ``fisher_exact`` alone (simulation needs nothing else)."""
    _check(x1, n1)
    _check(x2, n2)
    h = h or _Hypergeometric(x1, n1, x2, n2)
    d = h.density(1.0)
    return float(min(1.0, np.sum(d[d <= d[x1 - h.lo] * _FISHER_REL_ERR])))


def _conditional_mle(h: _Hypergeometric) -> float:
    if h.x == h.lo:
        return 0.0
    if h.x == h.hi:
        return math.inf
    mu = h.mean(1.0)
    if mu == h.x:
        return 1.0
    return _solve_odds(h.mean, h.x, below=mu > h.x)


def _exact_odds_interval(h: _Hypergeometric, level: float) -> Interval:
    alpha = (1.0 - level) / 2.0

    def upper_limit():
        if h.x == h.hi:
            return math.inf
        p = h.tail(1.0, upper=False)
        if p == alpha:
            return 1.0
        return _solve_odds(lambda t: h.tail(t, upper=False), alpha, below=p < alpha)

    def lower_limit():
        if h.x == h.lo:
            return 0.0
        p = h.tail(1.0, upper=True)
        if p == alpha:
            return 1.0
        return _solve_odds(lambda t: h.tail(t, upper=True), alpha, below=p > alpha)

    return Interval(lower_limit(), upper_limit(), level)


# ------------------------------------------------------------------ Pearson chi-square

@dataclass(frozen=True)
class ChiSquare:
    statistic: float
    df: int
    p_value: float


def chi_square(x1: int, n1: int, x2: int, n2: int) -> ChiSquare:
    """Pearson chi-square without continuity correction (``chisq.test(correct = FALSE)``)."""
    _check(x1, n1)
    _check(x2, n2)
    observed = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=float)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    if np.any(expected == 0):
        raise NotEstimable("the chi-square test is undefined when no subject (or every "
                           "subject) had the event")
    x2stat = float(np.sum((observed - expected) ** 2 / expected))
    return ChiSquare(x2stat, 1, float(stats.chi2.sf(x2stat, 1)))
