"""Fine-Gray proportional subdistribution hazards regression: cmprsk's crr.

A port of cmprsk 2.2-11 (R ``crr`` and Fortran ``crrfsv``, ``crrf``, ``crrvv``)
with one censoring group and time-fixed covariates:

* a subject with a competing event stays in the risk set after its event,
  weighted by G(t-) / G(s-), G the Kaplan-Meier of the censoring distribution
  (censoring as the event, every failure as censored), evaluated just before
  each time as crr's ``approx(ftime * (1 - 100 eps))`` does;
* Newton-Raphson from 0 with crr's convergence rule (gtol 1e-6, at most 10
  iterations) and step halving;
* the sandwich variance crr reports, H^-1 (sum_i (eta_i + psi_i)^{x2}) H^-1,
  where psi_i is the term for estimating G (Fine and Gray 1999).

Cause codes: 0 censored, 1 the event of interest, 2 competing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import NotEstimable

__all__ = ["FineGrayFit", "censoring_survival_before", "fine_gray"]


@dataclass(frozen=True)
class FineGrayFit:
    params: np.ndarray            # log subdistribution hazard ratios, one per column
    cov_params: np.ndarray        # crr's sandwich variance
    information: np.ndarray       # minus the Hessian of the log pseudo-likelihood
    llf: float                    # log pseudo-likelihood at the estimate
    llnull: float                 # and at beta = 0
    converged: bool
    iterations: int
    n: int

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov_params))


def censoring_survival_before(time: np.ndarray, cause: np.ndarray) -> np.ndarray:
    """G(t_i-): Kaplan-Meier of censoring at each subject's time, just before it."""
    times, inverse = np.unique(time, return_inverse=True)
    censored = np.bincount(inverse, weights=(cause == 0), minlength=len(times))
    leaving = np.bincount(inverse, minlength=len(times))
    at_risk = len(time) - np.concatenate(([0], np.cumsum(leaving)[:-1]))
    after = np.cumprod(1.0 - censored / at_risk)            # G(t) at each distinct time
    before = np.concatenate(([1.0], after[:-1]))            # G(t-)
    # crr evaluates G at time * (1 - 100 eps), which is 0 itself at time 0, so
    # censorings at time 0 count there
    before = np.where(times == 0, after, before)
    return before[inverse]


@dataclass(frozen=True)
class _RiskSets:
    """The weighted risk sets at the distinct times of the event of interest."""
    weight: np.ndarray        # (K, n): 1 if still at risk, G(u-)/G(t-) after a competing event
    deaths: np.ndarray        # (K,) events of interest at each time (d_k)
    event_x: np.ndarray       # (p,) sum of covariates over subjects with the event


def _risk_sets(time, cause, x, g_before) -> _RiskSets:
    event_times = np.unique(time[cause == 1])
    deaths = np.array([(time[cause == 1] == u).sum() for u in event_times], dtype=float)
    g_at = np.array([g_before[np.searchsorted(time, u)] for u in event_times])
    still = time[None, :] >= event_times[:, None]
    competed = (cause[None, :] == 2) & ~still
    weight = np.where(still, 1.0, 0.0)
    weight = np.where(competed, g_at[:, None] / g_before[None, :], weight)
    return _RiskSets(weight, deaths, x[cause == 1].sum(axis=0))


def _sums(rs: _RiskSets, x, beta):
    r = np.exp(x @ beta)
    wr = rs.weight * r[None, :]                     # (K, n)
    s0 = wr.sum(axis=1)
    s1 = wr @ x                                     # (K, p)
    return r, wr, s0, s1


def _objective(rs: _RiskSets, x, beta) -> float:
    """Minus the log pseudo-likelihood (crr minimises it, as crrf does)."""
    _, _, s0, _ = _sums(rs, x, beta)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return float(-(rs.event_x @ beta) + (rs.deaths * np.log(s0)).sum())


def _derivatives(rs: _RiskSets, x, beta):
    """(objective, gradient, Hessian) of minus the log pseudo-likelihood (crrfsv)."""
    _, wr, s0, s1 = _sums(rs, x, beta)
    xbar = s1 / s0[:, None]
    gradient = -rs.event_x + (rs.deaths[:, None] * xbar).sum(axis=0)
    s2 = np.einsum("kn,ni,nj->kij", wr, x, x)
    hessian = ((rs.deaths / s0)[:, None, None] * s2).sum(axis=0) \
        - np.einsum("k,ki,kj->ij", rs.deaths, xbar, xbar)
    lik = float(-(rs.event_x @ beta) + (rs.deaths * np.log(s0)).sum())
    return lik, gradient, hessian


def fine_gray(time, cause, x, *, gtol: float = 1e-6, max_iter: int = 10) -> FineGrayFit:
    """crr(time, cause, x): coefficients, sandwich variance and convergence.

    Raises NotEstimable when there is no event of interest or the information
    matrix is singular.
    """
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause, dtype=int)
    x = np.asarray(x, dtype=float).reshape(len(time), -1)
    order = np.argsort(time, kind="mergesort")     # crr sorts by time (ties keep input order)
    time, cause, x = time[order], cause[order], x[order]
    if not (cause == 1).any():
        raise NotEstimable("no event of interest: the subdistribution hazard ratio is not estimable")
    g_before = censoring_survival_before(time, cause)
    rs = _risk_sets(time, cause, x, g_before)
    beta = np.zeros(x.shape[1])
    converged, iterations = False, 0
    for iterations in range(max_iter + 1):
        lik, gradient, hessian = _derivatives(rs, x, beta)
        if np.max(np.abs(gradient) * np.maximum(np.abs(beta), 1)) < max(abs(lik), 1) * gtol:
            converged = True
            break
        if iterations == max_iter:
            break
        beta, ok = _newton_step(rs, x, beta, lik, gradient, hessian)
        if not ok:
            break
    lik, _, information = _derivatives(rs, x, beta)
    variance = _sandwich(time, cause, x, beta, rs, g_before, information)
    return FineGrayFit(beta, variance, information, -lik, -_objective(rs, x, np.zeros_like(beta)),
                       converged, iterations, len(time))


def _newton_step(rs, x, beta, lik, gradient, hessian):
    """One Newton step with crr's backtracking (Armijo 1e-4, halving, at most 20)."""
    try:
        step = -np.linalg.solve(hessian, gradient)
    except np.linalg.LinAlgError:
        raise NotEstimable("the information matrix is singular (a covariate without variation "
                           "among subjects at risk, or no events in an arm)") from None
    for _ in range(21):
        new = beta + step
        value = _objective(rs, x, new)
        if np.isfinite(value) and value <= lik + 1e-4 * float(step @ gradient):
            return new, True
        step = step * 0.5
    return beta, False


def _sandwich(time, cause, x, beta, rs: _RiskSets, g_before, information) -> np.ndarray:
    """crrvv: H^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') H^-1."""
    r, _, s0, s1 = _sums(rs, x, beta)
    xbar = s1 / s0[:, None]                                       # (K, p)
    event_times = np.unique(time[cause == 1])
    # eta: the score residual of each subject (dN part minus d Lambda part)
    a = (rs.deaths / s0)[:, None] * rs.weight                     # (K, n)
    eta = -(x * (a.sum(axis=0) * r)[:, None]) + (a * r[None, :]).T @ xbar
    k_of = np.searchsorted(event_times, time)                     # time index of own event
    failed = cause == 1
    eta[failed] += x[failed] - xbar[k_of[failed]]
    psi = _censoring_term(time, cause, x, r, g_before, event_times, rs.deaths, s0, xbar)
    scores = eta + psi
    try:
        inverse = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        raise NotEstimable("the information matrix is singular") from None
    return inverse @ (scores.T @ scores) @ inverse.T


def _censoring_term(time, cause, x, r, g_before, event_times, deaths, s0, xbar) -> np.ndarray:
    """psi_i: the effect on the score of estimating G by Kaplan-Meier (crrvv's qu, ss2)."""
    n, p = x.shape
    psi = np.zeros((n, p))
    times = np.unique(time)
    g_event = np.array([g_before[np.searchsorted(time, u)] for u in event_times])
    competing = cause == 2
    ss2 = np.zeros(p)
    for u in times:
        block = time == u
        n_censored = int((block & (cause == 0)).sum())
        q = np.zeros(p)
        at_risk = int((time >= u).sum())
        if n_censored:
            before = competing & (time < u)
            b = (r[before] / g_before[before]).sum()
            a = (r[before] / g_before[before]) @ x[before]
            later = event_times >= u
            c = deaths[later] * g_event[later] / s0[later]
            q = c.sum() * a - (c[:, None] * xbar[later]).sum(axis=0) * b
            ss2 = ss2 - n_censored * q / at_risk ** 2
        psi[block] = ss2
        psi[block & (cause == 0)] += q / at_risk
    return psi
