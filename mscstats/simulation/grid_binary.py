"""Grid kernel of compare.run_binary: per treated arm the risk difference (its first
comparison) with the p of the SAP's test, Fisher's exact (default: each distinct
table's p once) or Pearson's chi-square; a single arm: its proportion, no test.
"""

from __future__ import annotations

import numpy as np

from ..derive.grid import DailyGrid, GridEndpoint
from ..plan import Analysis, Endpoint, Sap
from .grid_common import _by_replicate, _outcome, _Outcome

__all__ = ["_binary"]


def _binary(analysis: Analysis, endpoint: Endpoint, values: GridEndpoint, grid: DailyGrid,
            included: np.ndarray, sap: Sap) -> _Outcome:
    from ..analysis.batch.proportions import (chi_square_batch, fisher_p_batch, newcombe_batch,
                                              tables_of)
    arms = len(sap.study.arms)
    y, arm, pop = _by_replicate(grid, values.aval, grid.arm, included)
    known = pop & ~np.isnan(y)
    sizes = np.stack([(known & (arm == j)).sum(axis=1) for j in range(arms)], axis=1)
    if arms == 1:
        out = _outcome(grid, ["proportion"])
        events = (known & (y == 1)).sum(axis=1)
        out.estimate[:, 0] = events / np.where(sizes[:, 0] > 0, sizes[:, 0], 1)
    else:
        out = _outcome(grid, ["risk_difference"] * (arms - 1))
    # require_arms (the runner says why); a value other than 0/1 (the runner's error)
    out.needs_runner |= (sizes == 0).any(axis=1) | (known & (y != 0) & (y != 1)).any(axis=1)
    test = analysis.options.get("test", "fisher")
    for j in range(1, arms):
        pair = known & ((arm == 0) | (arm == j))
        tables = tables_of(y, arm == j, pair)
        ready = ~out.needs_runner
        if test == "fisher":
            p = np.full(len(ready), np.nan)
            p[ready] = fisher_p_batch(_rows(tables, ready))
        else:
            chi = chi_square_batch(tables)
            p = chi.p
            out.needs_runner |= ~chi.ok        # no p: the runner's note says why
        out.p[:, j - 1] = p
        out.estimate[:, j - 1] = newcombe_batch(tables).estimate
    return out


def _rows(tables, keep: np.ndarray):
    from ..analysis.batch.proportions import Tables
    return Tables(tables.x1[keep], tables.n1[keep], tables.x2[keep], tables.n2[keep])
