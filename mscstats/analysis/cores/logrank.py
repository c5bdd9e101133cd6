"""The k-sample log-rank test and its Fleming-Harrington family, as ``survival::survdiff``.

At each distinct event time of each stratum, with n at risk, d events, n_g at
risk and d_g events in arm g, and weight w:

    O_g - E_g  += w (d_g - d n_g / n)
    V_gh       += w^2 d (n - d) / (n - 1) (p_g [g = h] - p_g p_h),  p_g = n_g / n   (n > 1)

summed over strata (observed and expected per arm, variance pooled). The
statistic is (O - E)' V^- (O - E) over the arms with E > 0 less the first of
them, with (number of those arms - 1) degrees of freedom.

Weights (Fleming-Harrington G(rho, gamma)): w = S(t-)^rho (1 - S(t-))^gamma,
S the pooled Kaplan-Meier of the stratum, left-continuous, as survdiff
computes it for rho (survdiff has no gamma; gamma = 0 is survdiff exactly).
rho = gamma = 0 is the log-rank test, rho = 1 the Peto-Peto (Prentice)
modification of the Gehan-Wilcoxon test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .km import check_survival_data

__all__ = ["LogRank", "logrank_test"]


@dataclass(frozen=True)
class LogRank:
    """survdiff's result: per-arm (weighted) observed and expected events, variance, chi-square."""
    groups: tuple
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    statistic: float
    df: int
    p_value: float | None        # None when fewer than two arms have expected events, or
                                 # their variance is singular (no information: e.g. every
                                 # stratum holds one subject; survdiff stops with an error)


def _stratum_terms(time, event, group, k, rho, gamma):
    """O, E and V of one stratum (group coded 0..k-1)."""
    order = np.argsort(time, kind="stable")
    time, event, group = time[order], event[order], group[order]
    times, start = np.unique(time, return_index=True)
    n_at = len(time) - start                                   # at risk at each distinct time
    deaths = np.add.reduceat(event, start)
    weight = np.ones(len(times))
    if rho != 0 or gamma != 0:
        km = np.cumprod(1 - deaths / n_at)
        left = np.concatenate([[1.0], km[:-1]])                  # S(t-)
        weight = left ** rho * (1 - left) ** gamma
    run = np.repeat(np.arange(len(times)), np.diff(np.append(start, len(time))))
    d_g = np.zeros((len(times), k))
    np.add.at(d_g, (run, group), event)
    in_run = np.zeros((len(times), k))
    np.add.at(in_run, (run, group), 1.0)
    n_g = np.cumsum(in_run[::-1], axis=0)[::-1]                  # at risk per arm
    is_death = deaths > 0
    w, d, n, n_g, d_g = weight[is_death], deaths[is_death], n_at[is_death], n_g[is_death], d_g[is_death]
    observed = (w[:, None] * d_g).sum(axis=0)
    expected = (w[:, None] * d[:, None] * n_g / n[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, w ** 2 * d * (n - d) / (n - 1), 0.0)
    p = n_g / n[:, None]
    variance = np.einsum("t,tg,gh->gh", factor, p, np.eye(k)) - np.einsum("t,tg,th->gh", factor, p, p)
    return observed, expected, variance


def logrank_test(time, event, group, strata=None, rho: float = 0.0,
                 gamma: float = 0.0) -> LogRank:
    """``survdiff(Surv(time, event) ~ group + strata(strata), rho = rho)`` (and gamma)."""
    time, event = check_survival_data(time, event)
    group = np.asarray(group)
    labels, coded = np.unique(group, return_inverse=True)
    k = len(labels)
    stratum = np.zeros(len(time), dtype=int) if strata is None else \
        np.unique(np.asarray(strata), return_inverse=True)[1]
    observed, expected, variance = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for s in np.unique(stratum):
        rows = stratum == s
        o, e, v = _stratum_terms(time[rows], event[rows], coded[rows], k, rho, gamma)
        observed, expected, variance = observed + o, expected + e, variance + v
    used = np.flatnonzero(expected > 0)
    df = len(used) - 1
    statistic, p_value = 0.0, None
    if df >= 1:
        keep = used[1:]
        diff = (observed - expected)[keep]
        kept_variance = variance[np.ix_(keep, keep)]
        if np.linalg.matrix_rank(kept_variance) == len(keep):
            statistic = float(diff @ np.linalg.solve(kept_variance, diff))
            p_value = float(stats.chi2.sf(statistic, df))
    n = np.bincount(coded, minlength=k)
    return LogRank(tuple(labels.tolist()), n, observed, expected, variance, statistic, df, p_value)
