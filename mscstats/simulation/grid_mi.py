"""``missing = "mi"`` and the ``tipping_point`` method on the grid.

MI (ANCOVA): the runner's imputations (a repeated endpoint's visits up to its day, one
after the other) of every replicate at once with the runner's random numbers
(analysis/batch/mi.py), the ANCOVA of each completed data set (ancova_batch's
formula) and Rubin's rules per replicate: the p and the pooled estimate run_mi
reports. Other methods, strata and covariates the grid does not hold as numbers go
to the runner,
as does every replicate where the runner could decide differently (an arm without
values, too few values for the imputation model, a near-singular fit, a constant
covariate, a completed data set without an SE).

tipping_point: the runner reports a grid and a tipping point but no comparison, so
a replicate gives simulate no row unless the analysis is not estimable
(engine.hypothesis_rows); that happens only when an arm has no analysed value, and
those replicates go to the runner, which says why. The tipping points themselves
(batch.mi.tipping_points, the same imputations shifted) are not needed for the rows.
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import GRID_NUMERIC_COVARIATES, DailyGrid, GridEndpoint
from ..plan import Analysis, Endpoint, Sap
from ..specs import KINDS
from .grid_common import _by_replicate, _outcome, _Outcome

__all__ = ["_mi", "_tipping_point"]



def _mi(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
        included: np.ndarray, sap: Sap) -> _Outcome:
    from ..analysis.batch.kernels import ancova_batch  # noqa: F401  (import cost once)
    arms = len(sap.study.arms)
    log = endpoint.transform == "log"
    out = _outcome(grid, ["geometric_mean_ratio" if log else "mean_difference"] * (arms - 1))
    options = analysis.options
    if analysis.method != "ancova" or options.get("strata") or \
            set(options.get("covariates", ())) - {"BASE", *GRID_NUMERIC_COVARIATES} or arms < 2:
        out.needs_runner[:] = True
        return out
    y, arm, model, fixed = _model(analysis, endpoint, values, grid, included)
    out.needs_runner |= ~_runner_would_agree(y, arm, model, fixed, arms)
    batch = np.flatnonzero(~out.needs_runner)
    if batch.size:
        visits = _visits(endpoint, values, grid, y)
        _impute_and_pool(out, batch, analysis, sap, visits, arm, model, fixed, arms, log)
    return out


def _visits(endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid, y: np.ndarray):
    """(R, n, K) the visits mi_data imputes: a repeated endpoint's days up to its own
    (the target last), else the one analysed value."""
    if not endpoint.repeated:
        return y[..., None]
    visits = values.visits
    columns = [i for i, day in enumerate(visits.days) if day <= endpoint.day]
    response = getattr(visits, KINDS[endpoint.kind].response.lower())[:, columns]
    return response.reshape(grid.replicates, grid.n, len(columns))


def _model(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
           included: np.ndarray):
    """(R, n) response, arm, the imputation model's subjects (population, baseline and
    covariates known: mi_data) and (R, n, k) its covariates, BASE first."""
    response = getattr(values, KINDS[endpoint.kind].response.lower())
    y, base, arm, pop = _by_replicate(grid, response, values.base, grid.arm, included)
    extra = [grid.adsl[c].astype(np.float64).reshape(arm.shape)
             for c in analysis.options.get("covariates", ()) if c != "BASE"]
    fixed = np.stack([base, *extra], axis=-1)
    model = pop & ~np.isnan(fixed).any(axis=-1)
    return y, arm, model, np.where(model[..., None], fixed, 0.0)


def _runner_would_agree(y, arm, model, fixed, arms: int) -> np.ndarray:
    """(R,) replicates whose MI the batch computes as the runner does: baseline known for
    someone (else the runner's model has no BASE term), every arm with an observed value,
    no constant covariate (lm drops it), residual df left for the imputation and the
    ANCOVA."""
    observed = model & ~np.isnan(y)
    ok = model.any(axis=1)
    for j in range(arms):
        ok &= (observed & (arm == j)).any(axis=1)
    for k in range(fixed.shape[-1]):
        z = fixed[..., k]
        ok &= np.where(model, z, -np.inf).max(axis=1) > np.where(model, z, np.inf).min(axis=1)
    terms = arms + fixed.shape[-1]
    return ok & (observed.sum(axis=1) > terms) & (model.sum(axis=1) - terms >= 1)


def _impute_and_pool(out: _Outcome, batch: np.ndarray, analysis: Analysis, sap: Sap, y, arm,
                     model, fixed, arms: int, log: bool) -> None:
    from ..analysis.batch.mi import ancova_pooled, impute_visits
    from ..analysis.missing_data import _STRATEGY
    from ..schema import DEFAULT_IMPUTATIONS
    m = int(analysis.options.get("imputations", DEFAULT_IMPUTATIONS))
    strategy = _STRATEGY[analysis.options.get("mi_reference")]
    y, arm, model, fixed = y[batch], arm[batch], model[batch], fixed[batch]
    imputed = impute_visits(y, arm, arms, fixed, model, m, sap.study.seed, strategy)
    try:
        pooled = ancova_pooled(imputed.completed[..., -1], arm, arms, fixed, model)
    except ValueError:                      # no residual df somewhere: the runner for all
        out.needs_runner[batch] = True
        return
    usable = imputed.usable & pooled.usable.all(axis=1)
    out.needs_runner[batch[~usable]] = True
    done = batch[usable]
    out.p[done] = pooled.p[usable]
    out.estimate[done] = np.exp(pooled.estimate[usable]) if log else pooled.estimate[usable]


def _tipping_point(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint,
                   grid: DailyGrid, included: np.ndarray, sap: Sap) -> _Outcome:
    """No row where the runner's tipping point is estimable; the runner elsewhere."""
    out = _outcome(grid, [])
    if len(sap.study.arms) != 2 or \
            set(analysis.options.get("covariates", ())) - {"BASE", *GRID_NUMERIC_COVARIATES}:
        out.needs_runner[:] = True
        return out
    if endpoint.kind == "binary":
        y, arm, known = _by_replicate(grid, values.aval, grid.arm, included)
        known = known & ~np.isnan(y)
    else:
        y, arm, known, _ = _model(analysis, endpoint, values, grid, included)
        known = known & ~np.isnan(y)
    for j in range(2):                      # require_arms: an arm without a value
        out.needs_runner |= ~(known & (arm == j)).any(axis=1)
    return out
