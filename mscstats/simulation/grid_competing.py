"""Grid kernels of the competing-risks methods cuminc and finegray (competing.py's
runners), computed by analysis/batch/competing.py.

* cuminc: the runner's result has no comparison (Gray's test is a test of the
  analysis, not an arm's hypothesis), so a replicate gives no hypothesis row; it is
  not estimable only where an arm has no subject, which the runner then says.
* finegray: per treated arm the subdistribution hazard ratio and Wald p of crr with
  every arm and the numeric covariates (AGE, BMI). An arm without the event of
  interest, a fit crr would not finish as the kernel does (see finegray_batch), other
  covariates and an empty arm go to the runner.

The rows are those of competing._event_rows: the cause is EVNTCD (1 - CNSR when a
replicate has no EVNTCD at all); a subject without time or cause is left out.
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import GRID_NUMERIC_COVARIATES, DailyGrid, GridEndpoint
from ..plan import Analysis, Endpoint, Sap
from .grid_common import _by_replicate, _outcome, _Outcome
from .grid_survival import _empty_arm, estimates_only

__all__ = ["_cuminc", "_finegray"]


def _event_rows(values: GridEndpoint, grid: DailyGrid, included: np.ndarray):
    """(time, cause, arm, used) by replicate."""
    time, evntcd, cnsr, arm, pop = _by_replicate(grid, values.aval, values.evntcd, values.cnsr,
                                                 grid.arm, included)
    coded = (pop & ~np.isnan(evntcd)).any(axis=1, keepdims=True)
    cause = np.where(coded, evntcd, 1 - cnsr)
    used = pop & ~np.isnan(time) & ~np.isnan(cause)
    return np.where(used, time, 0.0), np.where(used, cause, 0).astype(int), arm, used


_cuminc = estimates_only(_event_rows)          # run_cuminc


def _finegray(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
              included: np.ndarray, sap: Sap) -> _Outcome:
    """run_finegray: each treated arm's subdistribution hazard ratio and Wald p."""
    from scipy.special import ndtr

    from ..analysis.batch.competing import finegray_batch
    arms = len(sap.study.arms)
    out = _outcome(grid, ["subdistribution_hazard_ratio"] * (arms - 1))
    covariates = [str(c) for c in analysis.options.get("covariates", ())]
    if set(covariates) - set(GRID_NUMERIC_COVARIATES):
        out.needs_runner[:] = True
        return out
    time, cause, arm, used = _event_rows(values, grid, included)
    z = _by_replicate(grid, *(np.asarray(grid.adsl[c], dtype=float) for c in covariates))
    for column in z:                       # na.omit: subjects with a covariate only
        used = used & ~np.isnan(column)
    out.needs_runner |= _empty_arm(arm, used, arms)
    # an arm without the event: the runner's reason (the ratio is 0 or infinite)
    out.needs_runner |= _empty_arm(arm, used & (cause == 1), arms)
    x = np.stack([(arm == j).astype(float) for j in range(1, arms)]
                 + [np.where(used, c, 0.0) for c in z], axis=-1)
    fit = finegray_batch(time, cause, x, used)
    out.needs_runner |= ~fit.reliable
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out.estimate[:] = np.exp(fit.params[:, :arms - 1])
        out.p[:] = 2.0 * ndtr(-np.abs(fit.params[:, :arms - 1] / fit.se[:, :arms - 1]))
    return out
