"""The subject flow (CONSORT): who was enrolled, treated, followed and analysed.

Stages, each counted per arm and in total (FlowSummary.stages, in this order):

- screened: only when the data record screening; adsl holds the randomized
  subjects, so the stage is left out with a note;
- randomized ("Enrolled" in a single-arm study): the adsl rows;
- treated: subjects with at least one ex record (a dose of the arm's study drug,
  placebo included). An arm without any ex record has no study drug (standard of
  care): its count is None, "not applicable", never "dosed";
- discontinued (did not complete the follow-up) = died + lost to follow-up;
  died: a death day (DTHDY); lost to follow-up: alive and last known alive
  (LSTALVDY) before the planned end of follow-up; completed: alive at it;
- analysed_<population>: the subjects of each analysis population.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from .. import schema
from ..trial.quality import Trial
from .records import FlowStage, FlowSummary

__all__ = ["subject_flow", "planned_follow_up", "DEFAULT_FOLLOW_UP"]

DEFAULT_FOLLOW_UP = 28


def planned_follow_up(sap) -> int:
    """The last day the SAP's endpoints look at (their horizon or visit day); 28 when
    none names one."""
    days = [d for e in sap.endpoints for d in (e.horizon, e.day) if d]
    return int(max(days)) if days else DEFAULT_FOLLOW_UP


def subject_flow(trial: Trial, arms: Sequence[str], follow_up: int = DEFAULT_FOLLOW_UP
                 ) -> FlowSummary:
    adsl = trial.adsl
    single = len(arms) == 1
    died = adsl["DTHDY"].notna()
    lost = ~died & (adsl["LSTALVDY"] < follow_up)
    stages = [_stage("randomized", "Enrolled" if single else "Randomized",
                     pd.Series(True, index=adsl.index), adsl, arms)]
    stages.append(_treated(trial, arms))
    stages += [_stage("discontinued", "Did not complete follow-up", died | lost, adsl, arms),
               _stage("died", "Died", died, adsl, arms),
               _stage("lost_to_follow_up", "Lost to follow-up", lost, adsl, arms),
               _stage("completed", f"Completed follow-up (day {follow_up})", ~died & ~lost,
                      adsl, arms)]
    for population in schema.POPULATIONS:
        included = adsl["USUBJID"].isin(trial.population(population)["USUBJID"])
        stages.append(_stage(f"analysed_{population}", f"Analysed: {population} population",
                             included, adsl, arms))
    notes = ("Screening is not in the data (adsl holds the enrolled subjects): the flow "
             "starts at " + ("enrolment." if single else "randomization."),
             f"Lost to follow-up: alive and last known alive before day {follow_up}, the "
             "planned end of follow-up (the SAP's last horizon or visit day).")
    if any(v is None for v in stages[1].by_arm.values()):
        notes += ("Treated: not applicable to an arm without study drug (no dosing record "
                  "in ex).",)
    return FlowSummary(tuple(arms), tuple(stages), notes)


def _stage(name: str, label: str, included: pd.Series, adsl: pd.DataFrame,
           arms: Sequence[str], note: str = "") -> FlowStage:
    by_arm = {arm: int((included & (adsl["ARM"] == arm)).sum()) for arm in arms}
    return FlowStage(name, label, by_arm, int(sum(by_arm.values())), note)


def _treated(trial: Trial, arms: Sequence[str]) -> FlowStage:
    adsl = trial.adsl
    label = "Received study drug (>= 1 dose)"
    if trial.ex is None:
        return FlowStage("treated", label, {arm: None for arm in arms}, None,
                         "no ex table: dosing not recorded")
    dosed = adsl["USUBJID"].isin(set(trial.ex["USUBJID"]))
    with_drug = set(adsl.loc[dosed, "ARM"])
    by_arm = {arm: int((dosed & (adsl["ARM"] == arm)).sum()) if arm in with_drug else None
              for arm in arms}
    counted = [n for n in by_arm.values() if n is not None]
    return FlowStage("treated", label, by_arm, int(sum(counted)) if counted else None,
                     "" if len(counted) == len(arms) else
                     "total of the arms with study drug")
