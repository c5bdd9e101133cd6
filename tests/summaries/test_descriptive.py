"""descriptive.py and safety.py on the four-subject toy trial: numbers checked by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from data_builders import trial_tables

from mscstats.summaries import descriptive
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


def test_baseline_characteristics(toy):
    trial, daily = toy
    summary = descriptive.baseline_characteristics(daily, ARMS, trial.adsl, "ITT")
    variables = {v.name: v for v in summary.variables}
    age = variables["AGE"]  # control S1 61, S3 70; UC-MSC S2 54, S4 48
    assert (age.by_arm["control"].n, age.by_arm["control"].mean) == (2, 65.5)
    assert (age.by_arm["control"].min, age.by_arm["control"].max) == (61.0, 70.0)
    assert (age.total.n, age.total.missing, age.total.mean) == (4, 0, 58.25)
    assert age.total.median == 57.5 and (age.total.q1, age.total.q3) == (52.5, 63.25)  # type 7
    assert variables["SEX"].by_arm["UC-MSC"].counts == {"F": 1, "M": 1}
    assert variables["SEX"].total.counts == {"F": 2, "M": 2}
    assert variables["OXYDEV"].by_arm["control"].counts == {"HFNC": 2}
    assert (summary.n, summary.n_total) == ({"control": 2, "UC-MSC": 2}, 4)


def test_summaries_of_nothing_are_none_not_nan():
    empty = descriptive.continuous_summary([float("nan"), float("nan")])
    assert (empty.n, empty.missing, empty.mean, empty.sd, empty.min) == (0, 2, None, None, None)
    one = descriptive.continuous_summary([37.5])
    assert (one.n, one.mean, one.sd, one.min, one.max) == (1, 37.5, None, 37.5, 37.5)
    sex = descriptive.categorical_summary(pd.Series(["F", "", None, "M", "F"]), ["F", "M"])
    assert (sex.n, sex.missing, sex.counts) == (3, 2, {"F": 2, "M": 1})


def test_number_at_risk_lookup():
    assert descriptive.number_at_risk((2, 3, 5), (5, 4, 3), (0, 3, 4, 6)) == [5, 4, 3, 0]
