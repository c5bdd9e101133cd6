"""The ``permutation`` method on the grid: each replicate's re-randomization p-value
with the runner's own assignments (analysis/batch/permutation.py), and the runner's
estimate of its statistic.

The analysed subjects are the runner's (permutation._analysed_sample): those of the
population with the outcome (and the covariates for ancova), in USUBJID order, which
is the grid's subject order. A replicate the batch cannot answer as the runner would
(an arm without analysed subjects, a statistic undefined for the observed labels,
covariates the grid does not hold) goes to the runner, which says why.
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import GRID_NUMERIC_COVARIATES, DailyGrid, GridEndpoint
from ..plan import Analysis, Endpoint, Sap
from ..specs import KINDS, default_permutation_statistic
from .grid_common import _by_replicate, _outcome, _Outcome

__all__ = ["_permutation"]



def _permutation(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint,
                 grid: DailyGrid, included: np.ndarray, sap: Sap) -> _Outcome:
    from ..analysis.permutation import DEFAULT_N_PERMUTATIONS, STATISTICS
    name = analysis.options.get("statistic") or default_permutation_statistic(endpoint.kind)
    spec = STATISTICS[name]
    estimand = "win_probability" if name == "wilcoxon" and _composite(endpoint) else spec.estimand
    out = _outcome(grid, [estimand])
    covariates = tuple(analysis.options.get("covariates", ()))
    if len(sap.study.arms) != 2 or (covariates and name != "ancova") or \
            set(covariates) - {"BASE", *GRID_NUMERIC_COVARIATES}:
        out.needs_runner[:] = True               # the runner's error or its factor coding
        return out
    n_permutations = int(analysis.options.get("n_permutations", DEFAULT_N_PERMUTATIONS))
    samples = _samples(name, endpoint, values, grid, included, covariates)
    for r, sample in enumerate(samples):
        try:
            p, estimate = _replicate(name, spec, sample, endpoint, n_permutations,
                                     sap.study.seed, analysis.id)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            out.needs_runner[r] = True
            continue
        out.p[r, 0], out.estimate[r, 0] = p, estimate
    return out


def _composite(endpoint: Endpoint) -> bool:
    return any(strategy.startswith("composite") for _, strategy in endpoint.intercurrent)


def _samples(name: str, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
             included: np.ndarray, covariates: tuple[str, ...]):
    """Per replicate the runner's _Sample (None where an arm has no analysed subject)."""
    from ..analysis.permutation import _Sample
    survival = name in ("logrank", "cox_score")
    response = values.aval if survival else getattr(values, KINDS[endpoint.kind].response.lower())
    columns = [response, values.evntcd, grid.arm == 1, included]
    columns += [values.base if c == "BASE" else grid.adsl[c].astype(np.float64)
                for c in covariates]
    y, code, treated, pop, *z = _by_replicate(grid, *columns)
    usable = pop & ~np.isnan(y) & (~np.isnan(code) if survival else True)
    for c in z:
        usable &= ~np.isnan(c)
    for r in range(grid.replicates):
        keep = usable[r]
        t = treated[r, keep]
        if not 0 < t.sum() < t.size:
            yield None
            continue
        design = None
        if name == "ancova":
            design = np.column_stack([c[r, keep] for c in z]) if z else np.empty((t.size, 0))
        yield _Sample(t, y[r, keep], code[r, keep] == 1 if survival else None, design, {})


def _replicate(name, spec, sample, endpoint: Endpoint, n_permutations: int, seed: int,
               analysis_id: str) -> tuple[float, float]:
    """(p, estimate) of one replicate as run_permutation reports them."""
    from ..analysis.batch.permutation import permutation_p, wilcoxon_permutation_p
    if sample is None:
        raise ValueError("an arm without analysed subjects")
    if sample.event is not None and (sample.y < 0).any():
        raise ValueError("negative times")
    if name == "risk_difference" and not np.isin(sample.y, (0, 1)).all():
        raise ValueError("not a 0/1 outcome")
    if name == "wilcoxon":
        test = wilcoxon_permutation_p(sample.y, sample.treated, n_permutations, seed,
                                      analysis_id)
    else:
        test = permutation_p(lambda labels: spec.extremeness(sample, spec.compute(sample, labels)),
                             sample.treated, n_permutations, seed, analysis_id)
    if name == "wilcoxon" and _composite(endpoint):
        return test.p_value, _win_probability(spec, sample, endpoint)
    estimate = spec.estimate(sample)
    if not np.isfinite(estimate):
        raise ValueError("no estimate")
    return test.p_value, estimate


def _win_probability(spec, sample, endpoint: Endpoint) -> float:
    """run_permutation on worst-rank scores: U / (n1 n0), ties half, in the parameter's
    better direction (pipeline's higher_is_better)."""
    from ..derive.daily import worst_direction
    n1 = int(sample.treated.sum())
    share = float(spec.compute(sample, sample.treated[None, :])[0]) / (n1 * (sample.treated.size - n1))
    return share if worst_direction(endpoint.param or "") == "min" else 1.0 - share
