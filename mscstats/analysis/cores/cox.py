"""The Cox proportional hazards model, as ``survival::coxph``.

Newton-Raphson from beta = 0 with coxph's stopping rule (relative change in
the log partial likelihood <= 1e-9) and step halving when the likelihood
falls. Ties: "efron" (coxph's default) or "breslow". Strata: separate
baseline hazards, risk sets within each stratum. Covariates are centred
first (as coxph does: the estimates do not change, exp() stays in range).

Tests of the whole model, as ``summary(coxph)``: Wald b' V^-1 b, score
U(0)' I(0)^-1 U(0) and likelihood ratio 2 (l(b) - l(0)), each with p df.
Coefficients that coxph would flag as possibly infinite (monotone
likelihood, e.g. an arm without events) are reported in ``infinite``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .common import Interval, NotEstimable, exp_or_inf, two_sided_normal_p, z_quantile
from .km import check_survival_data

__all__ = ["CoxFit", "ModelTest", "cox_fit"]

_EPS = 1e-9                       # coxph.control(eps)
_TOLER_INF = math.sqrt(_EPS)      # coxph.control(toler.inf)
_MAX_ITER = 30


@dataclass(frozen=True)
class ModelTest:
    statistic: float
    df: int
    p_value: float


@dataclass(frozen=True)
class CoxFit:
    names: tuple[str, ...]
    params: np.ndarray                # the coefficients (statsmodels' names)
    cov_params: np.ndarray            # their covariance
    llnull: float                     # log partial likelihood at beta = 0
    llf: float                        # and at the estimate
    wald: ModelTest
    score: ModelTest
    likelihood_ratio: ModelTest
    iterations: int
    infinite: tuple[str, ...]         # coefficients coxph warns "may be infinite"
    n: int
    events: int

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov_params))

    def hazard_ratio(self, name: str, level: float) -> tuple[float, Interval, float]:
        """exp(coef), its Wald CI exp(b -/+ z se) and the Wald p of one coefficient."""
        j = self.names.index(name)
        b, se = float(self.params[j]), float(self.se[j])
        if not se > 0:
            raise NotEstimable(f"the SE of {name} is {se:g}: the data carry no information "
                               "on the hazard ratio")
        z = z_quantile(level)
        return (exp_or_inf(b), Interval(exp_or_inf(b - z * se), exp_or_inf(b + z * se), level),
                two_sided_normal_p(b / se))


@dataclass(frozen=True)
class _Stratum:
    x: np.ndarray            # covariates, sorted by time
    starts: np.ndarray       # first row of each event time's risk set
    death_rows: np.ndarray   # rows of the events
    death_group: np.ndarray  # event time (index into starts) of each event
    d: np.ndarray            # events at each event time


def _strata(time, event, x, strata) -> list[_Stratum]:
    out = []
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        order = rows[np.argsort(time[rows], kind="stable")]
        t, e = time[order], event[order]
        deaths = np.flatnonzero(e == 1)
        if len(deaths) == 0:
            continue
        death_times, group = np.unique(t[deaths], return_inverse=True)
        starts = np.searchsorted(t, death_times, side="left")
        out.append(_Stratum(x[order], starts, deaths, group, np.bincount(group).astype(float)))
    return out


def _evaluate(beta, strata: Sequence[_Stratum], efron: bool):
    """Log partial likelihood, score and information at beta."""
    p = len(beta)
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for s in strata:
        eta = s.x @ beta
        r = np.exp(eta)
        rx = r[:, None] * s.x
        rxx = rx[:, :, None] * s.x[:, None, :]
        risk0 = np.cumsum(r[::-1])[::-1][s.starts]
        risk1 = np.cumsum(rx[::-1], axis=0)[::-1][s.starts]
        risk2 = np.cumsum(rxx[::-1], axis=0)[::-1][s.starts]
        g, rows = s.death_group, s.death_rows
        k_times = len(s.d)
        dead0 = np.bincount(g, weights=r[rows], minlength=k_times)
        dead1 = np.zeros((k_times, p))
        np.add.at(dead1, g, rx[rows])
        dead2 = np.zeros((k_times, p, p))
        np.add.at(dead2, g, rxx[rows])
        loglik += eta[rows].sum()
        score += s.x[rows].sum(axis=0)
        for k in range(int(s.d.max())):
            active = k < s.d
            f = np.where(active, k / s.d, 0.0) if efron else np.zeros(k_times)
            s0 = (risk0 - f * dead0)[active]
            s1 = (risk1 - f[:, None] * dead1)[active]
            s2 = (risk2 - f[:, None, None] * dead2)[active]
            mean = s1 / s0[:, None]
            loglik -= np.log(s0).sum()
            score -= mean.sum(axis=0)
            info += (s2 / s0[:, None, None]).sum(axis=0) - np.einsum("ti,tj->ij", mean, mean)
    return loglik, score, info


def _solve(info, vector):
    try:
        np.linalg.cholesky(info)
        return np.linalg.solve(info, vector)
    except np.linalg.LinAlgError:
        raise NotEstimable("the Cox model's information matrix is singular (a covariate is "
                           "constant or collinear, or there are no events)") from None


def _test(statistic: float, df: int) -> ModelTest:
    return ModelTest(float(statistic), df, float(stats.chi2.sf(statistic, df)))


def cox_fit(time, event, x, names: Sequence[str], strata=None, ties: str = "efron") -> CoxFit:
    """``coxph(Surv(time, event) ~ x + strata(strata), ties = ties)``; x is (n, p)."""
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    time, event = check_survival_data(time, event)
    x = np.asarray(x, dtype=float).reshape(len(time), -1)
    if event.sum() == 0:
        raise NotEstimable("no events: the Cox model cannot be fitted")
    x = x - x.mean(axis=0)
    groups = np.zeros(len(time), dtype=int) if strata is None else \
        np.unique(np.asarray(strata), return_inverse=True)[1]
    prepared = _strata(time, event, x, groups)
    efron = ties == "efron"
    beta = np.zeros(x.shape[1])
    loglik, score, info = _evaluate(beta, prepared, efron)
    null_loglik = loglik
    score_test = float(score @ _solve(info, score))
    iterations = 0
    for iterations in range(1, _MAX_ITER + 1):
        step = _solve(info, score)
        for _ in range(30):                       # step halving while the likelihood falls
            candidate = beta + step
            # a step too long (monotone likelihood) overflows exp(x beta): the likelihood is
            # then not finite and the step is halved, as coxph's C code does silently
            with np.errstate(over="ignore", invalid="ignore"):
                new = _evaluate(candidate, prepared, efron)
            # as coxph's coxfit6, convergence is tested before the likelihoods are
            # compared: a step that changes the log likelihood by at most eps (relative)
            # is the last one even where rounding makes it a hair lower (comparing first
            # left the end of the fit to the last bits of the sums)
            if np.isfinite(new[0]) and np.all(np.isfinite(new[2])) and (
                    new[0] >= loglik or abs(new[0] - loglik) <= _EPS * abs(new[0])):
                break
            step = step / 2
        else:
            break               # no step raises the likelihood: beta is as far as it goes
        done = abs(new[0] - loglik) <= _EPS * abs(new[0])
        beta, (loglik, score, info) = candidate, new
        if done:
            break
    try:
        var = np.linalg.inv(info) if np.all(np.isfinite(info)) else np.full_like(info, np.nan)
    except np.linalg.LinAlgError:
        raise NotEstimable("the Cox model's information matrix is singular at the estimate "
                           "(too few subjects for its terms)") from None
    flags = np.abs(score @ var)
    infinite = tuple(n for n, flag, b in zip(names, flags, beta)
                     if flag > _EPS and flag > _TOLER_INF * abs(b))
    p = x.shape[1]
    wald = float(beta @ info @ beta)           # b' V^-1 b with V = I^-1
    return CoxFit(tuple(names), beta, var, float(null_loglik), float(loglik), _test(wald, p),
                  _test(score_test, p), _test(2 * (loglik - null_loglik), p), iterations,
                  infinite, len(time), int(event.sum()))
