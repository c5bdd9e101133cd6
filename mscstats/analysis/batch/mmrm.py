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
from the moments of the least-squares residuals, run for every replicate together
until the core's convergence rule holds and then polish as the core does; the
Hessian at the optimum gives the Satterthwaite df of each contrast as the core
computes it. A replicate that does not converge, or whose information is not
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
    """One batched product per pattern (no (n, T, T, p, p) intermediate)."""
    b, n, t = observed.shape
    p = x.shape[3]
    y = np.where(observed, y, 0.0)
    x = np.where(observed[..., None], x, 0.0).reshape(b, n, t * p)
    pattern = (observed * (1 << np.arange(t))).sum(axis=2)
    codes = np.unique(pattern[pattern > 0])
    m = np.empty((b, len(codes), t, t, p, p))
    xy = np.empty((b, len(codes), t, t, p))
    yy = np.empty((b, len(codes), t, t))
    count = np.empty((b, len(codes)))
    for j, code in enumerate(codes):
        member = (pattern == code).astype(float)[..., None]        # (B, n, 1)
        xt = np.swapaxes(x * member, 1, 2)                         # (B, T p, n)
        m[:, j] = (xt @ x).reshape(b, t, p, t, p).transpose(0, 1, 3, 2, 4)
        xy[:, j] = (xt @ y).reshape(b, t, p, t).transpose(0, 1, 3, 2)
        yy[:, j] = np.swapaxes(y * member, 1, 2) @ y
        count[:, j] = member[..., 0].sum(axis=1)
    return _Data(codes, count, m, xy, yy, observed.sum(axis=(1, 2)))


def mmrm_batch(y: np.ndarray, x: np.ndarray, observed: np.ndarray,
               contrasts: np.ndarray) -> MmrmBatch:
    """REML fits of B replicates. y (B, n, T); x (B, n, T, p) design rows; observed
    (B, n, T) which values enter (a subject with none is absent); contrasts (m, p)."""
    observed = np.asarray(observed, dtype=bool)
    data = _statistics(np.asarray(y, float), np.asarray(x, float), observed)
    t = observed.shape[2]
    rows, cols = np.tril_indices(t)
    theta = _start(data, (rows, cols))
    theta, converged = _newton(data, theta, (rows, cols))
    hess = _hessian(data, theta, (rows, cols))
    converged &= np.all(np.isfinite(hess), axis=(1, 2))
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
        # one eigendecomposition gives the check, the inverse and the log determinant
        values, vectors = np.linalg.eigh(safe[:, visits[:, None], visits[None, :]])
        good = values[:, 0] > 0
        ok &= good | (data.count[:, j] == 0)
        values = np.where(good[:, None], values, 1.0)
        w[:, j, visits[:, None], visits[None, :]] = (vectors / values[:, None, :]) @ \
            np.swapaxes(vectors, 1, 2)
        logdet += data.count[:, j] * np.where(good, np.log(values).sum(axis=1), 0.0)
    return w, logdet, ok


def _gls(data: _Data, w, ok):
    """beta, its covariance C, and per pattern sum_i r_i r_i' and sum_i X_i C X_i'."""
    b, p = len(w), data.m.shape[-1]
    flat_w = w.reshape(b, 1, -1)                                      # (B, 1, P T T)
    xtwx = (flat_w @ data.m.reshape(b, flat_w.shape[2], p * p)).reshape(b, p, p)
    sign, logdet_x = np.linalg.slogdet(xtwx)
    ok = ok & (sign > 0)
    cov_beta = np.linalg.inv(np.where(ok[:, None, None], xtwx, np.eye(p)))
    xtwy = (flat_w @ data.xy.reshape(b, flat_w.shape[2], p))[:, 0]
    beta = (cov_beta @ xtwy[..., None])[..., 0]
    fitted = (data.xy.reshape(b, -1, p) @ beta[..., None]).reshape(w.shape)
    rr = data.yy - fitted - np.swapaxes(fitted, 2, 3) + _quadratic(data.m, beta)
    xcx = (data.m.reshape(b, -1, p * p) @ cov_beta.reshape(b, p * p, 1)).reshape(w.shape)
    return beta, cov_beta, logdet_x, ok, rr, xcx


def _quadratic(m, u):
    """u' m[k, l] u per pattern: (B, P, T, T)."""
    b, p = len(u), u.shape[1]
    mu = (m.reshape(b, -1, p) @ u[..., None]).reshape(b, -1, p)
    return (mu @ u[..., None]).reshape(m.shape[:4])


def _reml(data: _Data, theta, tril, gradient: bool = True):
    """-2 REML (B,) and its gradient (B, K); inf where the covariance is infeasible."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _reml_at(data, theta, tril, gradient)


def _reml_at(data: _Data, theta, tril, gradient):
    p = data.m.shape[-1]
    sigma, jac = _sigma(theta, tril)
    w, logdet, ok = _inverses(data, sigma)
    beta, cov_beta, logdet_x, ok, rr, xcx = _gls(data, w, ok)
    b, t = len(w), w.shape[2]
    quad = (w * rr).sum(axis=(1, 2, 3))
    value = logdet + logdet_x + quad + (data.n_obs - p) * _LOG_2PI
    value = np.where(ok & np.isfinite(value), value, np.inf)
    if not gradient:
        return value, None
    # d(-2 REML)/dSigma = sum_i W_i - W_i X_i C X_i' W_i - W_i r_i r_i' W_i
    big = (data.count[:, :, None, None] * w - w @ (xcx + rr) @ w).sum(axis=1)
    grad = (jac.reshape(b, -1, t * t) @ big.reshape(b, t * t, 1))[..., 0]
    grad = np.where(np.isfinite(value)[:, None] & np.isfinite(grad), grad, 0.0)
    return value, grad


# ------------------------------------------------------------------ optimization

def _start(data: _Data, tril) -> np.ndarray:
    """The moments of the least-squares residuals (each covariance over the subjects
    seen on both visits) as log-Cholesky parameters; the core starts from their
    diagonal, but a nearer start saves Newton steps and leads to the same optimum.
    The diagonal where the moments are not positive definite."""
    rows, cols = tril
    t = data.yy.shape[2]
    eye = np.eye(t)
    xtx = np.einsum("kk,bPkkpq->bpq", eye, data.m)
    xty = np.einsum("kk,bPkkp->bp", eye, data.xy)
    singular = ~(np.linalg.slogdet(xtx)[0] > 0)           # aliased columns: not fitted here
    xtx[singular] = np.eye(xtx.shape[1])
    beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
    fitted = (data.xy.reshape(len(beta), -1, len(beta[0])) @ beta[..., None]).reshape(
        data.yy.shape)
    rr = data.yy - fitted - np.swapaxes(fitted, 2, 3) + _quadratic(data.m, beta)
    seen = np.array([(data.codes >> k) & 1 for k in range(t)], dtype=float).T   # (P, T)
    pairs = np.einsum("bP,Pk,Pl->bkl", data.count, seen, seen)
    with np.errstate(divide="ignore", invalid="ignore"):
        moments = rr.sum(axis=1) / pairs
        variances = np.einsum("bkk->bk", moments)
    # a visit without values or variation, or aliased columns: the core decides
    bad = singular | ~np.all(np.isfinite(variances) & (variances > 0), axis=1)
    moments[bad] = eye
    good = np.all(np.isfinite(moments), axis=(1, 2))
    good[good] = np.all(np.linalg.eigvalsh(moments[good]) > 0, axis=1)
    chol = np.linalg.cholesky(np.where(good[:, None, None], moments,
                                       np.einsum("bk,kl->bkl", np.where(bad[:, None], 1.0,
                                                                        variances), eye)))
    theta = chol[:, rows, cols]
    theta[:, rows == cols] = np.log(theta[:, rows == cols])
    theta[bad] = np.nan
    return theta


def _converged(value, grad):
    return np.isfinite(value) & (np.max(np.abs(grad), axis=1) < 1e-9 * np.maximum(1.0,
                                                                                   np.abs(value)))


def _newton(data: _Data, theta, tril):
    """Newton steps with halving until the core's rule (max |gradient| < 1e-9 max(1,
    |-2 REML|)) holds, then its polishing steps (while a step halves the gradient, at
    most POLISH_STEPS); (theta, converged) per replicate."""
    from ..cores.mmrm import POLISH_STEPS
    theta = theta.copy()
    value, grad = _reml(data, theta, tril)
    polish = np.full(len(theta), np.nan)      # largest |gradient| at the last polishing step
    polished = np.zeros(len(theta), dtype=int)
    done = np.zeros(len(theta), dtype=bool)
    stuck = ~np.isfinite(value) | ~np.all(np.isfinite(theta), axis=1)

    def check(rows):
        largest = np.max(np.abs(grad[rows]), axis=1)
        rule = _converged(value[rows], grad[rows])
        enough = ~np.isnan(polish[rows]) & ((largest > 0.5 * polish[rows]) |
                                             (polished[rows] >= POLISH_STEPS))
        done[rows[rule & enough]] = True
        going = rows[rule & ~enough]
        polish[going] = largest[rule & ~enough]
        polished[going] += 1

    check(np.flatnonzero(~stuck))
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
            # not beyond rounding, as the core: near the optimum it is flat to rounding
            better = new <= value[active[trial]] * (1 + 1e-12 * np.sign(value[active[trial]]))
            theta[active[trial[better]]] = candidate[better]
            accepted[trial[better]] = True
            step[trial[~better]] /= 2
        # no step helps: converged if the rule held, else the scalar fit decides
        rule_held = ~np.isnan(polish[active])
        done[active[~accepted & rule_held]] = True
        stuck[active[~accepted & ~rule_held]] = True
        moved = active[accepted]
        if len(moved):
            value[moved], grad[moved] = _reml(data.take(moved), theta[moved], tril)
            check(moved)
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
            h = (w @ _quadratic(sub.m, u) @ w).sum(axis=1)
            g = (jac.reshape(len(rows), len(tril[0]), -1) @ h.reshape(len(rows), -1, 1))[..., 0]
            estimate[rows, c] = beta @ weights
            se[rows, c] = np.sqrt(var)
            df[rows, c] = 2.0 * var ** 2 / np.einsum("bj,bjk,bk->b", g, inv_information, g)
    return MmrmBatch(estimate, se, df, converged, llf)
