"""Permutation tests over many data sets with the runner's own random assignments.

cores.permutation.permutation_test (the runner's) draws its Monte Carlo assignments
with ``rng.permuted(labels, axis=1)`` from analysis_rng(seed, analysis id): a
Fisher-Yates shuffle of each row whose random draws depend on the row's length
only, never on its content (and the runner's batches of rows continue one stream).
So the assignments of any data set with n analysed subjects are
``treated[shuffles(n)]``, shuffles(n) the same draws applied to arange(n): one
(B, n) index matrix, drawn once, serves every simulated replicate with n subjects,
and each replicate's p-value is the runner's bit for bit (the same assignments,
the same statistic, the same count). Exact enumeration (C(n, n1) <= B) needs no
random numbers and is the runner's own function.

The Wilcoxon statistic has a faster path: the treated rank sum of assignment b is
the sum of the ranks at the positions the treated subjects are moved to, a gather
of B x min(n1, n0) ranks; midranks are multiples of 1/2, so every sum is exact in
floating point and equals the runner's matrix product.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np

from ..cores.permutation import (_CHUNK_CELLS, PermutationTest, analysis_rng, as_extreme,
                                 as_extreme_threshold, monte_carlo_test, permutation_test)
from .kernels import _midranks

__all__ = ["shuffles", "destinations", "permutation_p", "wilcoxon_permutation_p"]


# a simulated trial's analysed subjects vary in number: one entry per number seen (B x n
# indices, 5 MB for n = 60), so that each is drawn once per process; intp, as indexing
# wants them (int32 indices are converted on every use, which doubles the gather's time)
@lru_cache(maxsize=16)
def shuffles(seed: int, analysis_id: str, n: int, b: int) -> np.ndarray:
    """(b, n) intp: row k is the k-th Monte Carlo assignment of the runner as indices,
    assignment k of labels t = t[shuffles[k]] (read-only, cached per n)."""
    return _shuffles(seed, analysis_id, n, b)


def _shuffles(seed: int, analysis_id: str, n: int, b: int) -> np.ndarray:
    rng = analysis_rng(seed, analysis_id)
    index = np.arange(n, dtype=np.intp)
    out = rng.permuted(np.broadcast_to(index, (b, n)), axis=1)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=16)
def destinations(seed: int, analysis_id: str, n: int, b: int) -> np.ndarray:
    """(n, b) intp: where subject j's label goes in each assignment (the inverse shuffles,
    subject-major so that one arm's rows are one slice)."""
    index = _shuffles(seed, analysis_id, n, b)
    out = np.empty((b, n), dtype=np.intp)
    np.put_along_axis(out, index, np.arange(n, dtype=np.intp)[None, :], axis=1)
    out = np.ascontiguousarray(out.T)
    out.flags.writeable = False
    return out


def _exact(n: int, n1: int, n_permutations: int) -> bool:
    return math.comb(n, n1) <= n_permutations


def permutation_p(extremeness: Callable[[np.ndarray], np.ndarray], treated: np.ndarray,
                  n_permutations: int, seed: int, analysis_id: str) -> PermutationTest:
    """permutation_test(extremeness, treated, n_permutations, analysis_rng(seed, id)),
    with the Monte Carlo assignments taken from the cache instead of drawn again."""
    treated = np.asarray(treated, dtype=bool)
    n, n1 = treated.size, int(treated.sum())
    if not 0 < n1 < n:
        raise ValueError("both arms need at least one subject")
    if _exact(n, n1, n_permutations):
        return permutation_test(extremeness, treated, n_permutations)
    observed = float(np.asarray(extremeness(treated[None, :]))[0])
    threshold = as_extreme_threshold(observed)
    index = shuffles(seed, analysis_id, n, n_permutations)
    rows = max(1, _CHUNK_CELLS // n)
    count = sum(as_extreme(extremeness(treated[index[k:k + rows]]), threshold)
                for k in range(0, n_permutations, rows))
    return monte_carlo_test(observed, count, n_permutations)


def wilcoxon_permutation_p(y: np.ndarray, treated: np.ndarray, n_permutations: int,
                           seed: int, analysis_id: str) -> PermutationTest:
    """The runner's permutation p of the Wilcoxon statistic |W - n1 n0 / 2| (W the
    Mann-Whitney count of the treated arm), by the gather of ranks."""
    treated = np.asarray(treated, dtype=bool)
    n, n1 = treated.size, int(treated.sum())
    n0 = n - n1
    ranks = _midranks(np.asarray(y, dtype=np.float64)[None, :])[0][0]
    shift = n1 * (n1 + 1) / 2 + n1 * n0 / 2

    def extremeness(labels):
        return np.abs(labels.astype(np.float64) @ ranks - shift)
    if not 0 < n1 < n or _exact(n, n1, n_permutations):
        return permutation_p(extremeness, treated, n_permutations, seed, analysis_id)
    observed = float(abs(ranks[treated].sum() - shift))
    threshold = as_extreme_threshold(observed)
    moved = destinations(seed, analysis_id, n, n_permutations)
    if n1 <= n0:
        sums = ranks[moved[treated]].sum(axis=0)
    else:                                   # the smaller arm's gather; the total is exact
        sums = ranks.sum() - ranks[moved[~treated]].sum(axis=0)
    return monte_carlo_test(observed, as_extreme(np.abs(sums - shift), threshold),
                            n_permutations)
