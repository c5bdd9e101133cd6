"""Mixed model for repeated measures (MMRM) by REML, written out.

The model is a GLS regression whose residuals are correlated within a subject
across the visit days, with an unstructured covariance (one variance per day
and one covariance per pair of days), a heterogeneous Toeplitz ("toeplitz": one
variance per day, one correlation per lag), a heterogeneous ("ar1h") or
homogeneous ("ar1") first-order autoregressive structure on the visit order, or
compound symmetry ("cs"). A subject with missing visits contributes the visits
it has. This is the model of ``nlme::gls(y ~ ..., correlation = corSymm(form =
~ visit | id), weights = varIdent(form = ~ 1 | visit), method = "REML")``
(``corARMA(p = T - 1)`` and ``corAR1`` with varIdent for toeplitz and ar1h,
``corAR1`` and ``corCompSymm`` without it for ar1 and cs), reparameterized so
that every parameter value is a valid covariance (the unstructured Sigma = L L'
with a log-Cholesky L).

The REML criterion and its gradient are analytic; the optimum is polished by
Newton steps on a finite-difference Hessian of the analytic gradient, which
then gives the Satterthwaite degrees of freedom of a contrast l'beta:
df = 2 (l'Cl)^2 / (g' A g), with C the covariance of beta, g the gradient of
l'C(theta)l and A the inverse REML information, as emmeans computes them for
gls (mode = "satterthwaite"). That recipe does not depend on how the
covariance is parameterized, so it is emmeans' number up to the precision of
nlme's numerical Hessian (see tests/analysis/test_mmrm.py for the tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from .common import NotEstimable

__all__ = ["MmrmFit", "fit_mmrm", "fit_first", "COVARIANCES", "Contrast"]

_LOG_2PI = float(np.log(2 * np.pi))
POLISH_STEPS = 4      # Newton steps at most after the convergence rule holds (_optimize)


# ------------------------------------------------------------------ covariance structures

class _Unstructured:
    """Sigma = L L', L lower triangular with log-diagonal parameters."""

    def __init__(self, t: int):
        self.t = t
        self.rows, self.cols = np.tril_indices(t)
        self.n_params = len(self.rows)

    def _chol(self, theta):
        L = np.zeros((self.t, self.t))
        L[self.rows, self.cols] = theta
        d = np.arange(self.t)
        L[d, d] = np.exp(L[d, d])
        return L

    def sigma(self, theta):
        L = self._chol(theta)
        return L @ L.T

    def jacobian(self, theta):
        L = self._chol(theta)
        jac = np.zeros((self.n_params, self.t, self.t))
        for k, (a, b) in enumerate(zip(self.rows, self.cols)):
            dL = np.zeros((self.t, self.t))
            dL[a, b] = L[a, b] if a == b else 1.0
            jac[k] = dL @ L.T + L @ dL.T
        return jac

    def start(self, variances):
        theta = np.zeros(self.n_params)
        theta[self.rows == self.cols] = 0.5 * np.log(variances)
        return theta


class _CompoundSymmetry:
    """Sigma = s^2 ((1 - rho) I + rho 11'), rho in (-1/(T-1), 1)."""
    n_params = 2

    def __init__(self, t: int):
        self.t = t

    def _rho(self, z):
        e = np.exp(z)
        return (e - 1) / (e + self.t - 1), e * self.t / (e + self.t - 1) ** 2

    def sigma(self, theta):
        rho, _ = self._rho(theta[1])
        return np.exp(2 * theta[0]) * ((1 - rho) * np.eye(self.t) + rho)

    def jacobian(self, theta):
        _, drho = self._rho(theta[1])
        s2 = np.exp(2 * theta[0])
        return np.stack([2 * self.sigma(theta), s2 * drho * (1 - np.eye(self.t))])

    def start(self, variances):
        return np.array([0.5 * np.log(np.mean(variances)), 0.0])


class _AR1:
    """Sigma_ab = s^2 rho^|a - b| over the visit order, rho = tanh(z)."""
    n_params = 2

    def __init__(self, t: int):
        self.t = t
        self.lag = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))

    def sigma(self, theta):
        return np.exp(2 * theta[0]) * np.tanh(theta[1]) ** self.lag

    def jacobian(self, theta):
        rho = np.tanh(theta[1])
        s2 = np.exp(2 * theta[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(self.lag > 0, self.lag * rho ** np.maximum(self.lag - 1, 0), 0.0)
        return np.stack([2 * self.sigma(theta), s2 * d * (1 - rho ** 2)])

    def start(self, variances):
        return np.array([0.5 * np.log(np.mean(variances)), 0.0])


class _Heterogeneous:
    """Sigma = D R D: one standard deviation per visit (D = diag(exp(theta[:t]))) and a
    correlation matrix R of the remaining parameters. dSigma/dtheta by complex step
    (Sigma is analytic in theta: exact to rounding, no step to choose)."""

    def __init__(self, t: int):
        self.t = t
        self.lag = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))

    def sigma(self, theta):
        sd = np.exp(theta[:self.t])
        return sd[:, None] * self.correlation(theta[self.t:]) * sd[None, :]

    def jacobian(self, theta):
        theta = np.asarray(theta, dtype=float)
        h = 1e-30
        jac = np.empty((self.n_params, self.t, self.t))
        for k in range(self.n_params):
            shifted = theta.astype(complex)
            shifted[k] += 1j * h
            jac[k] = self.sigma(shifted).imag / h
        return jac

    def start(self, variances):
        return np.concatenate([0.5 * np.log(variances), np.zeros(self.n_params - self.t)])


class _ToeplitzH(_Heterogeneous):
    """Heterogeneous Toeplitz (SAS TOEPH): R_ab = rho_|a-b| over the visit order. The
    t - 1 correlations are reached through their partial autocorrelations tanh(z_k)
    (Durbin-Levinson), so every parameter value is a positive definite R. It is nlme's
    corARMA(p = t - 1) with varIdent: an AR(t - 1) has any such R on t positions."""

    def __init__(self, t: int):
        super().__init__(t)
        self.n_params = 2 * t - 1

    def correlation(self, z):
        rho = _autocorrelations(np.tanh(z))
        return np.array([[rho[k] for k in row] for row in self.lag])


class _AR1H(_Heterogeneous):
    """Heterogeneous AR(1) (SAS ARH(1)): R_ab = rho^|a-b| over the visit order,
    rho = tanh(z); nlme's corAR1 with varIdent."""

    def __init__(self, t: int):
        super().__init__(t)
        self.n_params = t + 1

    def correlation(self, z):
        return np.tanh(z[0]) ** self.lag


def _autocorrelations(pacf) -> list:
    """rho_0..rho_m of a stationary process with partial autocorrelations pacf (m of
    them) by the Durbin-Levinson recursion; arithmetic only, so complex-step safe."""
    rho, phi = [1.0], []
    for k, p in enumerate(pacf):
        fitted = sum(phi[j] * rho[k - j] for j in range(k))
        explained = sum(phi[j] * rho[j + 1] for j in range(k))
        rho.append(fitted + p * (1.0 - explained))
        phi = [phi[j] - p * phi[k - 1 - j] for j in range(k)] + [p]
    return rho


COVARIANCES = {"unstructured": _Unstructured, "toeplitz": _ToeplitzH, "ar1": _AR1,
               "ar1h": _AR1H, "cs": _CompoundSymmetry}


# ------------------------------------------------------------------ data by visit pattern

@dataclass(frozen=True)
class _Pattern:
    """The subjects seen on the same set of visit days, as (subjects x visits) arrays."""
    visits: np.ndarray     # indices of the visit days
    y: np.ndarray          # (ns, k)
    x: np.ndarray          # (ns, k, p)


def _patterns(y, x, subject, visit, n_visits) -> list[_Pattern]:
    order = np.lexsort((visit, subject))
    y, x, subject, visit = y[order], x[order], subject[order], visit[order]
    ids, first = np.unique(subject, return_index=True)
    if np.any((subject[1:] == subject[:-1]) & (visit[1:] == visit[:-1])):
        raise ValueError("a subject has two rows for the same visit day")
    code = np.repeat(np.arange(len(ids)), np.diff(np.append(first, len(subject))))
    masks = np.zeros(len(ids), dtype=np.int64)
    np.add.at(masks, code, np.left_shift(1, visit.astype(np.int64)))
    out = []
    for mask in np.unique(masks):
        visits = np.flatnonzero([(mask >> v) & 1 for v in range(n_visits)])
        rows = first[masks == mask][:, None] + np.arange(len(visits))
        out.append(_Pattern(visits, y[rows], x[rows]))
    return out


# ------------------------------------------------------------------ REML

@dataclass(frozen=True)
class _Gls:
    """GLS quantities at one covariance: beta, its covariance C and per-pattern pieces."""
    params: np.ndarray
    cov_params: np.ndarray
    minus2_reml: float
    inv_sigma: tuple          # Sigma_pattern^-1, one per pattern
    resid: tuple              # (ns, k) residuals, one per pattern


def _gls(patterns, sigma, n_obs) -> _Gls | None:
    p = patterns[0].x.shape[2]
    xtvx, xtvy = np.zeros((p, p)), np.zeros(p)
    logdet, inv = 0.0, []
    for pat in patterns:
        s = sigma[np.ix_(pat.visits, pat.visits)]
        try:                  # not positive definite, or too ill-conditioned to invert:
            chol = np.linalg.cholesky(s)      # this covariance is not a candidate
            si = np.linalg.inv(s)
        except np.linalg.LinAlgError:
            return None
        inv.append(si)
        logdet += len(pat.y) * 2.0 * np.sum(np.log(np.diag(chol)))
        six = np.einsum("kl,ilp->ikp", si, pat.x)
        xtvx += np.einsum("ikp,ikq->pq", pat.x, six)
        xtvy += np.einsum("ikp,ik->p", six, pat.y)
    try:
        cov_beta = np.linalg.inv(xtvx)
        sign, logdet_x = np.linalg.slogdet(xtvx)
    except np.linalg.LinAlgError:
        return None
    if sign <= 0:
        return None
    beta = cov_beta @ xtvy
    resid = tuple(pat.y - pat.x @ beta for pat in patterns)
    quad = sum(float(np.einsum("ik,kl,il->", r, si, r)) for r, si in zip(resid, inv))
    value = logdet + logdet_x + quad + (n_obs - p) * _LOG_2PI
    return _Gls(beta, cov_beta, value, tuple(inv), resid)


def _reml_gradient(patterns, g: _Gls, jac, n_visits) -> np.ndarray:
    """d(-2 REML)/d theta = sum over entries of G * dSigma/dtheta."""
    big = np.zeros((n_visits, n_visits))
    for pat, si, r in zip(patterns, g.inv_sigma, g.resid):
        six = np.einsum("kl,ilp->ikp", si, pat.x)
        sir = r @ si
        m = len(pat.y) * si - np.einsum("ikp,pq,ilq->kl", six, g.cov_params, six) - sir.T @ sir
        big[np.ix_(pat.visits, pat.visits)] += m
    return np.einsum("kab,ab->k", jac, big)


@dataclass(frozen=True)
class Contrast:
    estimate: float
    se: float
    df: float


@dataclass(frozen=True)
class MmrmFit:
    """REML fit: coefficients, their covariance, the visit covariance and the REML log-likelihood."""
    params: np.ndarray
    cov_params: np.ndarray
    sigma: np.ndarray
    covariance: str
    llf: float                     # REML, as nlme's logLik(gls)
    n_subjects: int
    n_obs: int
    _patterns: tuple = field(repr=False, default=())
    _jacobian: np.ndarray = field(repr=False, default=None)
    _inv_information: np.ndarray = field(repr=False, default=None)
    _inv_sigma: tuple = field(repr=False, default=())

    def contrast(self, weights) -> Contrast:
        """l'beta (l = ``weights``) with its SE and Satterthwaite df."""
        weights = np.asarray(weights, dtype=float)
        u = self.cov_params @ weights
        var = float(weights @ u)
        h = np.zeros_like(self.sigma)
        for pat, si in zip(self._patterns, self._inv_sigma):
            v = np.einsum("kl,ilp,p->ik", si, pat.x, u)      # Sigma_i^-1 X_i C l
            h[np.ix_(pat.visits, pat.visits)] += v.T @ v
        grad = np.einsum("kab,ab->k", self._jacobian, h)     # d(l'Cl)/d theta
        df = 2.0 * var ** 2 / float(grad @ self._inv_information @ grad)
        return Contrast(float(weights @ self.params), float(np.sqrt(var)), df)


def fit_mmrm(y, x, subject, visit, n_visits: int, covariance: str = "unstructured") -> MmrmFit:
    """REML fit of y = x beta + e, e correlated within subject across visits 0..n_visits-1."""
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    visit = np.asarray(visit, dtype=int)
    subject = np.unique(np.asarray(subject), return_inverse=True)[1]
    structure = COVARIANCES[covariance](n_visits)
    patterns = _patterns(y, x, subject, visit, n_visits)
    n_obs, p = x.shape
    if n_obs - p <= structure.n_params:
        raise NotEstimable("too few observations for this covariance structure")
    theta = _optimize(patterns, structure, n_obs, _start(y, x, visit, n_visits, structure))
    g = _gls(patterns, structure.sigma(theta), n_obs)
    hess = _hessian(lambda t: _gradient(patterns, structure, n_obs, t), theta)
    if not np.all(np.linalg.eigvalsh(hess) > 0):
        raise NotEstimable("the REML information is not positive definite (a variance or "
                           "correlation at its boundary); try a simpler covariance")
    inv_information = np.linalg.inv(hess / 2.0)            # Hessian of -REML, not -2 REML
    return MmrmFit(g.params, g.cov_params, structure.sigma(theta), covariance,
                   -0.5 * g.minus2_reml, int(subject.max()) + 1, n_obs, tuple(patterns),
                   structure.jacobian(theta), inv_information, g.inv_sigma)


def fit_first(y, x, subject, visit, n_visits: int,
              covariances: tuple[str, ...]) -> tuple[MmrmFit, tuple[tuple[str, str], ...]]:
    """The fit of the first covariance in ``covariances`` that converges (as SAPs
    prespecify: unstructured, then simpler ones), and (name, why) of those before it
    that did not. None converging: NotEstimable naming every one tried and why."""
    failed = []
    for name in covariances:
        try:
            return fit_mmrm(y, x, subject, visit, n_visits, name), tuple(failed)
        except (NotEstimable, np.linalg.LinAlgError) as why:
            failed.append((name, str(why)))
    if len(failed) == 1:
        raise NotEstimable(failed[0][1])
    raise NotEstimable("no covariance tried converges: " +
                       "; ".join(f"{name}: {why}" for name, why in failed))


def _start(y, x, visit, n_visits, structure):
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    r = y - x @ beta
    var = np.array([np.mean(r[visit == v] ** 2) if np.any(visit == v) else np.nan
                    for v in range(n_visits)])
    if np.any(~np.isfinite(var)) or np.any(var <= 0):
        raise NotEstimable("a visit day has no data or no variation")
    return structure.start(var)


def _objective(patterns, structure, n_obs, theta):
    # A line search may try parameters whose covariance is beyond the float range
    # (exp of a huge log-variance): such a point is infeasible, not an error.
    with np.errstate(over="ignore", invalid="ignore"):
        sigma = structure.sigma(theta)
        g = _gls(patterns, sigma, n_obs) if np.all(np.isfinite(sigma)) else None
        if g is None or not np.isfinite(g.minus2_reml):
            return np.inf, np.zeros_like(theta)
        grad = _reml_gradient(patterns, g, structure.jacobian(theta), structure.t)
    if not np.all(np.isfinite(grad)):
        return np.inf, np.zeros_like(theta)
    return g.minus2_reml, grad


def _gradient(patterns, structure, n_obs, theta):
    return _objective(patterns, structure, n_obs, theta)[1]


def _optimize(patterns, structure, n_obs, theta0):
    fun = lambda t: _objective(patterns, structure, n_obs, t)      # noqa: E731
    res = optimize.minimize(fun, theta0, jac=True, method="BFGS",
                            options={"gtol": 1e-7, "maxiter": 2000})
    theta = res.x
    polish, polished = None, 0        # largest |gradient| at the last polishing step; steps
    for _ in range(20 + POLISH_STEPS):        # Newton: BFGS stops short of 1e-6 accuracy
        value, grad = fun(theta)
        if not np.isfinite(value):
            break                             # infeasible (see _objective): not converged
        largest = np.max(np.abs(grad))
        if largest < 1e-9 * max(1.0, abs(value)):
            # the rule holds: polish while a step halves the gradient (a few at most), so
            # that the estimates are at the optimum, not ~1e-7 from it, and the batch
            # kernel (analysis/batch/mmrm.py, the same rule) finds the same numbers
            if polish is not None and (largest > 0.5 * polish or polished >= POLISH_STEPS):
                return theta
            polish, polished = largest, polished + 1
        try:
            step = np.linalg.solve(_hessian(lambda t: fun(t)[1], theta), grad)
        except np.linalg.LinAlgError:
            break                             # flat direction: keep the BFGS optimum
        # halve until the criterion does not rise beyond rounding (near the optimum it
        # is flat to rounding: a step that only rounding makes look worse is taken)
        slack = 1e-12 * abs(value)
        for _ in range(30):
            if fun(theta - step)[0] <= value + slack:
                break
            step = step / 2
        else:
            break                             # no step helps: keep theta
        theta = theta - step
    value, grad = fun(theta)
    if not (np.isfinite(value) and np.max(np.abs(grad)) < 1e-5 * max(1.0, abs(value))):
        raise NotEstimable("the REML fit did not converge")
    return theta


def _hessian(grad, theta, rel_step=1e-4):
    k = len(theta)
    h = np.zeros((k, k))
    for j in range(k):
        step = rel_step * max(1.0, abs(theta[j]))
        e = np.zeros(k)
        e[j] = step
        h[:, j] = (grad(theta + e) - grad(theta - e)) / (2 * step)
    return (h + h.T) / 2
