"""Simulate's fast path: a chunk of simulated trials analysed on the daily grid.

The exact path (simulate.run_chunk) builds visit records, validates them,
derives the endpoints and runs each replicate's analyses one by one: about
30 ms a trial. Here the generator's arrays are derived on the grid
(derive_grid.py) and each analysis runs for every replicate at once with the
batch statistics of analysis/batch.py (ANCOVA by Frisch-Waugh-Lovell, the
log-rank test, the Cox hazard ratio) and Welch's t, which agree with the scalar cores to
1e-10, and Fisher's exact test from proportions.py once per distinct table. A replicate where the batch formula could differ from the runner (an
arm without values, no baseline, a singular model, no events, a Cox fit that
needs step halving to its limit or may be infinite) is run by the runner
itself on its grid-derived rows, so every replicate gets the runner's answer.

Output: the rows run_chunk gives for the same chunk, in the same order.
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import DailyGrid, GridDerivation, GridEndpoint
from ..derive.grid_visits import GridRepeated, endpoint_values, visit_rows
from ..plan import Analysis, Endpoint, Sap
from ..specs import KINDS, METHODS
from .grid_common import (_arm_dummies, _by_replicate, _chi2_1_p, _outcome, _Outcome,
                          _strata_codes, _t_p)

__all__ = ["analyse_grid"]


def analyse_grid(grid: DailyGrid, sap: Sap, runner_only: bool = False) -> list[tuple]:
    """(analysis, arm, estimand, p, estimate) per replicate and hypothesis, as
    simulate.run_chunk. runner_only: every replicate through the runner (tests)."""
    derivation = GridDerivation(grid, sap.data)
    outcomes = {}
    for analysis in sap.analyses:
        endpoint = sap.endpoint(analysis.endpoint)
        values = endpoint_values(derivation, endpoint)
        included = grid.population(sap.analysis_population(analysis))
        outcome = _BATCH[analysis.method](analysis, endpoint, values, grid, included, sap)
        # one arm: the runner says why a comparison method cannot run
        if runner_only or (len(sap.study.arms) < 2 and analysis.method != "binary"):
            outcome.needs_runner[:] = True
        for r in np.flatnonzero(outcome.needs_runner):
            _run_replicate(outcome, r, analysis, endpoint, values, grid, included, sap)
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


# ------------------------------------------------------------------ proportions

def _binary(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
            included: np.ndarray, sap: Sap) -> _Outcome:
    """compare.run_binary: per treated arm the risk difference with Fisher's exact p
    (each distinct table's p computed once); one arm: the proportion, no test."""
    from ..analysis.cores.proportions import fisher_exact_p
    arms = len(sap.study.arms)
    y, arm, pop = _by_replicate(grid, values.aval, grid.arm, included)
    known = pop & ~np.isnan(y)
    events = np.stack([(known & (arm == j) & (y == 1)).sum(axis=1) for j in range(arms)], 1)
    sizes = np.stack([(known & (arm == j)).sum(axis=1) for j in range(arms)], axis=1)
    if arms == 1:
        out = _outcome(grid, ["proportion"])
        out.estimate[:, 0] = events[:, 0] / np.where(sizes[:, 0] > 0, sizes[:, 0], 1)
    else:
        out = _outcome(grid, ["risk_difference"] * (arms - 1))
    out.needs_runner |= (sizes == 0).any(axis=1)       # require_arms: the runner says why
    p_of_table: dict[tuple, float] = {}
    for r in np.flatnonzero(~out.needs_runner):
        for j in range(1, arms):
            table = (int(events[r, j]), int(sizes[r, j]), int(events[r, 0]), int(sizes[r, 0]))
            if table not in p_of_table:
                p_of_table[table] = fisher_exact_p(*table)
            out.p[r, j - 1] = p_of_table[table]
            out.estimate[r, j - 1] = table[0] / table[1] - table[2] / table[3]
    return out


# the methods whose specs row names a batch kernel of this module
def _kernel(path: str):
    """The function a specs row names, "simulation.<module>:<function>" (imported here:
    kernel modules import this one's helpers from grid_common)."""
    import importlib
    module, name = path.split(":")
    return getattr(importlib.import_module(f"mscstats.{module}"), name)


_BATCH = {m: _kernel(row.batch_kernel) for m, row in METHODS.items() if row.batch_kernel}


# ------------------------------------------------------------------ the runner, one replicate

def _run_replicate(out: _Outcome, r: int, analysis: Analysis, endpoint: Endpoint,
                   values: GridEndpoint, grid: DailyGrid, included: np.ndarray,
                   sap: Sap) -> None:
    """The analysis's runner on replicate r's grid-derived rows (as run_chunk runs it)."""
    import pandas as pd

    from ..analysis import AnalysisInput
    from .engine import _run_replicate as run_replicate
    from .engine import hypothesis_rows
    rows = np.arange(r * grid.n, (r + 1) * grid.n)
    rows = rows[included[rows]]
    arms = np.array(sap.study.arms, dtype=object)
    data = pd.DataFrame({
        "USUBJID": [f"S{i:04d}" for i in rows - r * grid.n], "ARM": arms[grid.arm[rows]],
        "DAY": np.nan, "AVAL": values.aval[rows], "BASE": values.base[rows],
        "CHG": values.chg[rows], "CNSR": values.cnsr[rows], "EVNTCD": values.evntcd[rows],
        **{c: grid.adsl[c][rows] for c in ("AGE", "SEX", "BMI", "STRATUM")}})
    if isinstance(values, GridRepeated):
        data = visit_rows(data, values.visits, rows)
    inp = AnalysisInput(id=analysis.id, endpoint=endpoint.id, endpoint_kind=endpoint.kind,
                        method=analysis.method, data=data, arms=tuple(sap.study.arms),
                        options=dict(analysis.options), alpha=sap.study.alpha,
                        seed=sap.study.seed, transform=endpoint.transform,
                        target_day=endpoint.day, horizon=endpoint.horizon)
    out.p[r], out.estimate[r], out.raised[r] = np.nan, np.nan, False
    result = run_replicate(inp, None)
    if not result.estimable:
        out.raised[r] = True
        out.reasons[r, None] = result.reason
        return
    for _, arm, _, p, estimate, reason in hypothesis_rows(result):
        j = max(sap.study.arms.index(arm) - 1, 0)     # one arm: its own column
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
            for j, arm in enumerate(arms):
                p, estimate = reported[analysis.id][r, j], o.estimate[r, j]
                rows.append((analysis.id, arm, o.estimands[j],
                             None if np.isnan(p) else float(p),
                             None if np.isnan(estimate) else float(estimate),
                             o.reasons.get((r, j))))
    return rows
