"""Change from baseline within an arm over replicates: the one-sample (paired) t-test
as cores/ttests.one_sample, beside the signed-rank test of batch/ranks.py.

Inputs: (B, n) changes and a (B, n) mask of the values each replicate analyses.
"""

from __future__ import annotations

import numpy as np

from .kernels import TStatistic

__all__ = ["one_sample_t_batch"]


def one_sample_t_batch(changes, used) -> tuple[TStatistic, np.ndarray, np.ndarray]:
    """(mean, SE, t, df), two-sided p and ok per replicate; ok is False where the core
    may say not estimable (fewer than 2 values, or every value the same)."""
    from scipy.special import stdtr                 # stats.t.sf(|t|, df) is stdtr(df, -|t|)
    changes = np.asarray(changes, dtype=np.float64)
    used = np.asarray(used, dtype=bool) & ~np.isnan(changes)
    n = used.sum(axis=-1).astype(np.float64)
    v = np.where(used, changes, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = v.sum(axis=-1) / n
        resid = np.where(used, v - mean[:, None], 0.0)
        se = np.sqrt((resid * resid).sum(axis=-1) / (n - 1)) / np.sqrt(n)
        t = mean / se
    df = n - 1
    # all values equal: the core's SE is 0 or a rounding residue; its answer decides
    constant = np.where(used, v, -np.inf).max(axis=-1) == np.where(used, v, np.inf).min(axis=-1)
    ok = (n >= 2) & (se > 0) & ~constant
    with np.errstate(invalid="ignore"):
        p = np.where(ok, 2.0 * stdtr(df, -np.abs(t)), np.nan)
    return TStatistic(mean, se, np.where(ok, t, np.nan), df), p, ok
