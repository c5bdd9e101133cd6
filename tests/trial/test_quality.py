import numpy as np
import pandas as pd
import pytest

from mscstats.trial.quality import QualityLog, Trial, row_ranges


def _trial(ex):
    adsl = pd.DataFrame({"USUBJID": ["A1", "A2", "B1", "B2", "C1"],
                         "ARM": ["control", "control", "MSC", "MSC", "MSC"],
                         "ITTFL": ["Y", "Y", "Y", "Y", "N"], "SAFFL": ["Y", "Y", "Y", "N", "N"],
                         "LSTALVDY": 28.0, "DTHDY": np.nan, "DSCHDY": np.nan})
    return Trial("t", adsl, pd.DataFrame(), None, ex, QualityLog(), {})


def test_populations():
    ex = pd.DataFrame({"USUBJID": ["B1", "C1"], "EXSTDY": [1, 1]})
    trial = _trial(ex)
    assert list(trial.population("ITT")["USUBJID"]) == ["A1", "A2", "B1", "B2"]
    assert list(trial.population("safety")["USUBJID"]) == ["A1", "A2", "B1"]
    # the control arm has no study drug at all: its subjects count as dosed; B2 was never dosed
    assert list(trial.population("mITT")["USUBJID"]) == ["A1", "A2", "B1"]
    assert list(_trial(None).population("mITT")["USUBJID"]) == ["A1", "A2", "B1", "B2"]
    with pytest.raises(ValueError):
        trial.population("PP")


def test_row_ranges_and_accounting():
    assert row_ranges([9, 2, 3, 4, 4]) == "2-4,9"
    log = QualityLog()
    log.read("visits.csv", 10)
    log.drop("visits.csv", "duplicate", [2, 3])
    log.drop("visits.csv", "duplicate", [3, 7])
    log.convert("visits.csv", "AVAL", "PAO2 kPa x 7.50062 -> mmHg", [1, 5], param="PAO2")
    assert log.dropped == [{"file": "visits.csv", "column": None, "reason": "duplicate", "n": 3,
                            "rows": "2-3,7"}]
    assert log.rows_used == 7
    log.check()
    log.drop("visits.csv", "out of file", [11])
    with pytest.raises(AssertionError, match="outside"):
        log.check()
