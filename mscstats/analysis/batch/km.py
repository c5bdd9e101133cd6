"""Kaplan-Meier curves, landmarks, medians and restricted means over replicates.

The same numbers as cores/km.py and cores/rmst.py (survival::survfit), for every
replicate of a (B, n) batch at once: one arm per call, its subjects marked by
``included`` (B, n). The curve is evaluated at the sorted subjects' positions
(steps.py): a position that closes a run of tied times carries the curve's new
value, the others repeat the previous one, so every cumulative product and sum
runs in the core's order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cores.common import z_quantile
from ..cores.km import _TOLERANCE, confidence_limits
from .steps import Sorted, first_true, sort_by_time

__all__ = ["CurveBatch", "LandmarkBatch", "MedianBatch", "RmstBatch", "ContrastBatch",
           "kaplan_meier_batch", "landmarks_batch", "median_batch", "restricted_mean_batch",
           "rmst_difference_batch", "rmst_ratio_batch"]


@dataclass(frozen=True)
class CurveBatch:
    """One arm's survfit per replicate, at the sorted positions (B, n)."""
    steps: Sorted
    n_risk: np.ndarray
    n_event: np.ndarray        # events of the run, at its last position (0 elsewhere)
    survival: np.ndarray       # S from the position's time on
    std_err: np.ndarray        # SE of -log S (survfit's std.err)
    lower: np.ndarray          # NaN where survfit gives NA
    upper: np.ndarray


@dataclass(frozen=True)
class LandmarkBatch:
    """S(day) per replicate (summary.survfit(times = day, extend = TRUE))."""
    survival: np.ndarray
    lower: np.ndarray          # NaN where undefined (the core's None)
    upper: np.ndarray
    std_err: np.ndarray        # SE of S itself
    n_risk: np.ndarray
    beyond_follow_up: np.ndarray


@dataclass(frozen=True)
class MedianBatch:
    """Median and Brookmeyer-Crowley limits; NaN where the core gives None."""
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class RmstBatch:
    estimate: np.ndarray
    se: np.ndarray


@dataclass(frozen=True)
class ContrastBatch:
    """Treated vs reference: estimate, its SE (log scale for a ratio), CI, p (NaN: no
    test, the SE is 0)."""
    estimate: np.ndarray
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    p: np.ndarray


def kaplan_meier_batch(time, event, included, conf_type: str = "log-log",
                       level: float = 0.95) -> CurveBatch:
    """kaplan_meier of the ``included`` subjects of each replicate (time, event (B, n))."""
    steps = sort_by_time(time, included)
    events = np.where(steps.time < np.inf, steps.take(np.asarray(event, dtype=np.float64)), 0.0)
    n_risk = steps.at_risk
    d = np.where(steps.last, steps.run_sum(events), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(steps.last, 1.0 - d / np.where(steps.last, n_risk, 1.0), 1.0)
        alive = n_risk - d
        term = np.where(alive > 0, d / (n_risk * alive), np.where(d > 0, np.inf, 0.0))
    survival = np.cumprod(factor, axis=-1)
    std_err = np.sqrt(np.cumsum(np.where(steps.last, term, 0.0), axis=-1))
    lower, upper = confidence_limits(survival, std_err, conf_type, level)
    return CurveBatch(steps, n_risk, d, survival, std_err, lower, upper)


def _at(curve: CurveBatch, day: float) -> tuple[np.ndarray, np.ndarray]:
    """The position of the last time <= day, and whether there is one."""
    count = (curve.steps.time <= day).sum(axis=-1)
    return np.maximum(count - 1, 0)[:, None], count > 0


def landmarks_batch(curve: CurveBatch, day: float) -> LandmarkBatch:
    """cores.km.landmark for every replicate."""
    i, any_before = _at(curve, day)

    def at(a, before):
        return np.where(any_before, np.take_along_axis(a, i, axis=-1)[:, 0], before)
    s = at(curve.survival, 1.0)
    with np.errstate(invalid="ignore"):
        se = at(curve.survival * curve.std_err, 0.0)
    n_risk = curve.steps.count - (curve.steps.time < day).sum(axis=-1)
    return LandmarkBatch(s, at(curve.lower, 1.0), at(curve.upper, 1.0), se, n_risk,
                         n_risk == 0)


def _first_below_half(values: np.ndarray, curve: CurveBatch) -> np.ndarray:
    """cores.km._first_below_half over the distinct times of each replicate."""
    y = np.where(curve.steps.last, values, np.nan)
    keep = ~np.isnan(y) & (y < 0.5 + _TOLERANCE)
    j0, found = first_true(keep)
    y0 = np.take_along_axis(y, j0[:, None], axis=-1)
    t = curve.steps.time
    t0 = np.take_along_axis(t, j0[:, None], axis=-1)[:, 0]
    lower = ~np.isnan(y) & (y < y0)
    j1, drops = first_true(lower)
    t1 = np.take_along_axis(t, j1[:, None], axis=-1)[:, 0]
    flat = (np.abs(y0[:, 0] - 0.5) < _TOLERANCE) & drops
    return np.where(found, np.where(flat, (t0 + t1) / 2, t0), np.nan)


def median_batch(curve: CurveBatch) -> MedianBatch:
    """cores.km.median_survival for every replicate."""
    return MedianBatch(*(_first_below_half(v, curve)
                         for v in (curve.survival, curve.lower, curve.upper)))


def restricted_mean_batch(curve: CurveBatch, tau: float) -> RmstBatch:
    """cores.rmst.restricted_mean: the area under each replicate's curve to tau and
    survmean's SE."""
    if tau <= 0:
        raise ValueError("tau must be positive")
    t = curve.steps.time
    step = curve.steps.last & (t <= tau)                 # the core's distinct times <= tau
    following = np.where(step, t, np.inf)
    # the next distinct time <= tau after each position, or tau
    later = np.minimum.accumulate(following[:, ::-1], axis=-1)[:, ::-1]
    later = np.concatenate([later[:, 1:], np.full((len(t), 1), np.inf)], axis=-1)
    later = np.where(np.isfinite(later), later, tau)
    rectangle = np.where(step, (later - np.where(step, t, 0.0)) * curve.survival, 0.0)
    first = np.where(step.any(axis=-1), np.where(step, t, np.inf).min(axis=-1), tau)
    area_after = np.cumsum(rectangle[:, ::-1], axis=-1)[:, ::-1]
    n, d = curve.n_risk, curve.n_event
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard_var = np.where(step & (n - d != 0), d / (n * (n - d)), 0.0)
    variance = np.sum(area_after ** 2 * hazard_var, axis=-1)
    return RmstBatch(first + rectangle.sum(axis=-1), np.sqrt(variance))


def _normal_p(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr
    return 2.0 * ndtr(-np.abs(z))


def rmst_difference_batch(treated: RmstBatch, reference: RmstBatch,
                          level: float) -> ContrastBatch:
    """cores.rmst.rmst_difference; p NaN where both SEs are 0."""
    estimate = treated.estimate - reference.estimate
    se = np.hypot(treated.se, reference.se)
    z = z_quantile(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, _normal_p(estimate / se), np.nan)
    return ContrastBatch(estimate, se, estimate - z * se, estimate + z * se, p)


def rmst_ratio_batch(treated: RmstBatch, reference: RmstBatch, level: float) -> ContrastBatch:
    """cores.rmst.rmst_ratio; NaN where an arm's RMST is 0 (the core's NotEstimable)."""
    ok = (treated.estimate > 0) & (reference.estimate > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = np.where(ok, np.log(treated.estimate / reference.estimate), np.nan)
        se = np.hypot(treated.se / treated.estimate, reference.se / reference.estimate)
        z = z_quantile(level)
        p = np.where(se > 0, _normal_p(log_ratio / se), np.nan)
        se = np.where(ok, se, np.nan)
        return ContrastBatch(np.exp(log_ratio), se, np.exp(log_ratio - z * se),
                             np.exp(log_ratio + z * se), p)

