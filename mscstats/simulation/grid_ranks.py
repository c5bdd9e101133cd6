"""Grid kernels of the rank and within-arm methods: wilcoxon (compare.run_wilcoxon)
and paired (compare.run_paired), every replicate at once (analysis/batch/ranks.py,
batch/paired.py). Each gives, per hypothesis column, the p and estimate that
engine.hypothesis_rows reads from the runner's result; where the batch cannot
answer as the runner would, the replicate is marked needs_runner.
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import DailyGrid, GridEndpoint
from ..plan import Analysis, Endpoint, Sap
from ..specs import KINDS
from .grid_common import _by_replicate, _exp, _outcome, _Outcome

__all__ = ["_wilcoxon", "_paired"]


def _known(endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid, included: np.ndarray,
           arms: int):
    """(B, n) responses, arms and which responses the analysis uses; whether every arm
    has one (require_arms: otherwise the runner says why)."""
    response = getattr(values, KINDS[endpoint.kind].response.lower())
    y, arm, pop = _by_replicate(grid, response, grid.arm, included)
    known = pop & ~np.isnan(y)
    every_arm = np.logical_and.reduce([(known & (arm == j)).any(axis=1)
                                       for j in range(arms)])
    return y, arm, known, every_arm


def _wilcoxon(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
              included: np.ndarray, sap: Sap) -> _Outcome:
    """Per treated arm the Wilcoxon p with the Hodges-Lehmann shift; on worst-rank
    scores (a composite strategy) the win probability of the better direction."""
    from ..analysis.batch.ranks import rank_sum_batch, win_probability_batch
    from ..derive.daily import worst_direction
    arms = len(sap.study.arms)
    composite = any(s.startswith("composite") for _, s in endpoint.intercurrent)
    out = _outcome(grid, ["win_probability" if composite else "hodges_lehmann_shift"]
                   * (arms - 1))
    y, arm, known, every_arm = _known(endpoint, values, grid, included, arms)
    out.needs_runner |= ~every_arm
    level = 1.0 - sap.study.alpha
    if composite:                      # better = a higher score
        y = y if worst_direction(endpoint.param or "") == "min" else -y
    for j in range(1, arms):
        used = known & ((arm == 0) | (arm == j))
        if composite:
            fit = win_probability_batch(y, arm == j, used, level)
        else:                          # the rows need the shift, not its interval
            fit = rank_sum_batch(y, arm == j, used, level, interval=False)
        out.p[:, j - 1], out.estimate[:, j - 1] = fit.p, fit.estimate
        out.needs_runner |= ~fit.reliable
    return out


def _paired(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
            included: np.ndarray, sap: Sap) -> _Outcome:
    """The mean change of each arm (the runner's first comparison of the arm) with the
    paired t p; exp of it, a geometric mean ratio, for a log endpoint. Columns are the
    treated arms (the one arm of a single-arm SAP), as the grid's rows read them."""
    from ..analysis.batch.paired import one_sample_t_batch
    arms = len(sap.study.arms)
    log = endpoint.transform == "log"
    columns = list(range(1, arms)) or [0]
    out = _outcome(grid, ["geometric_mean_ratio" if log else "mean_change"] * len(columns))
    y, arm, known, every_arm = _known(endpoint, values, grid, included, arms)
    out.needs_runner |= ~every_arm
    for c, j in enumerate(columns):
        fit, p, ok = one_sample_t_batch(y, known & (arm == j))
        out.p[:, c] = p
        out.estimate[:, c] = _exp(fit.estimate) if log else fit.estimate
        out.needs_runner |= ~ok                   # the runner notes why there is no t
    return out
