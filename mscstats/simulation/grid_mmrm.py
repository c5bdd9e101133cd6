"""The grid kernel of mmrm: models.run_mmrm for every replicate at once.

The runner's model, CHG ~ ARM*DAY + BASE*DAY (+ numeric covariates), over the
endpoint's visit days (derive/grid_visits.py gives them on the grid), REML with the
unstructured covariance (analysis/batch/mmrm.py), and each treated arm's effect at
the target day with its Satterthwaite df. Every replicate whose model is not the
runner's first try as the kernel fits it goes to the runner (needs_runner): an arm
without a value on the target day, a visit day without values, no baseline, a
design with aliased columns, fewer than 30 values beyond the model's parameters
(there the REML surface is flat enough that the Satterthwaite df, from a
finite-difference Hessian in both, differs by up to ~1e-5 between any two
implementations: the runner's number is the one given), a fit that does not
converge (the runner then tries the SAP's other covariances), and, for the whole
analysis, strata, a categorical covariate or a first covariance other than
unstructured.
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import GRID_NUMERIC_COVARIATES, DailyGrid, GridEndpoint
from ..plan import Analysis, Endpoint, Sap
from ..specs import KINDS
from .grid_common import _by_replicate, _outcome, _Outcome, _t_p

__all__ = ["_mmrm"]

_SMALL = 30       # values beyond the coefficients and covariance parameters the kernel needs


def _mmrm(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
          included: np.ndarray, sap: Sap) -> _Outcome:
    from ..analysis.batch.mmrm import mmrm_batch
    arms = len(sap.study.arms)
    log = endpoint.transform == "log"
    out = _outcome(grid, ["geometric_mean_ratio" if log else "mean_difference"] * (arms - 1))
    visits = getattr(values, "visits", None)
    covariance = analysis.options.get("covariance", "unstructured")
    first = covariance if isinstance(covariance, str) else covariance[0]
    extra = [c for c in analysis.options.get("covariates", ()) if c != "BASE"]
    if (visits is None or first != "unstructured" or analysis.options.get("strata")
            or set(extra) - set(GRID_NUMERIC_COVARIATES) or arms < 2):
        out.needs_runner[:] = True
        return out
    y, x, observed, target = _model(grid, visits, values, included, extra, endpoint, arms)
    out.needs_runner |= _runner_decides(y, x, observed, target, grid, included, values, arms)
    batch = np.flatnonzero(~out.needs_runner)
    if not len(batch):
        return out
    fit = mmrm_batch(y[batch], x[batch], observed[batch], _contrasts(arms, len(visits.days),
                                                                    target, x.shape[-1]))
    ok = batch[fit.converged]
    out.needs_runner[batch[~fit.converged]] = True
    estimate, se, df = (a[fit.converged] for a in (fit.estimate, fit.se, fit.df))
    out.p[ok] = _t_p(estimate / se, df)
    out.estimate[ok] = np.exp(estimate) if log else estimate
    return out


def _model(grid, visits, values, included, extra, endpoint, arms):
    """y (B, n, T), the design rows x (B, n, T, p), which values enter, the target index.
    Columns: intercept, arms 1.., days 1.., arm x day, BASE, BASE x day, covariates."""
    response = visits.chg if KINDS[endpoint.kind].response == "CHG" else visits.aval
    t = len(visits.days)
    y = response.reshape(grid.replicates, grid.n, t)
    base, arm, pop = _by_replicate(grid, values.base, grid.arm, included)
    covariates = [grid.adsl[c].reshape(arm.shape) for c in extra]
    observed = pop[..., None] & ~np.isnan(y) & ~np.isnan(base)[..., None]
    for z in covariates:
        observed &= ~np.isnan(z)[..., None]
    shape = (*y.shape, 1)
    ones = np.ones(shape)
    arm_cols = [np.broadcast_to((arm == j)[..., None, None], shape) for j in range(1, arms)]
    day_cols = [np.broadcast_to((np.arange(t) == k)[:, None], shape) for k in range(1, t)]
    base_col = np.broadcast_to(np.nan_to_num(base)[..., None, None], shape)
    columns = [ones, *arm_cols, *day_cols, *[a * d for a in arm_cols for d in day_cols],
               base_col, *[base_col * d for d in day_cols],
               *[np.broadcast_to(np.nan_to_num(z)[..., None, None], shape) for z in covariates]]
    x = np.concatenate([c.astype(float) * ones for c in columns], axis=-1)
    return y, x, observed, visits.days.index(endpoint.day)


def _contrasts(arms: int, t: int, target: int, p: int) -> np.ndarray:
    """Each treated arm's effect at the target visit: ARM_j (+ ARM_j x DAY_target)."""
    out = np.zeros((arms - 1, p))
    for j in range(1, arms):
        out[j - 1, j] = 1.0
        if target > 0:
            out[j - 1, arms + (t - 1) + (j - 1) * (t - 1) + (target - 1)] = 1.0
    return out


def _runner_decides(y, x, observed, target, grid, included, values, arms) -> np.ndarray:
    """(B,) replicates whose runner fit differs from the kernel's model or may fail."""
    base, arm, pop = _by_replicate(grid, values.base, grid.arm, included)
    at_target = pop & ~np.isnan(y[:, :, target])
    decides = ~np.logical_and.reduce([(at_target & (arm == j)).any(axis=1) for j in range(arms)])
    decides |= ~(pop & ~np.isnan(base)).any(axis=1)          # no BASE term in the runner
    decides |= ~observed.any(axis=1).all(axis=1)              # a visit day drops out
    n_obs = observed.sum(axis=(1, 2))
    t, p = y.shape[2], x.shape[3]
    # too few for the covariance (the runner says so); and small replicates, where the
    # REML surface is so flat that the df (a finite-difference Hessian, in both) moves
    # by up to 1e-5 with the order of summation: the runner gives them its own numbers
    decides |= n_obs - p - t * (t + 1) // 2 < _SMALL
    # aliased columns (the runner drops them): the scaled cross-product is singular
    xo = np.where(observed[..., None], x, 0.0).reshape(len(x), -1, p)
    xtx = np.swapaxes(xo, 1, 2) @ xo
    scale = np.sqrt(np.einsum("bpp->bp", xtx))
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = xtx / scale[:, :, None] / scale[:, None, :]
        scaled = np.where(np.isfinite(scaled), scaled, 0.0)
    decides |= ~(np.linalg.eigvalsh(scaled)[:, 0] > 1e-10)
    return decides
