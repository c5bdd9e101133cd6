"""Step functions over replicates: each replicate's subjects sorted by time, with the
runs of tied times, the shared first step of every survival kernel (km.py,
competing.py, cox.py).

Subjects a replicate leaves out (``included`` False) get time +inf: they sort after
everyone, form no run that counts and are at risk nowhere. A position of the sorted
(B, n) arrays is a subject; a run is a distinct time; ``last`` marks the position
that closes its run, where a step function takes its new value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import _runs, _take

__all__ = ["Sorted", "sort_by_time", "forward_fill", "first_true"]


@dataclass(frozen=True)
class Sorted:
    order: np.ndarray      # (B, n) subject index of each sorted position
    time: np.ndarray       # (B, n) sorted times, +inf where left out
    start: np.ndarray      # (B, n) first position of the position's run
    end: np.ndarray        # (B, n) last position of the position's run
    last: np.ndarray       # (B, n) the position closes a run of included subjects
    count: np.ndarray      # (B,) included subjects

    @property
    def at_risk(self) -> np.ndarray:
        """Subjects with time >= the position's time (at its run's start)."""
        return (self.count[:, None] - self.start).astype(np.float64)

    def take(self, x: np.ndarray) -> np.ndarray:
        """A per-subject (B, n) array in sorted order."""
        return _take(np.broadcast_to(x, self.order.shape), self.order)

    def run_sum(self, x_sorted: np.ndarray) -> np.ndarray:
        """Sum of a sorted (B, n) quantity over each position's run (complete at ``last``)."""
        c = np.cumsum(x_sorted, axis=-1)
        return _take(c, self.end) - _take(c, self.start) + _take(x_sorted, self.start)


def sort_by_time(time: np.ndarray, included: np.ndarray) -> Sorted:
    """The included subjects of each replicate sorted by time (ties keep input order)."""
    time = np.where(included, np.asarray(time, dtype=np.float64), np.inf)
    if not np.isfinite(time[included]).all() or (time[included] < 0).any():
        raise ValueError("survival times must be finite and >= 0")
    order = np.argsort(time, axis=-1, kind="stable")
    t = _take(time, order)
    start, end, last = _runs(t)
    return Sorted(order, t, start, end, last & np.isfinite(t), included.sum(axis=-1))


def forward_fill(values: np.ndarray, where: np.ndarray, initial: float) -> np.ndarray:
    """At each position the value of the latest position (itself included) where
    ``where`` holds, ``initial`` before the first."""
    n = values.shape[-1]
    idx = np.maximum.accumulate(np.where(where, np.arange(n), -1), axis=-1)
    filled = _take(values, np.maximum(idx, 0))
    return np.where(idx >= 0, filled, initial)


def first_true(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the first True along the last axis, whether there is one)."""
    return np.argmax(mask, axis=-1), mask.any(axis=-1)
