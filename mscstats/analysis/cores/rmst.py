"""Restricted mean survival time to tau, as ``print(survfit(...), rmean = tau)``.

The RMST of an arm is the area under its Kaplan-Meier curve from 0 to tau
(the curve's last value is carried to tau). Its SE is survival:::survmean's:
sum over event times t_j <= tau of A_j^2 d_j / (n_j (n_j - d_j)), A_j the
area under the curve from t_j to tau (terms with n_j = d_j count 0).

Between arms: difference (treated - reference) with SE sqrt(se1^2 + se0^2)
and a normal CI; ratio (treated / reference) on the log scale with the delta
method SE sqrt((se1/r1)^2 + (se0/r0)^2). The arms are independent samples.
When both arms' SE is 0 (no event before tau, or events that leave nobody at
risk) the difference and ratio are still known: they are reported with SE 0,
the CI collapsed to the point and no p-value (z would be 0/0 or infinite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .common import Interval, NotEstimable, exp_or_inf, two_sided_normal_p, z_quantile
from .km import KaplanMeier

__all__ = ["ArmContrast", "RestrictedMean", "restricted_mean", "rmst_difference", "rmst_ratio"]


@dataclass(frozen=True)
class RestrictedMean:
    tau: float
    estimate: float
    se: float


@dataclass(frozen=True)
class ArmContrast:
    """Treated vs reference RMST: an estimate, its SE (log scale for the ratio), CI and p."""
    estimate: float
    se: float
    ci: Interval
    p_value: float | None     # None when the SE is 0: no test


def restricted_mean(km: KaplanMeier, tau: float) -> RestrictedMean:
    """survmean's rmean and se(rmean) with end.time = tau (start time 0)."""
    if tau <= 0:
        raise ValueError("tau must be positive")
    keep = km.time <= tau
    times = np.concatenate([km.time[keep], [tau]])
    surv = np.concatenate([km.survival[keep], km.survival[keep][-1:] if keep.any() else [1.0]])
    n, d = km.n_risk[keep], km.n_event[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard_var = np.where(n - d == 0, 0.0, d / (n * (n - d)))
    rectangles = np.diff(np.concatenate([[0.0], times])) * np.concatenate([[1.0], surv[:-1]])
    area_after = np.cumsum(rectangles[1:][::-1])[::-1]   # area from each time to tau
    variance = float(np.sum(area_after ** 2 * hazard_var))
    return RestrictedMean(float(tau), float(rectangles.sum()), math.sqrt(variance))


def rmst_difference(treated: RestrictedMean, reference: RestrictedMean,
                    level: float) -> ArmContrast:
    estimate = treated.estimate - reference.estimate
    se = math.hypot(treated.se, reference.se)
    z = z_quantile(level)
    return ArmContrast(estimate, se, Interval(estimate - z * se, estimate + z * se, level),
                       two_sided_normal_p(estimate / se) if se > 0 else None)


def rmst_ratio(treated: RestrictedMean, reference: RestrictedMean, level: float) -> ArmContrast:
    if not (treated.estimate > 0 and reference.estimate > 0):
        raise NotEstimable("an arm's RMST is 0 (every subject had the event at day 0): "
                           "no ratio")
    log_ratio = math.log(treated.estimate / reference.estimate)
    se = math.hypot(treated.se / treated.estimate, reference.se / reference.estimate)
    z = z_quantile(level)
    return ArmContrast(exp_or_inf(log_ratio), se,
                       Interval(exp_or_inf(log_ratio - z * se), exp_or_inf(log_ratio + z * se),
                                level),
                       two_sided_normal_p(log_ratio / se) if se > 0 else None)
