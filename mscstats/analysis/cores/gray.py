"""Gray's test comparing the cumulative incidence of one cause among k groups.

A line-by-line port of cmprsk 2.2-11's Fortran ``crstm``/``crst`` (Gray 1988),
so the statistic is cuminc's ``Tests``: per stratum, scores of the first k - 1
groups and their variance are summed; the statistic is s' V^-1 s on k - 1 df.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .common import NotEstimable

__all__ = ["GrayTest", "gray_test"]


@dataclass(frozen=True)
class GrayTest:
    statistic: float
    df: int
    p_value: float
    scores: np.ndarray        # first k - 1 groups (sorted group order)
    variance: np.ndarray


def gray_test(time, cause, group, strata=None, rho: float = 0.0) -> GrayTest:
    """Gray's test of cause 1 (cause codes 0 censored, 1 of interest, 2 competing).

    Groups are taken in sorted order, as cuminc's factor does (the statistic does
    not depend on the order). Raises NotEstimable with fewer than two groups or
    when the score variance is singular (cuminc then reports statistic -1).
    """
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause, dtype=int)
    levels, group_code = np.unique(np.asarray(group), return_inverse=True)
    ng = len(levels)
    if ng < 2:
        raise NotEstimable("Gray's test needs at least two groups with subjects")
    strata = np.zeros(len(time), dtype=int) if strata is None else np.asarray(strata)
    scores, variance = np.zeros(ng - 1), np.zeros((ng - 1, ng - 1))
    for stratum in np.unique(strata):
        inside = strata == stratum
        order = np.argsort(time[inside], kind="mergesort")
        s, v = _stratum_scores(time[inside][order], cause[inside][order],
                               group_code[inside][order], ng, rho)
        scores += s
        variance += v
    if not (np.all(np.isfinite(variance)) and np.all(np.isfinite(scores))):
        raise NotEstimable("Gray's scores or their variance are not finite")
    if np.linalg.matrix_rank(variance, tol=1e-7 * max(np.abs(variance).max(), 1e-300)) < ng - 1:
        raise NotEstimable("the variance of Gray's scores is singular (cuminc reports -1): "
                           "too few events of interest to compare the groups")
    statistic = float(scores @ np.linalg.solve(variance, scores))
    return GrayTest(statistic, ng - 1, float(stats.chi2.sf(statistic, ng - 1)), scores, variance)


def _stratum_scores(y, m, ig, ng, rho):
    """crst: scores and variance within one stratum; y sorted increasing."""
    n = len(y)
    ng1 = ng - 1
    rs = np.bincount(ig, minlength=ng).astype(float)     # at risk in each group
    s = np.zeros(ng1)
    v = np.zeros((ng1, ng1))
    f1m = np.zeros(ng)              # left-continuous cumulative incidence per group
    skmm = np.ones(ng)              # left-continuous all-cause KM per group
    f1, skm = f1m.copy(), skmm.copy()
    v3 = np.zeros(ng)
    v2 = np.zeros((ng1, ng))
    c = np.zeros((ng, ng))
    fm = 0.0
    start = 0
    while start < n:
        stop = start
        while stop + 1 < n and y[stop + 1] <= y[start]:
            stop += 1
        d = np.zeros((3, ng))
        np.add.at(d, (m[start:stop + 1], ig[start:stop + 1]), 1.0)
        nd1, nd2 = d[1].sum(), d[2].sum()
        f = fm
        if nd1 > 0 or nd2 > 0:
            f, s, v, v2, v3, c, f1, skm = _time_step(d, nd1, nd2, rs, f1m, skmm, fm, rho,
                                                     s, v, v2, v3, c, f1, skm, ng)
        if stop >= n - 1:
            break
        np.subtract.at(rs, ig[start:stop + 1], 1.0)
        fm = f
        f1m, skmm = f1.copy(), skm.copy()
        start = stop + 1
    # Final assembly (label 30 of crst).
    v = v + (c[:ng1] * v3) @ c[:ng1].T + c[:ng1] @ v2.T + v2 @ c[:ng1].T
    return s, v


def _c_step(a, nd1, tr, fm):
    """crst's c increment a nd1 / (tr (1 - fm)), with no increment where a or nd1 is 0.

    The pooled incidence fm can reach 1 while one group still has subjects at risk
    (every other group's subjects gone); that group's a is then exactly 0 and Fortran
    computes 0 / 0 = NaN, which cmprsk never reads when the group is not among the
    first k - 1 but which would poison the statistic in another group order. The
    increment of a zero term is zero: the statistic no longer depends on the order.
    """
    if nd1 == 0:
        return np.zeros_like(a)
    out = np.zeros_like(a)
    nonzero = a != 0
    if nonzero.any():
        if not tr * (1 - fm) > 0:
            raise NotEstimable("the pooled cumulative incidence reached 1 with several groups "
                               "still at risk: Gray's variance is undefined")
        out[nonzero] = a[nonzero] * nd1 / (tr * (1 - fm))
    return out


def _time_step(d, nd1, nd2, rs, f1m, skmm, fm, rho, s, v, v2, v3, c, f1, skm, ng):
    """One distinct time with events (labels 60-82 of crst)."""
    ng1 = ng - 1
    live = rs > 0
    f1, skm = f1.copy(), skm.copy()
    td = d[1] + d[2]
    skm[live] = skmm[live] * (rs[live] - td[live]) / rs[live]
    f1[live] = f1m[live] + skmm[live] * d[1][live] / rs[live]
    h = np.zeros(ng)                      # rs / S(t-) per group with subjects at risk
    h[live] = rs[live] / skmm[live]
    tr = h.sum()
    tq = (h * (1 - f1m)).sum()
    f = fm + nd1 / tr
    fb = (1 - fm) ** rho
    a = -fb * np.outer(h, h) / tr
    np.fill_diagonal(a, fb * h * (1 - h / tr))
    a[~live, :] = 0.0
    a[:, ~live] = 0.0
    c = c + _c_step(a, nd1, tr, fm)
    s = s.copy()
    for i in np.flatnonzero(live[:ng1]):
        s[i] += fb * (d[1][i] - nd1 * rs[i] * (1 - f1m[i]) / (skmm[i] * tq))
    v, v2, v3 = v.copy(), v2.copy(), v3.copy()
    if nd1 > 0:
        for k in np.flatnonzero(live):
            t4 = 1 - (1 - f) / skm[k] if skm[k] > 0 else 1.0
            t5 = 1 - (nd1 - 1) / (tr * skmm[k] - 1) if nd1 > 1 else 1.0
            t3 = t5 * skmm[k] * nd1 / (tr * rs[k])
            v3[k] += t4 * t4 * t3
            t1 = a[:ng1, k] - t4 * c[:ng1, k]
            v2[:, k] += t1 * t4 * t3
            v += np.outer(t1, t1) * t3
    if nd2 > 0:
        for k in np.flatnonzero((skm > 0) & (d[2] > 0)):
            t4 = (1 - f) / skm[k]
            t5 = 1 - (d[2][k] - 1) / (rs[k] - 1) if d[2][k] > 1 else 1.0
            t3 = t5 * skmm[k] ** 2 * d[2][k] / rs[k] ** 2
            v3[k] += t4 * t4 * t3
            t1 = t4 * c[:ng1, k]
            v2[:, k] -= t1 * t4 * t3
            v += np.outer(t1, t1) * t3
    return f, s, v, v2, v3, c, f1, skm
