"""Adverse events by arm, as typed rows for results.json (records.SafetySummary).

- Treatment-emergent events only (AESTDY >= 1: day 1 is the first dose) of the
  safety population; the denominator is the arm's safety population. A subject
  counts once per row however many events they had; events are counted too.
- By body system and preferred term: body systems by descending number of
  subjects in total, then alphabetically; the terms within each likewise.
- By maximum grade: each subject with an event once, at the highest AETOXGR of
  their events; "missing" when none of their events has a grade.
- Fatal (FATAL_RULE): AETOXGR 5, or AESEV or AEOUT "FATAL", or the subject died
  (adsl DTHDY) on the event's start day or, where adae has AEENDY, its end day.
- Infusion window: within 6 hours after an IV or nebulized dose (derive.events).

data_quality_warnings cross-checks deaths and fatal events over all of adae.
Numbers are full precision; tables.py formats them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import schema
from ..derive.events import infusion_associated
from ..trial.quality import Trial
from .records import AeRow, GradeRow, ListingRow, RiskDifference, SafetySummary

__all__ = ["treatment_emergent", "fatal_events", "safety_summary", "data_quality_warnings",
           "category_rows", "term_rows", "grade_rows", "listing_rows", "ANY", "SERIOUS", "FATAL",
           "INFUSION", "FATAL_RULE",
           "MOST_COMMON"]

ANY, SERIOUS, FATAL = "Any adverse event", "Serious", "Fatal"
INFUSION = "Within 6 hours after an IV or nebulized dose"
MOST_COMMON = 15            # preferred terms an AE dot plot shows legibly
FATAL_RULE = ("AETOXGR 5, AESEV or AEOUT FATAL, or death (adsl DTHDY) on the event's start "
              "or end day")
_AE_COLUMNS = ["USUBJID", "ARM", "AESTDY", "AEDECOD", "AEBODSYS", "AETOXGR", "AESER",
               "AEREL", "INFUSION", "FATAL"]


def fatal_events(ae: pd.DataFrame, adsl: pd.DataFrame) -> np.ndarray:
    """Per adae row: fatal by FATAL_RULE."""
    grade5 = (pd.to_numeric(ae.get("AETOXGR"), errors="coerce") == 5) \
        if "AETOXGR" in ae else pd.Series(False, index=ae.index)
    fatal = grade5.to_numpy(dtype=bool).copy()
    for column in ("AESEV", "AEOUT"):
        if column in ae:
            fatal |= (ae[column].fillna("").astype(str).str.strip().str.upper() == "FATAL"
                      ).to_numpy()
    death = ae["USUBJID"].map(adsl.set_index("USUBJID")["DTHDY"]).to_numpy(dtype=float)
    for column in ("AESTDY", "AEENDY"):
        if column in ae:
            day = pd.to_numeric(ae[column], errors="coerce").to_numpy(dtype=float)
            fatal |= np.isfinite(death) & (day == death)
    return fatal


def treatment_emergent(trial: Trial, subjects: pd.DataFrame) -> pd.DataFrame:
    """AEs of the given subjects starting on or after day 1, with ARM and the flags
    INFUSION (route-aware window after a dose) and FATAL."""
    if trial.adae is None or trial.adae.empty:
        return pd.DataFrame(columns=_AE_COLUMNS)
    ae = trial.adae.reset_index(drop=True)
    ae = ae.assign(INFUSION=infusion_associated(ae, trial.ex),
                   FATAL=fatal_events(ae, trial.adsl))
    if "AEBODSYS" not in ae:
        ae["AEBODSYS"] = "Not coded"
    ae["AEBODSYS"] = ae["AEBODSYS"].fillna("").replace("", "Not coded")
    for flag in ("AESER", "AEREL"):
        if flag not in ae:
            ae[flag] = ""
    if "AETOXGR" not in ae:
        ae["AETOXGR"] = np.nan
    ae = ae[ae["AESTDY"] >= 1]
    return ae.merge(subjects[["USUBJID", "ARM"]], on="USUBJID", how="inner")


# --------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------

def _row(ae: pd.DataFrame, n: dict[str, int], soc: str, term: str,
         with_rd: bool = False) -> AeRow:
    arms = list(n)
    subjects = {arm: int(ae.loc[ae["ARM"] == arm, "USUBJID"].nunique()) for arm in arms}
    events = {arm: int((ae["ARM"] == arm).sum()) for arm in arms}
    rd = _risk_differences(subjects, n) if with_rd else {}
    return AeRow(soc, term, subjects, events, int(ae["USUBJID"].nunique()), len(ae), rd)


def _risk_differences(subjects: dict[str, int], n: dict[str, int],
                      level: float = 0.95) -> dict[str, RiskDifference]:
    """Each arm minus the first (reference) with Newcombe's hybrid score interval, as
    the binary analyses; none for a single arm or an empty arm."""
    from ..analysis.cores.proportions import newcombe_difference
    arms = list(n)
    reference = arms[0]
    out = {}
    for arm in arms[1:]:
        if n[arm] < 1 or n[reference] < 1:
            continue
        est = newcombe_difference(subjects[arm], n[arm], subjects[reference], n[reference],
                                  level)
        out[arm] = RiskDifference(est.estimate, est.ci.lower, est.ci.upper)
    return out


def category_rows(ae: pd.DataFrame, n: dict[str, int]) -> tuple[AeRow, ...]:
    """Subjects with any, serious, related, grade >= 3, fatal and infusion-window events."""
    categories = {
        ANY: np.ones(len(ae), dtype=bool),
        SERIOUS: (ae["AESER"] == "Y").to_numpy(),
        "Related to study treatment": (ae["AEREL"] == "Y").to_numpy(),
        "Grade >= 3": (ae["AETOXGR"] >= 3).to_numpy(),
        FATAL: ae["FATAL"].to_numpy(dtype=bool),
        INFUSION: ae["INFUSION"].to_numpy(dtype=bool),
    }
    return tuple(_row(ae[mask], n, name, "", with_rd=len(n) > 1)
                 for name, mask in categories.items())


def _by_frequency(groups: dict[str, pd.DataFrame]) -> list[str]:
    """Names by descending subjects in total, then alphabetically."""
    return sorted(groups, key=lambda k: (-groups[k]["USUBJID"].nunique(), k))


def term_rows(ae: pd.DataFrame, n: dict[str, int], with_rd: bool = False
              ) -> tuple[AeRow, ...]:
    """A row per body system (term "") followed by a row per preferred term."""
    rows = []
    systems = {k: g for k, g in ae.groupby("AEBODSYS", sort=True)}
    for soc in _by_frequency(systems):
        rows.append(_row(systems[soc], n, soc, ""))
        terms = {k: g for k, g in systems[soc].groupby("AEDECOD", sort=True)}
        rows += [_row(terms[t], n, soc, t, with_rd) for t in _by_frequency(terms)]
    return tuple(rows)


def grade_rows(ae: pd.DataFrame, n: dict[str, int]) -> tuple[GradeRow, ...]:
    """Subjects by the maximum grade of their events, grades 1-5 and "missing"."""
    worst = ae.groupby("USUBJID")["AETOXGR"].max()       # NaN only if no event is graded
    arm = ae.groupby("USUBJID")["ARM"].first()
    label = worst.map(lambda g: "missing" if np.isnan(g) else str(int(g)))
    out = []
    for grade in ("1", "2", "3", "4", "5", "missing"):
        by_arm = {a: int(((label == grade) & (arm == a)).sum()) for a in n}
        out.append(GradeRow(grade, by_arm, int(sum(by_arm.values()))))
    return tuple(out)


def listing_rows(ae: pd.DataFrame, subjects: pd.DataFrame) -> tuple[ListingRow, ...]:
    """Serious or fatal AEs and deaths, one row each, by subject, day and event."""
    rows = [ListingRow(str(r.USUBJID), str(r.ARM), int(r.AESTDY), str(r.AEDECOD),
                       None if pd.isna(r.AETOXGR) else int(r.AETOXGR), r.AESER == "Y",
                       bool(r.FATAL))
            for r in ae[(ae["AESER"] == "Y") | ae["FATAL"].astype(bool)].itertuples()]
    dead = subjects[subjects["DTHDY"].notna()]
    rows += [ListingRow(str(s), str(a), int(d), "Death", None, False, True)
             for s, a, d in zip(dead["USUBJID"], dead["ARM"], dead["DTHDY"])]
    return tuple(sorted(rows, key=lambda r: (r.subject, r.day, r.event)))


def _most_common(rows: Sequence[AeRow], limit: int = MOST_COMMON) -> tuple[str, ...]:
    totals: dict[str, int] = {}
    for r in rows:
        if r.term:
            totals[r.term] = totals.get(r.term, 0) + r.total_subjects
    return tuple(sorted(totals, key=lambda t: (-totals[t], t))[:limit])


def safety_summary(trial: Trial, arms: Sequence[str], population: str = "safety"
                   ) -> SafetySummary:
    subjects = trial.population(population)
    ae = treatment_emergent(trial, subjects)
    n = {arm: int((subjects["ARM"] == arm).sum()) for arm in arms}
    by_term = term_rows(ae, n, with_rd=len(arms) > 1)
    return SafetySummary(
        population=population, arms=tuple(arms), n=n, n_total=int(sum(n.values())),
        categories=category_rows(ae, n), by_term=by_term,
        infusion=term_rows(ae[ae["INFUSION"].astype(bool)], n),
        serious=term_rows(ae[ae["AESER"] == "Y"], n),
        fatal=term_rows(ae[ae["FATAL"].astype(bool)], n),
        by_grade=grade_rows(ae, n), listing=listing_rows(ae, subjects),
        most_common=_most_common(by_term), infusion_routes=schema.INFUSION_ROUTES)


# --------------------------------------------------------------------------
# Deaths against fatal events (data quality)
# --------------------------------------------------------------------------

def data_quality_warnings(trial: Trial) -> list[dict]:
    """Warnings for results.json data_quality: a death in adsl without a fatal adverse
    event, and an event marked fatal (grade 5, AESEV/AEOUT FATAL) of a subject adsl
    does not record as dead. Each names the subject and the day. None without an
    adae table (adverse events not collected)."""
    adsl, ae = trial.adsl, trial.adae
    files = trial.files
    out: list[dict] = []
    if ae is None:               # no adverse events collected: nothing to cross-check
        return out
    fatal = fatal_events(ae, adsl) if len(ae) else np.zeros(0, bool)
    with_fatal = set(ae.loc[fatal, "USUBJID"]) if len(fatal) else set()
    for subject, day in zip(adsl["USUBJID"], adsl["DTHDY"]):
        if pd.notna(day) and subject not in with_fatal:
            out.append(_warning(files.get("adsl", "adsl"), "DTHDY", subject, int(day),
                                f"subject {subject} died on day {int(day)} without a fatal "
                                f"adverse event in adae ({FATAL_RULE}); check adae for the "
                                "event that led to death"))
    if len(fatal):
        death = ae["USUBJID"].map(adsl.set_index("USUBJID")["DTHDY"])
        for r in ae[fatal & death.isna().to_numpy()].itertuples():
            out.append(_warning(files.get("adae", "adae"), "AEOUT", str(r.USUBJID),
                                int(r.AESTDY),
                                f"subject {r.USUBJID}: adverse event {r.AEDECOD} starting on "
                                f"day {int(r.AESTDY)} is marked fatal but adsl has no death "
                                "day (DTHDY); check DTHDY or the event's grade/outcome"))
    return out


def _warning(file: str, column: str, subject: str, day: int, message: str) -> dict:
    return {"file": file, "column": column, "message": message, "n": 1, "rows": "",
            "subject": subject, "day": day}
