"""Competing risks over replicates: the Aalen-Johansen cumulative incidence with
cmprsk's variance (cores/cuminc.py) and the Fine-Gray model (cores/finegray.py, crr),
for every replicate of a (B, n) batch at once.

Cause codes: 0 censored, 1 the event of interest, 2 competing. ``included`` (B, n)
marks each replicate's subjects (one arm for the incidence, the model's rows for
Fine-Gray).

* cuminc_batch: cinc's recursion is a running product (the all-cause survival) and
  running sums (F and the three variance sums), so it is cumulative products and sums
  over the sorted subjects (steps.py), evaluated at landmark days as ``timepoints``
  (NA after the arm's last follow-up).
* finegray_batch: crr's Newton-Raphson (start 0, gtol 1e-6, at most 10 iterations,
  Armijo step halving) with the censoring weights G(u-)/G(t-) of every replicate in
  one (B, K, n) weight array, K the distinct times of the event of interest in the
  batch, and crr's sandwich variance with the censoring term. ``reliable`` is False
  where crr would stop otherwise (no event of interest, a singular information, no
  convergence, halving that fails, an SE that is not positive) or where its
  convergence test is within rounding of its threshold: the adapter hands those to
  the runner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cores.common import z_quantile
from .kernels import _take
from .steps import Sorted, sort_by_time

__all__ = ["IncidenceBatch", "FineGrayBatch", "GrayBatch", "cuminc_batch",
           "loglog_interval_batch", "finegray_batch", "gray_batch"]


@dataclass(frozen=True)
class IncidenceBatch:
    """The cumulative incidence at one day per replicate; NaN where the core gives None."""
    estimate: np.ndarray
    variance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _ties(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 1, 1.0 - (d - 1.0) / (n - 1.0), 1.0)


def _incidence_steps(steps: Sorted, cause: np.ndarray):
    """F and cmprsk's variance at each sorted position (cumulative_incidence)."""
    c = steps.take(cause)
    real = steps.time < np.inf
    nd1 = np.where(steps.last, steps.run_sum(((c == 1) & real).astype(float)), 0.0)
    nd2 = np.where(steps.last, steps.run_sum(((c == 2) & real).astype(float)), 0.0)
    rs = np.where(steps.last, steps.at_risk, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(steps.last, (rs - nd1 - nd2) / rs, 1.0)
        surv_next = np.cumprod(factor, axis=-1)
        surv = np.concatenate([np.ones_like(surv_next[:, :1]), surv_next[:, :-1]], axis=-1)
        f = np.cumsum(surv * nd1 / rs, axis=-1)
        alive = surv_next > 0
        t6 = surv * surv * _ties(nd2, rs) * nd2 / (rs * rs)
        t3 = np.where(alive, 1.0 / surv_next, 0.0)
        t4 = np.where(alive, f / surv_next, 0.0)
        competing = (nd2 > 0) & alive
        d1, d2, d3 = (np.where(competing, v, 0.0) for v in (t4 * t4 * t6, t3 * t4 * t6,
                                                             t3 * t3 * t6))
        t6 = surv * surv * _ties(nd1, rs) * nd1 / (rs * rs)
        t4 = 1.0 + t3 * f
        own = nd1 > 0
        e1, e2, e3 = (np.where(own, v, 0.0) for v in (t4 * t4 * t6, t3 * t4 * t6,
                                                       t3 * t3 * t6))
    v1, v2, v3 = (np.cumsum(a + b, axis=-1) for a, b in ((d1, e1), (d2, e2), (d3, e3)))
    var = v1 + f * f * v3 - 2.0 * f * v2
    n = var.shape[-1]
    latest = np.maximum.accumulate(np.where(own, np.arange(n), -1), axis=-1)
    return f, np.where(latest >= 0, _take(var, np.maximum(latest, 0)), 0.0)


def loglog_interval_batch(estimate, variance, level: float):
    """cores.cuminc.loglog_interval elementwise; NaN where it gives None."""
    z = z_quantile(level)
    ok = (estimate > 0) & (estimate < 1) & np.isfinite(variance) & (variance >= 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = estimate * np.log(estimate)
        ok &= scale != 0
        factor = z * np.sqrt(variance) / scale

        def power(x):
            return np.where(x > 709.0, 0.0, estimate ** np.exp(np.minimum(x, 709.0)))
        a, b = power(factor), power(-factor)
    return (np.where(ok, np.minimum(a, b), np.nan), np.where(ok, np.maximum(a, b), np.nan))


def cuminc_batch(time, cause, included, days, level: float = 0.95) -> list[IncidenceBatch]:
    """at_landmarks(cumulative_incidence(...), days, level) of each replicate's
    included subjects (one arm), one IncidenceBatch per day."""
    steps = sort_by_time(time, included)
    f, var = _incidence_steps(steps, np.asarray(cause))
    last_follow_up = np.where(steps.count > 0,
                              np.take_along_axis(steps.time, np.maximum(steps.count - 1, 0)[:, None],
                                                 axis=-1)[:, 0], -np.inf)
    out = []
    for day in days:
        day = float(day)
        count = (steps.time <= day).sum(axis=-1)
        i = np.maximum(count - 1, 0)[:, None]
        est = np.where(count > 0, np.take_along_axis(f, i, axis=-1)[:, 0], 0.0)
        v = np.where(count > 0, np.take_along_axis(var, i, axis=-1)[:, 0], 0.0)
        gone = (day > last_follow_up) | (day < 0)
        est, v = np.where(gone, np.nan, est), np.where(gone, np.nan, v)
        lower, upper = loglog_interval_batch(est, v, level)
        out.append(IncidenceBatch(est, v, lower, upper))
    return out


# ------------------------------------------------------------------ Fine-Gray

@dataclass(frozen=True)
class FineGrayBatch:
    params: np.ndarray        # (B, p)
    se: np.ndarray            # (B, p), crr's sandwich
    reliable: np.ndarray      # (B,)
    converged: np.ndarray
    iterations: np.ndarray


@dataclass(frozen=True)
class _Weights:
    x: np.ndarray             # (B, n, p) sorted, 0 where left out
    cause: np.ndarray         # (B, n) sorted, -1 where left out
    weight: np.ndarray        # (B, K, n) risk-set weights at each event slot
    deaths: np.ndarray        # (B, K)
    event_x: np.ndarray       # (B, p)
    g_before: np.ndarray      # (B, n) G(t-) of each sorted subject
    g_at: np.ndarray          # (B, K) G(u-) at each slot
    slot: np.ndarray          # (K,) the slots' times
    steps: Sorted


def _censoring_before(steps: Sorted, cause_s: np.ndarray) -> np.ndarray:
    """censoring_survival_before at each sorted position (G(t-), G(t) at time 0)."""
    censored = np.where(steps.last, steps.run_sum((cause_s == 0).astype(float)), 0.0)
    after = np.cumprod(np.where(steps.last, 1.0 - censored / np.where(steps.last, steps.at_risk,
                                                                        1.0), 1.0), axis=-1)
    before = np.where(steps.start > 0, _take(after, np.maximum(steps.start - 1, 0)), 1.0)
    return np.where(steps.time == 0, _take(after, steps.end), before)


def _weights(time, cause, x, included) -> _Weights:
    steps = sort_by_time(time, included)
    real = steps.time < np.inf
    cause_s = np.where(real, steps.take(np.asarray(cause)), -1)
    x_s = np.where(real[..., None], np.take_along_axis(x, steps.order[..., None], axis=1), 0.0)
    g_before = _censoring_before(steps, cause_s)
    slot = np.unique(steps.time[cause_s == 1])
    t = steps.time
    deaths = ((t[:, None, :] == slot[None, :, None]) & (cause_s[:, None, :] == 1)).sum(-1)
    first = (t[:, None, :] < slot[None, :, None]).sum(-1)                 # (B, K)
    g_at = np.where(first < t.shape[-1], _take(g_before, np.minimum(first, t.shape[-1] - 1)), 1.0)
    still = (t[:, None, :] >= slot[None, :, None]) & real[:, None, :]
    competed = (cause_s[:, None, :] == 2) & ~still
    with np.errstate(divide="ignore", invalid="ignore"):   # G(t-) is 0 only for others
        ratio = g_at[..., None] / g_before[:, None, :]
    weight = np.where(still, 1.0, np.where(competed, ratio, 0.0))
    event_x = (x_s * (cause_s == 1)[..., None]).sum(axis=1)
    return _Weights(x_s, cause_s, weight, deaths.astype(float), event_x, g_before, g_at, slot,
                    steps)


def _sums(w: _Weights, beta):
    # a step too long overflows: its objective is not finite and the step is halved
    with np.errstate(over="ignore", invalid="ignore"):
        r = np.exp(np.einsum("bnp,bp->bn", w.x, beta))
        wr = w.weight * r[:, None, :]
        s0 = wr.sum(axis=-1)
        s1 = wr @ w.x
    return r, wr, np.where(w.deaths > 0, s0, 1.0), s1


def _objective(w: _Weights, beta) -> np.ndarray:
    _, _, s0, _ = _sums(w, beta)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return -(w.event_x * beta).sum(-1) + (w.deaths * np.log(s0)).sum(-1)


def _derivatives(w: _Weights, beta):
    # a replicate on its way to an infinite coefficient overflows: its information is
    # then not finite and it is left to the runner
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _derivative_terms(w, beta)


def _derivative_terms(w: _Weights, beta):
    _, wr, s0, s1 = _sums(w, beta)
    xbar = s1 / s0[..., None]
    gradient = -w.event_x + (w.deaths[..., None] * xbar).sum(axis=1)
    s2 = np.einsum("bkn,bni,bnj->bkij", wr, w.x, w.x)
    hessian = ((w.deaths / s0)[..., None, None] * s2).sum(axis=1) \
        - np.einsum("bk,bki,bkj->bij", w.deaths, xbar, xbar)
    lik = -(w.event_x * beta).sum(-1) + (w.deaths * np.log(s0)).sum(-1)
    return lik, gradient, hessian


def _invertible(h: np.ndarray) -> np.ndarray:
    finite = np.isfinite(h).all(axis=(-1, -2))
    eig = np.linalg.eigvalsh(np.where(finite[:, None, None], h, np.eye(h.shape[-1])))
    return finite & (eig[:, 0] > 1e-10 * np.maximum(np.abs(eig[:, -1]), 1e-300))


def finegray_batch(time, cause, x, included, *, gtol: float = 1e-6,
                   max_iter: int = 10) -> FineGrayBatch:
    """fine_gray(time, cause, x) of each replicate's included subjects; x (B, n, p)."""
    x = np.asarray(x, dtype=np.float64)
    w = _weights(np.asarray(time, dtype=np.float64), np.asarray(cause), x, included)
    b, p = x.shape[0], x.shape[-1]
    beta = np.zeros((b, p))
    reliable = w.deaths.sum(-1) > 0
    converged = np.zeros(b, dtype=bool)
    iterations = np.zeros(b, dtype=int)
    active = reliable.copy()
    eye = np.eye(p)
    for it in range(max_iter + 1):
        lik, gradient, hessian = _derivatives(w, beta)
        test = np.max(np.abs(gradient) * np.maximum(np.abs(beta), 1), axis=-1)
        threshold = np.maximum(np.abs(lik), 1) * gtol
        # crr's test decided by rounding: the runner
        reliable &= ~(active & (np.abs(test - threshold) <= 1e-8 * threshold))
        now = active & (test < threshold)
        converged |= now
        iterations = np.where(active, it, iterations)
        active &= ~now
        if it == max_iter or not active.any():
            break
        ok = _invertible(hessian)
        reliable &= ~(active & ~ok)
        active &= ok
        step = -np.linalg.solve(np.where(active[:, None, None], hessian, eye),
                                np.where(active[:, None], gradient, 0.0)[..., None])[..., 0]
        pending = active.copy()
        for _ in range(21):
            value = _objective(w, beta + step)
            good = pending & np.isfinite(value) & \
                (value <= lik + 1e-4 * (step * gradient).sum(-1))
            beta = np.where(good[:, None], beta + step, beta)
            pending &= ~good
            if not pending.any():
                break
            step = np.where(pending[:, None], step * 0.5, step)
        active &= ~pending                            # halving failed: crr stops unconverged
    reliable &= converged
    _, _, information = _derivatives(w, beta)
    ok = _invertible(information)
    reliable &= ok
    information = np.where(ok[:, None, None], information, eye)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        variance = _sandwich(w, beta, information)     # overflowing replicates: not reliable
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diagonal(variance, axis1=-2, axis2=-1))
    reliable &= (np.isfinite(se) & (se > 0)).all(axis=-1) & np.isfinite(beta).all(axis=-1)
    return FineGrayBatch(beta, se, reliable, converged, iterations)


def _sandwich(w: _Weights, beta, information) -> np.ndarray:
    """crrvv: H^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') H^-1."""
    r, _, s0, s1 = _sums(w, beta)
    xbar = s1 / s0[..., None]                                      # (B, K, p)
    a = (w.deaths / s0)[..., None] * w.weight                      # (B, K, n)
    eta = -(w.x * (a.sum(axis=1) * r)[..., None]) + np.einsum("bkn,bkp->bnp", a * r[:, None, :],
                                                              xbar)
    failed = w.cause == 1
    k_of = np.searchsorted(w.slot, np.where(failed, w.steps.time, w.slot[0] if len(w.slot) else 0))
    own = np.take_along_axis(xbar, np.minimum(k_of, max(len(w.slot) - 1, 0))[..., None], axis=1)
    eta = eta + np.where(failed[..., None], w.x - own, 0.0)
    scores = eta + _censoring_term(w, r, s0, xbar)
    scores = np.where((w.cause >= 0)[..., None], scores, 0.0)
    inverse = np.linalg.inv(information)
    meat = np.einsum("bni,bnj->bij", scores, scores)
    return inverse @ meat @ np.swapaxes(inverse, -1, -2)


def _censoring_term(w: _Weights, r, s0, xbar) -> np.ndarray:
    """psi: the score's term for estimating G by Kaplan-Meier (crrvv), per subject."""
    steps = w.steps
    t = steps.time
    n = t.shape[-1]
    competing = (w.cause == 2).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(competing > 0, r / w.g_before, 0.0)
    # sums over competing subjects with time < the position's time: positions < start
    cb = np.concatenate([np.zeros_like(ratio[:, :1]), np.cumsum(ratio, axis=-1)], axis=-1)
    ca = np.concatenate([np.zeros_like(w.x[:, :1]), np.cumsum(ratio[..., None] * w.x, axis=1)],
                        axis=1)
    b_before = _take(cb, steps.start)
    a_before = np.take_along_axis(ca, steps.start[..., None], axis=1)
    c = w.deaths * w.g_at / s0                                     # (B, K)
    later = (w.slot[None, None, :] >= t[..., None])                # (B, n, K)
    c1 = (later * c[:, None, :]).sum(-1)
    c2 = np.einsum("bnk,bk,bkp->bnp", later.astype(float), c, xbar)
    q = c1[..., None] * a_before - c2 * b_before[..., None]
    censored = steps.run_sum((w.cause == 0).astype(float))
    n_censored = _take(censored, steps.end)                        # the run's, everywhere
    q = np.where((n_censored > 0)[..., None], q, 0.0)
    at_risk = np.where(steps.time < np.inf, steps.at_risk, 1.0)     # left out: 0, unused
    contribution = np.where((steps.last & (n_censored > 0))[..., None],
                            -n_censored[..., None] * q / (at_risk ** 2)[..., None], 0.0)
    ss2 = np.take_along_axis(np.cumsum(contribution, axis=1), steps.end[..., None], axis=1)
    psi = ss2 + np.where((w.cause == 0)[..., None], q / at_risk[..., None], 0.0)
    return np.where((t < np.inf)[..., None], psi, 0.0) if n else psi


# ------------------------------------------------------------------ Gray's test

@dataclass(frozen=True)
class GrayBatch:
    statistic: np.ndarray     # (B,), NaN where not reliable
    df: int
    p: np.ndarray
    reliable: np.ndarray      # False where gray_test raises NotEstimable (or an arm is empty)


def gray_batch(time, cause, group, included, strata=None, groups: int = 2) -> GrayBatch:
    """cores.gray.gray_test of each replicate's included subjects; group (B, n) codes
    0..groups-1, strata (B, n) integer codes or None (rho = 0, as cuminc's default)."""
    from scipy.special import chdtrc
    time, cause, group = (np.asarray(a) for a in (time, cause, group))
    included = np.asarray(included, dtype=bool)
    ng1 = groups - 1
    scores, variance = np.zeros((len(time), ng1)), np.zeros((len(time), ng1, ng1))
    reliable = np.logical_and.reduce([(included & (group == g)).any(axis=1)
                                      for g in range(groups)])
    codes = np.zeros(time.shape, dtype=np.int64) if strata is None else np.asarray(strata)
    for stratum in np.unique(codes[included]):
        s, v, ok = _gray_stratum(time, cause, group, included & (codes == stratum), groups)
        scores, variance, reliable = scores + s, variance + v, reliable & ok
    reliable &= np.isfinite(variance).all(axis=(1, 2)) & np.isfinite(scores).all(axis=1)
    safe = np.where(reliable[:, None, None], variance, np.eye(ng1))
    singular = np.linalg.svd(safe, compute_uv=False)
    tol = 1e-7 * np.maximum(np.abs(safe).max(axis=(1, 2)), 1e-300)
    reliable &= (singular > tol[:, None]).sum(axis=1) == ng1
    safe = np.where(reliable[:, None, None], safe, np.eye(ng1))
    statistic = np.einsum("bi,bi->b", scores, np.linalg.solve(safe, scores[..., None])[..., 0])
    statistic = np.where(reliable, statistic, np.nan)
    # a statistic that is 0 but for rounding can be negative: scipy.stats.chi2.sf gives 1
    p = np.where(statistic < 0, 1.0, chdtrc(ng1, np.maximum(statistic, 0.0)))
    return GrayBatch(statistic, ng1, np.where(reliable, p, np.nan), reliable)


def _run_counts(time, cause, group, mask, groups):
    """Per replicate, at each distinct time (compressed to the left, T columns): events
    of each cause and subjects leaving, by group (B, T, groups), and the times' count."""
    steps = sort_by_time(time, mask)
    real = steps.time < np.inf
    c, g = steps.take(cause), steps.take(group)
    onehot = (g[..., None] == np.arange(groups)) & real[..., None]
    width = max(int(steps.last.sum(axis=1).max(initial=0)), 1)
    idx = np.argsort(~steps.last, axis=1, kind="stable")[:, :width]        # run-last positions
    start = _take(steps.start, idx)

    def per_run(indicator):
        total = np.cumsum(onehot & indicator[..., None], axis=1).astype(np.float64)
        total = np.concatenate([np.zeros_like(total[:, :1]), total], axis=1)
        return (np.take_along_axis(total, (idx + 1)[..., None], axis=1)
                - np.take_along_axis(total, start[..., None], axis=1))
    d1, d2, leaving = per_run(c == 1), per_run(c == 2), per_run(real)
    runs = steps.last.sum(axis=1)
    return d1, d2, leaving, runs, onehot.sum(axis=1).astype(np.float64)


def _gray_stratum(time, cause, group, mask, ng):
    """crst within one stratum for every replicate: scores (B, ng - 1), variance, ok."""
    d1s, d2s, leaving, runs, rs = _run_counts(time, cause, group, mask, ng)
    b, ng1 = len(time), ng - 1
    s, v = np.zeros((b, ng1)), np.zeros((b, ng1, ng1))
    f1m, skmm = np.zeros((b, ng)), np.ones((b, ng))
    v3, v2, c = np.zeros((b, ng)), np.zeros((b, ng1, ng)), np.zeros((b, ng, ng))
    fm = np.zeros(b)
    ok = np.ones(b, dtype=bool)
    for t in range(d1s.shape[1]):
        d1, d2 = d1s[:, t], d2s[:, t]
        nd1, nd2 = d1.sum(-1), d2.sum(-1)
        has = (t < runs) & (nd1 + nd2 > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = _gray_time(d1, d2, nd1, nd2, rs, f1m, skmm, fm, s, v, v2, v3, c)
        f, s_new, v_new, v2_new, v3_new, c_new, f1, skm, fine = step
        ok &= ~has | fine
        keep = has & fine

        def pick(new, old):
            return np.where(keep.reshape(keep.shape + (1,) * (new.ndim - 1)), new, old)
        s, v, v2, v3, c = (pick(n, o) for n, o in ((s_new, s), (v_new, v), (v2_new, v2),
                                                   (v3_new, v3), (c_new, c)))
        fm = np.where(keep, f, fm)
        f1m, skmm = pick(f1, f1m), pick(skm, skmm)
        rs = rs - np.where((t < runs)[:, None], leaving[:, t], 0.0)
    cc = c[:, :ng1]
    v = v + (cc * v3[:, None, :]) @ np.swapaxes(cc, 1, 2) + cc @ np.swapaxes(v2, 1, 2) \
        + v2 @ np.swapaxes(cc, 1, 2)
    return s, v, ok


def _gray_time(d1, d2, nd1, nd2, rs, f1m, skmm, fm, s, v, v2, v3, c):
    """cores.gray._time_step for every replicate (B, ng) at once."""
    ng = rs.shape[1]
    ng1 = ng - 1
    live = rs > 0
    td = d1 + d2
    skm = np.where(live, skmm * (rs - td) / rs, skmm)
    f1 = np.where(live, f1m + skmm * d1 / rs, f1m)
    h = np.where(live, rs / skmm, 0.0)
    tr = h.sum(-1)
    tq = (h * (1 - f1m)).sum(-1)
    f = fm + nd1 / tr
    a = -h[:, :, None] * h[:, None, :] / tr[:, None, None]
    diagonal = h * (1 - h / tr[:, None])
    a[:, np.arange(ng), np.arange(ng)] = diagonal
    both = live[:, :, None] & live[:, None, :]
    a = np.where(both, a, 0.0)
    denominator = (tr * (1 - fm))[:, None, None]
    nonzero = (a != 0) & (nd1 > 0)[:, None, None]
    fine = ~(nonzero.any(axis=(1, 2)) & ~(tr * (1 - fm) > 0))
    c = c + np.where(nonzero, a * nd1[:, None, None] / denominator, 0.0)
    share = d1[:, :ng1] - nd1[:, None] * rs[:, :ng1] * (1 - f1m[:, :ng1]) / (skmm[:, :ng1]
                                                                            * tq[:, None])
    s = s + np.where(live[:, :ng1], share, 0.0)
    # events of interest: every live group k
    t4 = np.where(skm > 0, 1 - (1 - f)[:, None] / skm, 1.0)
    t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
    t3 = np.where(live & (nd1[:, None] > 0), t5 * skmm * nd1[:, None] / (tr[:, None] * rs), 0.0)
    t1 = a[:, :ng1, :] - t4[:, None, :] * c[:, :ng1, :]                 # (B, ng1, ng)
    v3 = v3 + t4 * t4 * t3
    v2 = v2 + t1 * (t4 * t3)[:, None, :]
    v = v + np.einsum("bik,bjk,bk->bij", t1, t1, t3)
    # competing events: groups still alive with one
    mine = (skm > 0) & (d2 > 0) & (nd2[:, None] > 0)
    t4 = np.where(mine, (1 - f)[:, None] / skm, 0.0)
    t5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
    t3 = np.where(mine, t5 * skmm ** 2 * d2 / rs ** 2, 0.0)
    t1 = t4[:, None, :] * c[:, :ng1, :]
    v3 = v3 + t4 * t4 * t3
    v2 = v2 - t1 * (t4 * t3)[:, None, :]
    v = v + np.einsum("bik,bjk,bk->bij", t1, t1, t3)
    return f, s, v, v2, v3, c, f1, skm, fine
