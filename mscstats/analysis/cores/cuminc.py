"""Cumulative incidence of the event of interest with a competing event: cmprsk's cuminc.

Cause codes (ADTTE's EVNTCD): 0 censored, 1 the event of interest, 2 a
competing event (death). Three pieces, each a port of cmprsk 2.2-11:

* :func:`cumulative_incidence` - the Aalen-Johansen estimate and the variance
  cuminc reports (Fortran ``cinc``), as a step function;
* :func:`at_landmarks` - the curve's value at given days (``timepoints()``:
  NA after the group's last follow-up time), plus a log(-log) CI;
* :func:`gray_test` - Gray's k-sample test, stratified (Fortran ``crstm``),
  in ``gray.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .common import z_quantile

__all__ = ["IncidenceCurve", "IncidenceAtDay", "at_landmarks", "cumulative_incidence",
           "loglog_interval"]


@dataclass(frozen=True)
class IncidenceCurve:
    """A cumulative incidence step function of one group.

    ``time[i]`` is a distinct time at which something happened (an event of
    either cause or a censoring); ``estimate[i]`` and ``variance[i]`` hold from
    ``time[i]`` on. The variance is cmprsk's: it changes only at times of the
    event of interest. ``last_follow_up`` is the group's largest time.
    """
    time: np.ndarray
    estimate: np.ndarray
    variance: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray        # events of interest at time[i]
    n_competing: np.ndarray
    n_censor: np.ndarray
    last_follow_up: float


@dataclass(frozen=True)
class IncidenceAtDay:
    """The curve at one day; None beyond the last follow-up (cmprsk gives NA)."""
    day: float
    estimate: float | None
    variance: float | None
    lower: float | None
    upper: float | None


def _counts(time: np.ndarray, cause: np.ndarray):
    """Distinct times and the subjects at risk, with each cause, censored, at each."""
    times, inverse = np.unique(time, return_inverse=True)
    k = len(times)
    events = np.bincount(inverse, weights=(cause == 1), minlength=k).astype(int)
    competing = np.bincount(inverse, weights=(cause == 2), minlength=k).astype(int)
    censored = np.bincount(inverse, weights=(cause == 0), minlength=k).astype(int)
    leaving = np.bincount(inverse, minlength=k)
    at_risk = len(time) - np.concatenate(([0], np.cumsum(leaving)[:-1]))
    return times, at_risk, events, competing, censored


def cumulative_incidence(time, cause) -> IncidenceCurve:
    """Aalen-Johansen cumulative incidence of cause 1 with cmprsk's variance (``cinc``).

    F(t) = sum over event times s <= t of S(s-) d1(s) / n(s), S the all-cause
    Kaplan-Meier. The variance is the delta-method estimate of Gray's cinc
    (a Greenwood-type sum over times of either cause, with the tie correction
    1 - (d - 1) / (n - 1)); it is only updated at times of the event of interest,
    exactly as cmprsk stores it.
    """
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause, dtype=int)
    if time.size == 0:
        raise ValueError("no subjects")
    times, at_risk, events, competing, censored = _counts(time, cause)
    estimate = np.zeros(len(times))
    variance = np.zeros(len(times))
    surv, f, var = 1.0, 0.0, 0.0       # S(t-), F(t), the reported variance
    v1 = v2 = v3 = 0.0
    for i, rs in enumerate(at_risk):
        nd1, nd2 = int(events[i]), int(competing[i])
        if nd1 + nd2 > 0:
            rs = float(rs)
            surv_next = surv * (rs - nd1 - nd2) / rs
            if nd1 > 0:
                f = f + surv * nd1 / rs
            if nd2 > 0 and surv_next > 0:
                t6 = surv * surv * _ties(nd2, rs) * nd2 / (rs * rs)
                t3, t4 = 1.0 / surv_next, f / surv_next
                v1, v2, v3 = v1 + t4 * t4 * t6, v2 + t3 * t4 * t6, v3 + t3 * t3 * t6
            if nd1 > 0:
                t6 = surv * surv * _ties(nd1, rs) * nd1 / (rs * rs)
                t3 = 1.0 / surv_next if surv_next > 0 else 0.0
                t4 = 1.0 + t3 * f
                v1, v2, v3 = v1 + t4 * t4 * t6, v2 + t3 * t4 * t6, v3 + t3 * t3 * t6
                var = v1 + f * f * v3 - 2.0 * f * v2
            surv = surv_next
        estimate[i], variance[i] = f, var
    return IncidenceCurve(times, estimate, variance, at_risk, events, competing, censored,
                          float(times[-1]))


def _ties(d: int, n: float) -> float:
    # cinc's correction for d tied events among n at risk
    return 1.0 - (d - 1.0) / (n - 1.0) if d > 1 else 1.0


def loglog_interval(estimate: float, variance: float, level: float) -> tuple[float | None, float | None]:
    """CI on the log(-log) scale: F^exp(+-z sqrt(var) / (F log F)).

    The transform keeps the interval inside (0, 1); it is the one tidycmprsk
    and most reports pair with cuminc (cuminc itself gives no CI). At the
    boundary, as survival's survfit_confint does for log-log limits:

    * F exactly 0 or 1 (no event yet, or every subject had it): undefined,
      (None, None), survfit's NA;
    * variance 0 with 0 < F < 1: the interval is the point (F, F);
    * F within rounding of 1 (0.9999999999999999: every subject of the arm had
      the event, summed in floating point) or of 0, where F log F is so small
      that the exponent overflows: the limits are exactly 0 and 1, the values R's
      exp(-exp(log(-log F) +- z se / log F)) gives in IEEE arithmetic (exp of a
      huge number is Inf there, and exp(-Inf) is 0), never an overflow.
    """
    if not (0.0 < estimate < 1.0) or not math.isfinite(variance) or variance < 0:
        return None, None
    z = z_quantile(level)
    scale = estimate * math.log(estimate)
    if scale == 0.0:                        # F so close to 1 that log F rounds to 0
        return None, None
    factor = z * math.sqrt(variance) / scale
    a, b = _power_of_exp(estimate, factor), _power_of_exp(estimate, -factor)
    return min(a, b), max(a, b)


def _power_of_exp(base: float, x: float) -> float:
    """base ** exp(x) for 0 < base < 1 without overflow: exp(x) past the float range
    makes the power exactly 0 (R: exp(-Inf)); exp(x) underflowing to 0 makes it 1."""
    return 0.0 if x > 709.0 else base ** math.exp(x)


def at_landmarks(curve: IncidenceCurve, days, level: float = 0.95) -> tuple[IncidenceAtDay, ...]:
    """The estimate, variance and log(-log) CI at each day (cmprsk's ``timepoints``).

    The value at a day is the step function's value at that day (right
    continuous). A day after the group's last follow-up time has no estimate
    (timepoints gives NA), nor has a negative day.
    """
    out = []
    for day in days:
        day = float(day)
        i = int(np.searchsorted(curve.time, day, side="right")) - 1
        if day > curve.last_follow_up or day < 0:
            out.append(IncidenceAtDay(day, None, None, None, None))
            continue
        est = float(curve.estimate[i]) if i >= 0 else 0.0
        var = float(curve.variance[i]) if i >= 0 else 0.0
        out.append(IncidenceAtDay(day, est, var, *loglog_interval(est, var, level)))
    return tuple(out)
