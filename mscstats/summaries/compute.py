"""Every summary of a run in one call, for pipeline.analyze to put in results.json."""

from __future__ import annotations

from ..derive.daily import DailyValues
from ..trial.quality import Trial
from .course import course_summary
from .descriptive import baseline_characteristics
from .flow import planned_follow_up, subject_flow
from .safety import safety_summary

__all__ = ["summarize"]


def summarize(trial: Trial, sap, daily: DailyValues) -> dict:
    """{"baseline", "flow", "safety", "course"}: the TrialResults fields of that name.
    Baseline and course are of the SAP's analysis population, safety of the safety
    population, the flow of every adsl subject."""
    arms = list(sap.study.arms)
    population = sap.study.population
    subjects = trial.population(population)
    return {"baseline": baseline_characteristics(daily, arms, subjects, population),
            "flow": subject_flow(trial, arms, planned_follow_up(sap)),
            "safety": safety_summary(trial, arms),
            "course": course_summary(trial, daily, arms, population)}
