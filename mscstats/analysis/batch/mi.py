"""Multiple imputation of one visit over many data sets, with the runner's random stream.

missing_data.run_mi imputes with mi.impute_visits from numpy.random.default_rng(seed),
the same seed in every simulated replicate. For one visit its draws are, in order:
chisquare(df, m), standard_normal((m, p)), then standard_normal((m, n_missing)) (none
when nothing is missing); df = n_observed - p is all they depend on, apart from the
number of missing values, whose normals are a prefix of one longer draw. So the draws
are made once per distinct df and sliced per replicate: every replicate sees exactly
the numbers the runner would, and the regression fits, posterior draws and imputations
are computed for all replicates at once, as mi.norm_fit and mi.norm_draw compute them.

Reference-based strategies on one visit: a treated subject's missing value is after
its dropout, so it is imputed with the arm terms set to the reference arm's (copy and
jump to reference coincide: there is no earlier visit to shift).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cores import mi

__all__ = ["Imputed", "impute_one_visit", "ancova_pooled", "tipping_points"]

# mi.norm_fit switches to mice's ridge above this condition number; a replicate near it
# goes to the runner (which decides) rather than risk deciding differently
_COND_LIMIT = 1e12


@dataclass(frozen=True)
class Imputed:
    """completed (R, m, n) values (observed ones copied, NaN outside the model's subjects);
    missing (R, n) the imputed positions; usable (R,) replicates the batch imputed as the
    runner would (elsewhere the runner decides)."""
    completed: np.ndarray
    missing: np.ndarray
    usable: np.ndarray


def impute_one_visit(y: np.ndarray, arm: np.ndarray, n_arms: int, fixed: np.ndarray,
                     model: np.ndarray, m: int, seed: int, strategy: str = "mar") -> Imputed:
    """mi.impute_visits(y[r, model[r], None], arm, n_arms, fixed, m, default_rng(seed),
    strategy)[..., 0] for every replicate r, at the model's subjects.

    y (R, n) NaN where missing; arm (R, n) arm indices; fixed (R, n, q) baseline and
    covariates (no intercept); model (R, n) the subjects the imputation uses.
    """
    if strategy not in mi.STRATEGIES:
        raise ValueError(f"strategy must be one of {mi.STRATEGIES}")
    dummies = (arm[..., None] == np.arange(1, n_arms)).astype(np.float64)
    x = np.concatenate([np.ones(y.shape + (1,)), dummies, fixed], axis=-1)   # (R, n, p)
    x = np.where(model[..., None], x, 0.0)
    p = x.shape[-1]
    observed = model & ~np.isnan(y)
    missing = model & np.isnan(y)
    n_obs = observed.sum(axis=1)
    usable = n_obs > p                       # impute_visits: more values than terms
    xo = np.where(observed[..., None], x, 0.0)
    yo = np.where(observed, y, 0.0)
    xtx = np.swapaxes(xo, -1, -2) @ xo
    xtx[~usable] = np.eye(p)                 # never used; keeps the batch invertible
    with np.errstate(all="ignore"):
        usable &= np.linalg.cond(xtx) < _COND_LIMIT
    xtx[~usable] = np.eye(p)
    v = np.linalg.inv(xtx)
    usable &= np.isfinite(v).all(axis=(1, 2))
    coef = (v @ (np.swapaxes(xo, -1, -2) @ yo[..., None]))[..., 0]           # (R, p)
    resid = np.where(observed, y - (x @ coef[..., None])[..., 0], 0.0)
    rss = (resid ** 2).sum(axis=1)
    df = np.maximum(n_obs - p, 1)
    chi, z, noise = _draws(df, usable, missing.sum(axis=1), m, p, seed)
    sigma = np.sqrt(rss[:, None] / chi)                                        # (R, m)
    chol = np.linalg.cholesky((v + np.swapaxes(v, -1, -2)) / 2.0)
    beta = coef[:, None, :] + (chol[:, None] @ z[..., None])[..., 0] * sigma[..., None]
    xw = x.copy()
    if strategy != "mar":                    # after dropout: the reference arm's model
        xw[..., 1:n_arms] = np.where((missing & (arm > 0))[..., None], 0.0, xw[..., 1:n_arms])
    mean = np.einsum("rnp,rmp->rmn", xw, beta)
    imputed = mean + _at_missing(noise, missing) * sigma[..., None]
    completed = np.where(missing[:, None, :], imputed,
                         np.where(observed, y, np.nan)[:, None, :])
    return Imputed(completed, missing, usable)


def _draws(df: np.ndarray, usable: np.ndarray, n_missing: np.ndarray, m: int, p: int,
           seed: int):
    """Per replicate the runner's chisquare (m,), normals (m, p) and imputation noise
    (m, n) laid out at its missing subjects' positions in model order (see module doc)."""
    replicates = len(df)
    chi = np.ones((replicates, m))
    z = np.zeros((replicates, m, p))
    widest = int(n_missing.max(initial=0))
    flat = np.zeros((replicates, m * widest))
    for value in np.unique(df[usable]):
        rows = np.flatnonzero(usable & (df == value))
        rng = np.random.default_rng(seed)
        chi[rows] = rng.chisquare(int(value), size=m)
        z[rows] = rng.standard_normal(size=(m, p))
        most = int(n_missing[rows].max())
        if most:
            flat[rows, :m * most] = rng.standard_normal(size=m * most)
    return chi, z, _noise(flat, n_missing, m)


def _noise(flat: np.ndarray, n_missing: np.ndarray, m: int) -> np.ndarray:
    """(R, m, widest): replicate r's first m * k normals as the runner's (m, k) matrix, k
    its number of missing values (columns past k are 0)."""
    widest = flat.shape[1] // m if m else 0
    out = np.zeros((len(flat), m, widest))
    for k in np.unique(n_missing):
        rows = np.flatnonzero(n_missing == k)
        if k:
            out[rows, :, :k] = flat[rows, :m * k].reshape(len(rows), m, k)
    return out


def _at_missing(noise: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """(R, m, n): column k of a replicate's noise at its k-th missing subject, 0 elsewhere."""
    if noise.shape[-1] == 0:
        return np.zeros(noise.shape[:2] + missing.shape[-1:])
    column = np.clip(np.cumsum(missing, axis=1) - 1, 0, noise.shape[-1] - 1)
    spread = np.take_along_axis(noise, np.broadcast_to(column[:, None, :], noise.shape[:2] +
                                                       column.shape[-1:]), axis=2)
    return np.where(missing[:, None, :], spread, 0.0)


@dataclass(frozen=True)
class PooledArms:
    """Rubin's rules per replicate and treated arm (R, arms - 1): the pooled estimate
    (log scale for logs), its p-value; usable False where the runner must decide (no
    SE in some completed data set, or the arm collinear with the covariates)."""
    estimate: np.ndarray
    p: np.ndarray
    usable: np.ndarray


def ancova_pooled(completed: np.ndarray, arm: np.ndarray, n_arms: int, covariates: np.ndarray,
                  model: np.ndarray) -> PooledArms:
    """mi.pool(mi.ancova_estimates(...)) of lm(y ~ arm + covariates) on every completed
    data set (R, ..., m, n) of the model's subjects, per treated arm."""
    lead, (m, n) = completed.shape[:-2], completed.shape[-2:]
    y = completed.reshape(lead[0], -1, n)                  # (R, sets, n)
    shape = lead + (n_arms - 1,)
    estimate, p = np.full(shape, np.nan), np.full(shape, np.nan)
    usable = np.ones(shape, dtype=bool)
    for j in range(1, n_arms):
        others = [(arm == k).astype(np.float64)[..., None] for k in range(1, n_arms) if k != j]
        fit, exact = _ancova_sets(y, arm == j, np.concatenate(others + [covariates], axis=-1),
                                  model)
        q, u = fit.estimate.reshape(lead + (m,)), (fit.se ** 2).reshape(lead + (m,))
        dfcom = np.broadcast_to(fit.df.reshape((-1,) + (1,) * (len(lead) - 1)), lead)
        ok = (np.isfinite(q) & (u > 0) & ~exact.reshape(lead + (m,))).all(axis=-1)
        for value in np.unique(dfcom[ok]):
            at = ok & (dfcom == value)
            pooled = mi.pool(mi.Estimates(q[at], u[at], float(value)))
            estimate[..., j - 1][at] = pooled.estimate
            p[..., j - 1][at] = pooled.p_value
        usable[..., j - 1] = ok
    return PooledArms(estimate, p, usable)


def _ancova_sets(y: np.ndarray, treated: np.ndarray, z: np.ndarray, model: np.ndarray):
    """kernels.ancova_batch for the data sets y (R, S, n) of replicates whose sets share
    the arm (R, n), covariates z (R, n, k) and subjects (R, n): its Frisch-Waugh-Lovell
    with one basis per replicate instead of one QR per set. Also (R, S) whether a set's
    residual sum of squares is at rounding level (below 1e-20 of its total): then its
    SE and p are made of rounding, and the runner says what it says of them."""
    from .kernels import TStatistic, _covariate_basis, _residualize
    weight = model.astype(np.float64)
    n = y.shape[-1]
    basis = _covariate_basis(np.where(model[..., None], z, 0.0), n, weight)     # (R, n, q)
    a_res = _residualize(np.where(model, treated, 0.0), basis)                 # (R, n)
    y = np.where(model[:, None, :], y, 0.0)
    y_res = y - (y @ basis) @ np.swapaxes(basis, -1, -2)
    saa = (a_res * a_res).sum(axis=-1)
    used = weight.sum(axis=-1)
    df = used - basis.shape[-1] - 1
    if np.any(df < 1):
        raise ValueError("no residual degrees of freedom for the arm and the covariates")
    with np.errstate(divide="ignore", invalid="ignore"):
        saa = np.where(saa > 1e-12 * used, saa, np.nan)[:, None]           # arm explained
        beta = (y_res @ a_res[..., None])[..., 0] / saa
        resid = y_res - beta[..., None] * a_res[:, None, :]
        rss = (resid * resid).sum(axis=-1)
        se = np.sqrt(rss / df[:, None] / saa)
    centred = np.where(model[:, None, :], y - (y.sum(axis=-1) / used[:, None])[..., None], 0.0)
    exact = ~(rss > 1e-20 * (centred * centred).sum(axis=-1))
    return TStatistic(beta, se, beta / se, df), exact


def tipping_points(completed: np.ndarray, missing: np.ndarray, arm: np.ndarray,
                   covariates: np.ndarray, model: np.ndarray, deltas, alpha: float):
    """missing_data's continuous tipping point per replicate (two arms): the treated arm's
    imputed values shifted by each delta, ANCOVA on each completed set, Rubin's rules.
    Returns (estimate (R, D), p (R, D), tipping delta (R,) NaN where none, usable (R,))."""
    from ..missing_data import _continuous_tipping_delta
    deltas = np.array(sorted(float(d) for d in deltas))
    shift = (missing & (arm == 1))[:, None, None, :] * deltas[None, :, None, None]
    shifted = ancova_pooled(completed[:, None] + shift, arm, 2, covariates, model)
    unshifted = ancova_pooled(completed, arm, 2, covariates, model)
    estimate, p = shifted.estimate[..., 0], shifted.p[..., 0]
    usable = shifted.usable[..., 0].all(axis=1) & unshifted.usable[:, 0]
    tipping = np.full(len(completed), np.nan)
    for r in np.flatnonzero(usable):
        value = _continuous_tipping_delta(deltas, p[r], float(unshifted.estimate[r, 0]), alpha)
        tipping[r] = np.nan if value is None else value
    return estimate, p, tipping, usable
