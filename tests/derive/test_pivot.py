"""A real trial's daily values as the subject x day grid (derive/pivot.py).

The endpoint rules run on this grid for real trials (endpoints.py) as for
simulated ones, so the pivot must keep every daily value at its subject and
day, and give a column to every day on which a rule can change value: a
record, a death, a discharge, the start of an adverse event a condition names.
"""

import numpy as np
import pytest

from conftest import TESTS
from mscstats import load
from mscstats.derive.daily import daily_values
from mscstats.derive.events import first_ae_day
from mscstats.derive.pivot import trial_grid
from mscstats.plan import read_sap

TOY = TESTS / "data" / "toy"


@pytest.fixture(scope="module")
def toy():
    sap = read_sap(TOY / "sap.toml")
    trial = load(TOY, sap)
    daily = daily_values(trial, sap.data.daily, sap.data.fio2_from_flow)
    return trial, sap, daily, trial_grid(trial, daily, sap)


def test_every_daily_value_sits_at_its_subject_and_day(toy):
    trial, _, daily, grid = toy
    subjects = list(trial.adsl["USUBJID"])
    assert grid.final and grid.n == len(subjects) and grid.replicates == 1
    checked = 0
    for code, frame in daily.frames.items():
        if code == "BERLIN":            # a label, no value
            continue
        values = grid.values[code]
        assert np.isfinite(values).sum() == frame["AVAL"].notna().sum(), code
        for row in frame.itertuples():
            got = values[subjects.index(row.USUBJID), np.searchsorted(grid.days, row.ADY)]
            assert got == pytest.approx(row.AVAL, nan_ok=True), (code, row)
            checked += 1
    assert checked > 50


def test_death_discharge_and_ae_start_days_are_columns(toy):
    trial, sap, _, grid = toy
    days = set(grid.days.tolist())
    for column in ("DTHDY", "DSCHDY"):
        assert set(trial.adsl[column].dropna().astype(int)) <= days
    assert set(grid.ae_start) == {"infusion"}         # the kind the toy SAP names
    starts = first_ae_day(trial, "infusion")
    assert len(starts) and set(starts.astype(int)) <= days
    expected = starts.reindex(trial.adsl["USUBJID"]).to_numpy(dtype=float)
    np.testing.assert_array_equal(grid.ae_start["infusion"], expected)
    assert list(grid.days) == sorted(days) and 1 in days


def test_arms_follow_the_sap_reference_first(toy):
    trial, sap, _, grid = toy
    expected = [sap.study.arms.index(a) for a in trial.adsl["ARM"]]
    assert grid.arm.tolist() == expected
