"""The parameters over study days as the report's figures draw them (records.CourseSummary):
P/F and S/F means with t intervals, IL-6 and TNF-alpha geometric means (log
scale) with their LLOQ, each subject's values for the individual lines, and the
WHO scale's distribution on days 1, 7, 14 and 28.

The means on a day are over the subjects with a value that day: those who died or
were discharged before it are not in them (the report's captions say so).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from ..derive.daily import DailyValues
from ..trial.quality import Trial
from . import descriptive
from .records import CourseSummary, DayMean, ParamCourse, Trajectory, WhoCourse

__all__ = ["course_summary", "COURSE_PARAMS", "LOG_PARAMS"]

COURSE_PARAMS = ("PF", "SF")
LOG_PARAMS = ("IL6", "TNFA")          # cytokines are log-normal: geometric means


def course_summary(trial: Trial, daily: DailyValues, arms: Sequence[str],
                   population: str) -> CourseSummary:
    subjects = trial.population(population)
    params = [_param(trial, daily, subjects, arms, code, code in LOG_PARAMS)
              for code in (*COURSE_PARAMS, *LOG_PARAMS) if len(daily.param(code))]
    who = None
    if len(daily.param("WHOCPS")):
        who = _who(descriptive.who_by_day(daily, subjects, arms), arms)
    return CourseSummary(population, tuple(params), who)


def _param(trial: Trial, daily: DailyValues, subjects: pd.DataFrame, arms: Sequence[str],
           code: str, log: bool) -> ParamCourse:
    summary = descriptive.daily_summary(daily, subjects, code, arms, log=log)
    by_arm = {arm: tuple(DayMean(int(r.DAY), int(r.n), float(r.mean), _bound(r.lower),
                                 _bound(r.upper))
                         for r in summary[summary["ARM"] == arm].itertuples())
              for arm in arms}
    lines = descriptive.trajectories(daily, subjects, code)
    individual = {arm: {} for arm in arms}
    for (arm, subject), rows in lines.groupby(["ARM", "USUBJID"], sort=True):
        if arm in individual:
            individual[arm][str(subject)] = Trajectory(
                tuple(int(d) for d in rows["ADY"]), tuple(float(v) for v in rows["AVAL"]))
    return ParamCourse(code, descriptive.param_label(code), log,
                       descriptive.lloq(trial, code) if log else None, by_arm, individual)


def _bound(x) -> float | None:
    return None if pd.isna(x) else float(x)


def _who(distribution: pd.DataFrame, arms: Sequence[str]) -> WhoCourse:
    days = tuple(int(d) for d in dict.fromkeys(distribution["DAY"]))
    by_arm = {}
    for arm in arms:
        rows = distribution[distribution["ARM"] == arm]
        by_arm[arm] = {str(day): tuple(int(n) for n in rows.loc[rows["DAY"] == day, "n"])
                       for day in days}
    return WhoCourse(days, by_arm)
