"""summaries/safety.py on small hand-checkable trials: the fatal rule (each of its
three ways and the data-quality warnings), the route-aware infusion window, the
order by frequency, event counts, maximum grades and the listing."""

from __future__ import annotations

import pandas as pd
import pytest
from data_builders import adae_table, trial_tables

from mscstats.summaries import safety
from mscstats.trial.validate import load_frames

ARMS = ["control", "UC-MSC"]


def _trial(adae: pd.DataFrame | None = None, ex: pd.DataFrame | None = None, **adsl):
    tables = trial_tables()
    if adae is not None:
        tables["adae"] = adae
    if ex is not None:
        tables["ex"] = ex
    for column, values in adsl.items():
        tables["adsl"][column] = values
    return load_frames(tables, arms=ARMS)


def _ae(rows: list[dict]) -> pd.DataFrame:
    base = {"AEBODSYS": "Nervous system disorders", "AETOXGR": "1", "AESER": "N", "AEREL": "N"}
    return pd.DataFrame([{**base, **r} for r in rows])


def _fatal(trial) -> list[bool]:
    return list(safety.fatal_events(trial.adae, trial.adsl))


def test_fatal_by_grade_5():
    # grade 5 alone: S2 died on day 8, not on the event's day 3, and AEOUT says nothing
    adae = _ae([{"USUBJID": "S2", "AESTDY": "3", "AEDECOD": "Sepsis", "AETOXGR": "5"},
                {"USUBJID": "S4", "AESTDY": "3", "AEDECOD": "Sepsis", "AETOXGR": "4"}])
    trial = _trial(adae, DTHDY=["", "8", "", ""], LSTALVDY=["28", "8", "28", "28"])
    assert dict(zip(trial.adae["USUBJID"], _fatal(trial))) == {"S2": True, "S4": False}


def test_fatal_by_aeout_or_aesev_without_grade_5():
    # deaths later than the events (day 7, 12): only AEOUT / AESEV make them fatal
    adae = _ae([{"USUBJID": "S2", "AESTDY": "5", "AEDECOD": "Sepsis", "AETOXGR": "4",
                 "AEOUT": "fatal"},
                {"USUBJID": "S4", "AESTDY": "9", "AEDECOD": "Stroke", "AETOXGR": "",
                 "AESEV": "FATAL", "AEOUT": "NOT RECOVERED"},
                {"USUBJID": "S1", "AESTDY": "2", "AEDECOD": "Headache", "AEOUT": "RECOVERED"}])
    trial = _trial(adae, DTHDY=["", "7", "5", "12"], LSTALVDY=["28", "7", "4", "12"])
    by_subject = dict(zip(trial.adae["USUBJID"], _fatal(trial)))
    assert by_subject == {"S1": False, "S2": True, "S4": True}
    # AESEV FATAL without AETOXGR is read as grade 5 (logged)
    assert trial.adae.set_index("USUBJID").loc["S4", "AETOXGR"] == 5


def test_fatal_by_death_on_the_start_or_end_day():
    adae = _ae([{"USUBJID": "S2", "AESTDY": "6", "AEDECOD": "Cardiac arrest", "AETOXGR": "4"},
                {"USUBJID": "S4", "AESTDY": "2", "AEENDY": "12", "AEDECOD": "Pneumonia",
                 "AETOXGR": "3"},
                {"USUBJID": "S1", "AESTDY": "2", "AEDECOD": "Headache"}])
    trial = _trial(adae, DTHDY=["", "6", "5", "12"], LSTALVDY=["28", "6", "4", "12"])
    by_subject = dict(zip(trial.adae["USUBJID"], _fatal(trial)))
    assert by_subject == {"S1": False, "S2": True, "S4": True}


def test_death_without_fatal_event_and_fatal_event_without_death_are_warned():
    adae = _ae([{"USUBJID": "S1", "AESTDY": "2", "AEDECOD": "Headache"},
                {"USUBJID": "S4", "AESTDY": "3", "AEDECOD": "Sepsis", "AETOXGR": "5"}])
    trial = _trial(adae)         # S3 died on day 5 (adsl) without any event; S4 did not die
    warnings = safety.data_quality_warnings(trial)
    assert [(w["subject"], w["day"], w["column"]) for w in warnings] == [
        ("S3", 5, "DTHDY"), ("S4", 3, "AEOUT")]
    assert "S3 died on day 5 without a fatal adverse event" in warnings[0]["message"]
    assert "Sepsis starting on day 3 is marked fatal but adsl has no death" in \
        warnings[1]["message"]
    assert safety.data_quality_warnings(_trial()) == []     # the toy is consistent


def test_fatal_category_counts_each_way():
    adae = _ae([{"USUBJID": "S1", "AESTDY": "2", "AEDECOD": "Stroke", "AEOUT": "FATAL"},
                {"USUBJID": "S2", "AESTDY": "6", "AEDECOD": "Sepsis", "AETOXGR": "4"},
                {"USUBJID": "S3", "AESTDY": "5", "AEDECOD": "Sepsis", "AETOXGR": "5"}])
    trial = _trial(adae, DTHDY=["12", "6", "5", ""], LSTALVDY=["12", "6", "4", "28"])
    summary = safety.safety_summary(trial, ARMS)
    fatal = next(r for r in summary.categories if r.soc == safety.FATAL)
    # S1 by AEOUT, S2 died on the event's start day; S3 (never dosed) is not in safety
    assert fatal.subjects == {"control": 1, "UC-MSC": 1}
    assert [r.term for r in summary.fatal] == ["", "Sepsis", "Stroke"]   # ties: alphabetical
    assert [r.day for r in summary.listing if r.fatal and r.event != "Death"] == [2, 6]


def _infusion_trial(route: str):
    """S2 dosed at 10:00 on day 1 by ``route``; an AE 2 hours later; S4 not dosed that day."""
    ex = pd.DataFrame({"USUBJID": ["S1", "S2"], "EXDOSNO": ["1", "1"], "EXSTDY": ["1", "1"],
                       "EXSTTM": ["10:00", "10:00"], "EXDOSE": ["0", "1"],
                       "EXROUTE": ["IV", route]})
    adae = _ae([{"USUBJID": "S2", "AESTDY": "1", "AESTTM": "12:00", "AEDECOD": "Nausea"}])
    return _trial(adae, ex)


@pytest.mark.parametrize("route, counted", [("ORAL", False), ("IV", True),
                                            ("NEBULIZED", True), ("Inhaled", True)])
def test_infusion_window_is_route_aware(route, counted):
    trial = _infusion_trial(route)
    summary = safety.safety_summary(trial, ARMS)
    window = next(r for r in summary.categories if r.soc == safety.INFUSION)
    assert window.subjects["UC-MSC"] == int(counted)
    assert [r.term for r in summary.infusion] == (["", "Nausea"] if counted else [])
    assert summary.infusion_routes == ("IV", "NEBULIZED")


def test_oral_route_draws_no_warning():
    trial = _infusion_trial("ORAL")
    assert not [w for w in trial.quality.warnings if w.get("column") == "EXROUTE"]
    odd = _infusion_trial("SUBCUTANEOUS")
    (warning,) = [w for w in odd.quality.warnings if w.get("column") == "EXROUTE"]
    assert "none of IV, NEBULIZED, ORAL" in warning["message"]


def test_terms_by_descending_frequency_with_events_and_totals():
    adae = _ae([{"USUBJID": "S1", "AESTDY": "2", "AEDECOD": "Headache"},
                {"USUBJID": "S1", "AESTDY": "3", "AEDECOD": "Headache"},
                {"USUBJID": "S2", "AESTDY": "2", "AEDECOD": "Dizziness"},
                {"USUBJID": "S4", "AESTDY": "2", "AEDECOD": "Dizziness"},
                {"USUBJID": "S4", "AESTDY": "2", "AEDECOD": "Abdominal pain",
                 "AEBODSYS": "Gastrointestinal disorders"},
                {"USUBJID": "S2", "AESTDY": "4", "AEDECOD": "Aphasia", "AETOXGR": ""},
                {"USUBJID": "S1", "AESTDY": "4", "AEDECOD": "Tremor"}])
    summary = safety.safety_summary(_trial(adae), ARMS)
    rows = [(r.soc[:7], r.term, r.total_subjects, r.total_events) for r in summary.by_term]
    # nervous system (3 subjects) before gastrointestinal (1); within it Dizziness (2
    # subjects) first, then the 1-subject terms alphabetically: Aphasia, Headache, Tremor
    assert rows == [("Nervous", "", 3, 6), ("Nervous", "Dizziness", 2, 2),
                    ("Nervous", "Aphasia", 1, 1), ("Nervous", "Headache", 1, 2),
                    ("Nervous", "Tremor", 1, 1),
                    ("Gastroi", "", 1, 1), ("Gastroi", "Abdominal pain", 1, 1)]
    headache = summary.by_term[3]
    assert headache.subjects == {"control": 1, "UC-MSC": 0}
    assert headache.events == {"control": 2, "UC-MSC": 0}
    assert summary.n == {"control": 1, "UC-MSC": 2} and summary.n_total == 3
    rd = headache.risk_differences["UC-MSC"]                  # 0/2 - 1/1
    assert rd.estimate == pytest.approx(-1.0)
    assert summary.most_common[0] == "Dizziness"


def test_maximum_grade_per_subject():
    adae = _ae([{"USUBJID": "S1", "AESTDY": "2", "AEDECOD": "Headache", "AETOXGR": "1"},
                {"USUBJID": "S1", "AESTDY": "3", "AEDECOD": "Sepsis", "AETOXGR": "3"},
                {"USUBJID": "S2", "AESTDY": "2", "AEDECOD": "Dizziness", "AETOXGR": ""},
                {"USUBJID": "S4", "AESTDY": "2", "AEDECOD": "Rash", "AETOXGR": ""},
                {"USUBJID": "S4", "AESTDY": "3", "AEDECOD": "Nausea", "AETOXGR": "2"}])
    summary = safety.safety_summary(_trial(adae), ARMS)
    grades = {g.grade: (g.subjects["control"], g.subjects["UC-MSC"], g.total)
              for g in summary.by_grade}
    assert grades == {"1": (0, 0, 0), "2": (0, 1, 1), "3": (1, 0, 1), "4": (0, 0, 0),
                      "5": (0, 0, 0), "missing": (0, 1, 1)}


def test_listing_of_deaths_serious_and_fatal_events():
    summary = safety.safety_summary(_trial(), ARMS)   # S3 not in safety (never dosed)
    assert summary.listing == ()
    adae = adae_table()
    adae.loc[0, "AESER"] = "Y"
    trial = _trial(adae, DTHDY=["12", "", "5", ""], LSTALVDY=["12", "28", "4", "28"])
    rows = [(r.subject, r.day, r.event, r.grade, r.serious, r.fatal)
            for r in safety.safety_summary(trial, ARMS).listing]
    assert rows == [("S1", 2, "Headache", 1, True, False), ("S1", 12, "Death", None, False, True)]


def test_no_adverse_events():
    tables = trial_tables()
    del tables["adae"]
    summary = safety.safety_summary(load_frames(tables, arms=ARMS), ARMS)
    assert summary.by_term == () and summary.categories[0].total_subjects == 0
    assert all(g.total == 0 for g in summary.by_grade)


def test_no_adae_table_no_death_warnings():
    tables = trial_tables()
    del tables["adae"]
    assert safety.data_quality_warnings(load_frames(tables, arms=ARMS)) == []
