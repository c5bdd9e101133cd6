"""Kaplan-Meier estimate of one arm, as ``survival::survfit``.

Conventions (all R's):

* The curve has a row at every distinct time, events and censorings alike;
  ``survival[i]`` holds from ``time[i]`` on.
* ``std_err`` is survfit's ``std.err``: the Greenwood SE of -log S(t),
  sqrt(cumsum(d / (n (n - d)))); it is infinite once S(t) reaches 0.
* Confidence limits (``conf_type``) as survfit's confidence interval code:
  "log-log" exp(-exp(log(-log S) -/+ z se / log S)), undefined (None) where
  S is 0 or 1; "log" S exp(-/+ z se), upper limit at most 1, undefined where
  S is 0; "plain" S -/+ z se S, clipped to [0, 1].
* The median and its Brookmeyer-Crowley limits are what ``print(fit)``
  shows (survival:::survmean): the first time the curve (or the lower or
  upper limit curve) is below 0.5; where it is exactly 0.5 on a flat stretch
  the midpoint of that time and the time it next drops.
* S(t) at a landmark is ``summary(fit, times = t, extend = TRUE)``: before
  the first time 1 with limits 1; beyond the last follow-up the last value,
  with no subject at risk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...schema import CONF_TYPES
from .common import z_quantile

__all__ = [
    "KaplanMeier",
    "SurvivalAtDay",
    "Median",
    "check_survival_data",
    "confidence_limits",
    "kaplan_meier",
    "landmark",
    "landmarks",
    "median_survival",
]

_TOLERANCE = math.sqrt(np.finfo(float).eps)   # R's .Machine$double.eps^0.5 in survmean


@dataclass(frozen=True)
class KaplanMeier:
    """One arm's survfit: the step function and its pointwise confidence limits."""
    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    std_err: np.ndarray          # SE of -log S (survfit's std.err)
    lower: np.ndarray            # NaN where undefined (R's NA)
    upper: np.ndarray
    conf_type: str
    level: float

    @property
    def n(self) -> int:
        return int(self.n_risk[0]) if len(self.n_risk) else 0

    @property
    def events(self) -> int:
        return int(self.n_event.sum())


@dataclass(frozen=True)
class Median:
    """Median survival time and its CI; None where the curve never falls below 0.5."""
    estimate: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class SurvivalAtDay:
    """S(t) at one landmark day, its CI, SE (survival scale) and the number at risk."""
    day: float
    survival: float
    lower: float | None
    upper: float | None
    std_err: float | None
    n_risk: int
    beyond_follow_up: bool


def check_survival_data(time, event) -> tuple[np.ndarray, np.ndarray]:
    """Times (finite, >= 0) and 0/1 event indicators as float arrays."""
    time = np.asarray(time, dtype=float).ravel()
    event = np.asarray(event, dtype=float).ravel()
    if time.shape != event.shape:
        raise ValueError("time and event must have the same length")
    if not np.isfinite(time).all() or (time < 0).any():
        raise ValueError("survival times must be finite and >= 0")
    if not np.isin(event, (0.0, 1.0)).all():
        raise ValueError("event indicators must be 0 (censored) or 1 (event)")
    return time, event


def kaplan_meier(time, event, conf_type: str = "log-log", level: float = 0.95) -> KaplanMeier:
    """``survfit(Surv(time, event) ~ 1, conf.type = conf_type, conf.int = level)``."""
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}")
    time, event = check_survival_data(time, event)
    times, index = np.unique(time, return_inverse=True)
    n_event = np.bincount(index, weights=event, minlength=len(times))
    n_total = np.bincount(index, minlength=len(times)).astype(float)
    n_risk = len(time) - np.concatenate([[0.0], np.cumsum(n_total)[:-1]])
    survival = np.cumprod(1.0 - n_event / n_risk)
    alive = n_risk - n_event
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(alive > 0, n_event / (n_risk * alive), np.where(n_event > 0, np.inf, 0.0))
    std_err = np.sqrt(np.cumsum(term))
    lower, upper = confidence_limits(survival, std_err, conf_type, level)
    return KaplanMeier(times, n_risk, n_event, n_total - n_event, survival, std_err,
                       lower, upper, conf_type, level)


def confidence_limits(surv, std_err, conf_type: str, level: float) -> tuple[np.ndarray, np.ndarray]:
    """survfit's pointwise limits from S and the SE of -log S (NaN where R gives NA)."""
    surv, se = np.asarray(surv, dtype=float), np.asarray(std_err, dtype=float)
    z = z_quantile(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = z * se * surv
            return np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0)
        if conf_type == "log":
            s = np.where(surv == 0, np.nan, surv)
            return np.exp(np.log(s) - z * se), np.minimum(np.exp(np.log(s) + z * se), 1.0)
        s = np.where((surv == 0) | (surv == 1), np.nan, surv)
        shift = z * se / np.log(s)
        loglog = np.log(-np.log(s))
        return np.exp(-np.exp(loglog - shift)), np.exp(-np.exp(loglog + shift))


def _first_below_half(values: np.ndarray, time: np.ndarray) -> float | None:
    """survival:::survmean's minmin: the time a curve first falls to 0.5 or below."""
    keep = ~np.isnan(values) & (values < 0.5 + _TOLERANCE)
    if not keep.any():
        return None
    x, y = time[keep], values[keep]
    if abs(y[0] - 0.5) < _TOLERANCE and (y < y[0]).any():
        return float((x[0] + x[np.argmax(y < y[0])]) / 2)   # flat at 0.5: midpoint
    return float(x[0])


def median_survival(km: KaplanMeier) -> Median:
    """The median and its CI as ``print(survfit(...))`` shows them."""
    return Median(_first_below_half(km.survival, km.time),
                  _first_below_half(km.lower, km.time),
                  _first_below_half(km.upper, km.time))


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def landmark(km: KaplanMeier, day: float) -> SurvivalAtDay:
    """``summary(fit, times = day, extend = TRUE)``."""
    i = int(np.searchsorted(km.time, day, side="right")) - 1
    later = np.searchsorted(km.time, day, side="left")       # first time >= day
    n_risk = int(km.n_risk[later]) if later < len(km.time) else 0
    beyond = bool(later == len(km.time))
    if i < 0:
        return SurvivalAtDay(float(day), 1.0, 1.0, 1.0, 0.0, n_risk, beyond)
    s = float(km.survival[i])
    with np.errstate(invalid="ignore"):
        se = s * float(km.std_err[i])      # summary.survfit reports the SE of S itself
    return SurvivalAtDay(float(day), s, _none_if_nan(km.lower[i]), _none_if_nan(km.upper[i]),
                    _none_if_nan(se), n_risk, beyond)


def landmarks(km: KaplanMeier, days: Sequence[float]) -> tuple[SurvivalAtDay, ...]:
    return tuple(landmark(km, d) for d in days)
