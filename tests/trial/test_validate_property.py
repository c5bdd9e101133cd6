"""Property: on any table, clean or corrupted, loading either raises DataError (never
another exception) or returns a Trial whose log accounts for every row read; and
deriving the endpoints of a SAP from that Trial either raises the package's own
SapError (a parameter the data lack) or gives one accounted row per subject.

1,000 examples (the fuzz run), derandomized so CI is repeatable."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from data_builders import write_table
from mscstats.derive.endpoints import derive
from mscstats.errors import DataError, SapError
from mscstats.plan import parse_sap
from mscstats.trial.validate import load_trial

pytestmark = pytest.mark.slow      # minutes; .ci/run's plain `pytest` still runs it; -m "not slow" skips it

SUBJECTS = ["S1", "S2", "S3", "S4"]
# Clean records per parameter: (AVAL, AVALC, AVALU, LLOQ); some convert, warn or impute.
CLEAN = {
    "PAO2": [("80.5", "", "", ""), ("61", "", "", ""), ("9.8", "", "kPa", ""),
             ("75", "", "mmHg", ""), ("710", "", "", "")],
    "FIO2": [("0.5", "", "", ""), ("0.21", "", "", ""), ("40", "", "", ""),
             ("60", "", "%", "")],
    "SPO2": [("93", "", "", ""), ("45", "", "", ""), ("", "96", "", "")],
    "WHOCPS": [("5", "", "", ""), ("7", "", "", "")],
    "OXYDEV": [("", "NC", "", ""), ("", "room air", "", ""), ("", "HFNO", "", ""),
               ("", "IMV", "", "")],
    "IL6": [("12", "", "", "2"), ("", "<1.5", "", ""), ("0.02", "", "ng/mL", ""),
            ("1", "", "", "2"), ("", "<LLOQ", "", "2")],
    "CRP": [("5", "", "mg/L", ""), ("", "<3", "mg/L", "")],
    "RR": [("22", "", "", ""), ("", "", "", "")],                # no value: dropped
}
# Corrupted cells (each one an error, or not, depending on where it lands).
BAD = {"USUBJID": ["S9", ""], "ADY": ["0", "2.5", "x", ""], "ATM": ["25:61", "noon"],
       "PARAMCD": ["", "pao2", "XYZ"],
       "AVAL": ["abc", "-3", "12", "<2", "NA", "150"], "AVALC": ["helmet", "junk", "<x"],
       "AVALU": ["psi", "%", "kPa", "ng/mL"], "LLOQ": ["x", "-1"]}
DAYS = ["-1", "1", "2", "3", "4", "5"]
TIMES = ["", "07:00", "7:00", "13:30:00"]
VISIT_COLUMNS = ["USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC", "AVALU", "LLOQ"]


def cell(draw, mess, clean, bad):
    """A clean value, or (with probability mess/80) a corrupted one."""
    if bad and draw(st.integers(0, 79)) < mess:
        return draw(st.sampled_from(bad))
    return draw(st.sampled_from(clean))


@st.composite
def adsl(draw, mess):
    n = draw(st.integers(1, 4))
    ids = SUBJECTS[:n]
    if draw(st.integers(0, 19)) < mess:                      # a duplicated subject
        ids = ids + [draw(st.sampled_from(ids))]
    rows = []
    for subject in ids:
        dead = draw(st.booleans())
        rows.append({
            "USUBJID": subject,
            "ARM": cell(draw, mess, ["control", "UC-MSC"], ["", "placebo?"]),
            "DTHDY": cell(draw, mess, ["6"] if dead else [""], ["0", "2", "x"]),
            "DSCHDY": cell(draw, mess, [""] if dead else ["", "9"], ["7"]),
            "LSTALVDY": cell(draw, mess, ["5", ""] if dead else ["28"], ["", "3", "40"]),
        })
    return pd.DataFrame(rows, columns=["USUBJID", "ARM", "DTHDY", "DSCHDY", "LSTALVDY"])


@st.composite
def visits(draw, mess, subjects):
    rows = []
    for _ in range(draw(st.integers(0, 30))):
        param = draw(st.sampled_from(sorted(CLEAN)))
        record = dict(zip(VISIT_COLUMNS[4:], draw(st.sampled_from(CLEAN[param]))))
        record.update(USUBJID=draw(st.sampled_from(subjects)), ADY=draw(st.sampled_from(DAYS)),
                      ATM=draw(st.sampled_from(TIMES)), PARAMCD=param)
        for column in VISIT_COLUMNS:
            if draw(st.integers(0, 199)) < mess:               # about mess corrupted
                record[column] = draw(st.sampled_from(BAD[column]))  # cells per table
        rows.append(record)
    frame = pd.DataFrame(rows, columns=VISIT_COLUMNS)
    if len(frame) and draw(st.booleans()):                     # duplicated records
        extra = draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=5))
        frame = pd.concat([frame, frame.iloc[extra]])
    if mess >= 3 and draw(st.integers(0, 9)) == 0:             # a dropped column
        frame = frame.drop(columns=draw(st.sampled_from(VISIT_COLUMNS)))
    return frame.reset_index(drop=True)


def wide(long: pd.DataFrame) -> pd.DataFrame | None:
    """A wide file of the same records (None when the long one cannot be pivoted)."""
    needed = {"USUBJID", "ADY", "ATM", "PARAMCD", "AVAL"}
    if not needed <= set(long.columns) or long.empty:
        return None
    long = long[long["PARAMCD"] != ""].drop_duplicates(["USUBJID", "ADY", "ATM", "PARAMCD"])
    if long.empty:
        return None
    table = long.pivot(index=["USUBJID", "ADY", "ATM"], columns="PARAMCD", values="AVAL")
    return table.reset_index().rename_axis(columns=None).fillna("")


def check_trial(trial, rows_written: dict[str, int], long_visits: bool) -> None:
    log = trial.quality
    log.check()
    assert log.rows_read == rows_written
    for file, n in log.rows_read.items():
        used = n - log.n_dropped(file)
        assert 0 <= used <= n
        if file != "visits.csv":
            assert used == n
    visits = trial.visits
    if long_visits and "visits.csv" in rows_written:
        dropped = [e for e in log.dropped if e["file"] == "visits.csv"]
        duplicates = sum(e["n"] for e in dropped if e["reason"].startswith("duplicate"))
        others = sum(e["n"] for e in dropped) - duplicates
        assert len(visits) + duplicates + others == rows_written["visits.csv"]
    # the canonical form holds whatever came in
    assert visits["ADY"].dtype == np.int64 and (visits["ADY"] != 0).all()
    assert not visits.duplicated(["USUBJID", "ADY", "ATM", "PARAMCD"]).any()
    has_value = np.isfinite(visits["AVAL"]) | (visits["AVALC"] != "")
    assert has_value.all()
    fio2 = visits.loc[visits["PARAMCD"] == "FIO2", "AVAL"]
    assert ((fio2 >= 0.21 - 1e-9) & (fio2 <= 1 + 1e-9)).all()
    assert set(visits.loc[visits["PARAMCD"] == "OXYDEV", "AVALC"]) <= {
        "RA", "NC", "MASK", "HFNC", "NIV", "IMV", "ECMO"}
    assert set(visits["USUBJID"]) <= set(trial.adsl["USUBJID"])
    assert trial.adsl["USUBJID"].is_unique


# Every endpoint kind and death rule, on the parameters the generator writes.
SAP = parse_sap("""
[study]
id = "FUZZ"
arms = ["control", "UC-MSC"]
[[endpoint]]
id = "pf_d3"
kind = "change"
param = "PF"
day = 3
window = 1
[[endpoint]]
id = "ttci"
kind = "time_to_event"
horizon = 28
event.any = [ { param = "WHOCPS", chg = -2, op = "<=" }, { state = "discharged" } ]
death = "competing"
[[endpoint]]
id = "ra_spo2"
kind = "time_to_event"
horizon = 14
event.any = [ { param = "SPO2", op = ">=", value = 94, on = "RA" } ]
[[endpoint]]
id = "mort28"
kind = "binary"
horizon = 28
event.any = [ { state = "dead" } ]
[[endpoint]]
id = "who_d3"
kind = "ordinal"
param = "WHOCPS"
day = 3
window = 1
[[endpoint]]
id = "vfd28"
kind = "free_days"
horizon = 28
[[analysis]]
id = "a"
endpoint = "mort28"
method = "binary"
""")
ONE_ROW_PER_SUBJECT = ("pf_d3", "ttci", "ra_spo2", "mort28", "who_d3", "vfd28")


def check_endpoints(trial) -> None:
    try:
        endpoints = derive(trial, SAP)
    except SapError as err:
        assert "data lack" in str(err)
        event("SapError: parameter missing")
        return
    table = endpoints.table
    subjects = set(trial.adsl["USUBJID"])
    for endpoint in ONE_ROW_PER_SUBJECT:
        rows = table[table["ENDPOINT"] == endpoint]
        assert rows["USUBJID"].is_unique and set(rows["USUBJID"]) <= subjects, endpoint
        # a subject without a value is there with the reason, never silently absent
        missing = rows["AVAL"].isna()
        assert (rows.loc[missing, "REASON"] != "").all(), endpoint
    tte = table[table["ENDPOINT"].isin(["ttci", "ra_spo2"]) & table["AVAL"].notna()]
    assert tte["CNSR"].isin([0, 1]).all() and tte["EVNTCD"].isin([0, 1, 2]).all()
    assert ((tte["AVAL"] >= 1) & (tte["AVAL"] <= 28)).all()
    assert ((tte["CNSR"] == 0) == (tte["EVNTCD"] == 1)).all()
    vfd = table.loc[table["ENDPOINT"] == "vfd28", "AVAL"].dropna()
    assert ((vfd >= 0) & (vfd <= 28)).all()
    event("derived")


@st.composite
def trials(draw):
    mess = draw(st.sampled_from([0, 0, 1, 2, 3, 5]))             # 0: clean
    subjects = draw(adsl(mess))
    known = sorted(set(subjects["USUBJID"]))
    return subjects, draw(visits(mess, known)), draw(st.booleans())


@settings(max_examples=1000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(trial=trials())
def test_any_table_gives_data_error_or_an_accounted_trial(trial):
    adsl, visits, as_wide = trial
    table = wide(visits) if as_wide else visits
    if table is None:
        table, as_wide = visits, False
    with tempfile.TemporaryDirectory() as directory:
        write_table(Path(directory), "adsl", adsl)
        write_table(Path(directory), "visits", table)
        try:
            trial = load_trial(directory)
        except DataError as err:
            assert err.problems and all(p.file for p in err.problems)
            event("DataError")
            return
        event("Trial (wide)" if as_wide else "Trial")
        event("rows dropped" if trial.quality.n_dropped() else "no row dropped")
        check_trial(trial, {"adsl.csv": len(adsl), "visits.csv": len(table)},
                    long_visits=not as_wide)
        check_endpoints(trial)
