"""Adverse-event incidence by arm: subjects with at least one event, overall, by
body system and preferred term, and treated-minus-reference risk differences.

Treatment-emergent events only (AESTDY >= 1: day 1 is the first dose). The
denominator is the arm's safety population. Numbers are full precision;
tables.py formats them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..derive.events import infusion_associated
from ..trial.quality import Trial

__all__ = ["treatment_emergent", "ae_categories", "ae_incidence", "risk_differences",
           "infusion_events", "serious_listing", "most_common_terms", "ANY"]

ANY = "Any adverse event"
INCIDENCE_COLUMNS = ["AEBODSYS", "AEDECOD", "ARM", "n", "N", "events", "proportion"]


def treatment_emergent(trial: Trial, subjects: pd.DataFrame) -> pd.DataFrame:
    """AEs of the given subjects starting on or after day 1, with ARM and flags."""
    if trial.adae is None or trial.adae.empty:
        return pd.DataFrame(columns=["USUBJID", "ARM", "AESTDY", "AEDECOD", "AEBODSYS",
                                     "AETOXGR", "AESER", "AEREL", "INFUSION"])
    ae = trial.adae.reset_index(drop=True)
    ae = ae.assign(INFUSION=infusion_associated(ae, trial.ex))
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


def _subjects_with(ae: pd.DataFrame, subjects: pd.DataFrame, arms: Sequence[str],
                   body_system: str, term: str) -> list[list]:
    rows = []
    for arm in arms:
        in_arm = ae[ae["ARM"] == arm]
        total = int((subjects["ARM"] == arm).sum())
        n = int(in_arm["USUBJID"].nunique())
        rows.append([body_system, term, arm, n, total, len(in_arm), n / total if total else np.nan])
    return rows


def ae_categories(ae: pd.DataFrame, subjects: pd.DataFrame, arms: Sequence[str]) -> pd.DataFrame:
    """Subjects with any, serious, related, grade >= 3, fatal and infusion-associated
    events, by arm (AEBODSYS holds the category, AEDECOD is empty)."""
    categories = {
        ANY: np.ones(len(ae), dtype=bool),
        "Serious": (ae["AESER"] == "Y").to_numpy(),
        "Related to study treatment": (ae["AEREL"] == "Y").to_numpy(),
        "Grade >= 3": (ae["AETOXGR"] >= 3).to_numpy(),
        "Fatal (grade 5)": (ae["AETOXGR"] == 5).to_numpy(),
        "Within 6 hours of a dose": ae["INFUSION"].to_numpy(dtype=bool),
    }
    rows = []
    for name, mask in categories.items():
        rows += _subjects_with(ae[mask], subjects, arms, name, "")
    return pd.DataFrame(rows, columns=INCIDENCE_COLUMNS)


def ae_incidence(ae: pd.DataFrame, subjects: pd.DataFrame, arms: Sequence[str]) -> pd.DataFrame:
    """Subjects with an event by body system (AEDECOD "") and preferred term, by arm;
    body systems and terms in alphabetical order."""
    rows = []
    for body_system, in_system in ae.groupby("AEBODSYS", sort=True):
        rows += _subjects_with(in_system, subjects, arms, body_system, "")
        for term, with_term in in_system.groupby("AEDECOD", sort=True):
            rows += _subjects_with(with_term, subjects, arms, body_system, term)
    return pd.DataFrame(rows, columns=INCIDENCE_COLUMNS)


def risk_differences(incidence: pd.DataFrame, arms: Sequence[str],
                     level: float = 0.95) -> pd.DataFrame:
    """Treated minus reference proportion per row of ``incidence`` with Newcombe's
    hybrid score interval (as the binary analyses): AEBODSYS, AEDECOD, ARM,
    estimate, lower, upper. Empty for a single arm."""
    from ..analysis.cores.proportions import newcombe_difference
    reference = arms[0]
    keyed = incidence.set_index(["AEBODSYS", "AEDECOD", "ARM"])
    rows = []
    for (body_system, term), _ in incidence.groupby(["AEBODSYS", "AEDECOD"], sort=False):
        ref = keyed.loc[(body_system, term, reference)]
        for arm in arms[1:]:
            trt = keyed.loc[(body_system, term, arm)]
            if trt["N"] < 1 or ref["N"] < 1:
                continue
            rd = newcombe_difference(int(trt["n"]), int(trt["N"]), int(ref["n"]), int(ref["N"]),
                                     level)
            rows.append([body_system, term, arm, rd.estimate, rd.ci.lower, rd.ci.upper])
    return pd.DataFrame(rows, columns=["AEBODSYS", "AEDECOD", "ARM", "estimate", "lower",
                                       "upper"])


def infusion_events(ae: pd.DataFrame) -> pd.DataFrame:
    """The treatment-emergent AEs that started within 6 hours after a dose."""
    return ae[ae["INFUSION"].astype(bool)]


def serious_listing(ae: pd.DataFrame, trial: Trial, subjects: pd.DataFrame) -> pd.DataFrame:
    """Serious or fatal AEs and deaths, one row each: USUBJID, ARM, DAY, EVENT, GRADE."""
    serious = ae[(ae["AESER"] == "Y") | (ae["AETOXGR"] == 5)]
    rows = pd.DataFrame({"USUBJID": serious["USUBJID"], "ARM": serious["ARM"],
                         "DAY": serious["AESTDY"].astype(float), "EVENT": serious["AEDECOD"],
                         "GRADE": serious["AETOXGR"].astype(float)})
    dead = subjects[subjects["DTHDY"].notna()]
    deaths = pd.DataFrame({"USUBJID": dead["USUBJID"], "ARM": dead["ARM"],
                           "DAY": dead["DTHDY"].astype(float), "EVENT": "Death",
                           "GRADE": np.nan})
    out = pd.concat([f for f in (rows, deaths) if len(f)], ignore_index=True) \
        if len(rows) or len(deaths) else rows
    return out.sort_values(["USUBJID", "DAY", "EVENT"], kind="mergesort").reset_index(drop=True)


def most_common_terms(incidence: pd.DataFrame, limit: int = 15) -> pd.DataFrame:
    """The rows of the ``limit`` preferred terms with the most subjects (all arms
    together; ties by name), in that order: what an AE dot plot can show legibly."""
    terms = incidence[incidence["AEDECOD"] != ""]
    totals = terms.groupby("AEDECOD", sort=True)["n"].sum()
    order = sorted(totals.index, key=lambda t: (-totals[t], t))[:limit]
    rank = {t: i for i, t in enumerate(order)}
    kept = terms[terms["AEDECOD"].isin(rank)]
    return kept.sort_values("AEDECOD", key=lambda c: c.map(rank), kind="mergesort") \
        .reset_index(drop=True)
