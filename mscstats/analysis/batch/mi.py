"""Multiple imputation over many data sets, with the runner's random stream.

missing_data.run_mi imputes with mi.impute_visits from numpy.random.default_rng(seed),
the same seed in every simulated replicate; visit by visit its draws are
chisquare(df, m), standard_normal((m, p)) and, when the visit has missing values,
standard_normal((m, n_missing)). Here each replicate keeps its own generator and makes
exactly those draws (a few small calls per visit), so every replicate sees the
numbers the runner would; the regression fits, posterior draws, reference-based
shifts and imputations are computed for all replicates and imputations at once, as
mi.norm_fit, mi.norm_draw and mi.impute_visits compute them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cores import mi

__all__ = ["Imputed", "impute_visits", "PooledArms", "ancova_pooled", "tipping_points"]

# mi.norm_fit switches to mice's ridge above a condition number of 1e13; a replicate
# near it goes to the runner (which decides) rather than risk deciding differently
_COND_LIMIT = 1e12


@dataclass(frozen=True)
class Imputed:
    """completed (R, m, n, K) visits (observed values copied, NaN outside the model's
    subjects); missing (R, n, K) the imputed positions; usable (R,) the replicates the
    batch imputed as the runner would (elsewhere the runner decides)."""
    completed: np.ndarray
    missing: np.ndarray
    usable: np.ndarray


def impute_visits(y: np.ndarray, arm: np.ndarray, n_arms: int, fixed: np.ndarray,
                  model: np.ndarray, m: int, seed: int, strategy: str = "mar") -> Imputed:
    """mi.impute_visits(y[r][model[r]], arm, n_arms, fixed, m, default_rng(seed), strategy)
    for every replicate r, at the model's subjects.

    y (R, n, K) visits in day order, NaN where missing; arm (R, n) arm indices (0 the
    reference); fixed (R, n, q) baseline and covariates (no intercept); model (R, n)
    the subjects the imputation uses.
    """
    if strategy not in mi.STRATEGIES:
        raise ValueError(f"strategy must be one of {mi.STRATEGIES}")
    replicates, n, k = y.shape
    observed = model[..., None] & ~np.isnan(y)
    last = np.where(observed.any(axis=-1), k - 1 - np.argmax(observed[..., ::-1], axis=-1), -1)
    after = (np.arange(k) > last[..., None]) & (arm > 0)[..., None] & (strategy != "mar")
    dummies = (arm[..., None] == np.arange(1, n_arms)).astype(np.float64)
    base = np.concatenate([np.ones((replicates, n, 1)), dummies, fixed], axis=-1)
    n_fixed = base.shape[-1]
    done = np.broadcast_to(np.where(observed, y, 0.0)[:, None], (replicates, m, n, k)).copy()
    shift = np.zeros((replicates, m, n_arms, 0))
    usable = model.any(axis=1)
    rngs = [np.random.default_rng(seed) for _ in range(replicates)]
    for j in range(k):
        rows = observed[..., j]
        usable &= rows.sum(axis=1) > n_fixed + j          # impute_visits: too few values
        x = np.concatenate([np.broadcast_to(base[:, None], (replicates, m, n, n_fixed)),
                            done[..., :j]], axis=-1)
        coef, v, rss, ok = _fit(x, y[..., j], rows, usable)
        usable &= ok
        wanted = model & ~rows
        chi, z, noise = _draws(rngs, usable, rows.sum(axis=1) - x.shape[-1], wanted, m,
                               x.shape[-1])
        sigma = np.sqrt(rss / chi)
        chol = np.linalg.cholesky((v + np.swapaxes(v, -1, -2)) / 2.0)
        beta = coef + (chol @ z[..., None])[..., 0] * sigma[..., None]      # (R, m, p)
        gamma = np.concatenate([np.zeros((replicates, m, 1)), beta[..., 1:n_arms]], axis=-1)
        d_j = gamma + np.einsum("rml,rmal->rma", beta[..., n_fixed:], shift)
        shift = np.concatenate([shift, d_j[..., None]], axis=-1)
        xw = _reference_model(x, after, arm, shift, wanted, j, n_arms, n_fixed, strategy)
        imputed = (xw @ beta[..., None])[..., 0] + noise * sigma[..., None]
        done[..., j] = np.where(wanted[:, None], imputed, done[..., j])
    completed = np.where(model[:, None, :, None], done, np.nan)
    return Imputed(completed, model[..., None] & ~observed, usable)


def _fit(x, y, rows, usable):
    """mi.norm_fit of every replicate and imputation on its observed rows: coef (R, m, p),
    (X'X)^-1, RSS (R, m), and whether the fit is one the runner makes without its ridge."""
    p = x.shape[-1]
    xo = np.where(rows[:, None, :, None], x, 0.0)
    yo = np.where(rows, y, 0.0)[:, None, :]
    xtx = np.swapaxes(xo, -1, -2) @ xo
    xtx[~usable] = np.eye(p)                 # never used; keeps the batch invertible
    with np.errstate(all="ignore"):
        ok = (np.linalg.cond(xtx) < _COND_LIMIT).all(axis=1)
    xtx[~ok] = np.eye(p)
    v = np.linalg.inv(xtx)
    ok &= np.isfinite(v).all(axis=(1, 2, 3))
    coef = (v @ (np.swapaxes(xo, -1, -2) @ yo[..., None]))[..., 0]
    resid = np.where(rows[:, None, :], yo - (x @ coef[..., None])[..., 0], 0.0)
    return coef, v, (resid ** 2).sum(axis=-1), ok


def _draws(rngs, usable, df, wanted, m: int, p: int):
    """Each usable replicate's numbers from its own generator, in the runner's order:
    chi2 (R, m) of sigma* = sqrt(RSS / chi2), z (R, m, p) of beta*, and the noise
    (R, m, n) at the missing subjects (1, 0 and 0 in the other replicates)."""
    replicates, n = wanted.shape
    scale = np.ones((replicates, m))
    z = np.zeros((replicates, m, p))
    noise = np.zeros((replicates, m, n))
    for r in np.flatnonzero(usable):
        scale[r] = rngs[r].chisquare(int(max(df[r], 1)), size=m)
        z[r] = rngs[r].standard_normal(size=(m, p))
        if wanted[r].any():
            noise[r][:, wanted[r]] = rngs[r].standard_normal(size=(m, int(wanted[r].sum())))
    return scale, z, noise


def _reference_model(x, after, arm, shift, wanted, j: int, n_arms: int, n_fixed: int,
                     strategy: str):
    """The model rows of visit j's missing values: a treated subject after its dropout gets
    the reference arm's terms and, under jump to reference, its own earlier visits
    shifted by -D_l (mi.impute_visits)."""
    ref = after[..., j] & wanted                                   # (R, n)
    if strategy == "mar" or not ref.any():
        return x
    xw = x.copy()
    xw[..., 1:n_arms] = np.where(ref[:, None, :, None], 0.0, xw[..., 1:n_arms])
    if strategy == "jump_to_reference" and j:
        replicates, m, n = x.shape[:3]
        index = np.broadcast_to(arm[:, None, :, None], (replicates, m, n, j))
        d = np.take_along_axis(shift[..., :j], index, axis=2)      # (R, m, n, j)
        own = ~after[..., :j]
        xw[..., n_fixed:] -= np.where((ref[..., None] & own)[:, None], d, 0.0)
    return xw
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
        t = beta / se                  # an exact fit (SE 0): marked below, the runner says
    centred = np.where(model[:, None, :], y - (y.sum(axis=-1) / used[:, None])[..., None], 0.0)
    exact = ~(rss > 1e-20 * (centred * centred).sum(axis=-1))
    return TStatistic(beta, se, t, df), exact


def tipping_points(completed: np.ndarray, missing: np.ndarray, arm: np.ndarray,
                   covariates: np.ndarray, model: np.ndarray, deltas, alpha: float):
    """missing_data's continuous tipping point per replicate (two arms): the treated arm's
    imputed values shifted by each delta, ANCOVA on each completed set, Rubin's rules.
    Returns (estimate (R, D), p (R, D), tipping delta (R,) NaN where none, usable (R,))."""
    deltas = np.array(sorted(float(d) for d in deltas))
    shift = (missing & (arm == 1))[:, None, None, :] * deltas[None, :, None, None]
    shifted = ancova_pooled(completed[:, None] + shift, arm, 2, covariates, model)
    unshifted = ancova_pooled(completed, arm, 2, covariates, model)
    estimate, p = shifted.estimate[..., 0], shifted.p[..., 0]
    usable = shifted.usable[..., 0].all(axis=1) & unshifted.usable[:, 0]
    tipping = np.full(len(completed), np.nan)
    for r in np.flatnonzero(usable):
        value = mi.tipping_delta(deltas, p[r], float(unshifted.estimate[r, 0]), alpha)
        tipping[r] = np.nan if value is None else value
    return estimate, p, tipping, usable
