"""Grid kernel of models.run_ordinal_po: one proportional odds model of the category
on the arm dummies per replicate (analysis/batch/ordinal.py), and per treated arm
the common odds ratio exp(-beta) with its Wald p. Replicates the batch fit does
not trust (one category, separation, no convergence) go to the runner.
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import DailyGrid, GridEndpoint
from ..plan import Analysis, Endpoint, Sap
from .grid_common import _arm_dummies, _by_replicate, _exp, _outcome, _Outcome

__all__ = ["_ordinal_po"]


def _ordinal_po(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
                included: np.ndarray, sap: Sap) -> _Outcome:
    from scipy.special import ndtr                 # stats.norm.sf(x) is ndtr(-x)

    from ..analysis.batch.ordinal import proportional_odds_batch
    arms = len(sap.study.arms)
    out = _outcome(grid, ["common_odds_ratio"] * (arms - 1))
    y, arm, pop = _by_replicate(grid, values.aval, grid.arm, included)
    known = pop & ~np.isnan(y)
    every_arm = np.logical_and.reduce([(known & (arm == j)).any(axis=1) for j in range(arms)])
    x = np.stack(_arm_dummies(arm, arms), axis=-1)
    fit = proportional_odds_batch(y, x, known)
    out.needs_runner |= ~every_arm | ~fit.ok
    with np.errstate(invalid="ignore", divide="ignore"):
        out.p[:] = 2 * ndtr(-np.abs(fit.params / fit.se))
    out.estimate[:] = _exp(-fit.params)
    return out
