"""MMRM with an unstructured covariance by REML over a batch of replicates at once.

The model and its parametrization are those of cores/mmrm.py (the reference):
y = X beta + e, e ~ N(0, Sigma) within a subject across T visits, Sigma = L L'
with a log-Cholesky L. Each replicate is a (subjects x visits) array; the subjects
seen on the same visits (a pattern) share the inverse W of Sigma on those visits
(embedded in a T x T array of zeros), so every sum over subjects the criterion
needs is a sum over patterns of W times sums of products of the subjects' design
rows and values, computed once (_statistics): an iteration costs the same for 60
subjects as for 6.

The REML criterion and its gradient are analytic; Newton steps on a finite-difference
Hessian of the gradient (the core's polish, the same step sizes) with step halving,
from the core's start, run for every replicate together until the core's convergence
rule holds; the Hessian at the optimum gives the Satterthwaite df of each contrast as
the core computes it. A replicate that does not converge, or whose information is not
positive definite, is reported as not converged: its caller sends it to the scalar
fit (which then tries the SAP's other covariances or says why it cannot).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MmrmBatch", "mmrm_batch"]

_LOG_2PI = float(np.log(2 * np.pi))
_MAX_NEWTON = 60
_HALVINGS = 30


@dataclass(frozen=True)
class MmrmBatch:
    """Per replicate (B,) and contrast (m,): l'beta, its SE and Satterthwaite df;
    ``converged`` False where the numbers are NaN and the scalar fit must decide."""
    estimate: np.ndarray      # (B, m)
    se: np.ndarray
    df: np.ndarray
    converged: np.ndarray     # (B,)
    llf: np.ndarray           # (B,) REML log-likelihood, as nlme's logLik(gls)


@dataclass(frozen=True)
class _Data:
    """The REML criterion's sufficient statistics per replicate and visit pattern P
    (the subjects seen on the same visits): with x_ik subject i's design row and y_ik
    its value at visit k, m[k, l] = sum x_ik x_il', xy[k, l] = sum x_ik y_il,
    yy[k, l] = sum y_ik y_il over the pattern's subjects (zero on unseen visits).
    Every sum over subjects is then a sum over at most 2^T - 1 patterns."""
    codes: np.ndarray         # (P,) pattern codes (bit k: visit k seen)
    count: np.ndarray         # (B, P) subjects per pattern
    m: np.ndarray             # (B, P, T, T, p, p)
    xy: np.ndarray            # (B, P, T, T, p)
    yy: np.ndarray            # (B, P, T, T)
    n_obs: np.ndarray         # (B,)

    def take(self, rows: np.ndarray) -> "_Data":
        return _Data(self.codes, self.count[rows], self.m[rows], self.xy[rows], self.yy[rows],
                     self.n_obs[rows])


def _statistics(y, x, observed) -> _Data:
    b, n, t = observed.shape
    p = x.shape[3]
    y = np.where(observed, y, 0.0)
    x = np.where(observed[..., None], x, 0.0)
    pattern = (observed * (1 << np.arange(t))).sum(axis=2)
    codes = np.unique(pattern[pattern > 0])
    member = (pattern[..., None] == codes).astype(float)            # (B, n, P)
    by_pattern = np.swapaxes(member, 1, 2)                           # (B, P, n)
    xx = (x[:, :, :, None, :, None] * x[:, :, None, :, None, :]).reshape(b, n, -1)
    xy = (x[:, :, :, None, :] * y[:, :, None, :, None]).reshape(b, n, -1)
    yy = (y[:, :, :, None] * y[:, :, None, :]).reshape(b, n, -1)
    return _Data(codes, member.sum(axis=1), (by_pattern @ xx).reshape(b, len(codes), t, t, p, p),
                 (by_pattern @ xy).reshape(b, len(codes), t, t, p),
                 (by_pattern @ yy).reshape(b, len(codes), t, t), observed.sum(axis=(1, 2)))


def mmrm_batch(y: np.ndarray, x: np.ndarray, observed: np.ndarray,
               contrasts: np.ndarray) -> MmrmBatch:
    """REML fits of B replicates. y (B, n, T); x (B, n, T, p) design rows; observed
    (B, n, T) which values enter (a subject with none is absent); contrasts (m, p)."""
    observed = np.asarray(observed, dtype=bool)
    data = _statistics(np.asarray(y, float), np.asarray(x, float), observed)
    t = observed.shape[2]
    rows, cols = np.tril_indices(t)
    theta = _start(data, rows == cols)
    theta, converged = _newton(data, theta, (rows, cols))
    hess = _hessian(data, theta, (rows, cols))
    with np.errstate(invalid="ignore"):
        positive = np.all(np.linalg.eigvalsh(np.where(converged[:, None, None], hess,
                                                      np.eye(len(rows)))) > 0, axis=1)
    converged &= positive
    return _contrasts(data, theta, (rows, cols), hess, np.asarray(contrasts, float), converged)


# ------------------------------------------------------------------ covariance and REML

def _sigma(theta, tril):
    """Sigma = L L' and the (B, K, T, T) derivatives dSigma/dtheta (cores/mmrm._Unstructured)."""
    rows, cols = tril
    b, t = theta.shape[0], int(rows.max()) + 1
    chol = np.zeros((b, t, t))
    chol[:, rows, cols] = theta
    d = np.arange(t)
    chol[:, d, d] = np.exp(chol[:, d, d])
    sigma = chol @ np.swapaxes(chol, 1, 2)
    # dL_k has one entry, (a, c): L_ac on the diagonal (log scale), 1 below it
    jac = np.zeros((b, len(rows), t, t))
    for k, (a, c) in enumerate(zip(rows, cols)):
        scale = chol[:, a, c] if a == c else np.ones(b)
        outer = scale[:, None] * chol[:, :, c]            # row a of dL L' is scale * L[:, c]'
        jac[:, k, a, :] += outer
        jac[:, k, :, a] += outer
    return sigma, jac


def _inverses(data: _Data, sigma):
    """(B, P, T, T) the inverse covariance of each pattern's visits (zeros elsewhere),
    (B,) the subjects' summed log determinants; ok False where a pattern with subjects
    has a covariance that is not positive definite."""
    b, t = sigma.shape[0], sigma.shape[1]
    w = np.zeros((b, len(data.codes), t, t))
    logdet = np.zeros(b)
    ok = np.all(np.isfinite(sigma), axis=(1, 2))
    safe = np.where(ok[:, None, None], sigma, np.eye(t))
    for j, code in enumerate(data.codes):
        visits = np.flatnonzero((code >> np.arange(t)) & 1)
        sub = safe[:, visits[:, None], visits[None, :]]
        sign, det = np.linalg.slogdet(sub)
        good = (sign > 0) & np.all(np.linalg.eigvalsh(sub) > 0, axis=1)
        ok &= good | (data.count[:, j] == 0)
        inv = np.linalg.inv(np.where(good[:, None, None], sub, np.eye(len(visits))))
        w[:, j, visits[:, None], visits[None, :]] = inv
        logdet += data.count[:, j] * np.where(good, det, 0.0)
    return w, logdet, ok


def _gls(data: _Data, w, ok):
    """beta, its covariance C, and per pattern sum_i r_i r_i' and sum_i X_i C X_i'."""
    p = data.m.shape[-1]
    xtwx = np.einsum("bPkl,bPklpq->bpq", w, data.m)
    sign, logdet_x = np.linalg.slogdet(xtwx)
    ok = ok & (sign > 0)
    cov_beta = np.linalg.inv(np.where(ok[:, None, None], xtwx, np.eye(p)))
    beta = (cov_beta @ np.einsum("bPkl,bPklp->bp", w, data.xy)[..., None])[..., 0]
    fitted = np.einsum("bPklp,bp->bPkl", data.xy, beta)
    rr = data.yy - fitted - np.swapaxes(fitted, 2, 3) + _quadratic(data.m, beta)
    xcx = np.einsum("bPklpq,bqp->bPkl", data.m, cov_beta)
    return beta, cov_beta, logdet_x, ok, rr, xcx


def _quadratic(m, u):
    """u' m[k, l] u per pattern: (B, P, T, T)."""
    return np.einsum("bPklp,bp->bPkl", np.einsum("bPklpq,bq->bPklp", m, u), u)


def _reml(data: _Data, theta, tril, gradient: bool = True):
    """-2 REML (B,) and its gradient (B, K); inf where the covariance is infeasible."""
    p = data.m.shape[-1]
    with np.errstate(over="ignore", invalid="ignore"):
        sigma, jac = _sigma(theta, tril)
    w, logdet, ok = _inverses(data, sigma)
    beta, cov_beta, logdet_x, ok, rr, xcx = _gls(data, w, ok)
    quad = np.einsum("bPkl,bPkl->b", w, rr)
    value = logdet + logdet_x + quad + (data.n_obs - p) * _LOG_2PI
    value = np.where(ok & np.isfinite(value), value, np.inf)
    if not gradient:
        return value, None
    # d(-2 REML)/dSigma = sum_i W_i - W_i X_i C X_i' W_i - W_i r_i r_i' W_i
    big = np.einsum("bP,bPkl->bkl", data.count, w) - np.einsum("bPkl,bPlm,bPmn->bkn", w,
                                                                 xcx + rr, w)
    with np.errstate(invalid="ignore"):
        grad = np.einsum("bjkl,bkl->bj", jac, big)
    grad = np.where(np.isfinite(value)[:, None] & np.isfinite(grad), grad, 0.0)
    return value, grad


# ------------------------------------------------------------------ optimization

def _start(data: _Data, diagonal: np.ndarray) -> np.ndarray:
    """The core's start: least squares, then half the log of each visit's mean square."""
    t = data.yy.shape[2]
    eye = np.eye(t)
    xtx = np.einsum("kk,bPkkpq->bpq", eye, data.m)
    xty = np.einsum("kk,bPkkp->bp", eye, data.xy)
    beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
    fitted = np.einsum("bPklp,bp->bPkl", data.xy, beta)
    rr = data.yy - fitted - np.swapaxes(fitted, 2, 3) + _quadratic(data.m, beta)
    seen = np.array([(data.codes >> k) & 1 for k in range(t)]).T          # (P, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.einsum("bPkk->bk", rr) / (data.count @ seen)
        theta = np.zeros((len(beta), len(diagonal)))
        theta[:, diagonal] = 0.5 * np.log(variance)
    return theta


def _converged(value, grad):
    return np.isfinite(value) & (np.max(np.abs(grad), axis=1) < 1e-9 * np.maximum(1.0,
                                                                                   np.abs(value)))


def _newton(data: _Data, theta, tril):
    """Newton steps with halving until the core's rule (max |gradient| < 1e-9 max(1,
    |-2 REML|)) holds, then one step more, as the core; (theta, converged)."""
    theta = theta.copy()
    value, grad = _reml(data, theta, tril)
    met = _converged(value, grad)             # the rule held once: one more step
    done = np.zeros(len(theta), dtype=bool)
    stuck = ~np.isfinite(value) | ~np.all(np.isfinite(theta), axis=1)
    for _ in range(_MAX_NEWTON):
        active = np.flatnonzero(~done & ~stuck)
        if not len(active):
            break
        sub = data.take(active)
        hess = _hessian(sub, theta[active], tril)
        shift = _shift(hess)
        step = np.linalg.solve(hess + shift[:, None, None] * np.eye(hess.shape[1]),
                               grad[active][..., None])[..., 0]
        accepted = np.zeros(len(active), dtype=bool)
        for _ in range(_HALVINGS):
            trial = np.flatnonzero(~accepted)
            if not len(trial):
                break
            candidate = theta[active[trial]] - step[trial]
            new, _ = _reml(sub.take(trial), candidate, tril, gradient=False)
            # at the optimum the criterion is flat to rounding: there the polishing step
            # may not lower it, only not raise it beyond rounding
            slack = np.where(met[active[trial]], 1e-12 * np.abs(value[active[trial]]), 0.0)
            better = new <= value[active[trial]] + slack
            theta[active[trial[better]]] = candidate[better]
            accepted[trial[better]] = True
            step[trial[~better]] /= 2
        # no step helps: converged if the rule held, else the scalar fit decides
        done[active[~accepted & met[active]]] = True
        stuck[active[~accepted & ~met[active]]] = True
        moved = active[accepted]
        value[moved], grad[moved] = _reml(data.take(moved), theta[moved], tril)
        now = _converged(value[moved], grad[moved])
        done[moved] = now & met[moved]
        met[moved] |= now
    return theta, done


def _shift(hess):
    """0 where the Hessian is positive definite (a Newton step, as the core takes),
    else enough to make it so (a descent direction far from the optimum)."""
    eig = np.linalg.eigvalsh(hess)
    low, high = eig[:, 0], np.abs(eig).max(axis=1)
    return np.where(low > 1e-10 * high, 0.0, 1e-3 * high - low)


def _hessian(data: _Data, theta, tril, rel_step=1e-4):
    """Central differences of the analytic gradient, symmetrized (cores/mmrm._hessian)."""
    b, k = theta.shape
    hess = np.zeros((b, k, k))
    for j in range(k):
        step = rel_step * np.maximum(1.0, np.abs(theta[:, j]))
        shift = np.zeros((b, k))
        shift[:, j] = step
        up = _reml(data, theta + shift, tril)[1]
        down = _reml(data, theta - shift, tril)[1]
        hess[:, :, j] = (up - down) / (2 * step[:, None])
    return (hess + np.swapaxes(hess, 1, 2)) / 2


# ------------------------------------------------------------------ contrasts

def _contrasts(data: _Data, theta, tril, hess, contrasts, converged) -> MmrmBatch:
    """l'beta, sqrt(l'Cl) and df = 2 (l'Cl)^2 / (g' A g) per contrast (MmrmFit.contrast):
    g_j = sum over entries of dSigma/dtheta_j * sum_i W_i X_i C l l' C X_i' W_i."""
    b, m = len(theta), len(contrasts)
    estimate, se, df = (np.full((b, m), np.nan) for _ in range(3))
    llf = np.full(b, np.nan)
    rows = np.flatnonzero(converged)
    if len(rows):
        sub = data.take(rows)
        sigma, jac = _sigma(theta[rows], tril)
        w, logdet, ok = _inverses(sub, sigma)
        beta, cov_beta, _, _, _, _ = _gls(sub, w, ok)
        inv_information = np.linalg.inv(hess[rows] / 2.0)
        llf[rows] = -0.5 * _reml(sub, theta[rows], tril, gradient=False)[0]
        for c, weights in enumerate(contrasts):
            u = cov_beta @ weights                                  # (b, p)
            var = u @ weights
            h = np.einsum("bPkl,bPlm,bPmn->bkn", w, _quadratic(sub.m, u), w)
            g = np.einsum("bjkl,bkl->bj", jac, h)
            estimate[rows, c] = beta @ weights
            se[rows, c] = np.sqrt(var)
            df[rows, c] = 2.0 * var ** 2 / np.einsum("bj,bjk,bk->b", g, inv_information, g)
    return MmrmBatch(estimate, se, df, converged, llf)
