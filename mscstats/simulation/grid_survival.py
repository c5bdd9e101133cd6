"""Grid kernels of the time-to-event methods km, rmst and cox (survival.py's runners).

Each fills, per replicate, what engine.hypothesis_rows reads from the runner's
result, computed by the batch kernels of analysis/batch (km.py, cox.py); a replicate
the batch cannot answer as the runner would is marked ``needs_runner``:

* km: the runner's result has no comparison, so a replicate gives no hypothesis row;
  it is not estimable only where an arm has no subject (require_arms), which the
  runner then says.
* rmst: per treated arm the RMST difference to tau and its z-test p (no p when both
  arms' SE is 0, as the runner reports it); a single arm: no comparison.
* cox: per treated arm the hazard ratio and Wald p of one model with every arm, the
  numeric covariates (AGE, BMI) and the strata; other covariates, a fit the kernel
  calls unreliable (possibly infinite, singular, stuck) and an empty arm go to the
  runner. A replicate whose fit stopped within rounding of coxph's threshold
  (cox_fit_batch's ``ambiguous``, rare) is fitted by the scalar core on the runner's
  arrays, so the numbers are the runner's to 1e-10 everywhere.

The rows are those of survival._survival_rows: a subject without AVAL or CNSR is
left out; a competing death (EVNTCD 2) is censored.
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import GRID_NUMERIC_COVARIATES, DailyGrid, GridEndpoint
from ..plan import Analysis, Endpoint, Sap
from .grid_common import _by_replicate, _outcome, _Outcome, _strata_codes

__all__ = ["_km", "_rmst", "_cox", "estimates_only"]



def _rows(values: GridEndpoint, grid: DailyGrid, included: np.ndarray):
    """(time, event, arm, used) by replicate: the runner's analysable rows."""
    event = (values.cnsr == 0) & (values.evntcd != 2)
    used = included & ~np.isnan(values.aval) & ~np.isnan(values.cnsr)
    return _by_replicate(grid, np.where(used, values.aval, 0.0), event, grid.arm, used)


def _empty_arm(arm: np.ndarray, used: np.ndarray, arms: int) -> np.ndarray:
    return np.logical_or.reduce([~(used & (arm == j)).any(axis=1) for j in range(arms)])


def estimates_only(rows):
    """The kernel of a method whose result states no arm's hypothesis (km, cuminc):
    nothing to compute for simulate's rows; the runner only where it stops (an arm
    without subjects), to say why. rows: the adapter's (values, grid, included) ->
    (time, event, arm, used)."""
    def kernel(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
               included: np.ndarray, sap: Sap) -> _Outcome:
        out = _outcome(grid, [])
        _, _, arm, used = rows(values, grid, included)
        out.needs_runner |= _empty_arm(arm, used, len(sap.study.arms))
        return out
    return kernel


_km = estimates_only(_rows)          # run_km


def _rmst(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
          included: np.ndarray, sap: Sap) -> _Outcome:
    """run_rmst: each treated arm's RMST difference to tau against the reference."""
    from ..analysis.batch.km import (kaplan_meier_batch, restricted_mean_batch,
                                     rmst_difference_batch)
    arms = len(sap.study.arms)
    out = _outcome(grid, ["rmst_difference"] * (arms - 1))
    time, event, arm, used = _rows(values, grid, included)
    out.needs_runner |= _empty_arm(arm, used, arms)
    if arms < 2:
        return out
    tau = float(analysis.options["tau"])
    level = 1.0 - sap.study.alpha
    means = [restricted_mean_batch(kaplan_meier_batch(time, event, used & (arm == j)), tau)
             for j in range(arms)]
    for j in range(1, arms):
        contrast = rmst_difference_batch(means[j], means[0], level)
        out.estimate[:, j - 1] = contrast.estimate
        out.p[:, j - 1] = contrast.p
    return out


def _cox(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
         included: np.ndarray, sap: Sap) -> _Outcome:
    """run_cox: one model of every arm with the covariates and strata; per treated arm
    its hazard ratio and Wald p."""
    from scipy.special import ndtr

    from ..analysis.batch.cox import cox_fit_batch
    arms = len(sap.study.arms)
    out = _outcome(grid, ["hazard_ratio"] * (arms - 1))
    covariates = [str(c) for c in analysis.options.get("covariates", ())]
    if set(covariates) - set(GRID_NUMERIC_COVARIATES):     # factors: the runner codes them
        out.needs_runner[:] = True
        return out
    time, event, arm, used = _rows(values, grid, included)
    out.needs_runner |= _empty_arm(arm, used, arms)
    z = _by_replicate(grid, *(np.asarray(grid.adsl[c], dtype=float) for c in covariates))
    model = used.copy()
    for column in z:                                   # _model_rows: complete rows only
        model &= ~np.isnan(column)
    strata = _strata_codes(grid, analysis.options.get("strata", ()))
    strata = None if strata is None else strata.reshape(arm.shape)
    x = np.stack([(arm == j).astype(float) for j in range(1, arms)]
                 + [np.where(model, c, 0.0) for c in z], axis=-1)
    ties = analysis.options.get("ties", "efron")
    fit = cox_fit_batch(time, event, x, model, strata, ties)
    out.needs_runner |= ~fit.reliable
    with np.errstate(over="ignore", invalid="ignore"):
        out.estimate[:] = np.exp(fit.params[:, :arms - 1])
        out.p[:] = 2.0 * ndtr(-np.abs(fit.params[:, :arms - 1] / fit.se[:, :arms - 1]))
    for r in np.flatnonzero(fit.ambiguous & ~out.needs_runner):
        _cox_core(out, r, time[r], event[r], x[r], model[r],
                  None if strata is None else strata[r], ties)
    return out


def _cox_core(out: _Outcome, r: int, time, event, x, model, strata, ties: str) -> None:
    """Replicate r by cores.cox.cox_fit on the runner's arrays (the same rows in the same
    order, the same columns): where the kernel's stopping was decided by rounding, the
    fit the runner makes, bit for bit (cox_fit_batch's ``ambiguous``)."""
    from ..analysis.cores.common import NotEstimable
    from ..analysis.cores.cox import cox_fit
    names = tuple(f"x{k}" for k in range(x.shape[-1]))
    try:
        fit = cox_fit(time[model], event[model].astype(float), x[model], names,
                      None if strata is None else strata[model], ties)
        for j in range(out.p.shape[1]):
            if names[j] in fit.infinite:       # the runner: not estimable, with its note
                raise NotEstimable(names[j])
            out.estimate[r, j], _, out.p[r, j] = fit.hazard_ratio(names[j], 0.95)
    except NotEstimable:
        out.needs_runner[r] = True
