"""The simulation engine: a chunk of simulated trials analysed on the daily grid.

The generator's (subject x day) arrays are derived on the grid (derive/grid.py),
then each analysis runs for every replicate at once where its method has a
batch kernel (a specs row's batch_kernel: ANCOVA by Frisch-Waugh-Lovell, Welch's
t, the log-rank test with the Cox hazard ratio, Fisher's exact test once per
distinct table, and the kernels of their own modules), which agree with the
scalar cores to 1e-10. A replicate where the kernel could differ from the runner
(an arm without values, no baseline, a singular model, no events, a Cox fit that
needs step halving to its limit or may be infinite), and every replicate of a
method without a kernel or of options a kernel does not take, is run by the
analysis's runner on its grid-derived rows, so every replicate gets the
runner's answer.

Output: one row per replicate and hypothesis (engine.run_chunk).
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import (GRID_COVARIATES, GRID_FACTOR_COVARIATES, GRID_NUMERIC_COVARIATES,
                           DailyGrid, GridDerivation, GridEndpoint)
from ..derive.grid_visits import GridRepeated, endpoint_values, visit_rows
from ..derive.rules import worst_direction
from ..plan import Analysis, Endpoint, Sap
from ..specs import KINDS, METHODS
from .grid_common import (_arm_dummies, _by_replicate, _chi2_1_p, _outcome, _Outcome,
                          _strata_codes, _t_p)

__all__ = ["analyse_grid"]


def analyse_grid(grid: DailyGrid, sap: Sap, runner_only: bool = False,
                 runner=None) -> list[tuple]:
    """(analysis, arm, estimand, p, estimate, reason) per replicate and hypothesis, as
    engine.run_chunk. runner_only: every replicate through the runner (tests, the
    stress sweep); runner: the function that runs one AnalysisInput (analysis.run)."""
    derivation = GridDerivation(grid, sap.data)
    outcomes = {}
    for analysis in sap.analyses:
        endpoint = sap.endpoint(analysis.endpoint)
        values = endpoint_values(derivation, endpoint)
        included = grid.population(sap.analysis_population(analysis))
        kernel = kernel_of(analysis)
        if kernel is None or runner_only:
            outcome = _outcome(grid, [None] * max(len(sap.study.arms) - 1, 1))
            outcome.needs_runner[:] = True
        else:
            outcome = kernel(analysis, endpoint, values, grid, included, sap)
        # one arm: the runner says why a comparison method cannot run (kernels of the
        # methods for any number of arms answer a single arm themselves)
        if len(sap.study.arms) < 2 and METHODS[analysis.method].arms != "any":
            outcome.needs_runner[:] = True
        if outcome.needs_runner.any():
            inputs = _ReplicateInputs(analysis, endpoint, values, grid, included, sap)
            for r in np.flatnonzero(outcome.needs_runner):
                _run_replicate(outcome, r, inputs, sap, runner)
        outcomes[analysis.id] = outcome
    return _rows(outcomes, sap, grid.replicates)


# ------------------------------------------------------------------ ANCOVA

def _ancova(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
            included: np.ndarray, sap: Sap) -> _Outcome:
    """models.run_ancova: lm(y ~ ARM + BASE + covariates) on complete rows; one model
    for all arms, each arm's coefficient by Frisch-Waugh-Lovell."""
    arms = len(sap.study.arms)
    log = endpoint.transform == "log"
    out = _outcome(grid, ["geometric_mean_ratio" if log else "mean_difference"] * (arms - 1))
    options = analysis.options
    if set(options.get("covariates", ())) - {"BASE", *GRID_NUMERIC_COVARIATES} \
            or options.get("strata"):
        out.needs_runner[:] = True             # categorical covariates, strata: the runner
        return out
    response = getattr(values, KINDS[endpoint.kind].response.lower())
    y, base, arm, pop = _by_replicate(grid, response, values.base, grid.arm, included)
    extra = [grid.adsl[c].reshape(arm.shape) for c in analysis.options.get("covariates", ())
             if c != "BASE"]
    has_base = (pop & ~np.isnan(base)).any(axis=1)
    covariates = [base, *extra]
    complete = pop & ~np.isnan(y)
    for z in covariates:
        complete &= ~np.isnan(z)
    with_values = [(pop & ~np.isnan(y) & (arm == j)).any(axis=1) for j in range(arms)]
    with_complete = [(complete & (arm == j)).sum(axis=1) for j in range(arms)]
    used = complete.sum(axis=1)
    out.needs_runner |= ~has_base | ~np.logical_and.reduce(with_values)
    out.needs_runner |= (np.min(with_complete, axis=0) == 0) | (used - arms - len(covariates) < 1)
    for z in covariates:                       # a constant covariate: lm drops it
        highest = np.where(complete, z, -np.inf).max(axis=1)
        out.needs_runner |= ~(highest > np.where(complete, z, np.inf).min(axis=1))
    batch = ~out.needs_runner
    if batch.any():
        _ancova_arms(out, batch, y, arm, complete, covariates, arms, log)
    return out


def _ancova_arms(out, batch, y, arm, complete, covariates, arms, log):
    from ..analysis.batch.kernels import ancova_batch
    dummies = _arm_dummies(arm[batch], arms)
    for j in range(1, arms):
        others = [d for k, d in enumerate(dummies, start=1) if k != j]
        z = np.stack(others + [c[batch] for c in covariates], axis=-1)
        try:
            fit = ancova_batch(y[batch], dummies[j - 1], z, complete[batch])
        except ValueError:                     # collinear in some replicate: runner for all
            out.needs_runner |= batch
            return
        p = _t_p(fit.t, fit.df)
        out.p[batch, j - 1] = p
        out.estimate[batch, j - 1] = np.exp(fit.estimate) if log else fit.estimate
        # no p, or an SE of exactly 0 (an exact fit: the runner says it is not estimable)
        out.needs_runner[np.flatnonzero(batch)[~np.isfinite(p) | ~(fit.se > 0)]] = True


# ------------------------------------------------------------------ Welch

def _welch(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
           included: np.ndarray, sap: Sap) -> _Outcome:
    """compare.run_welch: each treated arm against the reference by Welch's t."""
    from ..analysis.batch.kernels import welch_t_batch
    arms = len(sap.study.arms)
    log = endpoint.transform == "log"
    out = _outcome(grid, ["geometric_mean_ratio" if log else "mean_difference"] * (arms - 1))
    response = getattr(values, KINDS[endpoint.kind].response.lower())
    y, arm, pop = _by_replicate(grid, response, grid.arm, included)
    known = pop & ~np.isnan(y)
    # no values, or too few for a variance: the runner says which
    out.needs_runner |= np.logical_or.reduce([(known & (arm == j)).sum(axis=1) < 2
                                              for j in range(arms)])
    for j in range(1, arms):
        fit = welch_t_batch(y, arm == j, known & ((arm == 0) | (arm == j)))
        out.p[:, j - 1] = _t_p(fit.t, fit.df)
        out.estimate[:, j - 1] = np.exp(fit.estimate) if log else fit.estimate
        out.needs_runner |= ~(fit.se > 0)
    return out


# ------------------------------------------------------------------ log-rank

def _logrank(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
             included: np.ndarray, sap: Sap) -> _Outcome:
    """survival.run_logrank: per treated arm, the log-rank p of the arm against the
    reference and the Cox hazard ratio (Efron ties), both stratified as the SAP asks."""
    from ..analysis.batch.kernels import cox_batch, logrank_batch
    arms = len(sap.study.arms)
    out = _outcome(grid, ["hazard_ratio"] * (arms - 1))
    options = analysis.options
    if options.get("covariates") or options.get("rho") or options.get("gamma") \
            or set(options.get("strata", ())) - set(GRID_FACTOR_COVARIATES):
        out.needs_runner[:] = True             # Cox covariates, weights: the runner
        return out
    event = (values.cnsr == 0) & (values.evntcd != 2)
    time, event, arm, pop = _by_replicate(grid, values.aval, event, grid.arm, included)
    strata = _strata_codes(grid, analysis.options.get("strata", ()))
    strata = None if strata is None else strata.reshape(arm.shape)
    present = [(pop & (arm == j)).any(axis=1) for j in range(arms)]
    out.needs_runner |= ~np.logical_and.reduce(present)
    for j in range(1, arms):
        pair = pop & ((arm == 0) | (arm == j))
        test = logrank_batch(time, event, arm == j, strata, pair)
        fit = cox_batch(time, event, arm == j, strata, pair)
        out.p[:, j - 1] = _chi2_1_p(test.chi2)
        out.estimate[:, j - 1] = np.exp(fit.params)
        out.needs_runner |= ~(test.variance > 0) | ~fit.reliable
    return out


def _kernel(path: str):
    """The function a specs row names, "simulation.<module>:<function>" (imported here:
    kernel modules import this one's helpers from grid_common)."""
    import importlib
    module, name = path.split(":")
    return getattr(importlib.import_module(f"mscstats.{module}"), name)


# the methods whose specs row names a batch kernel
_BATCH = {m: _kernel(row.batch_kernel) for m, row in METHODS.items() if row.batch_kernel}
_MI = _kernel("simulation.grid_mi:_mi")


def kernel_of(analysis: Analysis):
    """The analysis's kernel: its method's, or multiple imputation's (missing = "mi")."""
    if analysis.options.get("missing") == "mi" and analysis.method != "tipping_point":
        return _MI
    return _BATCH.get(analysis.method)


# ------------------------------------------------------------------ the runner, one replicate

class _ReplicateInputs:
    """Each replicate's AnalysisInput from the grid-derived rows, as
    pipeline.analysis_input builds it for a real trial (the columns built once)."""

    def __init__(self, analysis: Analysis, endpoint: Endpoint, values: GridEndpoint,
                 grid: DailyGrid, included: np.ndarray, sap: Sap):
        import pandas as pd
        self.analysis, self.endpoint, self.sap, self.grid = analysis, endpoint, sap, grid
        self.visits = values.visits if isinstance(values, GridRepeated) else None
        self.included = included
        measured = endpoint.kind in ("change", "value", "ordinal")
        arms = np.array(sap.study.arms, dtype=object)
        ice = values.ice if values.ice is not None else np.full(len(grid.arm), "", object)
        self.data = pd.DataFrame({
            "USUBJID": np.array([f"S{i:04d}" for i in range(grid.n)] * grid.replicates,
                                dtype=object),
            "ARM": arms[grid.arm], "DAY": float(endpoint.day) if measured else np.nan,
            "AVAL": values.aval, "BASE": values.base, "CHG": values.chg,
            "CNSR": values.cnsr, "EVNTCD": values.evntcd, "ICE": ice,
            **{c: grid.adsl[c] for c in GRID_COVARIATES}})

    def of(self, r: int):
        from ..analysis import AnalysisInput
        analysis, endpoint, sap = self.analysis, self.endpoint, self.sap
        rows = np.arange(r * self.grid.n, (r + 1) * self.grid.n)
        rows = rows[self.included[rows]]
        data = self.data.iloc[rows].reset_index(drop=True)
        if self.visits is not None:             # a repeated endpoint: a row per visit day
            data = visit_rows(data, self.visits, rows)
        return AnalysisInput(
            id=analysis.id, endpoint=endpoint.id, endpoint_kind=endpoint.kind,
            method=analysis.method, data=data,
            arms=tuple(sap.study.arms), options=dict(analysis.options), alpha=sap.study.alpha,
            seed=sap.study.seed, transform=endpoint.transform, target_day=endpoint.day,
            horizon=endpoint.horizon, intercurrent=dict(endpoint.intercurrent),
            higher_is_better=worst_direction(endpoint.param or "") == "min")


def _run_replicate(out: _Outcome, r: int, inputs: _ReplicateInputs, sap: Sap,
                   runner=None) -> None:
    """The analysis's runner on replicate r's grid-derived rows."""
    from .engine import _run_replicate as run_replicate
    from .engine import hypothesis_rows
    out.p[r], out.estimate[r], out.raised[r] = np.nan, np.nan, False
    result = run_replicate(inputs.of(r), runner)
    if not result.estimable:
        out.raised[r] = True
        out.reasons[r, None] = result.reason
        return
    for _, arm, estimand, p, estimate, reason in hypothesis_rows(result):
        if arm == sap.study.arms[0] and len(sap.study.arms) > 1:
            continue        # paired: the reference arm's own change is no column of the rows
        j = max(sap.study.arms.index(arm) - 1, 0)     # one arm: its own column
        if out.estimands[j] is None:                  # a method without a kernel
            out.estimands[j] = estimand
        out.p[r, j] = np.nan if p is None else p
        out.estimate[r, j] = np.nan if estimate is None else estimate
        if reason is not None:
            out.reasons[r, j] = reason


# ------------------------------------------------------------------ multiplicity and rows

def _rows(outcomes: dict[str, _Outcome], sap: Sap, replicates: int) -> list[tuple]:
    """run_chunk's rows: replicate by replicate, analyses in SAP order; the family's p
    adjusted with a hypothesis without a p-value (or of a not-estimable member) counted
    as p = 1, as analysis.multiplicity.adjust_family does."""
    from ..analysis.multiplicity import adjust_rows
    family = [a.id for a in sap.analyses if a.id in set(sap.multiplicity.family)]
    reported = {aid: o.p.copy() for aid, o in outcomes.items()}
    if family and sap.multiplicity.method != "none":
        p = np.hstack([outcomes[f].p for f in family])
        adjusted = adjust_rows(np.where(np.isnan(p), 1.0, p), sap.multiplicity.method)
        adjusted[np.isnan(p)] = np.nan
        start = 0
        for member in family:
            width = outcomes[member].p.shape[1]
            reported[member] = adjusted[:, start:start + width]
            start += width
    arms = sap.study.arms[1:] or sap.study.arms[:1]      # one arm: its proportion
    rows = []
    for r in range(replicates):
        for analysis in sap.analyses:
            o = outcomes[analysis.id]
            if o.raised[r]:
                rows.append((analysis.id, None, None, None, None, o.reasons[r, None]))
                continue
            for j, arm in enumerate(arms[:len(o.estimands)]):   # tipping point: none
                if o.estimands[j] is None:     # the runner states no hypothesis (tipping_point)
                    continue
                p, estimate = reported[analysis.id][r, j], o.estimate[r, j]
                rows.append((analysis.id, arm, o.estimands[j],
                             None if np.isnan(p) else float(p),
                             None if np.isnan(estimate) else float(estimate),
                             o.reasons.get((r, j))))
    return rows
