"""The proportional odds model (cores/ordinal.proportional_odds) over replicates.

logit P(Y <= c_j) = theta_j - x' beta for every replicate at once: the same
start (logits of the cumulative proportions, beta = 0), Newton steps with the
analytic gradient and Hessian, step halving while the likelihood falls or the
thresholds leave their order, and the stopping rule max |gradient| < 1e-10.
Replicates are grouped by their number of categories (each group one array of
parameters); inputs are (B, n) values, (B, n, p) covariates and a (B, n) mask of
the subjects each replicate analyses.

``ok`` is False where the core raises NotEstimable (one category, no
convergence, a step halved 40 times, |beta| > 30) or would need luck to agree
(a covariate constant among the subjects, a singular Hessian, an SE above 100 or
|beta| > 15, where separation makes the stopping point arbitrary): the caller asks the runner there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cores import ordinal as core
from .kernels import _take

__all__ = ["OrdinalBatch", "proportional_odds_batch", "BrantBatch", "brant_batch"]

_TRUST = 15.0         # |beta| above which the batch defers to the core
_SE_TRUST = 100.0     # and an SE above which


@dataclass(frozen=True)
class OrdinalBatch:
    params: np.ndarray      # (B, p) arm effects beta (NaN where not ok)
    se: np.ndarray          # (B, p)
    llf: np.ndarray         # (B,)
    ok: np.ndarray          # (B,)


def _codes(y, used):
    """Category index of each used value within its replicate (0 = lowest), and the
    number of categories of each replicate."""
    keyed = np.where(used, y, np.inf)
    order = np.argsort(keyed, axis=-1, kind="stable")
    s = _take(keyed, order)
    new = np.ones(s.shape, dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    code_sorted = np.cumsum(new, axis=-1) - 1
    codes = np.empty(y.shape, dtype=np.int64)
    np.put_along_axis(codes, order, code_sorted, axis=-1)
    categories = np.where(used, codes, -1).max(axis=-1) + 1
    return np.where(used, codes, 0), categories


def _parts(params, codes, x, w, k):
    """Log-likelihood (B,), gradient (B, q) and Hessian (B, q, q) of each replicate;
    w: how many subjects each row stands for (0: none)."""
    from scipy.special import expit
    b = codes.shape[0]
    theta, beta = params[:, :k], params[:, k:]
    eta = np.einsum("bnp,bp->bn", x, beta)
    big = np.concatenate([np.full((b, 1), -np.inf), theta, np.full((b, 1), np.inf)], axis=1)
    upper, lower = _take(big, codes + 1) - eta, _take(big, codes) - eta
    fu, fl = expit(upper), expit(lower)
    prob = fu - fl
    du, dl = fu * (1 - fu), fl * (1 - fl)
    ddu, ddl = du * (1 - 2 * fu), dl * (1 - 2 * fl)
    cut = np.arange(k)
    du_design = np.concatenate([(codes[..., None] == cut).astype(float), -x], axis=-1)
    dl_design = np.concatenate([(codes[..., None] - 1 == cut).astype(float), -x], axis=-1)
    du_design[codes == k] = 0.0
    dl_design[codes == 0] = 0.0
    used = w > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik = np.where(used, w * np.log(prob), 0.0).sum(axis=-1)
        score = np.where(used[..., None], (du[..., None] * du_design - dl[..., None] * dl_design)
                         / prob[..., None], 0.0)
        a = np.where(used, w * ddu / prob, 0.0)
        c = np.where(used, w * ddl / prob, 0.0)
    t = np.swapaxes
    curv = (t(du_design * a[..., None], 1, 2) @ du_design
            - t(dl_design * c[..., None], 1, 2) @ dl_design)
    weighted = score * w[..., None]
    return loglik, weighted.sum(axis=1), curv - t(weighted, 1, 2) @ score


def _cells(codes, x, used):
    """With arm dummies for x (0/1, at most one 1 a row) the likelihood depends on the
    subjects only through the count of each arm and category: rows of (arm, category)
    cells with those counts as weights, (B, A * J) -- a fraction of the subjects.
    None for other covariates."""
    if not (np.isin(x, (0.0, 1.0)).all() and (x.sum(axis=-1) <= 1).all()):
        return None
    b, p = x.shape[0], x.shape[-1]
    arm = np.where(x.sum(axis=-1) > 0, np.argmax(x, axis=-1) + 1, 0)
    j = int(codes.max(initial=0)) + 1
    flat = (np.arange(b)[:, None] * (p + 1) + arm) * j + codes
    counts = np.bincount(flat[used], minlength=b * (p + 1) * j).reshape(b, (p + 1) * j)
    cell_codes = np.broadcast_to(np.tile(np.arange(j), p + 1), counts.shape)
    cell_x = np.repeat(np.vstack([np.zeros(p), np.eye(p)]), j, axis=0)
    return (np.ascontiguousarray(cell_codes), np.broadcast_to(cell_x, (b,) + cell_x.shape),
            counts.astype(float))


def proportional_odds_batch(y, x, used) -> OrdinalBatch:
    """core.proportional_odds(used values of y, their rows of x) of every replicate."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    used = np.asarray(used, dtype=bool) & ~np.isnan(y)
    b, p = y.shape[0], x.shape[-1]
    codes, categories = _codes(y, used)
    out = OrdinalBatch(np.full((b, p), np.nan), np.full((b, p), np.nan), np.full(b, np.nan),
                       np.zeros(b, dtype=bool))
    # a covariate constant among the used subjects (an empty arm): not identifiable
    varies = np.ones(b, dtype=bool)
    for col in range(p):
        z = x[..., col]
        varies &= np.where(used, z, -np.inf).max(axis=-1) > np.where(used, z, np.inf).min(axis=-1)
    categories = np.where(varies, categories, 0)
    cells = _cells(codes, x, used)
    for j in np.unique(categories[categories >= 2]):
        rows = np.flatnonzero(categories == j)
        if cells is None:
            group = (codes[rows], np.where(used[rows][..., None], x[rows], 0.0),
                     used[rows].astype(float))
        else:                          # a code above j - 1 has no subjects in these rows
            keep = np.flatnonzero(cells[0][0] < j)
            group = (cells[0][rows][:, keep], cells[1][rows][:, keep], cells[2][rows][:, keep])
        _fit_group(*group, int(j) - 1, rows, out)
    return out


def _start(codes, w, k):
    counts = np.stack([np.where(codes == c, w, 0.0).sum(axis=-1) for c in range(k + 1)], axis=1)
    cum = np.cumsum(counts, axis=1)[:, :-1] / w.sum(axis=-1, keepdims=True)
    return np.log(cum / (1 - cum))


def _fit_group(codes, x, w, k, rows, out):
    """Newton with step halving for replicates with k + 1 categories (cores/ordinal.py)."""
    b, p = len(rows), x.shape[-1]
    params = np.concatenate([_start(codes, w, k), np.zeros((b, p))], axis=1)
    loglik, grad, hess = _parts(params, codes, x, w, k)
    failed = np.zeros(b, dtype=bool)
    done = np.zeros(b, dtype=bool)
    for _ in range(core._MAX_ITER):
        done |= np.max(np.abs(grad), axis=1) < core._GRAD_TOL
        active = np.flatnonzero(~done & ~failed)
        if not len(active):
            break
        step, singular = _solve(hess[active], -grad[active])
        failed[active[singular]] = True
        keep = ~singular
        active, step = active[keep], step[keep]
        new, accepted = _halving(params[active], step, loglik[active], codes[active],
                                 x[active], w[active], k)
        failed[active[~accepted]] = True
        good = active[accepted]
        params[good] = new[0][accepted]
        loglik[good], grad[good], hess[good] = (a[accepted] for a in new[1:])
    failed |= ~done                                   # 100 iterations: no convergence
    beta = params[:, k:]
    failed |= np.any(np.abs(beta) > _TRUST, axis=1)
    fine = np.flatnonzero(~failed)
    if not len(fine):
        return
    cov, singular = _solve(-hess[fine], np.broadcast_to(np.eye(k + p), (len(fine), k + p, k + p)))
    with np.errstate(invalid="ignore"):             # not a maximum: the core's SE is NaN too
        se = np.sqrt(np.diagonal(cov, axis1=1, axis2=2)[:, k:])
    # an SE this large: (near) non-identifiable; the runner calls it not estimable
    good = fine[~singular & np.isfinite(se).all(axis=1) & (se < _SE_TRUST).all(axis=1)]
    mapped = rows[good]
    keep = np.isin(fine, good)
    out.params[mapped], out.se[mapped], out.llf[mapped] = beta[good], se[keep], loglik[good]
    out.ok[mapped] = True


def _solve(a, rhs):
    """np.linalg.solve of each system; (solutions, singular?) -- a singular one gets NaN."""
    singular = np.zeros(len(a), dtype=bool)
    vector = rhs.ndim == 2
    try:
        return np.linalg.solve(a, rhs[..., None] if vector else rhs)[..., 0] if vector \
            else np.linalg.solve(a, rhs), singular
    except np.linalg.LinAlgError:
        pass
    out = np.full(rhs.shape, np.nan)
    for i in range(len(a)):                           # find the singular ones
        try:
            out[i] = np.linalg.solve(a[i], rhs[i])
        except np.linalg.LinAlgError:
            singular[i] = True
    return out, singular


def _halving(params, step, loglik, codes, x, w, k):
    """core._halving_step for every row: (new params, loglik, grad, hess), accepted?"""
    b = len(params)
    result = [params.copy(), loglik.copy(), np.zeros((b, params.shape[1])),
              np.zeros((b,) + (params.shape[1],) * 2)]
    accepted = np.zeros(b, dtype=bool)
    for _ in range(40):
        todo = np.flatnonzero(~accepted)
        if not len(todo):
            break
        new = params[todo] + step[todo]
        ordered = np.all(np.diff(new[:, :k], axis=1) > 0, axis=1)
        idx = todo[ordered]
        if len(idx):
            ll, grad, hess = _parts(new[ordered], codes[idx], x[idx], w[idx], k)
            fine = np.isfinite(ll) & (ll >= loglik[idx] - 1e-10 * np.abs(loglik[idx]))
            take = idx[fine]
            result[0][take], result[1][take] = new[ordered][fine], ll[fine]
            result[2][take], result[3][take] = grad[fine], hess[fine]
            accepted[take] = True
        step = np.where(accepted[:, None], step, step / 2)
    return result, accepted


# ------------------------------------------------------------------ Brant test

@dataclass(frozen=True)
class BrantBatch:
    statistic: np.ndarray
    df: np.ndarray
    p: np.ndarray
    ok: np.ndarray          # False where core.brant raises NotEstimable


def brant_batch(y, x, used) -> BrantBatch:
    """core.brant of every replicate: a binary logit of Y > c_j per cut (Newton from 0,
    the core's stopping rule), their joint covariance, and the Wald test that the
    coefficients are equal across cuts."""
    from scipy.special import chdtrc
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    used = np.asarray(used, dtype=bool) & ~np.isnan(y)
    b, p = y.shape[0], x.shape[-1]
    codes, categories = _codes(y, used)
    out = BrantBatch(np.full(b, np.nan), np.full(b, np.nan), np.full(b, np.nan),
                     np.zeros(b, dtype=bool))
    cells = _cells(codes, x, used)
    for j in np.unique(categories[categories >= 3]):
        rows = np.flatnonzero(categories == j)
        if cells is None:
            c, z, w = codes[rows], np.where(used[rows][..., None], x[rows], 0.0), \
                used[rows].astype(float)
        else:
            keep = np.flatnonzero(cells[0][0] < j)
            c, z, w = (a[rows][:, keep] for a in cells)
        design = np.concatenate([np.ones(c.shape + (1,)), z], axis=-1)
        chi2, ok = _brant_group(c, design, w, int(j) - 1, p)
        out.statistic[rows], out.ok[rows] = chi2, ok
        out.df[rows] = (int(j) - 2) * p
    with np.errstate(invalid="ignore"):
        out.p[:] = np.where(out.ok, chdtrc(out.df, out.statistic), np.nan)
    out.statistic[~out.ok] = np.nan
    return out


def _logits(event, design, w):
    """core.logistic_fit of each replicate (weighted rows): coefficients, converged."""
    from scipy.special import expit
    b, q = design.shape[0], design.shape[-1]
    beta = np.zeros((b, q))
    done, failed = np.zeros(b, dtype=bool), np.zeros(b, dtype=bool)
    for _ in range(core._MAX_ITER):
        active = np.flatnonzero(~done & ~failed)
        if not len(active):
            break
        d = design[active]
        prob = expit(np.einsum("bnq,bq->bn", d, beta[active]))
        info = np.swapaxes(d * (w[active] * prob * (1 - prob))[..., None], 1, 2) @ d
        score = np.einsum("bnq,bn->bq", d, w[active] * (event[active] - prob))
        step, singular = _solve(info, score)
        failed[active[singular]] = True
        new = beta[active] + np.where(singular[:, None], 0.0, step)
        beta[active] = new
        failed[active] |= np.any(np.abs(new) > core._SEPARATION, axis=1)
        small = np.max(np.abs(step), axis=1) < 1e-12 * np.maximum(1.0, np.max(np.abs(new), axis=1))
        done[active] |= small & ~singular
    return beta, done & ~failed


def _brant_group(codes, design, w, n_cut, p):
    from scipy.special import expit
    b = len(codes)
    fits = [_logits((codes > j).astype(float), design, w) for j in range(n_cut)]
    ok = np.logical_and.reduce([f[1] for f in fits])
    probs = [expit(np.einsum("bnq,bq->bn", design, f[0])) for f in fits]

    def info(weights):
        return np.swapaxes(design * (w * weights)[..., None], 1, 2) @ design

    q = design.shape[-1]
    inv, singular = [], np.zeros(b, dtype=bool)
    for pj in probs:
        m, bad = _solve(info(pj * (1 - pj)), np.broadcast_to(np.eye(q), (b, q, q)))
        inv.append(m)
        singular |= bad
    ok &= ~singular
    vcov = np.zeros((b, n_cut * p, n_cut * p))
    for j in range(n_cut):
        for k in range(j, n_cut):
            block = (inv[j] @ info(probs[k] - probs[j] * probs[k]) @ inv[k])[:, 1:, 1:]
            vcov[:, j * p:(j + 1) * p, k * p:(k + 1) * p] = block
            vcov[:, k * p:(k + 1) * p, j * p:(j + 1) * p] = np.swapaxes(block, 1, 2)
    coefs = np.concatenate([f[0][:, 1:] for f in fits], axis=1)
    contrast = np.zeros(((n_cut - 1) * p, n_cut * p))
    for j in range(n_cut - 1):
        contrast[j * p:(j + 1) * p, :p] = np.eye(p)
        contrast[j * p:(j + 1) * p, (j + 1) * p:(j + 2) * p] = -np.eye(p)
    d = coefs @ contrast.T
    cov = contrast @ np.where(ok[:, None, None], vcov, np.eye(n_cut * p)) @ contrast.T
    scale = np.maximum(np.abs(cov).max(axis=(1, 2)), 1e-300)
    ok &= np.linalg.matrix_rank(cov, tol=1e-10 * scale) == d.shape[1]
    solved, bad = _solve(np.where(ok[:, None, None], cov, np.eye(d.shape[1])), d)
    ok &= ~bad
    return np.einsum("bi,bi->b", d, solved), ok
