"""What every grid kernel shares: the per-analysis outcome over replicates, the
reshape to (replicate, subject), arm dummies, strata codes and the p-value functions.

A kernel is a function (analysis, endpoint, values, grid, included, sap) -> _Outcome
named by its method's specs row (``batch_kernel = "simulation.<module>:<function>"``);
it fills p and estimate where it can and marks ``needs_runner`` where the replicate
must go through the analysis's runner (which then says why, or computes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..derive.grid import DailyGrid

__all__ = ["_Outcome", "_outcome", "_by_replicate", "_arm_dummies", "_t_p", "_chi2_1_p",
           "_strata_codes", "_exp"]


@dataclass
class _Outcome:
    """One analysis over B replicates: per treated arm (columns) the p-value and the
    estimate of the arm's hypothesis; ``raised``: the analysis is not estimable in that
    replicate; ``reasons``: (replicate, column or None for the whole analysis) -> why
    it could not be computed, as the runner says it."""
    estimands: list[str]
    p: np.ndarray             # (B, arms - 1), NaN where no p-value
    estimate: np.ndarray      # (B, arms - 1), NaN where none
    raised: np.ndarray        # (B,)
    needs_runner: np.ndarray  # (B,) replicates the batch cannot answer as the runner would
    reasons: dict = field(default_factory=dict)

def _by_replicate(grid: DailyGrid, *arrays: np.ndarray) -> list[np.ndarray]:
    return [a.reshape(grid.replicates, grid.n) for a in arrays]


def _outcome(grid: DailyGrid, estimands: list[str]) -> _Outcome:
    shape = (grid.replicates, len(estimands))
    return _Outcome(estimands, np.full(shape, np.nan), np.full(shape, np.nan),
                    np.zeros(shape[0], dtype=bool), np.zeros(shape[0], dtype=bool))


def _arm_dummies(arm: np.ndarray, arms: int) -> list[np.ndarray]:
    return [(arm == j).astype(np.float64) for j in range(1, arms)]


# scipy.special rather than scipy.stats: the same functions (stats.t.sf is stdtr, chi2.sf
# chdtrc, bit for bit) without the second of import in every worker process
def _t_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    from scipy.special import stdtr
    return 2 * stdtr(df, -np.abs(t))


def _chi2_1_p(chi2: np.ndarray) -> np.ndarray:
    from scipy.special import chdtrc
    return chdtrc(1, chi2)


def _exp(x: np.ndarray) -> np.ndarray:
    """exp_or_inf of each value (the runner's exp, bit for bit; NaN stays NaN)."""
    import math

    from ..analysis.cores.common import exp_or_inf
    return np.array([exp_or_inf(v) if not math.isnan(v) else np.nan
                     for v in np.ravel(x)]).reshape(np.shape(x))


def _strata_codes(grid: DailyGrid, names) -> np.ndarray | None:
    """One integer per combination of the strata columns (survival._stratum_key)."""
    if not names:
        return None
    key = np.zeros(len(grid.arm), dtype=np.int64)
    for name in names:
        levels, codes = np.unique(grid.adsl[name].astype(str), return_inverse=True)
        key = key * len(levels) + codes
    return key
