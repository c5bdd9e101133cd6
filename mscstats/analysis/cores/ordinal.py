"""Proportional odds (cumulative logit) model and the Brant test.

The model is that of ``ordinal::clm(ordered(y) ~ x, link = "logit")``:
logit P(Y <= c_j) = theta_j - x' beta, fitted by Newton-Raphson on the
analytic gradient and Hessian; the variance is the inverse observed
information, as clm reports it. The Brant (1990) test compares the separate
binary logits of Y > c_j (one per cut) through their joint covariance and
tests that the coefficients are equal across cuts, chi-square on (J-2)p df.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import expit

from .common import NotEstimable

__all__ = ["OrdinalFit", "proportional_odds", "BrantTest", "brant", "logistic_fit"]

_MAX_ITER = 100
_GRAD_TOL = 1e-10
_SEPARATION = 30.0     # a |log odds ratio| this large means the likelihood has no maximum


@dataclass(frozen=True)
class OrdinalFit:
    categories: tuple[float, ...]
    thresholds: np.ndarray        # theta_1 < ... < theta_{J-1}
    params: np.ndarray            # one per column of x
    cov_params: np.ndarray        # of (thresholds, params)
    llf: float

    @property
    def se(self) -> np.ndarray:
        k = len(self.thresholds)
        return np.sqrt(np.diag(self.cov_params)[k:])


def _codes(y) -> tuple[np.ndarray, tuple[float, ...]]:
    y = np.asarray(y, dtype=float)
    categories, codes = np.unique(y, return_inverse=True)
    return codes, tuple(float(c) for c in categories)


def _loglik_parts(params, codes, x, n_cut):
    """Log-likelihood, gradient and Hessian of the cumulative logit model."""
    theta, beta = params[:n_cut], params[n_cut:]
    eta = x @ beta
    big = np.concatenate([[-np.inf], theta, [np.inf]])
    upper, lower = big[codes + 1] - eta, big[codes] - eta
    fu, fl = expit(upper), expit(lower)
    prob = fu - fl
    du, dl = fu * (1 - fu), fl * (1 - fl)                  # densities
    ddu, ddl = du * (1 - 2 * fu), dl * (1 - 2 * fl)          # their derivatives
    n, p = x.shape
    # d eta_upper / d params: indicator of the upper threshold, then -x
    du_design = np.zeros((n, n_cut + p))
    dl_design = np.zeros((n, n_cut + p))
    rows = np.arange(n)
    has_upper, has_lower = codes < n_cut, codes > 0
    du_design[rows[has_upper], codes[has_upper]] = 1.0
    dl_design[rows[has_lower], codes[has_lower] - 1] = 1.0
    du_design[:, n_cut:] = -x
    dl_design[:, n_cut:] = -x
    du_design[~has_upper] = 0.0            # the top category has no upper threshold
    dl_design[~has_lower] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):   # prob 0: a rejected step
        loglik = float(np.sum(np.log(prob)))
        score = (du[:, None] * du_design - dl[:, None] * dl_design) / prob[:, None]
    grad = score.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        curv = (ddu[:, None, None] * du_design[:, :, None] * du_design[:, None, :]
                - ddl[:, None, None] * dl_design[:, :, None] * dl_design[:, None, :]) \
            / prob[:, None, None]
    hess = curv.sum(axis=0) - score.T @ score
    return loglik, grad, hess


def proportional_odds(y, x) -> OrdinalFit:
    """Maximum likelihood fit of the proportional odds model of ordinal y on x (no intercept)."""
    codes, categories = _codes(y)
    x = np.asarray(x, dtype=float).reshape(len(codes), -1)
    n_cut = len(categories) - 1
    if n_cut < 1:
        raise NotEstimable("every subject is in the same category: no ordinal comparison")
    cum = np.cumsum(np.bincount(codes, minlength=n_cut + 1))[:-1] / len(codes)
    params = np.concatenate([np.log(cum / (1 - cum)), np.zeros(x.shape[1])])
    loglik, grad, hess = _loglik_parts(params, codes, x, n_cut)
    for _ in range(_MAX_ITER):
        if np.max(np.abs(grad)) < _GRAD_TOL:
            break
        step = np.linalg.solve(hess, -grad)
        params, loglik, grad, hess = _halving_step(params, step, loglik, codes, x, n_cut)
    else:
        raise NotEstimable("the proportional odds model did not converge")
    if np.any(np.abs(params[n_cut:]) > _SEPARATION):
        raise NotEstimable("an arm lies entirely in extreme categories: the odds ratio is "
                           "infinite (no maximum likelihood estimate)")
    vcov = np.linalg.inv(-hess)
    return OrdinalFit(categories, params[:n_cut], params[n_cut:], vcov, loglik)


def _halving_step(params, step, loglik, codes, x, n_cut):
    """Newton step, halved until the likelihood does not fall and thresholds stay ordered."""
    for _ in range(40):
        new = params + step
        if np.all(np.diff(new[:n_cut]) > 0):
            new_ll, grad, hess = _loglik_parts(new, codes, x, n_cut)
            if np.isfinite(new_ll) and new_ll >= loglik - 1e-10 * abs(loglik):
                return new, new_ll, grad, hess
        step = step / 2
    raise NotEstimable("the proportional odds model did not converge")


# ------------------------------------------------------------------ Brant test

def logistic_fit(event, x) -> np.ndarray:
    """Binary logistic regression (x includes the intercept) by Newton-Raphson: coefficients."""
    separated = NotEstimable("a binary logit of the Brant test has no finite estimate "
                             "(an arm has no subject above or below a cut)")
    beta = np.zeros(x.shape[1])
    for _ in range(_MAX_ITER):
        prob = expit(x @ beta)
        w = prob * (1 - prob)
        try:
            step = np.linalg.solve((x * w[:, None]).T @ x, x.T @ (event - prob))
        except np.linalg.LinAlgError:
            raise separated from None
        beta = beta + step
        if np.any(np.abs(beta) > _SEPARATION):     # diverging: the data are separated
            raise separated
        if np.max(np.abs(step)) < 1e-12 * max(1.0, np.max(np.abs(beta))):
            return beta
    raise separated


@dataclass(frozen=True)
class BrantTest:
    statistic: float
    df: int
    p_value: float
    cut_coefficients: tuple[np.ndarray, ...]   # arm coefficients of each binary logit


def brant(y, x) -> BrantTest:
    """Brant (1990) test of proportional odds for ordinal y on covariates x (no intercept)."""
    codes, categories = _codes(y)
    x = np.asarray(x, dtype=float).reshape(len(codes), -1)
    n_cut, p = len(categories) - 1, x.shape[1]
    if n_cut < 2:
        raise NotEstimable("the Brant test needs at least three categories")
    design = np.column_stack([np.ones(len(codes)), x])
    fits = [logistic_fit((codes > j).astype(float), design) for j in range(n_cut)]
    probs = [expit(design @ b) for b in fits]

    def info(w):
        return (design * w[:, None]).T @ design

    try:
        inv_info = [np.linalg.inv(info(pj * (1 - pj))) for pj in probs]
    except np.linalg.LinAlgError:
        raise NotEstimable("the information of a binary logit of the Brant test is "
                           "singular") from None
    vcov = np.zeros((n_cut * p, n_cut * p))
    for j in range(n_cut):
        for k in range(j, n_cut):
            # {y > c_k} lies inside {y > c_j}: Cov of the indicators is pi_k - pi_j pi_k
            block = inv_info[j] @ info(probs[k] - probs[j] * probs[k]) @ inv_info[k]
            vcov[j * p:(j + 1) * p, k * p:(k + 1) * p] = block[1:, 1:]
            vcov[k * p:(k + 1) * p, j * p:(j + 1) * p] = block[1:, 1:].T
    coefs = np.concatenate([b[1:] for b in fits])
    contrast = np.zeros(((n_cut - 1) * p, n_cut * p))   # beta_1 - beta_j, j = 2..J-1
    for j in range(n_cut - 1):
        contrast[j * p:(j + 1) * p, :p] = np.eye(p)
        contrast[j * p:(j + 1) * p, (j + 1) * p:(j + 2) * p] = -np.eye(p)
    d = contrast @ coefs
    chi2 = _brant_statistic(d, contrast @ vcov @ contrast.T)
    df = (n_cut - 1) * p
    return BrantTest(chi2, df, float(stats.chi2.sf(chi2, df)), tuple(b[1:] for b in fits))


def _brant_statistic(d: np.ndarray, cov: np.ndarray) -> float:
    """d' cov^-1 d; NotEstimable when cov is singular. That happens when two cuts split
    the subjects of every arm but one identically (e.g. a category seen once, in one
    arm): their coefficients then differ by a quantity with no variance."""
    scale = max(float(np.abs(cov).max()), 1e-300)
    if np.linalg.matrix_rank(cov, tol=1e-10 * scale) < len(d):
        raise NotEstimable("the covariance of the differences between the cut-specific "
                           "coefficients is singular (a category is seen in too few arms, "
                           "e.g. once, in one arm)")
    return float(d @ np.linalg.solve(cov, d))
