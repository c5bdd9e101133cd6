"""descriptive.py and safety.py on the four-subject toy trial: numbers checked by hand."""

from __future__ import annotations

import pytest
from data_builders import trial_tables

from mscstats.summaries import descriptive, safety
from mscstats.derive.daily import daily_values
from mscstats.trial.validate import load_frames

ARMS = ["control", "UC-MSC"]


@pytest.fixture(scope="module")
def toy():
    trial = load_frames(trial_tables(), arms=ARMS)
    return trial, daily_values(trial)


def test_daily_mean_and_t_interval(toy):
    trial, daily = toy
    summary = descriptive.daily_summary(daily, trial.adsl, "IL6", ARMS, min_n=1)
    first = summary.iloc[0]  # control day 1: S1 35.5 and S3 37.5; SE 1, t(0.975, 1) 12.706
    assert (first["ARM"], first["DAY"], first["n"], first["mean"]) == ("control", 1, 2, 36.5)
    assert first["lower"] == pytest.approx(36.5 - 12.7062047, abs=1e-6)
    default = descriptive.daily_summary(daily, trial.adsl, "IL6", ARMS)
    assert default.empty  # fewer than 3 values per arm and day


def test_geometric_mean_on_log_scale(toy):
    trial, daily = toy
    summary = descriptive.daily_summary(daily, trial.adsl, "IL6", ARMS, log=True, min_n=1)
    assert summary.iloc[0]["mean"] == pytest.approx((35.5 * 37.5) ** 0.5)


def test_who_by_day_counts_death_as_10(toy):
    trial, daily = toy
    who = descriptive.who_by_day(daily, trial.adsl, ARMS, days=(2, 5))
    seen = who[who["n"] > 0][["ARM", "DAY", "CATEGORY", "n"]].values.tolist()
    # day 5: S3 died that day (10); S1 has no score, is not yet discharged: not counted
    assert seen == [["control", 2, 7, 2], ["UC-MSC", 2, 6, 2], ["control", 5, 10, 1]]


def test_subject_flow(toy):
    trial, _ = toy
    flow = descriptive.subject_flow(trial, ARMS).set_index("stage")
    assert flow.loc["Randomized"].tolist() == [2, 2, 4]
    assert flow.loc["Dosed (>= 1 dose)"].tolist() == [1, 2, 3]  # S3 never dosed
    assert flow.loc["safety population"].tolist() == [1, 2, 3]


def test_baseline_characteristics(toy):
    trial, daily = toy
    variables = {v.name: v for v in descriptive.baseline_characteristics(trial, daily, ARMS,
                                                                        trial.adsl)}
    age = variables["AGE"].by_arm["control"]  # S1 61, S3 70
    assert (age.n, age.mean, age.median) == (2, 65.5, 65.5)
    assert variables["SEX"].by_arm["UC-MSC"] == {"F": 1, "M": 1}
    assert variables["OXYDEV"].by_arm["control"] == {"HFNC": 2}


def test_adverse_event_categories_and_risk_difference(toy):
    trial, _ = toy
    subjects = trial.population("safety")
    ae = safety.treatment_emergent(trial, subjects)
    assert sorted(ae["USUBJID"]) == ["S1", "S4"]  # S3 (never dosed) is not in safety
    categories = safety.ae_categories(ae, subjects, ARMS).set_index(["AEBODSYS", "ARM"])
    assert categories.loc[("Related to study treatment", "UC-MSC"), ["n", "N"]].tolist() == [1, 2]
    assert categories.loc[("Within 6 hours of a dose", "UC-MSC"), "n"] == 1  # rash on dose day
    rd = safety.risk_differences(safety.ae_categories(ae, subjects, ARMS), ARMS)
    any_ae = rd[rd["AEBODSYS"] == safety.ANY].iloc[0]
    assert any_ae["estimate"] == pytest.approx(0.5 - 1.0)


def test_number_at_risk_lookup():
    assert descriptive.number_at_risk((2, 3, 5), (5, 4, 3), (0, 3, 4, 6)) == [5, 4, 3, 0]
