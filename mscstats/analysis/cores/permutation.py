"""Re-randomization tests of a two-arm statistic on plain arrays (the ``permutation``
method's machinery; analysis/permutation.py has the SAP method and its statistics).

- Complete enumeration when C(n, n1) <= n_permutations: p = #{T* at least as
  extreme} / C(n, n1), the observed assignment included (coin's exact p).
- Otherwise Monte Carlo over B = n_permutations random assignments:
  p = (1 + #{T* at least as extreme}) / (1 + B).
- At least as extreme: within a relative 1e-8 of the observed or beyond; an
  undefined statistic counts as extreme.
- Seeded: numpy.random.default_rng(SeedSequence([seed, *w])), w four 32-bit words of
  SHA-256(analysis id).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

__all__ = ["PermutationTest", "permutation_test", "analysis_rng", "as_extreme_threshold",
           "as_extreme", "monte_carlo_test"]

DEFAULT_N_PERMUTATIONS = 10_000
_RELATIVE_TIE = 1e-8
_CHUNK_CELLS = 1 << 21        # labels per batch: B x n at most ~2 million (memory stays small)


@dataclass(frozen=True)
class PermutationTest:
    """A permutation p-value and how it was reached."""
    observed: float            # extremeness of the observed assignment
    p_value: float
    n_assignments: int         # C(n, n1) if exact, else B
    n_as_extreme: int          # assignments at least as extreme (the observed included if exact)
    exact: bool


def analysis_rng(seed: int, analysis_id: str) -> np.random.Generator:
    """The random stream of one analysis: the SAP seed mixed with the analysis id."""
    words = np.frombuffer(hashlib.sha256(analysis_id.encode("utf-8")).digest()[:16], dtype="<u4")
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, words)]))


def _all_assignments(n: int, n1: int, rows: int) -> Iterator[np.ndarray]:
    combos = itertools.combinations(range(n), n1)
    while True:
        chosen = np.fromiter(itertools.chain.from_iterable(itertools.islice(combos, rows)),
                             dtype=np.intp)
        if chosen.size == 0:
            return
        labels = np.zeros((chosen.size // n1, n), dtype=bool)
        np.put_along_axis(labels, chosen.reshape(len(labels), n1), True, axis=1)
        yield labels


def _random_assignments(treated: np.ndarray, b: int, rows: int,
                        rng: np.random.Generator) -> Iterator[np.ndarray]:
    done = 0
    while done < b:
        m = min(rows, b - done)
        yield rng.permuted(np.broadcast_to(treated, (m, treated.size)), axis=1)
        done += m


def permutation_test(extremeness: Callable[[np.ndarray], np.ndarray], treated,
                     n_permutations: int = DEFAULT_N_PERMUTATIONS,
                     rng: np.random.Generator | None = None) -> PermutationTest:
    """Two-sided re-randomization test of a statistic.

    extremeness: maps arm labels (B, n) to (B,) values, larger = more extreme
      (e.g. |mean difference| or a chi-square), computed on the whole batch.
    treated: the observed labels (n,), 1/True = treated.
    rng: needed only for Monte Carlo (C(n, n1) > n_permutations).
    """
    treated = np.asarray(treated, dtype=bool)
    n, n1 = treated.size, int(treated.sum())
    if not 0 < n1 < n:
        raise ValueError("both arms need at least one subject")
    observed = float(np.asarray(extremeness(treated[None, :]))[0])
    threshold = as_extreme_threshold(observed)
    rows = max(1, _CHUNK_CELLS // max(n, 1))
    total = math.comb(n, n1)
    exact = total <= n_permutations
    if exact:
        batches = _all_assignments(n, n1, rows)
    else:
        if rng is None:
            raise ValueError("Monte Carlo permutation needs a random generator")
        batches = _random_assignments(treated, n_permutations, rows, rng)
    count = sum(as_extreme(extremeness(labels), threshold) for labels in batches)
    if exact:
        return PermutationTest(observed, count / total, total, count, True)
    return monte_carlo_test(observed, count, n_permutations)


def as_extreme_threshold(observed: float) -> float:
    """The least extremeness counted as extreme as the observed (a relative 1e-8 below)."""
    if not np.isfinite(observed):
        raise ValueError("the statistic is undefined for the observed assignment")
    return observed - _RELATIVE_TIE * max(1.0, abs(observed))


def as_extreme(values, threshold: float) -> int:
    """How many assignments are at least as extreme (an undefined statistic counts)."""
    values = np.asarray(values)
    return int(np.count_nonzero((values >= threshold) | np.isnan(values)))


def monte_carlo_test(observed: float, count: int, n_permutations: int) -> PermutationTest:
    return PermutationTest(observed, (1 + count) / (1 + n_permutations), n_permutations,
                           count, False)
